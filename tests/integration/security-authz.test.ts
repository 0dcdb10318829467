// Who may do what: every route × every role (anonymous; a unit of the owning organisation; a unit
// of another; a partner of the owning organisation; an inspector inside the project's region; one
// outside; an admin), with the expected status — and restricted details (title, amount, milestone,
// the facts behind a flag) never in an answer to someone not allowed to read them. Forged and
// stale tokens are refused on read routes too (never silently treated as the public). Every answer
// varies by credential and an answer to credentials is never stored by a cache; a request whose
// credentials are not all valid, or name different callers, is refused.

import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { sha256, toHex } from '@lianzheng/proof';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../gateway/src/app.ts';
import { createApiKey, hashApiKey } from '../../gateway/src/auth/api-keys.ts';
import { issueDevToken, loadDevIssuerKey } from '../../gateway/src/auth/dev-issuer.ts';
import { type Config, DEV_ISSUER, testConfig } from '../../gateway/src/config.ts';
import { demoProject, startTestDatabase, type TestDatabase } from './pipeline-support.ts';

type Who = 'anonymous' | 'ownUnit' | 'otherUnit' | 'partner' | 'inspectorIn' | 'inspectorOut' | 'admin';
const WHO: Who[] = ['anonymous', 'ownUnit', 'otherUnit', 'partner', 'inspectorIn', 'inspectorOut', 'admin'];
/** Who may read a restricted record's details in this project. */
const PRIVILEGED = new Set<Who>(['ownUnit', 'partner', 'inspectorIn', 'admin']);

let db: TestDatabase;
let app: FastifyInstance;
let config: Config;
const project = demoProject();
const headers: Record<Who, Record<string, string>> = {} as Record<Who, Record<string, string>>;
let partnerKey = '';
let webhookId = '';
/** Delegations granted up front, one revoked by each DELETE of the matrix. */
const delegatedOrgs: string[] = [];

// Markers that must never reach someone without the right to read restricted details.
const SECRET_TITLE = `restricted-title-${randomBytes(6).toString('hex')}`;
const SECRET_AMOUNT = '7310000000123';
const restricted = { id: '', sha256: '' };
const pub = { id: '', sha256: '' };

function req(who: Who, opts: InjectOptions): InjectOptions {
  return { ...opts, headers: { ...(opts.headers as Record<string, string>), ...headers[who] } };
}

const digest = () => toHex(sha256(randomBytes(16)));
const item = (extra: Record<string, unknown> = {}) => ({
  sha256: digest(),
  projectId: project.id,
  kind: 'notice',
  visibility: 'public',
  ...extra,
});

beforeAll(async () => {
  db = await startTestDatabase();
  const defaults = testConfig({ dataDir: db.dir });
  config = testConfig({
    dataDir: db.dir,
    sealIntervalMs: 20,
    rateLimitPublicPerMin: 1_000_000,
    // Dozens of forged credentials come from one address here: the budget of failures has its
    // own test (security-auth-failures.test.ts).
    authFailuresPerMin: 1_000_000,
    tsa: { ...defaults.tsa, rateLimitPerMin: 1_000_000 },
  });
  app = buildApp({ config, db: db.pool });
  await app.after();
  await app.ready();
  const key = await loadDevIssuerKey(config.keysDir);
  const audience = config.oidc.audience;
  const bearer = async (r: Parameters<typeof issueDevToken>[1]) => ({
    authorization: `Bearer ${await issueDevToken(key, r)}`,
  });
  headers.anonymous = {};
  headers.ownUnit = await bearer({ role: 'unit', org: project.ownerOrg, audience });
  headers.otherUnit = await bearer({ role: 'unit', org: 'another-town', audience });
  headers.inspectorIn = await bearer({ role: 'inspector', region: '620100', audience });
  headers.inspectorOut = await bearer({ role: 'inspector', region: '630000', audience });
  headers.admin = await bearer({ role: 'admin', audience });
  partnerKey = (await createApiKey(db.pool, { org: project.ownerOrg, label: 'finance platform' })).key;
  headers.partner = { 'x-api-key': partnerKey };

  const reg = await app.inject(req('ownUnit', { method: 'POST', url: '/v1/projects', payload: project }));
  expect(reg.statusCode, reg.body).toBe(201);
  // A restricted payment approval without a contract: it carries every restricted detail and
  // raises a flag whose facts are restricted too.
  const r = await app.inject(
    req('ownUnit', {
      method: 'POST',
      url: '/v1/evidence',
      payload: item({
        kind: 'payment_approval',
        visibility: 'restricted',
        title: SECRET_TITLE,
        amount: SECRET_AMOUNT,
        milestone: 'm1',
      }),
    }),
  );
  expect(r.statusCode, r.body).toBe(202);
  restricted.id = r.json().id;
  restricted.sha256 = r.json().sha256;
  const p = await app.inject(
    req('ownUnit', { method: 'POST', url: '/v1/evidence', payload: item({ title: 'public notice' }) }),
  );
  pub.id = p.json().id;
  pub.sha256 = p.json().sha256;
  await app.pipeline.batcher.waitForRecorded(2);
  // The owning organisation's webhook (`.invalid` never resolves: nothing is ever called).
  const hook = await app.inject(
    req('ownUnit', { method: 'POST', url: '/v1/webhooks', payload: { url: 'https://erp.invalid/hook' } }),
  );
  expect(hook.statusCode, hook.body).toBe(201);
  webhookId = hook.json().id;
  for (const who of WHO) {
    const org = `matrix-delegate-${who}`;
    const granted = await app.inject(
      req('ownUnit', { method: 'POST', url: `/v1/projects/${project.id}/delegates`, payload: { org } }),
    );
    expect(granted.statusCode, granted.body).toBe(201);
    delegatedOrgs.push(org);
  }
});

