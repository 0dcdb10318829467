// Property-based fuzzing of every route's input with fast-check, through inject() against a real
// PostgreSQL and the embedded ledger: random JSON, wrong types, huge strings, Unicode edge cases
// (lone surrogates, NUL, RTL overrides), deep nesting, random bytes, random content types and
// credentials. Whatever arrives: no 5xx, a problem+json answer for every refusal, nothing
// half-stored (a refusal stores nothing; an acceptance stores exactly what it answered), and the
// app still answers afterwards. A meta-test fails when a route is added without a fuzzer.
//
// FUZZ_RUNS (default 200) sets the cases per route; `npm run bench -- fuzz` runs it with more, on a
// fresh seed. FUZZ_SEED and FUZZ_PATH replay a failure (CI itself uses tests/fast-check-seed.ts).

import { randomBytes } from 'node:crypto';
import { sha256, toHex } from '@lianzheng/proof';
import fc from 'fast-check';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../gateway/src/app.ts';
import { createApiKey } from '../../gateway/src/auth/api-keys.ts';
import { issueDevToken, loadDevIssuerKey } from '../../gateway/src/auth/dev-issuer.ts';
import { testConfig } from '../../gateway/src/config.ts';
import { CERTS_PATH } from '../../gateway/src/routes/tsa/index.ts';
import { demoProject, startTestDatabase, type TestDatabase } from './pipeline-support.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 200);

let db: TestDatabase;
let app: FastifyInstance;
const project = demoProject();
const known = { id: '', sha256: '', txId: '', size: 0, webhookId: '' };
const auths: Record<string, string | undefined> = {};
/** Routes as the app registered them (onRoute), to find routes nobody fuzzes. */
const registeredRoutes: [string, string][] = [];

// ---- generators -------------------------------------------------------------------------------

const nasty = fc.constantFrom(
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\ud800',
  '\udfff',
  'x\ud83dy',
  '\u202e\u202dRTL\u200f',
  '\ufeff',
  '\uffff',
  '\u{10ffff}',
  '𝕏🚧工程',
  '../../etc/passwd',
  '%00%2e%2e%2f',
  '<script>alert(1)</script>',
  "' or 1=1 --",
  ['$', '{jndi:ldap://x}'].join(''),
  '__proto__',
  'constructor',
  '-1',
  '1e309',
  '0x10',
  'NaN',
  'null',
  'true',
  '0'.repeat(70),
  'f'.repeat(64),
  'F'.repeat(64),
  'a'.repeat(100_000),
);
const text = fc.oneof(
  fc.string({ maxLength: 80 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({
    unit: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)),
    maxLength: 4,
  }),
  nasty,
);
const anyJson = fc.oneof(
  { depthSize: 'small' },
  fc.jsonValue({ maxDepth: 4 }),
  text,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(text, { maxLength: 5 }),
  fc.dictionary(text, text, { maxKeys: 5 }),
);
const hexDigest = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));
const kinds = fc.constantFrom(
  'notice',
  'contract',
  'payment_approval',
  'change_order',
  'acceptance',
  'withdrawal',
  'other',
  'approval',
);

/** A plausible submission with some fields replaced by anything, deleted, or added. */
function submission() {
  const base = fc.record({
    sha256: fc.oneof(hexDigest, text),
    projectId: fc.oneof(fc.constant(project.id), text),
    kind: fc.oneof(kinds, text),
    visibility: fc.oneof(fc.constantFrom('public', 'restricted'), text),
    title: fc.option(fc.oneof(text, anyJson), { nil: undefined }),
    amount: fc.option(fc.oneof(fc.constantFrom('100', '-5', '0', '007', '1'.repeat(40)), text, anyJson), {
      nil: undefined,
    }),
    milestone: fc.option(fc.oneof(fc.constantFrom('m1', 'm9'), text), { nil: undefined }),
    result: fc.option(fc.oneof(fc.constantFrom('passed', 'failed'), text), { nil: undefined }),
    reason: fc.option(text, { nil: undefined }),
    refs: fc.option(fc.oneof(fc.array(fc.oneof(fc.uuid(), text), { maxLength: 4 }), anyJson), {
      nil: undefined,
    }),
    supersedes: fc.option(fc.oneof(fc.uuid(), text, anyJson), { nil: undefined }),
  });
  return fc
    .tuple(
      base,
      fc.dictionary(text, anyJson, { maxKeys: 2 }),
      fc.subarray(['sha256', 'projectId', 'kind', 'visibility']),
    )
    .map(([b, extra, drop]) => {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(b)) if (v !== undefined && !drop.includes(k)) out[k] = v;
      if (Object.keys(extra).length > 0 && !Object.hasOwn(extra, '__proto__')) Object.assign(out, extra);
      return out;
    });
}

