import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../app.ts';
import { testConfig } from '../config.ts';
import { hashApiKey } from './api-keys.ts';
import { issueDevToken, loadDevIssuerKey } from './dev-issuer.ts';

// The auth plugin over a fake pool that knows a few API keys and counts every lookup: failed
// authentications have a budget per address, past which nothing is looked up; misses never push
// valid keys out of the cache; every credential presented must be valid and name the same caller.

const BUDGET = 30;
const keys = new Map<string, { id: string; org: string; role: string }>();
let lookups = 0;
const fakePool = {
  query: async (text: string, params: unknown[]) => {
    if (/from api_keys/.test(text)) {
      lookups++;
      const hash = String(params[0]);
      const row = keys.get(hash);
      return { rows: row ? [{ ...row, key_hash: hash }] : [], rowCount: row ? 1 : 0 };
    }
    throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
  },
  end: async () => {},
} as unknown as pg.Pool;

let app: FastifyInstance;
let dir: string;
let unitToken = '';
const URL = '/.well-known/jwks.json';

function newKey(org: string, role = 'partner'): string {
  const key = `lz_${randomBytes(32).toString('base64url')}`;
  keys.set(hashApiKey(key), { id: `id-${keys.size}`, org, role });
  return key;
}
const randomKey = () => `lz_${randomBytes(32).toString('base64url')}`;

function get(headers: Record<string, string>, remoteAddress = '192.0.2.10') {
  return app.inject({ method: 'GET', url: URL, headers, remoteAddress });
}

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lz-auth-'));
  app = buildApp({
    config: testConfig({ dataDir: dir, authFailuresPerMin: BUDGET }),
    db: fakePool,
    migrate: false,
    pipeline: false,
  });
  await app.ready();
  unitToken = await issueDevToken(await loadDevIssuerKey(path.join(dir, 'keys')), {
    role: 'unit',
    org: 'org-a',
    audience: 'lianzheng',
  });
});
afterAll(async () => {
  await app.close();
  await fs.rm(dir, { recursive: true, force: true });
});

