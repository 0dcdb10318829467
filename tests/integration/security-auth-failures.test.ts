// Bad credentials cost the gateway a lookup (an API key's hash in PostgreSQL, a client
// certificate's fingerprint) or a signature check each. Failed authentications therefore have a
// budget per address (AUTH_FAILURES_PER_MIN): past it, the address's credentials are answered 429
// problem+json with Retry-After before anything is looked up. And the credential cache keeps
// misses apart, so a flood of random keys never pushes a partner's key out of it.
// Real PostgreSQL (every api_keys query counted), real sockets for the burst.

import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../gateway/src/app.ts';
import { createApiKey } from '../../gateway/src/auth/api-keys.ts';
import { issueDevToken, loadDevIssuerKey } from '../../gateway/src/auth/dev-issuer.ts';
import { testConfig } from '../../gateway/src/config.ts';
import { startTestDatabase, type TestDatabase } from './pipeline-support.ts';

const BUDGET = 30;
let db: TestDatabase;
let apiKeyQueries = 0;
const apps: FastifyInstance[] = [];

async function makeApp(overrides: Parameters<typeof testConfig>[0]): Promise<FastifyInstance> {
  const app = buildApp({ config: testConfig(overrides), db: db.pool, pipeline: false });
  await app.ready();
  apps.push(app);
  return app;
}

const randomKey = () => `lz_${randomBytes(32).toString('base64url')}`;

beforeAll(async () => {
  db = await startTestDatabase();
  // Count the lookups of API keys, whoever makes them.
  const pool = db.pool as unknown as { query: (...args: unknown[]) => unknown };
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  pool.query = (...args: unknown[]) => {
    const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string })?.text;
    if (text && /from api_keys/.test(text)) apiKeyQueries++;
    return query(...args);
  };
});

afterAll(async () => {
  for (const a of apps) await a.close().catch(() => {});
  await db?.stop();
});

/** `total` GETs over `connections` keep-alive connections, each with a new random API key. */
async function burst(port: number, total: number, connections: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const statuses = new Map<number, number>();
  let sample: { status: number; headers: http.IncomingHttpHeaders; body: string } | undefined;
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < total) {
      next++;
      const res = await new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>(
        (resolve, reject) => {
          const req = http.get(
            {
              host: '127.0.0.1',
              port,
              path: '/.well-known/jwks.json',
              agent,
              headers: { 'x-api-key': randomKey() },
            },
            (r) => {
              let body = '';
              r.setEncoding('utf8');
              r.on('data', (c) => {
                body += c;
              });
              r.on('end', () => resolve({ status: r.statusCode!, headers: r.headers, body }));
            },
          );
          req.on('error', reject);
        },
      );
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status === 429 && !sample) sample = res;
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  agent.destroy();
  return { statuses, sample, seconds: (performance.now() - started) / 1000 };
}

