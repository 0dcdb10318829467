// The watchdog's decisions over a fake server (the real one: tests/integration/
// embedded-postgres-watchdog.test.ts): when it restarts, how it backs off, what it logs once.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ClusterState } from './embedded-postgres.ts';
import { watchEmbeddedPostgres } from './embedded-postgres-watchdog.ts';

function fakeServer(initial: { running: boolean; state: ClusterState }) {
  const server = {
    port: 5432,
    isRunning: initial.running,
    state: initial.state,
    /** Starts that fail before one succeeds. */
    failingStarts: 0,
    startCalls: [] as number[],
    running: async () => server.isRunning,
    clusterState: async () => server.state,
    start: async () => {
      server.startCalls.push(Date.now());
      if (server.failingStarts > 0) {
        server.failingStarts -= 1;
        throw new Error('pg_ctl: could not start server\nFATAL: pre-existing shared memory block');
      }
      server.isRunning = true;
      server.state = 'in production';
    },
  };
  return server;
}

function recordingLog() {
  const lines: { level: string; msg: string; obj: Record<string, unknown> }[] = [];
  const at = (level: string) => (obj: object, msg: string) =>
    lines.push({ level, msg, obj: obj as Record<string, unknown> });
  return { lines, log: { info: at('info'), warn: at('warn'), error: at('error') } };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('watchEmbeddedPostgres', () => {
  it('does nothing while the server runs', async () => {
    const server = fakeServer({ running: true, state: 'in production' });
    const { lines, log } = recordingLog();
    const watchdog = watchEmbeddedPostgres(server, { log, intervalMs: 100 });
    await vi.advanceTimersByTimeAsync(5000);
    expect(server.startCalls).toEqual([]);
    expect(lines).toEqual([]);
    await watchdog.stop();
  });

  it('restarts a server that died, backing off while starts fail, and logs the death once', async () => {
    const server = fakeServer({ running: true, state: 'in production' });
    const { lines, log } = recordingLog();
    const watchdog = watchEmbeddedPostgres(server, { log, intervalMs: 100, maxBackoffMs: 800 });
    await vi.advanceTimersByTimeAsync(250);
    server.isRunning = false; // killed: pg_control still says "in production"
    server.failingStarts = 4;
    const diedAt = Date.now();
    await vi.advanceTimersByTimeAsync(10_000);

    expect(server.isRunning).toBe(true);
    expect(watchdog.restarts).toBe(1);
    // Five starts: four refused, the fifth took. Waits doubled from 100 ms and stopped at 800.
    const gaps = server.startCalls.map((t, i) => t - (i === 0 ? diedAt : server.startCalls[i - 1]!));
    expect(server.startCalls).toHaveLength(5);
    expect(gaps.slice(1)).toEqual([200, 400, 800, 800]);
    expect(lines.filter((l) => /not shut down cleanly/.test(l.msg))).toHaveLength(1);
    expect(lines.filter((l) => /did not restart/.test(l.msg)).map((l) => l.obj.attempt)).toEqual([
      1, 2, 3, 4,
    ]);
    expect(lines.at(-1)).toMatchObject({ level: 'warn', msg: 'PostgreSQL restarted' });

    // Died again later: the back-off starts again from the interval.
    server.isRunning = false;
    const again = server.startCalls.length;
    await vi.advanceTimersByTimeAsync(150);
    expect(server.startCalls.length).toBe(again + 1);
    expect(watchdog.restarts).toBe(2);
    await watchdog.stop();
  });

  it('leaves a cleanly shut down server alone, and notices when it is started again', async () => {
    const server = fakeServer({ running: true, state: 'in production' });
    const { lines, log } = recordingLog();
    const watchdog = watchEmbeddedPostgres(server, { log, intervalMs: 100 });
    server.isRunning = false;
    server.state = 'shut down';
    await vi.advanceTimersByTimeAsync(5000);
    expect(server.startCalls).toEqual([]);
    expect(lines.map((l) => l.level)).toEqual(['warn']);

    server.isRunning = true;
    server.state = 'in production';
    await vi.advanceTimersByTimeAsync(150);
    expect(lines.map((l) => l.msg).at(-1)).toBe('PostgreSQL is running again');
    await watchdog.stop();
  });

  it('stops looking when stopped, and never restarts during the gateway own shutdown', async () => {
    const server = fakeServer({ running: true, state: 'in production' });
    const { log } = recordingLog();
    const watchdog = watchEmbeddedPostgres(server, { log, intervalMs: 100 });
    await watchdog.stop();
    server.isRunning = false;
    await vi.advanceTimersByTimeAsync(5000);
    expect(server.startCalls).toEqual([]);
  });
});