afterAll(async () => {
  await app?.close();
  await db?.stop();
});

function leaks(body: string): boolean {
  return body.includes(SECRET_TITLE) || body.includes(SECRET_AMOUNT);
}

describe('authorisation matrix', () => {
  type Row = { route: string; request: () => InjectOptions; expect: Record<Who, number> };
  const all = (status: number) => Object.fromEntries(WHO.map((w) => [w, status])) as Record<Who, number>;
  const writers = {
    anonymous: 401,
    ownUnit: 202,
    otherUnit: 403,
    partner: 202,
    inspectorIn: 403,
    inspectorOut: 403,
    admin: 202,
  };
  const rows: Row[] = [
    {
      route: 'POST /v1/evidence',
      request: () => ({ method: 'POST', url: '/v1/evidence', payload: item() }),
      expect: writers,
    },
    {
      route: 'POST /v1/evidence/batch',
      request: () => ({ method: 'POST', url: '/v1/evidence/batch', payload: { items: [item(), item()] } }),
      // Another organisation's unit reaches the items, each refused on its own (207, 403 per item).
      expect: { ...writers, otherUnit: 207 },
    },
    {
      route: 'POST /v1/projects (owner org = the unit’s)',
      request: () => ({
        method: 'POST',
        url: '/v1/projects',
        payload: { ...demoProject(`matrix-${randomBytes(4).toString('hex')}`), ownerOrg: project.ownerOrg },
      }),
      expect: {
        anonymous: 401,
        ownUnit: 201,
        otherUnit: 403,
        partner: 403,
        inspectorIn: 403,
        inspectorOut: 403,
        admin: 201,
      },
    },
    {
      route: 'POST /v1/projects/{id}/delegates (the owning unit or an admin; 200 when already granted)',
      request: () => ({
        method: 'POST',
        url: `/v1/projects/${project.id}/delegates`,
        payload: { org: 'matrix-partner' },
      }),
      expect: { ...all(403), anonymous: 401, ownUnit: 201, admin: 200 },
    },
    {
      route: 'DELETE /v1/projects/{id}/delegates/{org} (the owning unit or an admin)',
      request: () => ({
        method: 'DELETE',
        url: `/v1/projects/${project.id}/delegates/${delegatedOrgs.shift()}`,
      }),
      expect: { ...all(403), anonymous: 401, ownUnit: 204, admin: 204 },
    },
    {
      route: 'GET /v1/projects/{id}/delegates (the owning organisation, inspectors of the region, admins)',
      request: () => ({ method: 'GET', url: `/v1/projects/${project.id}/delegates` }),
      expect: { ...all(200), anonymous: 401, otherUnit: 403, inspectorOut: 403 },
    },
    {
      route: 'POST /v1/admin/keys/rotate',
      request: () => ({ method: 'POST', url: '/v1/admin/keys/rotate' }),
      expect: {
        anonymous: 401,
        ownUnit: 403,
        otherUnit: 403,
        partner: 403,
        inspectorIn: 403,
        inspectorOut: 403,
        admin: 200,
      },
    },
    {
      route: 'POST /v1/webhooks (for the project’s organisation)',
      request: () => ({
        method: 'POST',
        url: '/v1/webhooks',
        payload: { url: 'https://erp.invalid/matrix', org: project.ownerOrg },
      }),
      expect: { ...writers, ownUnit: 201, partner: 201, admin: 201 },
    },
    {
      route: 'GET /v1/webhooks',
      request: () => ({ method: 'GET', url: '/v1/webhooks' }),
      expect: { ...all(200), anonymous: 401, inspectorIn: 403, inspectorOut: 403 },
    },
    {
      route: 'GET /v1/webhooks/{id}/deliveries (the owning organisation’s webhook)',
      request: () => ({ method: 'GET', url: `/v1/webhooks/${webhookId}/deliveries` }),
      // Another organisation's webhook is as absent as one that never existed.
      expect: { ...all(200), anonymous: 401, otherUnit: 404, inspectorIn: 403, inspectorOut: 403 },
    },
    {
      route: 'POST /v1/webhooks/{id}/ping (the owning organisation’s webhook)',
      request: () => ({ method: 'POST', url: `/v1/webhooks/${webhookId}/ping` }),
      expect: { ...all(202), anonymous: 401, otherUnit: 404, inspectorIn: 403, inspectorOut: 403 },
    },
    {
      route: 'GET /v1/webhooks/{id} (the owning organisation’s webhook)',
      request: () => ({ method: 'GET', url: `/v1/webhooks/${webhookId}` }),
      expect: { ...all(200), anonymous: 401, otherUnit: 404, inspectorIn: 403, inspectorOut: 403 },
    },
    {
      route: 'PATCH /v1/webhooks/{id} (the owning organisation’s webhook)',
      request: () => ({
        method: 'PATCH',
        url: `/v1/webhooks/${webhookId}`,
        payload: { url: 'https://erp.invalid/moved', events: ['records.recorded'] },
      }),
      expect: { ...all(200), anonymous: 401, otherUnit: 404, inspectorIn: 403, inspectorOut: 403 },
    },
    {
      route: 'POST /v1/webhooks/{id}/secret (the owning organisation’s webhook)',
      request: () => ({ method: 'POST', url: `/v1/webhooks/${webhookId}/secret` }),
      expect: { ...all(200), anonymous: 401, otherUnit: 404, inspectorIn: 403, inspectorOut: 403 },
    },
    {
      route: 'GET /v1/evidence/{restricted}',
      request: () => ({ method: 'GET', url: `/v1/evidence/${restricted.id}` }),
      expect: all(200),
    },
    {
      // Everyone gets the record's package; the details inside only for those who may read them
      // (checked member by member, inflated, in evidence-package.test.ts).
      route: 'GET /v1/evidence/{restricted}/package',
      request: () => ({ method: 'GET', url: `/v1/evidence/${restricted.id}/package` }),
      expect: all(200),
    },
    {
      route: 'POST /v1/evidence/status (the restricted record: not_found to those who may not read it)',
      request: () => ({
        method: 'POST',
        url: '/v1/evidence/status',
        payload: { ids: [restricted.id, pub.id] },
      }),
      expect: all(200),
    },
    {
      route: 'GET /v1/verify/{restricted}',
      request: () => ({ method: 'GET', url: `/v1/verify/${restricted.sha256}` }),
      expect: all(200),
    },
    {
      route: 'GET /v1/projects/{id}',
      request: () => ({ method: 'GET', url: `/v1/projects/${project.id}` }),
      expect: all(200),
    },
    {
      route: 'GET /v1/projects/{id}/records',
      request: () => ({ method: 'GET', url: `/v1/projects/${project.id}/records` }),
      expect: all(200),
    },
    {
      route: 'PATCH /v1/projects/{id} (display names: the owning unit or an admin)',
      request: () => ({
        method: 'PATCH',
        url: `/v1/projects/${project.id}`,
        payload: { nameEn: 'Village road', milestones: [{ id: 'm1', nameEn: 'Subgrade' }] },
      }),
      expect: { ...all(403), anonymous: 401, ownUnit: 200, admin: 200 },
    },
    {
      route: 'PUT /v1/organisations/{id} (the organisation itself, by unit or partner, or an admin)',
      request: () => ({
        method: 'PUT',
        url: `/v1/organisations/${project.ownerOrg}`,
        payload: { name: '村民委员会', nameEn: 'Village committee' },
      }),
      expect: { ...all(403), anonymous: 401, ownUnit: 200, partner: 200, admin: 200 },
    },
    {
      route: 'GET /v1/organisations/{id} (display names are public)',
      request: () => ({ method: 'GET', url: `/v1/organisations/${project.ownerOrg}` }),
      expect: all(200),
    },
    {
      route: 'GET /v1/projects/{id}/flags',
      request: () => ({ method: 'GET', url: `/v1/projects/${project.id}/flags` }),
      expect: all(200),
    },
    {
      route: 'GET /v1/projects/{id}/records.csv (inspectors, the owning organisation, admins)',
      request: () => ({ method: 'GET', url: `/v1/projects/${project.id}/records.csv` }),
      // Another region's inspector gets the file without the restricted columns (checked by leaks).
      expect: { ...all(200), anonymous: 401, otherUnit: 403 },
    },
    {
      route: 'GET /v1/projects/{id}/flags.csv (inspectors, the owning organisation, admins)',
      request: () => ({ method: 'GET', url: `/v1/projects/${project.id}/flags.csv` }),
      expect: { ...all(200), anonymous: 401, otherUnit: 403 },
    },
    {
      route: 'GET /v1/projects/{id}/report.pdf (inspectors, the owning organisation, admins)',
      request: () => ({ method: 'GET', url: `/v1/projects/${project.id}/report.pdf` }),
      expect: { ...all(200), anonymous: 401, otherUnit: 403 },
    },
    {
      route: 'GET /v1/auth/config (how the workspace signs in: public)',
      request: () => ({ method: 'GET', url: '/v1/auth/config' }),
      expect: all(200),
    },
    {
      route: 'GET /v1/workspace/overview (the projects the caller oversees, counts only)',
      request: () => ({ method: 'GET', url: '/v1/workspace/overview' }),
      expect: { ...all(200), anonymous: 401 },
    },
    {
      route: 'GET /v1/log/checkpoint',
      request: () => ({ method: 'GET', url: '/v1/log/checkpoint' }),
      expect: all(200),
    },
    { route: 'GET /v1/log/key', request: () => ({ method: 'GET', url: '/v1/log/key' }), expect: all(200) },
    {
      route: 'GET /v1/log/proof/inclusion',
      request: () => ({ method: 'GET', url: '/v1/log/proof/inclusion?index=0&size=2' }),
      expect: all(200),
    },
    {
      route: 'GET /v1/log/proof/consistency',
      request: () => ({ method: 'GET', url: '/v1/log/proof/consistency?from=1&to=2' }),
      expect: all(200),
    },
    { route: 'GET /v1/keys', request: () => ({ method: 'GET', url: '/v1/keys' }), expect: all(200) },
    {
      route: 'GET /.well-known/jwks.json',
      request: () => ({ method: 'GET', url: '/.well-known/jwks.json' }),
      expect: all(200),
    },
    { route: 'GET /healthz', request: () => ({ method: 'GET', url: '/healthz' }), expect: all(200) },
    { route: 'GET /readyz', request: () => ({ method: 'GET', url: '/readyz' }), expect: all(200) },
    // Operators only: Prometheus scrapes with an admin API key.
    {
      route: 'GET /metrics',
      request: () => ({ method: 'GET', url: '/metrics' }),
      expect: { ...all(403), anonymous: 401, admin: 200 },
    },
    {
      route: 'GET /openapi.json',
      request: () => ({ method: 'GET', url: '/openapi.json' }),
      expect: all(200),
    },
    {
      route: 'POST /tsa (malformed query → RFC 3161 rejection)',
      request: () => ({
        method: 'POST',
        url: '/tsa',
        headers: { 'content-type': 'application/timestamp-query' },
        payload: Buffer.from([0x30, 0x00]),
      }),
      expect: all(200),
    },
  ];

  for (const row of rows) {
    it(row.route, async () => {
      const got: Record<string, number> = {};
      for (const who of WHO) {
        const res = await app.inject(req(who, row.request()));
        got[who] = res.statusCode;
        if (res.statusCode >= 400) {
          expect(String(res.headers['content-type'])).toMatch(/^application\/problem\+json/);
          const code = { 401: 'UNAUTHENTICATED', 404: 'NOT_FOUND' }[res.statusCode] ?? 'FORBIDDEN';
          expect(res.json().code).toBe(code);
        }
        if (res.statusCode === 207) {
          for (const r of res.json().results) expect(r.problem?.code).toBe('FORBIDDEN');
        }
        // No route ever shows restricted details to those without the right.
        if (!PRIVILEGED.has(who)) expect(leaks(res.body), `${row.route} as ${who}`).toBe(false);
        // A shared cache keeps answers apart by credential and never keeps one given to credentials.
        expect(String(res.headers.vary), `${row.route} as ${who}`).toMatch(
          /\bAuthorization\b.*\bX-Api-Key\b/,
        );
        if (who !== 'anonymous')
          expect(res.headers['cache-control'], `${row.route} as ${who}`).toBe('private, no-store');
        else expect(String(res.headers['cache-control'] ?? ''), row.route).not.toMatch(/private/);
      }
      expect(got).toEqual(row.expect);
    });
  }
});