/** Raw bodies: deep nesting, truncations, random bytes, huge documents. */
const rawBody = fc.oneof(
  fc.integer({ min: 1, max: 20_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
  fc.integer({ min: 1, max: 20_000 }).map((n) => '{"a":'.repeat(n) + '1' + '}'.repeat(n)),
  fc.uint8Array({ maxLength: 2000 }).map((b) => Buffer.from(b)),
  fc.constantFrom('', '{', '{"sha256":', 'null', '[]', '"x"', '1', '{"items":', '\u0000', '{"a":1}{"b":2}'),
  fc.json().map((j) => j.slice(0, Math.max(0, j.length - 1))),
  fc.constant(`{"title":"${'a'.repeat(5 * 1024 * 1024)}"}`),
);

const contentType = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin1',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  '',
  'application/problem+json',
  '*/*',
);

const authKey = fc.constantFrom(
  'none',
  'unit',
  'admin',
  'partner',
  'inspector',
  'garbage',
  'apikey-bad',
  'basic',
);

function headersFor(auth: string, extra: Record<string, string> = {}): Record<string, string> {
  const h: Record<string, string> = { ...extra };
  if (auth === 'garbage') h.authorization = `Bearer ${randomBytes(12).toString('base64url')}.x.y`;
  else if (auth === 'apikey-bad') h['x-api-key'] = `lz_${'B'.repeat(43)}`;
  else if (auth === 'basic') h.authorization = 'Basic YTpi';
  else if (auth !== 'none' && auths[auth]) h.authorization = `Bearer ${auths[auth]}`;
  return h;
}

const idemKey = fc.option(fc.oneof(fc.string({ maxLength: 10 }), nasty, fc.uuid()), { nil: undefined });

// A path segment: anything, percent-encoded so that it stays one segment.
/** Percent-encodes bytes, so that any byte (invalid UTF-8, an encoded lone surrogate, '/') stays in one segment. */
const percent = (bytes: Uint8Array) => [...bytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
const segment = fc.oneof(
  fc.uuid(),
  hexDigest,
  text.map((s) => percent(Buffer.from(s || 'x', 'utf8'))),
  fc.uint8Array({ minLength: 1, maxLength: 40 }).map(percent),
  fc.constantFrom('%ed%a0%80', '%00', '%', '%zz', '..', '.', '%2e%2e', '%2f'),
  fc.constant('').map(() => known.id),
);
const queryValue = fc.oneof(
  fc.integer().map(String),
  fc.bigInt().map(String),
  text,
  fc.constantFrom('', '0', '1', '-1', '9'.repeat(20)),
);

// ---- invariants ----------------------------------------------------------------------------------

async function counts(): Promise<{
  submissions: number;
  projects: number;
  webhooks: number;
  delegates: number;
}> {
  const { rows } = await db.pool.query(
    `select (select count(*)::int from submissions) as s, (select count(*)::int from projects) as p,
            (select count(*)::int from webhooks) as w, (select count(*)::int from project_delegates) as d`,
  );
  return { submissions: rows[0].s, projects: rows[0].p, webhooks: rows[0].w, delegates: rows[0].d };
}

/** The page routes answer 503 PAGE_NOT_BUILT while verifier-web/dist is missing or being rebuilt. */
const PAGE_ROUTE = /^GET \/(\?|p\/|r\/|v\/|inspect|assets\/|favicon\.svg)/;

function expectWellFormed(res: LightMyRequestResponse, what: string): void {
  if (res.statusCode === 503 && PAGE_ROUTE.test(what) && res.json().code === 'PAGE_NOT_BUILT') return;
  expect(res.statusCode, `${what} → ${res.statusCode} ${res.body.slice(0, 300)}`).toBeLessThan(500);
  // The TSA answers bad queries the RFC 3161 way: 200 with a TimeStampResp of status rejection.
  if (res.statusCode === 200 && what.startsWith('POST /tsa')) {
    expect(String(res.headers['content-type'])).toBe('application/timestamp-reply');
    return;
  }
  if (res.statusCode >= 400) {
    expect(String(res.headers['content-type']), what).toMatch(/^application\/problem\+json/);
    const p = res.json();
    expect(p.status, what).toBe(res.statusCode);
    expect(typeof p.code, what).toBe('string');
    expect(p.type, what).toMatch(/^https:\/\/lianzheng\.dev\/problems\/[a-z0-9-]+$/);
  }
}

/** Runs one request and checks that a refusal stored nothing and an acceptance stored what it said. */
async function check(req: InjectOptions, what: string): Promise<void> {
  const before = await counts();
  const res = await app.inject(req);
  expectWellFormed(res, what);
  const after = await counts();
  // What each route creates: evidence routes submissions (202/207), POST /v1/projects a project,
  // POST /v1/webhooks a webhook and POST /v1/projects/{id}/delegates a delegation (201); a ping
  // (202) only queues a delivery, and a revoked delegation stays (rows are never deleted).
  const url = String(req.url);
  let added = 0;
  if (url.startsWith('/v1/evidence') && (res.statusCode === 202 || res.statusCode === 207)) {
    const body = res.json();
    added = 'accepted' in body ? body.accepted : 1;
  }
  let created = '';
  if (res.statusCode === 201)
    created = url.startsWith('/v1/webhooks')
      ? 'webhooks'
      : /\/delegates$/.test(url)
        ? 'delegates'
        : 'projects';
  expect(after.submissions - before.submissions, `${what}: submissions stored`).toBe(added);
  expect(after.projects - before.projects, `${what}: projects stored`).toBe(created === 'projects' ? 1 : 0);
  expect(after.webhooks - before.webhooks, `${what}: webhooks stored`).toBe(created === 'webhooks' ? 1 : 0);
  expect(after.delegates - before.delegates, `${what}: delegations stored`).toBe(
    created === 'delegates' ? 1 : 0,
  );
}

// ---- setup ----------------------------------------------------------------------------------------

beforeAll(async () => {
  db = await startTestDatabase();
  const defaults = testConfig({ dataDir: db.dir });
  const config = testConfig({
    dataDir: db.dir,
    sealIntervalMs: 20,
    rateLimitPublicPerMin: 10_000_000,
    // The fuzzer's bad credentials must keep reaching the credential checks (401), not the
    // failure budget's 429 (tested on its own in security-auth-failures.test.ts).
    authFailuresPerMin: 10_000_000,
    tsa: { ...defaults.tsa, rateLimitPerMin: 10_000_000 },
    limits: { maxBodyBytes: 1024 * 1024, maxFileBytes: 64 * 1024, maxBatchItems: 50 },
  });
  app = buildApp({ config, db: db.pool });
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const m of methods) if (m !== 'HEAD') registeredRoutes.push([m, route.url]);
  });
  await app.after();
  await app.ready();
  const key = await loadDevIssuerKey(config.keysDir);
  const audience = config.oidc.audience;
  auths.unit = await issueDevToken(key, { role: 'unit', org: project.ownerOrg, audience });
  auths.admin = await issueDevToken(key, { role: 'admin', audience });
  auths.inspector = await issueDevToken(key, { role: 'inspector', region: '620102', audience });
  auths.partner = (await createApiKey(db.pool, { org: project.ownerOrg })).key;
  const reg = await app.inject({
    method: 'POST',
    url: '/v1/projects',
    headers: { authorization: `Bearer ${auths.unit}` },
    payload: project,
  });
  expect(reg.statusCode, reg.body).toBe(201);
  const digest = toHex(sha256(randomBytes(8)));
  const sub = await app.inject({
    method: 'POST',
    url: '/v1/evidence',
    headers: { authorization: `Bearer ${auths.unit}` },
    payload: {
      sha256: digest,
      projectId: project.id,
      kind: 'contract',
      visibility: 'restricted',
      amount: '1000',
    },
  });
  expect(sub.statusCode, sub.body).toBe(202);
  known.id = sub.json().id;
  known.sha256 = digest;
  await app.pipeline.batcher.waitForRecorded(1);
  const ev = (
    await app.inject({ method: 'GET', url: `/v1/evidence/${known.id}`, headers: headersFor('admin') })
  ).json();
  // The project organisation's webhook, so the routes of one webhook are fuzzed past "not found"
  // too (`.invalid` never resolves: nothing is ever called).
  const hook = await app.inject({
    method: 'POST',
    url: '/v1/webhooks',
    headers: { authorization: `Bearer ${auths.unit}` },
    payload: { url: 'https://erp.invalid/fuzz' },
  });
  expect(hook.statusCode, hook.body).toBe(201);
  known.webhookId = hook.json().id;
  known.txId = ev.bundle.ledger.txId;
  known.size = ev.bundle.inclusion.size;
});

