// POST /v1/evidence/status (issue #22): the status, leaf index and flags of many records in one
// call, in request order; a missing id and a restricted record the caller may not read answer the
// same `not_found`; the facts behind a flag only for those who may read them; 1..1,000 ids; the
// anonymous public rate-limited as on the other read routes.

import { randomBytes, randomUUID } from 'node:crypto';
import { sha256, toHex } from '@lianzheng/proof';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../gateway/src/app.ts';
import { createApiKey } from '../../gateway/src/auth/api-keys.ts';
import { issueDevToken, loadDevIssuerKey } from '../../gateway/src/auth/dev-issuer.ts';
import { type Config, testConfig } from '../../gateway/src/config.ts';
import { demoProject, startTestDatabase, type TestDatabase } from './pipeline-support.ts';

let db: TestDatabase;
let app: FastifyInstance;
let config: Config;
const own = demoProject();
const foreign = { ...demoProject(), ownerOrg: 'another-town', regionCode: '630102' };
const auth: Record<string, Record<string, string>> = {};
const SECRET_AMOUNT = '7310000000123';
/** Record ids by name. */
const ids: Record<string, string> = {};

const digest = () => toHex(sha256(randomBytes(16)));

function as(who: string, opts: InjectOptions, on = app): Promise<LightMyRequestResponse> {
  return on.inject({ ...opts, headers: { ...(opts.headers as Record<string, string>), ...auth[who] } });
}
const status = (who: string, body: unknown, on = app) =>
  as(who, { method: 'POST', url: '/v1/evidence/status', payload: body as object }, on);

beforeAll(async () => {
  db = await startTestDatabase();
  config = testConfig({ dataDir: db.dir, sealIntervalMs: 20, rateLimitPublicPerMin: 1_000_000 });
  app = buildApp({ config, db: db.pool });
  await app.ready();
  const key = await loadDevIssuerKey(config.keysDir);
  const bearer = async (claims: Omit<Parameters<typeof issueDevToken>[1], 'audience'>) => ({
    authorization: `Bearer ${await issueDevToken(key, { ...claims, audience: config.oidc.audience })}`,
  });
  auth.anonymous = {};
  auth.owner = await bearer({ role: 'unit', org: own.ownerOrg });
  auth.foreignOwner = await bearer({ role: 'unit', org: foreign.ownerOrg });
  auth.inspectorIn = await bearer({ role: 'inspector', region: '620102' });
  auth.admin = await bearer({ role: 'admin' });
  auth.partner = { 'x-api-key': (await createApiKey(db.pool, { org: 'finance-platform' })).key };
  for (const [who, p] of [
    ['owner', own],
    ['foreignOwner', foreign],
  ] as const) {
    const res = await as(who, { method: 'POST', url: '/v1/projects', payload: p });
    expect(res.statusCode, res.body).toBe(201);
  }
  const grant = await as('owner', {
    method: 'POST',
    url: `/v1/projects/${own.id}/delegates`,
    payload: { org: 'finance-platform' },
  });
  expect(grant.statusCode).toBe(201);
  const submit = async (who: string, name: string, body: Record<string, unknown>) => {
    const res = await as(who, {
      method: 'POST',
      url: '/v1/evidence',
      payload: { sha256: digest(), visibility: 'public', kind: 'notice', ...body },
    });
    expect(res.statusCode, res.body).toBe(202);
    ids[name] = res.json().id;
  };
  // Payments without a contract: flagged, with the amount among the flag's restricted facts.
  const payment = { kind: 'payment_approval', amount: SECRET_AMOUNT };
  await submit('owner', 'ownPublic', { projectId: own.id, ...payment });
  await submit('owner', 'ownRestricted', { projectId: own.id, ...payment, visibility: 'restricted' });
  await submit('foreignOwner', 'foreignPublic', { projectId: foreign.id });
  await submit('foreignOwner', 'foreignRestricted', {
    projectId: foreign.id,
    ...payment,
    visibility: 'restricted',
  });
  await submit('partner', 'partnerRestricted', { projectId: own.id, visibility: 'restricted' });
  await app.pipeline.batcher.waitForRecorded(5);
});

afterAll(async () => {
  await app?.close();
  await db?.stop();
});

type Entry = { id: string; status: string; leafIndex?: number; flags?: { code: string; detail?: object }[] };
const results = (res: LightMyRequestResponse) => res.json().results as Entry[];