describe('restricted details', () => {
  const readRoutes = () => [
    `/v1/evidence/${restricted.id}`,
    `/v1/verify/${restricted.sha256}`,
    `/v1/projects/${project.id}/records`,
    `/v1/projects/${project.id}/flags`,
  ];

  it('reach exactly the owning organisation, inspectors of the region and admins', async () => {
    for (const who of WHO) {
      for (const url of readRoutes()) {
        const res = await app.inject(req(who, { method: 'GET', url }));
        expect(res.statusCode).toBe(200);
        const shown = leaks(res.body);
        // The flags route shows no title; the others show title and amount to the privileged.
        if (!url.endsWith('/flags')) expect(shown, `${url} as ${who}`).toBe(PRIVILEGED.has(who));
        else if (!PRIVILEGED.has(who)) expect(shown).toBe(false);
      }
    }
  });

  it('are absent from public answers: no details, no milestone, no facts behind a flag', async () => {
    for (const who of ['anonymous', 'otherUnit', 'inspectorOut'] as Who[]) {
      const ev = (await app.inject(req(who, { method: 'GET', url: `/v1/evidence/${restricted.id}` }))).json();
      expect(ev.details).toBeUndefined();
      expect(ev.bundle.details).toBeUndefined();
      expect(JSON.stringify(ev)).not.toMatch(/"(title|amount|milestone)"/);
      const flags = (
        await app.inject(req(who, { method: 'GET', url: `/v1/projects/${project.id}/flags` }))
      ).json();
      expect(flags.flags.length).toBeGreaterThan(0);
      for (const f of flags.flags) expect(f.detail).toBeUndefined();
      const trail = (
        await app.inject(req(who, { method: 'GET', url: `/v1/projects/${project.id}/records` }))
      ).json();
      const entry = trail.records.find((r: { id: string }) => r.id === restricted.id);
      expect(entry.details).toBeUndefined();
      const verify = (
        await app.inject(req(who, { method: 'GET', url: `/v1/verify/${restricted.sha256}` }))
      ).json();
      expect(verify.records[0].bundle.details).toBeUndefined();
    }
    // Public records keep their details public.
    const open = (await app.inject({ method: 'GET', url: `/v1/evidence/${pub.id}` })).json();
    expect(open.details.title).toBe('public notice');
  });

  it("a public record's amount is public on the project's trail (the notice's timeline); a restricted one's never", async () => {
    const PUBLIC_AMOUNT = '4440000123';
    const posted = await app.inject(
      req('ownUnit', {
        method: 'POST',
        url: '/v1/evidence',
        payload: item({ kind: 'change_order', title: 'public change order', amount: PUBLIC_AMOUNT }),
      }),
    );
    expect(posted.statusCode, posted.body).toBe(202);
    for (const who of WHO) {
      const res = await app.inject(req(who, { method: 'GET', url: `/v1/projects/${project.id}/records` }));
      const entry = res.json().records.find((r: { id: string }) => r.id === posted.json().id);
      expect(entry.details.amount, who).toBe(PUBLIC_AMOUNT);
      if (!PRIVILEGED.has(who)) expect(leaks(res.body), who).toBe(false);
    }
  });

  it('POST /v1/evidence/status answers the restricted record to exactly the privileged', async () => {
    for (const who of WHO) {
      const res = await app.inject(
        req(who, { method: 'POST', url: '/v1/evidence/status', payload: { ids: [restricted.id] } }),
      );
      expect(res.statusCode).toBe(200);
      const [entry] = res.json().results;
      expect(entry.status, who).toBe(PRIVILEGED.has(who) ? 'recorded' : 'not_found');
      if (!PRIVILEGED.has(who)) expect(entry).toEqual({ id: restricted.id, status: 'not_found' });
    }
  });

  it('are shown to the privileged with the flag facts', async () => {
    const flags = (
      await app.inject(req('inspectorIn', { method: 'GET', url: `/v1/projects/${project.id}/flags` }))
    ).json();
    expect(flags.flags.some((f: { detail?: object }) => f.detail !== undefined)).toBe(true);
    const ev = (
      await app.inject(req('inspectorIn', { method: 'GET', url: `/v1/evidence/${restricted.id}` }))
    ).json();
    expect(ev.details).toMatchObject({ title: SECRET_TITLE, amount: SECRET_AMOUNT, milestone: 'm1' });
  });
});