afterAll(async () => {
  await app?.close();
  await db?.stop();
});

// The partner's API key goes in X-Api-Key, not in a bearer header.
function withPartner(h: Record<string, string>, auth: string): Record<string, string> {
  if (auth !== 'partner') return h;
  const { authorization: _a, ...rest } = h;
  return { ...rest, 'x-api-key': auths.partner! };
}

// ---- the fuzzers, one per route -------------------------------------------------------------------

type Fuzzer = { method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE'; url: string; run(): Promise<void> };

const params = {
  numRuns: RUNS,
  endOnFailure: true,
  ...(process.env.FUZZ_SEED ? { seed: Number(process.env.FUZZ_SEED) } : {}),
  ...(process.env.FUZZ_PATH ? { path: process.env.FUZZ_PATH } : {}),
};

/** A route whose input is its path and query: GET, or DELETE. */
const pathFuzzer =
  (method: 'GET' | 'DELETE') =>
  (url: string, arb: fc.Arbitrary<string>): Fuzzer => ({
    method,
    url,
    run: () =>
      fc.assert(
        fc.asyncProperty(arb, authKey, async (path, auth) => {
          await check(
            { method, url: path, headers: withPartner(headersFor(auth), auth) },
            `${method} ${path.slice(0, 200)}`,
          );
        }),
        params,
      ),
  });
const getWith = pathFuzzer('GET');
const deleteWith = pathFuzzer('DELETE');

const query = (names: string[]) =>
  fc
    .tuple(
      ...names.map(() => fc.option(queryValue, { nil: undefined })),
      fc.option(fc.tuple(text, text), { nil: undefined }),
    )
    .map((values) => {
      const q = new URLSearchParams();
      names.forEach((n, i) => {
        const v = values[i] as string | undefined;
        if (v !== undefined) q.append(n, v);
      });
      const extra = values[names.length] as [string, string] | undefined;
      if (extra) q.append(extra[0], extra[1]);
      return q.toString();
    });

const postJson = (url: string, body: fc.Arbitrary<unknown>): Fuzzer =>
  jsonFuzzer('POST', url, fc.constant(url), body);

/** A route whose input is a JSON body (or any bytes), sent to one of `paths`. */
const jsonFuzzer = (
  method: 'POST' | 'PATCH' | 'PUT',
  url: string,
  paths: fc.Arbitrary<string>,
  body: fc.Arbitrary<unknown>,
): Fuzzer => ({
  method,
  url,
  run: () =>
    fc.assert(
      fc.asyncProperty(
        paths,
        fc.oneof(
          { weight: 3, arbitrary: body.map((b) => JSON.stringify(b) as string | Buffer) },
          { weight: 1, arbitrary: rawBody },
        ),
        fc.oneof(
          { weight: 4, arbitrary: fc.constant('application/json') },
          { weight: 1, arbitrary: contentType },
        ),
        authKey,
        idemKey,
        async (path, payload, type, auth, key) => {
          const headers = withPartner(headersFor(auth, type ? { 'content-type': type } : {}), auth);
          if (key !== undefined) headers['idempotency-key'] = key.replace(/[\r\n]/g, '');
          await check(
            { method, url: path, headers, payload },
            `${method} ${path.slice(0, 200)} ${String(payload).slice(0, 200)}`,
          );
        },
      ),
      params,
    ),
});

function multipart(
  parts: { name: string; filename?: string; value: string | Buffer }[],
  boundary: string,
): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = p.filename === undefined ? '' : `; filename="${p.filename}"`;
    chunks.push(
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"${disposition}\r\n\r\n`),
    );
    chunks.push(Buffer.isBuffer(p.value) ? p.value : Buffer.from(p.value));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

const multipartFuzzer: Fuzzer = {
  method: 'POST',
  url: '/v1/evidence (multipart)',
  run: () =>
    fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({
              name: fc.constantFrom('projectId', 'kind', 'visibility', 'title', 'refs', 'sha256', 'amount'),
              value: text,
            }),
            fc.constantFrom(
              { name: 'projectId', value: project.id },
              { name: 'kind', value: 'notice' },
              { name: 'visibility', value: 'public' },
            ),
            fc.record({
              name: fc.constantFrom('file', 'other'),
              filename: fc.oneof(text, fc.constant('a.pdf')),
              value: fc.uint8Array({ maxLength: 4096 }).map((b) => Buffer.from(b)),
            }),
            fc.record({ name: text, value: text }),
          ),
          { maxLength: 8 },
        ),
        fc.constantFrom('xYz', 'a'.repeat(70), '--', 'b"q', ''),
        fc.oneof(fc.constant(-1), fc.nat()),
        fc.boolean(),
        async (parts, boundary, cut, withFileBigger) => {
          const all = withFileBigger
            ? [...parts, { name: 'file', filename: 'big.bin', value: Buffer.alloc(70 * 1024, 1) }]
            : parts;
          let body = multipart(all, boundary || 'b');
          // A truncated upload: the body ends anywhere.
          if (cut >= 0 && body.length > 0) body = body.subarray(0, cut % body.length);
          const headers = headersFor('unit', { 'content-type': `multipart/form-data; boundary=${boundary}` });
          await check(
            { method: 'POST', url: '/v1/evidence', headers, payload: body },
            `multipart ${body.subarray(0, 200).toString()}`,
          );
        },
      ),
      params,
    ),
};

