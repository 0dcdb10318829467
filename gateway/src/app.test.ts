import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from './app.ts';
import { issueDevToken, loadDevIssuerKey } from './auth/dev-issuer.ts';
import { testConfig } from './config.ts';

// buildApp() with a fake pool that fails every query: the requests here must be refused before
// any database round trip (schema, content type, credentials), or answer 503 when they reach it.
let app: FastifyInstance;
let dir: string;
let queries = 0;
const fakePool = {
  query: async () => {
    queries++;
    throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
  },
  end: async () => {},
} as unknown as pg.Pool;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lz-app-'));
  app = buildApp({ config: testConfig({ dataDir: dir }), db: fakePool, migrate: false, pipeline: false });
  await app.ready();
});
afterAll(async () => {
  await app.close();
  await fs.rm(dir, { recursive: true, force: true });
});

async function unitToken() {
  return issueDevToken(await loadDevIssuerKey(path.join(dir, 'keys')), {
    role: 'unit',
    org: 'o',
    audience: 'lianzheng',
  });
}

describe('buildApp', () => {
  it('decorates what the pipeline depends on', () => {
    expect(app.config.dataDir).toBe(dir);
    expect(app.db).toBe(fakePool);
    expect(app.keys.receiptSigner.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(typeof app.requireRole).toBe('function');
    expect(app.metrics.contentType).toContain('text/plain');
    expect(app.errors.problemType('NOT_FOUND')).toBe('https://lianzheng.dev/problems/not-found');
  });

  it('refuses bad requests without touching the database', async () => {
    const token = await unitToken();
    const before = queries;
    const cases = [
      { headers: {}, payload: {}, code: 'UNAUTHENTICATED' },
      { headers: { authorization: `Bearer ${token}` }, payload: { sha256: 'x' }, code: 'VALIDATION_FAILED' },
      {
        headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv' },
        payload: 'a,b',
        code: 'UNSUPPORTED_MEDIA_TYPE',
      },
      {
        headers: { authorization: `Bearer ${token}` },
        payload: { sha256: 'A'.repeat(64), projectId: 'p', kind: 'notice', visibility: 'public' },
        code: 'BAD_DIGEST',
      },
    ];
    for (const c of cases) {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/evidence',
        headers: c.headers,
        payload: c.payload,
      });
      expect(res.json().code).toBe(c.code);
    }
    expect(queries).toBe(before);
  });

  it('answers 503 (never 500) when the database is down', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/evidence',
      headers: { authorization: `Bearer ${await unitToken()}` },
      payload: { sha256: 'a'.repeat(64), projectId: 'p', kind: 'notice', visibility: 'public' },
    });
    expect(res.statusCode).toBe(503);
    expect(res.json().code).toBe('SERVICE_UNAVAILABLE');
    expect(res.json().detail).toBeUndefined();
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json().checks.database.ok).toBe(false);
  });
});