describe('forged, stale and misdirected tokens', () => {
  async function devSigned(
    claims: Record<string, unknown>,
    o: { iss?: string; aud?: string; exp?: number; nbf?: number } = {},
  ) {
    const key = await loadDevIssuerKey(config.keysDir);
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: key.kid })
      .setIssuer(o.iss ?? DEV_ISSUER)
      .setAudience(o.aud ?? config.oidc.audience)
      .setIssuedAt(now)
      .setNotBefore(o.nbf ?? now - 5)
      .setExpirationTime(o.exp ?? now + 600)
      .sign(createPrivateKey({ key: key.jwk as import('node:crypto').JsonWebKey, format: 'jwk' }));
  }
  const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
  // An inspector of the project's region: a forged one would read restricted details.
  const claims = { role: 'inspector', region: '620102', sub: 'forged' };
  const now = () => Math.floor(Date.now() / 1000);
  const forged: [string, () => Promise<string>][] = [
    ['a wrong issuer', () => devSigned(claims, { iss: 'https://idp.example' })],
    ['a wrong audience', () => devSigned(claims, { aud: 'another-service' })],
    ['an expired token', () => devSigned(claims, { exp: now() - 30 })],
    ['a token not yet valid', () => devSigned(claims, { nbf: now() + 3600 })],
    [
      'alg none',
      async () =>
        `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...claims, iss: DEV_ISSUER, aud: config.oidc.audience, exp: now() + 600 })}.`,
    ],
    [
      'HS256 keyed with the public key',
      async () => {
        const key = await loadDevIssuerKey(config.keysDir);
        const { d: _d, ...pub } = key.jwk;
        const pem = createPublicKey({ key: pub as import('node:crypto').JsonWebKey, format: 'jwk' })
          .export({ type: 'spki', format: 'pem' })
          .toString();
        return new SignJWT(claims)
          .setProtectedHeader({ alg: 'HS256', kid: key.kid })
          .setIssuer(DEV_ISSUER)
          .setAudience(config.oidc.audience)
          .setExpirationTime('10m')
          .sign(new TextEncoder().encode(pem));
      },
    ],
    [
      'an unknown kid',
      async () => {
        const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
        return new SignJWT(claims)
          .setProtectedHeader({ alg: 'ES256', kid: 'not-a-key-we-know' })
          .setIssuer(DEV_ISSUER)
          .setAudience(config.oidc.audience)
          .setExpirationTime('10m')
          .sign(privateKey);
      },
    ],
  ];

  for (const [name, make] of forged) {
    it(`refuses ${name} with 401 on reads and writes alike`, async () => {
      const token = await make();
      for (const opts of [
        { method: 'GET', url: `/v1/evidence/${restricted.id}` },
        { method: 'GET', url: `/v1/projects/${project.id}/flags` },
        { method: 'POST', url: '/v1/evidence', payload: item() },
        { method: 'POST', url: '/v1/admin/keys/rotate' },
      ] as InjectOptions[]) {
        const res = await app.inject({ ...opts, headers: { authorization: `Bearer ${token}` } });
        expect(res.statusCode, `${name} ${opts.url}`).toBe(401);
        expect(String(res.headers['content-type'])).toMatch(/^application\/problem\+json/);
        expect(res.json().code).toBe('UNAUTHENTICATED');
        expect(leaks(res.body)).toBe(false);
      }
    });
  }

  it('a genuine token of the same shape works (the refusals above are about the forgery)', async () => {
    const token = await devSigned(claims);
    const res = await app.inject({
      method: 'GET',
      url: `/v1/evidence/${restricted.id}`,
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().details.title).toBe(SECRET_TITLE);
  });
});

