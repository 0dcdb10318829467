import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';

const DB = 'postgres://lz@127.0.0.1:5432/lz';

describe('GATEWAY_ROLE', () => {
  it('defaults to all, one process doing everything, with or without DATABASE_URL', () => {
    expect(loadConfig({}, '/tmp').role).toBe('all');
    expect(loadConfig({ DATABASE_URL: DB }, '/tmp').role).toBe('all');
  });

  it('takes api and sealer with a shared DATABASE_URL', () => {
    expect(loadConfig({ GATEWAY_ROLE: 'api', DATABASE_URL: DB }, '/tmp').role).toBe('api');
    expect(loadConfig({ GATEWAY_ROLE: 'sealer', DATABASE_URL: DB }, '/tmp').role).toBe('sealer');
  });

  it('refuses api or sealer on the embedded PostgreSQL, and unknown roles', () => {
    for (const env of [
      { GATEWAY_ROLE: 'api' },
      { GATEWAY_ROLE: 'sealer' },
      { GATEWAY_ROLE: 'batcher', DATABASE_URL: DB },
    ]) {
      let error: unknown;
      try {
        loadConfig(env, '/tmp');
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).variable).toBe('GATEWAY_ROLE');
    }
  });

  it('reads SEALER_STALL_MS with a one-minute default', () => {
    expect(loadConfig({}, '/tmp').sealerStallMs).toBe(60_000);
    expect(loadConfig({ SEALER_STALL_MS: '5000' }, '/tmp').sealerStallMs).toBe(5000);
    expect(() => loadConfig({ SEALER_STALL_MS: '10' }, '/tmp')).toThrow(ConfigError);
  });

  it('reads API_WORKERS (1 to 64, default 1); more than one only for GATEWAY_ROLE=all, the supervisor', () => {
    expect(loadConfig({}, '/tmp').apiWorkers).toBe(1);
    expect(loadConfig({ API_WORKERS: '4' }, '/tmp').apiWorkers).toBe(4);
    expect(loadConfig({ GATEWAY_ROLE: 'api', DATABASE_URL: DB, API_WORKERS: '1' }, '/tmp').apiWorkers).toBe(
      1,
    );
    for (const env of [
      { API_WORKERS: '0' },
      { API_WORKERS: '65' },
      { API_WORKERS: 'two' },
      { GATEWAY_ROLE: 'api', DATABASE_URL: DB, API_WORKERS: '2' },
      { GATEWAY_ROLE: 'sealer', DATABASE_URL: DB, API_WORKERS: '2' },
    ]) {
      expect(() => loadConfig(env, '/tmp'), JSON.stringify(env)).toThrow(/^API_WORKERS: /);
    }
    expect(loadConfig({}, '/tmp').apiWorkersNice).toBe(5);
    expect(loadConfig({ API_WORKERS_NICE: '0' }, '/tmp').apiWorkersNice).toBe(0);
    expect(() => loadConfig({ API_WORKERS_NICE: '20' }, '/tmp')).toThrow(/^API_WORKERS_NICE: /);
  });
});