describe('POST /v1/evidence/status', () => {
  it('answers mixed ids in request order: found ones with status, leaf index and flags; others not_found', async () => {
    const missing = randomUUID();
    const asked = [ids.ownPublic!, ids.ownRestricted!, missing, ids.foreignPublic!, ids.ownPublic!];
    const res = await status('owner', { ids: asked });
    expect(res.statusCode, res.body).toBe(200);
    const got = results(res);
    expect(got.map((r) => r.id)).toEqual(asked);
    expect(got.map((r) => r.status)).toEqual(['recorded', 'recorded', 'not_found', 'recorded', 'recorded']);
    expect(got[2]).toEqual({ id: missing, status: 'not_found' });
    for (const r of [got[0]!, got[1]!, got[3]!]) expect(r.leafIndex).toEqual(expect.any(Number));
    expect(new Set(got.filter((r) => r.leafIndex !== undefined).map((r) => r.leafIndex)).size).toBe(3);
    // The owner reads the facts behind its own project's flags.
    expect(got[0]!.flags!.map((f) => f.code)).toContain('PAYMENT_WITHOUT_CONTRACT');
    expect(JSON.stringify(got[1]!.flags)).toContain(SECRET_AMOUNT);
    expect(got[0]).toMatchObject({ projectId: own.id });
  });

  it("another organisation's restricted record is not_found, exactly like an id that never existed", async () => {
    const missing = randomUUID();
    const res = await status('owner', { ids: [ids.foreignRestricted!, missing] });
    expect(res.statusCode).toBe(200);
    const [foreignEntry, missingEntry] = results(res);
    expect(foreignEntry).toEqual({ id: ids.foreignRestricted, status: 'not_found' });
    expect(missingEntry).toEqual({ id: missing, status: 'not_found' });
    // Its owner, an inspector of its region (630102, not 620102) and admins do see it.
    const seen = async (who: string) =>
      results(await status(who, { ids: [ids.foreignRestricted!] }))[0]!.status;
    expect(await seen('foreignOwner')).toBe('recorded');
    expect(await seen('admin')).toBe('recorded');
    expect(await seen('inspectorIn')).toBe('not_found');
    expect(await seen('anonymous')).toBe('not_found');
  });

  it('shows public records to anyone, without the restricted facts behind their flags', async () => {
    for (const who of ['anonymous', 'foreignOwner']) {
      const res = await status(who, { ids: [ids.ownPublic!, ids.ownRestricted!] });
      expect(res.statusCode).toBe(200);
      const [pub, restricted] = results(res);
      expect(pub!.status, who).toBe('recorded');
      expect(pub!.flags!.map((f) => f.code)).toContain('PAYMENT_WITHOUT_CONTRACT');
      for (const f of pub!.flags!) expect(f.detail, who).toBeUndefined();
      expect(restricted).toEqual({ id: ids.ownRestricted, status: 'not_found' });
      expect(res.body).not.toContain(SECRET_AMOUNT);
    }
    const inspector = results(await status('inspectorIn', { ids: [ids.ownPublic!, ids.ownRestricted!] }));
    expect(inspector.map((r) => r.status)).toEqual(['recorded', 'recorded']);
    expect(JSON.stringify(inspector)).toContain(SECRET_AMOUNT);
  });

  it("a delegated partner sees its own restricted submission, not the owner's", async () => {
    const got = results(await status('partner', { ids: [ids.partnerRestricted!, ids.ownRestricted!] }));
    expect(got.map((r) => r.status)).toEqual(['recorded', 'not_found']);
  });

  it('takes 1..1,000 ids: more is a 400 problem naming the limit; a malformed id names its place', async () => {
    const many = Array.from({ length: 1000 }, (_, i) => (i === 0 ? ids.ownPublic! : randomUUID()));
    const ok = await status('partner', { ids: many });
    expect(ok.statusCode).toBe(200);
    expect(results(ok)).toHaveLength(1000);
    expect(results(ok)[0]!.status).toBe('recorded');
    expect(results(ok).filter((r) => r.status === 'not_found')).toHaveLength(999);

    const over = await status('partner', { ids: [...many, randomUUID()] });
    expect(over.statusCode).toBe(400);
    expect(over.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(over.json()).toMatchObject({ code: 'VALIDATION_FAILED', limit: 1000 });
    expect(over.json().detail).toMatch(/at most 1000 ids.*got 1001/);

    for (const [body, path] of [
      [{ ids: [] }, 'body/ids'],
      [{ ids: [ids.ownPublic, 'NOT-A-UUID'] }, 'body/ids/1'],
      [{ ids: [ids.ownPublic!.toUpperCase()] }, 'body/ids/0'],
      [{ ids: [42] }, 'body/ids/0'],
      [{ ids: 'x' }, 'body/ids'],
      [{ ids: [ids.ownPublic], more: 1 }, 'body/more'],
      [{}, 'body/ids'],
    ] as const) {
      const res = await status('owner', body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json().errors[0].path, JSON.stringify(body)).toBe(path);
    }
  });

  it('the anonymous public is rate-limited as on the read routes; credentials are not', async () => {
    const limited = buildApp({ config: { ...config, rateLimitPublicPerMin: 2 }, db: db.pool });
    await limited.ready();
    try {
      const body = { ids: [ids.ownPublic!] };
      expect((await status('anonymous', body, limited)).statusCode).toBe(200);
      expect((await status('anonymous', body, limited)).statusCode).toBe(200);
      const third = await status('anonymous', body, limited);
      expect(third.statusCode).toBe(429);
      expect(third.json().code).toBe('RATE_LIMITED');
      for (let i = 0; i < 3; i++) expect((await status('partner', body, limited)).statusCode).toBe(200);
    } finally {
      await limited.close();
    }
  });

  it('is described in the OpenAPI document, with its security and the limit', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const op = doc.paths['/v1/evidence/status'].post;
    expect(op.security).toEqual([{}, { bearer: [] }, { apiKey: [] }, { mutualTLS: [] }]);
    const schema = op.requestBody.content['application/json'].schema;
    expect(schema.properties.ids).toMatchObject({ minItems: 1, maxItems: 1000 });
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['200', '400', '429']));
    for (const path of ['/v1/projects/{id}/delegates', '/v1/projects/{id}/delegates/{org}']) {
      for (const operation of Object.values(doc.paths[path]) as { security?: unknown[] }[])
        expect(operation.security, path).toEqual([{ bearer: [] }, { apiKey: [] }, { mutualTLS: [] }]);
    }
  });
});