describe('failed authentications', () => {
  it(`are answered 401 ${BUDGET} times a minute per address, then 429 without a lookup`, async () => {
    const address = '198.51.100.7';
    const before = lookups;
    const codes: number[] = [];
    for (let i = 0; i < BUDGET; i++)
      codes.push((await get({ 'x-api-key': randomKey() }, address)).statusCode);
    expect(codes).toEqual(Array(BUDGET).fill(401));
    expect(lookups - before).toBe(BUDGET);
    const afterBudget = lookups;
    for (let i = 0; i < 200; i++) {
      const res = await get(
        i % 2 ? { 'x-api-key': randomKey() } : { authorization: `Bearer ${randomBytes(20).toString('hex')}` },
        address,
      );
      expect(res.statusCode).toBe(429);
      if (i === 0) {
        expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(res.json()).toMatchObject({ code: 'RATE_LIMITED', reason: 'AUTH_FAILURES', status: 429 });
        expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
        expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(60);
      }
    }
    // Not one more database query for the address's keys.
    expect(lookups).toBe(afterBudget);
    // Another address has its own budget.
    expect((await get({ 'x-api-key': randomKey() }, '198.51.100.8')).statusCode).toBe(401);
    // The anonymous public from the address is not affected by it: the public limit applies.
    expect((await get({}, address)).statusCode).toBe(200);
  });

  it('past the budget, a key the gateway already knows still works; one it must look up waits', async () => {
    const address = '198.51.100.20';
    const known = newKey('org-a');
    expect((await get({ 'x-api-key': known }, '192.0.2.99')).statusCode).toBe(200);
    expect((await get({ authorization: `Bearer ${unitToken}` }, '192.0.2.99')).statusCode).toBe(200);
    for (let i = 0; i < BUDGET; i++) await get({ 'x-api-key': randomKey() }, address);
    expect((await get({ 'x-api-key': known }, address)).statusCode).toBe(200);
    expect((await get({ authorization: `Bearer ${unitToken}` }, address)).statusCode).toBe(200);
    const before = lookups;
    expect((await get({ 'x-api-key': newKey('org-a') }, address)).statusCode).toBe(429);
    expect(lookups).toBe(before);
  });

  it('past the budget, a key that was valid when last looked up is looked up again', async () => {
    const shortCache = buildApp({
      config: testConfig({ dataDir: dir, authFailuresPerMin: 3, authCacheMs: 50 }),
      db: fakePool,
      migrate: false,
      pipeline: false,
    });
    await shortCache.ready();
    try {
      const from = (headers: Record<string, string>) =>
        shortCache.inject({ method: 'GET', url: URL, headers, remoteAddress: '198.51.100.30' });
      const partner = newKey('org-a');
      expect((await from({ 'x-api-key': partner })).statusCode).toBe(200);
      for (let i = 0; i < 3; i++) expect((await from({ 'x-api-key': randomKey() })).statusCode).toBe(401);
      expect((await from({ 'x-api-key': randomKey() })).statusCode).toBe(429);
      await new Promise((r) => setTimeout(r, 80)); // the partner's entry expires
      const before = lookups;
      expect((await from({ 'x-api-key': partner })).statusCode).toBe(200);
      expect(lookups).toBe(before + 1);
      // Revoked meanwhile: refused, and past the budget that refusal is a 429.
      keys.delete(hashApiKey(partner));
      await new Promise((r) => setTimeout(r, 80));
      expect((await from({ 'x-api-key': partner })).statusCode).toBe(429);
    } finally {
      await shortCache.close();
    }
  });

  it('a flood of random keys from many addresses does not push valid keys out of the cache', async () => {
    const valid = Array.from({ length: 20 }, (_, i) => newKey(`org-${i}`));
    for (const k of valid) expect((await get({ 'x-api-key': k })).statusCode).toBe(200);
    const before = lookups;
    const FLOOD = 12_000; // more than the cache's 10,000 entries
    for (let i = 0; i < FLOOD; i++) {
      const res = await get(
        { 'x-api-key': randomKey() },
        `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      );
      expect(res.statusCode).toBe(401);
    }
    expect(lookups - before).toBe(FLOOD);
    const afterFlood = lookups;
    for (const k of valid) expect((await get({ 'x-api-key': k })).statusCode).toBe(200);
    expect(lookups).toBe(afterFlood);
  }, 60_000);
});

describe('several credentials in one request', () => {
  it('are refused if any is invalid, even beside a valid one', async () => {
    const key = newKey('org-a');
    for (const headers of [
      { 'x-api-key': key, authorization: 'Bearer garbage' },
      { 'x-api-key': key, authorization: `Bearer ${randomKey()}` },
      { 'x-api-key': randomKey(), authorization: `Bearer ${unitToken}` },
      { 'x-api-key': key, authorization: 'Basic dTpw' },
    ]) {
      const res = await get(headers, '192.0.2.30');
      expect(res.statusCode, JSON.stringify(headers)).toBe(401);
      expect(res.json().code).toBe('UNAUTHENTICATED');
    }
  });

  it('are refused when they name different callers, and taken when they name the same', async () => {
    const partnerA = newKey('org-a');
    const conflict = await get({ 'x-api-key': partnerA, authorization: `Bearer ${unitToken}` }, '192.0.2.31');
    expect(conflict.statusCode).toBe(401);
    expect(conflict.json().reason).toBe('CONFLICTING_CREDENTIALS');
    const otherOrg = await get({ 'x-api-key': partnerA, authorization: `Bearer ${newKey('org-b')}` });
    expect(otherOrg.json().reason).toBe('CONFLICTING_CREDENTIALS');
    const same = await get({ 'x-api-key': partnerA, authorization: `Bearer ${newKey('org-a')}` });
    expect(same.statusCode).toBe(200);
  });
});

describe('cache headers', () => {
  it('an answer to credentials is private and never stored; every answer varies by credential', async () => {
    const anonymous = await get({});
    expect(anonymous.headers['cache-control']).toBe('public, max-age=300');
    expect(anonymous.headers.vary).toMatch(/Authorization, X-Api-Key/);
    const credentials: Record<string, string>[] = [
      { authorization: `Bearer ${unitToken}` },
      { 'x-api-key': newKey('org-a') },
      { authorization: 'Bearer garbage' },
    ];
    for (const headers of credentials) {
      const res = await get(headers, '192.0.2.40');
      expect(res.headers['cache-control']).toBe('private, no-store');
      expect(res.headers.vary).toMatch(/Authorization, X-Api-Key/);
    }
  });
});