/** A POST whose input is mostly its path (a body, if any, is ignored or refused). */
const postTo = (url: string, paths: fc.Arbitrary<string>): Fuzzer => ({
  method: 'POST',
  url,
  run: () =>
    fc.assert(
      fc.asyncProperty(
        paths,
        authKey,
        fc.option(rawBody, { nil: undefined }),
        async (path, auth, payload) => {
          const headers = withPartner(
            headersFor(auth, payload === undefined ? {} : { 'content-type': 'application/json' }),
            auth,
          );
          await check(
            { method: 'POST', url: path, headers, ...(payload === undefined ? {} : { payload }) },
            `POST ${path.slice(0, 200)}`,
          );
        },
      ),
      params,
    ),
});

/** Paths of one webhook: any segment, any uuid, or the organisation's own (known once set up). */
const webhookPath = (suffix: string) =>
  fc
    .oneof(segment, fc.uuid(), fc.constant(undefined))
    .map((s) => `/v1/webhooks/${s ?? known.webhookId}${suffix}`);

const fuzzers: Fuzzer[] = [
  postJson('/v1/evidence', submission()),
  multipartFuzzer,
  postJson(
    '/v1/evidence/batch',
    fc.oneof(
      fc.record({ items: fc.array(submission(), { maxLength: 8 }) }),
      fc.record({ items: fc.array(anyJson, { maxLength: 60 }) }),
      fc.record({ items: anyJson }),
      anyJson,
    ),
  ),
  postJson(
    '/v1/projects',
    fc.record(
      {
        id: fc.oneof(
          fc.uuid().map((u) => `fz-${u}`),
          text,
        ),
        name: fc.oneof(text, anyJson),
        regionCode: fc.oneof(fc.constantFrom('620102', '000000', '99999'), text),
        ownerOrg: fc.oneof(fc.constant(project.ownerOrg), text),
        budget: fc.oneof(fc.constantFrom('100', '-1', '1'.repeat(40)), text, anyJson),
        milestones: fc.oneof(
          fc.array(fc.record({ id: text, name: text, dueDate: fc.oneof(fc.constant('2099-01-01'), text) }), {
            maxLength: 3,
          }),
          anyJson,
        ),
        extra: anyJson,
      },
      { requiredKeys: [] },
    ),
  ),
  postJson('/v1/admin/keys/rotate', anyJson),
  postJson('/v1/admin/keys/rotate-checkpoint', anyJson),
  postJson(
    '/v1/webhooks',
    fc.record(
      {
        // `.invalid` never resolves (RFC 2606): what the fuzzer registers is never called.
        url: fc.oneof(
          fc.constantFrom('https://erp.invalid/hook', 'http://127.0.0.1/x', 'ftp://x', 'https://10.0.0.1/'),
          text,
          anyJson,
        ),
        org: fc.oneof(fc.constant(project.ownerOrg), text, anyJson),
        events: fc.oneof(
          fc.subarray(['records.recorded', 'records.anchored', 'records.deleted', 'records.recorded']),
          anyJson,
        ),
        extra: anyJson,
      },
      { requiredKeys: [] },
    ),
  ),
  getWith(
    '/v1/webhooks',
    query([]).map((q) => `/v1/webhooks?${q}`),
  ),
  getWith('/v1/webhooks/:id', webhookPath('')),
  jsonFuzzer(
    'PATCH',
    '/v1/webhooks/:id',
    webhookPath(''),
    fc.record(
      {
        url: fc.oneof(
          fc.constantFrom('https://erp.invalid/moved', 'http://127.0.0.1/x', 'ftp://x'),
          text,
          anyJson,
        ),
        events: fc.oneof(fc.subarray(['records.recorded', 'records.anchored', 'records.deleted']), anyJson),
        extra: anyJson,
      },
      { requiredKeys: [] },
    ),
  ),
  deleteWith(
    '/v1/webhooks/:id',
    fc.oneof(segment, fc.uuid()).map((s) => `/v1/webhooks/${s}`),
  ),
  postTo('/v1/webhooks/:id/ping', webhookPath('/ping')),
  postTo('/v1/webhooks/:id/secret', webhookPath('/secret')),
  getWith('/v1/webhooks/:id/deliveries', webhookPath('/deliveries')),
  postJson(
    '/v1/evidence/status',
    fc.oneof(
      fc.record({
        ids: fc.array(
          fc.oneof(
            fc.uuid(),
            fc.constant('').map(() => known.id),
            text,
            anyJson,
          ),
          { maxLength: 12 },
        ),
      }),
      fc.record({ ids: fc.array(fc.uuid(), { minLength: 990, maxLength: 1010 }) }),
      fc.record({ ids: anyJson, extra: anyJson }, { requiredKeys: [] }),
      anyJson,
    ),
  ),
  getWith(
    '/v1/evidence/:id',
    segment.map((s) => `/v1/evidence/${s}`),
  ),
  getWith(
    '/v1/evidence/:id/package',
    segment.map((s) => `/v1/evidence/${s}/package`),
  ),
  getWith(
    '/v1/verify/:sha256',
    fc.oneof(segment, fc.constant(known.sha256)).map((s) => `/v1/verify/${s}`),
  ),
  getWith(
    '/v1/verify/sm3/:sm3',
    fc.oneof(segment, fc.constant(known.sha256)).map((s) => `/v1/verify/sm3/${s}`),
  ),
  getWith(
    '/v1/projects/:id',
    fc.oneof(segment, fc.constant(project.id)).map((s) => `/v1/projects/${s}`),
  ),
  getWith(
    '/v1/projects/:id/records',
    fc
      .tuple(fc.oneof(segment, fc.constant(project.id)), query(['after', 'limit']))
      .map(([s, q]) => `/v1/projects/${s}/records?${q}`),
  ),
  jsonFuzzer(
    'POST',
    '/v1/projects/:id/delegates',
    fc.oneof(segment, fc.constant(project.id)).map((s) => `/v1/projects/${s}/delegates`),
    fc.record(
      {
        org: fc.oneof(fc.constantFrom('finance-platform', project.ownerOrg), text, anyJson),
        extra: anyJson,
      },
      { requiredKeys: [] },
    ),
  ),
  deleteWith(
    '/v1/projects/:id/delegates/:org',
    fc
      .tuple(fc.oneof(segment, fc.constant(project.id)), fc.oneof(segment, fc.constant('finance-platform')))
      .map(([p, o]) => `/v1/projects/${p}/delegates/${o}`),
  ),
  getWith(
    '/v1/projects/:id/delegates',
    fc.oneof(segment, fc.constant(project.id)).map((s) => `/v1/projects/${s}/delegates`),
  ),
  // Display names (issue #21): the project's and its milestones' (owner or admin), an organisation's.
  jsonFuzzer(
    'PATCH',
    '/v1/projects/:id',
    fc.oneof(segment, fc.constant(project.id)).map((s) => `/v1/projects/${s}`),
    fc.record(
      {
        name: fc.oneof(text, fc.constant(null), anyJson),
        nameEn: fc.oneof(text, fc.constant(null), anyJson),
        milestones: fc.oneof(
          fc.array(
            fc.record(
              {
                id: fc.oneof(fc.constantFrom('m1', 'm2', 'm9'), text),
                name: text,
                nameEn: fc.oneof(text, anyJson),
              },
              { requiredKeys: [] },
            ),
            { maxLength: 3 },
          ),
          anyJson,
        ),
        ownerOrgName: fc.oneof(fc.record({ zh: text, en: text }, { requiredKeys: [] }), anyJson),
        extra: anyJson,
      },
      { requiredKeys: [] },
    ),
  ),
  jsonFuzzer(
    'PUT',
    '/v1/organisations/:id',
    fc.oneof(segment, fc.constant(project.ownerOrg)).map((s) => `/v1/organisations/${s}`),
    fc.record(
      { name: fc.oneof(text, anyJson), nameEn: fc.oneof(text, anyJson), extra: anyJson },
      { requiredKeys: [] },
    ),
  ),
  getWith(
    '/v1/organisations/:id',
    fc.oneof(segment, fc.constant(project.ownerOrg)).map((s) => `/v1/organisations/${s}`),
  ),
  getWith(
    '/v1/projects/:id/flags',
    fc.oneof(segment, fc.constant(project.id)).map((s) => `/v1/projects/${s}/flags`),
  ),
  getWith(
    '/v1/projects/:id/records.csv',
    fc.oneof(segment, fc.constant(project.id)).map((s) => `/v1/projects/${s}/records.csv`),
  ),
  getWith(
    '/v1/projects/:id/flags.csv',
    fc.oneof(segment, fc.constant(project.id)).map((s) => `/v1/projects/${s}/flags.csv`),
  ),
  getWith(
    '/v1/projects/:id/report.pdf',
    fc.oneof(segment, fc.constant(project.id)).map((s) => `/v1/projects/${s}/report.pdf`),
  ),
  getWith(
    '/v1/auth/config',
    query([]).map((q) => `/v1/auth/config?${q}`),
  ),
  getWith(
    '/v1/workspace/overview',
    query([]).map((q) => `/v1/workspace/overview?${q}`),
  ),
  getWith(
    '/v1/log/checkpoint',
    query(['size']).map((q) => `/v1/log/checkpoint?${q}`),
  ),
  getWith(
    '/v1/log/key',
    query([]).map((q) => `/v1/log/key?${q}`),
  ),
  getWith(
    '/v1/log/proof/inclusion',
    query(['index', 'size']).map((q) => `/v1/log/proof/inclusion?${q}`),
  ),
  getWith(
    '/v1/log/proof/consistency',
    query(['from', 'to']).map((q) => `/v1/log/proof/consistency?${q}`),
  ),
  getWith(
    '/v1/keys',
    query(['format']).map((q) => `/v1/keys?${q}`),
  ),
  getWith(
    '/v1/trust.json',
    query([]).map((q) => `/v1/trust.json?${q}`),
  ),
  getWith(
    '/.well-known/jwks.json',
    query([]).map((q) => `/.well-known/jwks.json?${q}`),
  ),
  getWith(
    '/v1/ledger/tx/:txId',
    fc.oneof(segment, fc.constant(known.txId)).map((s) => `/v1/ledger/tx/${s}`),
  ),
  getWith(
    '/healthz',
    query([]).map((q) => `/healthz?${q}`),
  ),
  getWith(
    '/readyz',
    query([]).map((q) => `/readyz?${q}`),
  ),
  getWith(
    '/metrics',
    query([]).map((q) => `/metrics?${q}`),
  ),
  getWith(
    '/openapi.json',
    query([]).map((q) => `/openapi.json?${q}`),
  ),
  getWith(
    '/',
    query([]).map((q) => `/?${q}`),
  ),
  getWith(
    '/p/:projectId',
    segment.map((s) => `/p/${s}`),
  ),
  getWith(
    '/r/:id',
    segment.map((s) => `/r/${s}`),
  ),
  getWith(
    '/v/:sha256',
    fc
      .oneof(
        segment,
        fc.constant('').map(() => known.sha256),
      )
      .map((s) => `/v/${s}`),
  ),
  getWith(
    '/inspect',
    query(['code', 'state']).map((q) => `/inspect?${q}`),
  ),
  getWith(
    '/inspect/*',
    fc.array(segment, { minLength: 1, maxLength: 3 }).map((s) => `/inspect/${s.join('/')}`),
  ),
  getWith(
    '/assets/*',
    fc.oneof(segment, fc.constant('..%2F..%2Fpackage.json')).map((s) => `/assets/${s}`),
  ),
  getWith(
    '/favicon.svg',
    query([]).map((q) => `/favicon.svg?${q}`),
  ),
  {
    method: 'POST',
    url: '/tsa',
    run: () =>
      fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b)),
            // DER-looking: a SEQUENCE with random content and random lengths.
            fc
              .tuple(fc.integer({ min: 0, max: 0xffff }), fc.uint8Array({ maxLength: 200 }))
              .map(([len, body]) =>
                Buffer.concat([Buffer.from([0x30, 0x82, len >> 8, len & 0xff]), Buffer.from(body)]),
              ),
            rawBody.map((b) => Buffer.from(b)),
          ),
          fc.oneof(
            { weight: 3, arbitrary: fc.constant('application/timestamp-query') },
            { weight: 1, arbitrary: contentType },
          ),
          authKey,
          async (payload, type, auth) => {
            const headers = withPartner(headersFor(auth, type ? { 'content-type': type } : {}), auth);
            await check(
              { method: 'POST', url: '/tsa', headers, payload },
              `POST /tsa ${payload.subarray(0, 64).toString('hex')}`,
            );
          },
        ),
        params,
      ),
  },
  getWith(
    CERTS_PATH,
    query([]).map((q) => `${CERTS_PATH}?${q}`),
  ),
  getWith(
    'unknown routes',
    fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => `/${s.join('/')}`),
  ),
];

describe(`fuzzing every route (${RUNS} cases each)`, () => {
  it('has a fuzzer for every route the app serves', () => {
    const covered = new Set(fuzzers.map((f) => `${f.method} ${f.url.replace(' (multipart)', '')}`));
    const missing = registeredRoutes
      .filter(([, url]) => !url.startsWith('/docs')) // swagger-ui's own static files
      .map(([method, url]) => `${method} ${url}`)
      .filter((r) => !covered.has(r));
    expect(registeredRoutes.length).toBeGreaterThan(20);
    expect(missing).toEqual([]);
  });

  for (const f of fuzzers) {
    it(`${f.method} ${f.url}`, async () => {
      await f.run();
      // Still alive and answering.
      expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    }, 300_000);
  }
});