describe('failed authentications', () => {
  it(`an address gets ${BUDGET} 401s a minute, then 429s that cost no database lookup`, async () => {
    const app = await makeApp({ dataDir: db.dir, authFailuresPerMin: BUDGET });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as AddressInfo).port;
    const before = apiKeyQueries;
    const { statuses, sample, seconds } = await burst(port, 3000, 16);
    console.log(
      `burst of 3000 random API keys from one address in ${seconds.toFixed(1)} s: ` +
        `${JSON.stringify(Object.fromEntries(statuses))}, ${apiKeyQueries - before} api_keys queries`,
    );
    expect(statuses.get(401)).toBe(BUDGET);
    expect(statuses.get(429)).toBe(3000 - BUDGET);
    expect(apiKeyQueries - before).toBe(BUDGET);
    expect(sample!.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(Number(sample!.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(sample!.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(sample!.headers['cache-control']).toBe('private, no-store');
    const problem = JSON.parse(sample!.body);
    expect(problem).toMatchObject({
      type: 'https://lianzheng.dev/problems/rate-limited',
      status: 429,
      code: 'RATE_LIMITED',
      reason: 'AUTH_FAILURES',
    });
  }, 120_000);

  it('an address already over its public limit gets 429s for bad credentials too, after its budget', async () => {
    const app = await makeApp({ dataDir: db.dir, authFailuresPerMin: 5, rateLimitPublicPerMin: 3 });
    const from = { remoteAddress: '198.51.100.9' };
    const codes: number[] = [];
    for (let i = 0; i < 5; i++)
      codes.push((await app.inject({ method: 'GET', url: '/.well-known/jwks.json', ...from })).statusCode);
    expect(codes).toEqual([200, 200, 200, 429, 429]);
    const bad: number[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await app.inject({
        method: 'GET',
        url: '/.well-known/jwks.json',
        headers: { authorization: `Bearer ${randomBytes(16).toString('hex')}` },
        ...from,
      });
      bad.push(res.statusCode);
    }
    expect(bad).toEqual([401, 401, 401, 401, 401, 429, 429, 429, 429, 429]);
  });

  it('many requests at once with one good credential, nothing cached yet: one check, no 429', async () => {
    // A partner's client after a restart: 3 × the budget in flight with the same key, and the
    // same with a token. Each credential is checked once; the others wait for that answer
    // instead of reserving a failure each.
    const app = await makeApp({ dataDir: db.dir, authFailuresPerMin: BUDGET });
    const { key } = await createApiKey(db.pool, { org: 'partner-burst' });
    const token = await issueDevToken(await loadDevIssuerKey(app.config.keysDir), {
      role: 'inspector',
      region: '620102',
      audience: 'lianzheng',
    });
    const before = apiKeyQueries;
    for (const headers of [{ 'x-api-key': key }, { authorization: `Bearer ${token}` }]) {
      const answers = await Promise.all(
        Array.from({ length: 3 * BUDGET }, () =>
          app.inject({ method: 'GET', url: '/.well-known/jwks.json', headers, remoteAddress: '10.9.9.9' }),
        ),
      );
      expect(answers.map((a) => a.statusCode)).toEqual(answers.map(() => 200));
    }
    expect(apiKeyQueries - before).toBe(1);
    // The budget was not spent by them: a bad key from that address is still a 401, not a 429.
    const bad = await app.inject({
      method: 'GET',
      url: '/.well-known/jwks.json',
      headers: { 'x-api-key': randomKey() },
      remoteAddress: '10.9.9.9',
    });
    expect(bad.statusCode).toBe(401);
  });

  it('a flood of random keys from many addresses leaves valid keys cached: no lookup for them after', async () => {
    const app = await makeApp({ dataDir: db.dir, authFailuresPerMin: BUDGET });
    const valid = await Promise.all(
      Array.from({ length: 5 }, (_, i) => createApiKey(db.pool, { org: `partner-${i}` })),
    );
    const asPartner = (key: string) =>
      app.inject({ method: 'GET', url: '/.well-known/jwks.json', headers: { 'x-api-key': key } });
    for (const k of valid) expect((await asPartner(k.key)).statusCode).toBe(200);
    // More misses than the cache holds entries (10,000), each from its own address.
    const FLOOD = 10_200;
    const before = apiKeyQueries;
    const started = performance.now();
    for (let i = 0; i < FLOOD; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, (_, j) =>
          app.inject({
            method: 'GET',
            url: '/.well-known/jwks.json',
            headers: { 'x-api-key': randomKey() },
            remoteAddress: `10.${((i + j) >> 16) & 255}.${((i + j) >> 8) & 255}.${(i + j) & 255}`,
          }),
        ),
      );
    }
    console.log(
      `flood of ${FLOOD} random keys from ${FLOOD} addresses: ${apiKeyQueries - before} api_keys queries ` +
        `in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
    expect(apiKeyQueries - before).toBe(FLOOD);
    const afterFlood = apiKeyQueries;
    for (const k of valid) expect((await asPartner(k.key)).statusCode).toBe(200);
    expect(apiKeyQueries).toBe(afterFlood);
  }, 180_000);
});