describe('API keys', () => {
  it('are stored as their SHA-256 only: the key appears nowhere in the table', async () => {
    const { rows } = await db.pool.query('select * from api_keys');
    expect(rows.length).toBeGreaterThan(0);
    const table = JSON.stringify(rows);
    expect(table).not.toContain(partnerKey);
    expect(table).not.toContain(partnerKey.slice(3)); // nor its random part
    const row = rows.find((r) => r.key_hash === hashApiKey(partnerKey));
    expect(row).toBeDefined();
    expect(row.key_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('a revoked, altered or truncated key is refused with 401', async () => {
    const created = await createApiKey(db.pool, { org: project.ownerOrg });
    await db.pool.query('update api_keys set revoked_at = now() where id = $1', [created.id]);
    app.apiKeys.forget();
    const flipped = `${partnerKey.slice(0, -1)}${partnerKey.at(-1) === 'A' ? 'B' : 'A'}`;
    for (const key of [created.key, flipped, partnerKey.slice(0, -1), `${partnerKey}x`]) {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/evidence',
        headers: { 'x-api-key': key },
        payload: item(),
      });
      expect(res.statusCode).toBe(401);
      expect(res.json().code).toBe('UNAUTHENTICATED');
    }
  });
});

describe('several credentials in one request', () => {
  const routes = (): InjectOptions[] => [
    { method: 'GET', url: `/v1/evidence/${restricted.id}` },
    { method: 'GET', url: `/v1/verify/${restricted.sha256}` },
    { method: 'GET', url: `/v1/projects/${project.id}/records` },
    { method: 'GET', url: `/v1/projects/${project.id}/flags` },
    { method: 'GET', url: '/v1/webhooks' },
    { method: 'POST', url: '/v1/evidence', payload: item() },
  ];

  it('a valid API key beside a bad bearer token (or the other way round) is refused with 401', async () => {
    const forgedInspector = `${headers.inspectorIn.authorization!.slice(0, -4)}AAAA`;
    for (const extra of [
      { authorization: 'Bearer garbage' },
      { authorization: forgedInspector },
      { authorization: 'Basic dTpw' },
    ]) {
      for (const opts of routes()) {
        const res = await app.inject({ ...opts, headers: { 'x-api-key': partnerKey, ...extra } });
        expect(res.statusCode, `${opts.method} ${opts.url} with ${extra.authorization.slice(0, 12)}`).toBe(
          401,
        );
        expect(res.json().code).toBe('UNAUTHENTICATED');
        expect(res.headers['cache-control']).toBe('private, no-store');
        expect(leaks(res.body)).toBe(false);
      }
    }
    const badKey = await app.inject({
      method: 'GET',
      url: `/v1/evidence/${restricted.id}`,
      headers: { 'x-api-key': `lz_${'A'.repeat(43)}`, ...headers.inspectorIn },
    });
    expect(badKey.statusCode).toBe(401);
    expect(badKey.json().reason).toBe('BAD_API_KEY');
  });

  it('two valid credentials of different callers are refused with 401; of the same caller, served', async () => {
    // The partner's key and its own organisation's unit: same organisation, different roles.
    for (const other of ['ownUnit', 'inspectorIn', 'admin'] as Who[]) {
      for (const opts of routes()) {
        const res = await app.inject({ ...opts, headers: { 'x-api-key': partnerKey, ...headers[other] } });
        expect(res.statusCode, `${opts.method} ${opts.url} partner + ${other}`).toBe(401);
        expect(res.json().reason).toBe('CONFLICTING_CREDENTIALS');
      }
    }
    // The same key in both places names one caller: served as that caller.
    const same = await app.inject({
      method: 'GET',
      url: `/v1/evidence/${restricted.id}`,
      headers: { 'x-api-key': partnerKey, authorization: `Bearer ${partnerKey}` },
    });
    expect(same.statusCode).toBe(200);
    expect(same.json().details.title).toBe(SECRET_TITLE);
  });
});
