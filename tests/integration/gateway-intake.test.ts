import { createHash } from 'node:crypto';
import {
  canonicalJson,
  cidFromSha256,
  fromHex,
  recordLeafHash,
  toHex,
  verifyReceipt,
} from '@lianzheng/proof';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, revokeApiKey } from '../../gateway/src/auth/api-keys.ts';
import { KeyRing } from '../../gateway/src/keys/key-ring.ts';
import { type GatewayTestEnv, hex, multipartBody, startGatewayTestEnv } from './gateway-support.ts';

let env: GatewayTestEnv;
let app: FastifyInstance;
let unit: string;
let admin: string;

beforeAll(async () => {
  env = await startGatewayTestEnv();
  await env.registerProject('village-road-1', 'org-village');
  await env.registerProject('other-project', 'org-other');
  app = await env.app();
  unit = await env.token('unit', { org: 'org-village' });
  admin = await env.token('admin');
});

const metricsAsAdmin = () =>
  app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${admin}` } });

afterAll(async () => {
  await env?.stop();
});

async function count(where = 'true', params: unknown[] = []): Promise<number> {
  const r = await env.pool.query(`select count(*)::int as n from submissions where ${where}`, params);
  return r.rows[0].n;
}

function post(body: unknown, headers: Record<string, string> = {}, token = unit) {
  return app.inject({
    method: 'POST',
    url: '/v1/evidence',
    headers: { authorization: `Bearer ${token}`, ...headers },
    payload: body as object,
  });
}

describe('POST /v1/evidence (JSON)', () => {
  it('answers 202 after commit with a receipt that verifies against the JWKS', async () => {
    const sha256 = hex();
    const res = await post({
      sha256,
      projectId: 'village-road-1',
      kind: 'notice',
      visibility: 'public',
      title: '公示',
    });
    expect(res.statusCode).toBe(202);
    const body = res.json();
    expect(body.status).toBe('accepted');
    expect(body.cid).toBe(cidFromSha256(fromHex(sha256)));
    expect(res.headers.location).toBe(`/v1/evidence/${body.id}`);

    const row = (await env.pool.query('select * from submission_states where id = $1', [body.id])).rows[0];
    expect(row.sha256).toBe(sha256);
    expect(row.status).toBe('accepted');
    expect(row.receipt).toBe(body.receipt);
    const record = JSON.parse(row.record_json);
    expect(canonicalJson(record)).toBe(row.record_json);
    expect(record).toMatchObject({
      v: 1,
      id: body.id,
      projectId: 'village-road-1',
      kind: 'notice',
      visibility: 'public',
      submitter: { org: 'org-village' },
      acceptedAt: body.acceptedAt,
      digests: { sha256 },
    });
    const details = JSON.parse(row.details_json);
    expect(details.title).toBe('公示');
    expect(details.salt).toMatch(/^[0-9a-f]{32}$/);
    expect(record.detailsDigest).toBe(createHash('sha256').update(canonicalJson(details)).digest('hex'));

    const jwks = (await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
    const claims = await verifyReceipt(body.receipt, jwks);
    expect(claims).toMatchObject({
      sub: body.id,
      sha256,
      cid: body.cid,
      projectId: 'village-road-1',
      kind: 'notice',
    });
    expect(claims.leaf).toBe(toHex(recordLeafHash(record)));
  });

  it('records a given SM3 digest beside the SHA-256, and refuses a malformed one', async () => {
    const sha256 = hex();
    const sm3 = hex();
    const res = await app.inject({
      method: 'POST',
      url: '/v1/evidence',
      headers: { authorization: `Bearer ${unit}` },
      payload: { sha256, sm3, projectId: 'village-road-1', kind: 'notice', visibility: 'public' },
    });
    expect(res.statusCode, res.body).toBe(202);
    expect(await storedDigests(res.json().id)).toEqual({ sha256, sm3 });
    const bad = await app.inject({
      method: 'POST',
      url: '/v1/evidence',
      headers: { authorization: `Bearer ${unit}` },
      payload: { sha256, sm3: 'SM3', projectId: 'village-road-1', kind: 'notice', visibility: 'public' },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors[0].path).toBe('body/sm3');
  });

  it('group-commits concurrent submissions: fewer INSERTs than requests, all committed, ids time-ordered', async () => {
    const before = await count();
    const flushCount = async () =>
      Number(/intake_group_commit_rows_count (\d+)/.exec((await metricsAsAdmin()).body)?.[1]);
    const flushesBefore = await flushCount();
    const n = 200;
    const responses = await Promise.all(
      Array.from({ length: n }, () =>
        post({ sha256: hex(), projectId: 'village-road-1', kind: 'notice', visibility: 'public' }),
      ),
    );
    expect(responses.map((r) => r.statusCode)).toEqual(new Array(n).fill(202));
    expect(await count()).toBe(before + n);
    // 200 requests in flight at once: a handful of INSERTs, not 200.
    const flushes = (await flushCount()) - flushesBefore;
    expect(flushes).toBeLessThan(n / 4);
    // Committed in groups, yet each single POST is answered with a plain JWS of its own (group
    // receipts are the batch route's), and each verifies from the outside to its own submission.
    const bodies = responses.map((r) => r.json() as { id: string; sha256: string; receipt: string });
    for (const b of bodies) expect(b.receipt).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{86}$/);
    expect(new Set(bodies.map((b) => b.receipt)).size).toBe(n);
    const jwks = (await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
    for (const b of bodies)
      expect(await verifyReceipt(b.receipt, jwks)).toMatchObject({ sub: b.id, sha256: b.sha256 });
    // seq order (commit order) is id order: leaves follow acceptance order.
    const rows = (await env.pool.query('select id::text from submissions order by seq')).rows.map(
      (r) => r.id,
    );
    expect([...rows].sort()).toEqual(rows);
  });

  it('honours Idempotency-Key: same body → same answer (200), other body → 409', async () => {
    const body = { sha256: hex(), projectId: 'village-road-1', kind: 'notice', visibility: 'public' };
    const key = `k-${hex(8)}`;
    const first = await post(body, { 'idempotency-key': key });
    expect(first.statusCode).toBe(202);
    const again = await post(body, { 'idempotency-key': key });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(first.json());
    const other = await post({ ...body, sha256: hex() }, { 'idempotency-key': key });
    expect(other.statusCode).toBe(409);
    expect(other.json().code).toBe('IDEMPOTENCY_CONFLICT');
    expect(await count('idempotency_key = $1', [key])).toBe(1);
  });

  it('concurrent requests with one Idempotency-Key store one row and all get its answer', async () => {
    const body = { sha256: hex(), projectId: 'village-road-1', kind: 'notice', visibility: 'public' };
    const key = `race-${hex(8)}`;
    const all = await Promise.all(Array.from({ length: 10 }, () => post(body, { 'idempotency-key': key })));
    expect(all.every((r) => r.statusCode === 200 || r.statusCode === 202)).toBe(true);
    expect(new Set(all.map((r) => r.json().id)).size).toBe(1);
    expect(await count('idempotency_key = $1', [key])).toBe(1);
  });

  it('checks refs and supersedes against the project’s records', async () => {
    const contract = (
      await post({
        sha256: hex(),
        projectId: 'village-road-1',
        kind: 'contract',
        visibility: 'restricted',
        amount: '1000000',
      })
    ).json();
    const pay = await post({
      sha256: hex(),
      projectId: 'village-road-1',
      kind: 'payment_approval',
      visibility: 'restricted',
      amount: '300000',
      refs: [contract.id],
    });
    expect(pay.statusCode).toBe(202);
    const v2 = await post({
      sha256: hex(),
      projectId: 'village-road-1',
      kind: 'contract',
      visibility: 'restricted',
      amount: '1100000',
      supersedes: contract.id,
    });
    expect(v2.statusCode).toBe(202);
    const wrongKind = await post({
      sha256: hex(),
      projectId: 'village-road-1',
      kind: 'notice',
      visibility: 'public',
      supersedes: contract.id,
    });
    expect(wrongKind.json().code).toBe('BAD_SUPERSEDE');
    const record = JSON.parse(
      (await env.pool.query('select record_json from submissions where id = $1', [pay.json().id])).rows[0]
        .record_json,
    );
    expect(record.refs).toEqual([contract.id]);
  });

  it('lets a unit write only for its own organisation’s projects', async () => {
    const res = await post({
      sha256: hex(),
      projectId: 'other-project',
      kind: 'notice',
      visibility: 'public',
    });
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('FORBIDDEN');
  });

  it('accepts partner API keys (hashed at rest) and refuses revoked ones', async () => {
    const created = await createApiKey(env.pool, { org: 'org-village', label: 'finance platform' });
    expect(created.key).toMatch(/^lz_/);
    const stored = (await env.pool.query('select key_hash from api_keys where id = $1', [created.id]))
      .rows[0];
    expect(stored.key_hash).toBe(createHash('sha256').update(created.key).digest('hex'));
    expect(JSON.stringify(stored)).not.toContain(created.key);
    const body = { sha256: hex(), projectId: 'village-road-1', kind: 'notice', visibility: 'public' };
    const ok = await app.inject({
      method: 'POST',
      url: '/v1/evidence',
      headers: { 'x-api-key': created.key },
      payload: body,
    });
    expect(ok.statusCode).toBe(202);
    const asBearer = await app.inject({
      method: 'POST',
      url: '/v1/evidence',
      headers: { authorization: `Bearer ${created.key}` },
      payload: { ...body, sha256: hex() },
    });
    expect(asBearer.statusCode).toBe(202);
    await revokeApiKey(env.pool, created.id);
    app.apiKeys.forget();
    const revoked = await app.inject({
      method: 'POST',
      url: '/v1/evidence',
      headers: { 'x-api-key': created.key },
      payload: body,
    });
    expect(revoked.statusCode).toBe(401);
    expect(revoked.json().code).toBe('UNAUTHENTICATED');
  });
});

/** The digests of the record as stored (its canonical JSON), for a submission id. */
async function storedDigests(id: string): Promise<Record<string, string>> {
  const { rows } = await env.pool.query<{ record_json: string }>(
    'select record_json from submissions where id = $1',
    [id],
  );
  return JSON.parse(rows[0]!.record_json).digests;
}

describe('POST /v1/evidence (multipart)', () => {
  const fields = [
    { name: 'projectId', value: 'village-road-1' },
    { name: 'kind', value: 'acceptance' },
    { name: 'visibility', value: 'public' },
    { name: 'result', value: 'passed' },
  ];

  async function upload(parts: Parameters<typeof multipartBody>[0], a = app) {
    const { body, contentType } = multipartBody(parts);
    return a.inject({
      method: 'POST',
      url: '/v1/evidence',
      headers: { authorization: `Bearer ${unit}`, 'content-type': contentType },
      payload: body,
    });
  }

  it('hashes the streamed file, with fields before it', async () => {
    const data = Buffer.from('验收报告 acceptance report '.repeat(5000));
    const res = await upload([...fields, { name: 'file', filename: 'report.pdf', data }]);
    expect(res.statusCode).toBe(202);
    expect(res.json().sha256).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('hashes the streamed file, with fields after it', async () => {
    const data = Buffer.from(hex(1000));
    const res = await upload([{ name: 'file', filename: 'x.bin', data }, ...fields]);
    expect(res.statusCode).toBe(202);
    expect(res.json().sha256).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('refuses a file over MAX_FILE_BYTES with 413 and stores nothing', async () => {
    const small = await env.app({
      config: env.config({ limits: { maxFileBytes: 1024, maxBodyBytes: 1 << 20, maxBatchItems: 1000 } }),
    });
    const before = await count();
    const res = await upload(
      [...fields, { name: 'file', filename: 'big.bin', data: Buffer.alloc(4096, 1) }],
      small,
    );
    expect(res.statusCode).toBe(413);
    expect(res.json().code).toBe('FILE_TOO_LARGE');
    expect(await count()).toBe(before);
  });

  it('refuses a truncated upload with 400 and stores nothing', async () => {
    const before = await count();
    const { body, contentType } = multipartBody([
      ...fields,
      { name: 'file', filename: 'x', data: Buffer.alloc(5000, 7) },
    ]);
    const res = await app.inject({
      method: 'POST',
      url: '/v1/evidence',
      headers: { authorization: `Bearer ${unit}`, 'content-type': contentType },
      payload: body.subarray(0, body.length - 2000),
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('UPLOAD_INCOMPLETE');
    expect(await count()).toBe(before);
  });

  it('records the file’s SM3 beside its SHA-256, checks a given sm3 field, and can be told not to', async () => {
    const data = Buffer.from('付款审批 payment approval '.repeat(3000));
    const sm3 = createHash('sm3').update(data).digest('hex');
    const res = await upload([
      ...fields,
      { name: 'sm3', value: sm3 },
      { name: 'file', filename: 'a.pdf', data },
    ]);
    expect(res.statusCode, res.body).toBe(202);
    expect(await storedDigests(res.json().id)).toEqual({
      sha256: createHash('sha256').update(data).digest('hex'),
      sm3,
    });
    const wrong = await upload([
      ...fields,
      { name: 'sm3', value: hex() },
      { name: 'file', filename: 'a', data },
    ]);
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json()).toMatchObject({ code: 'BAD_DIGEST', computed: sm3 });

    const sha256Only = await env.app({ config: env.config({ uploadSm3: false }) });
    const plain = await upload([...fields, { name: 'file', filename: 'b', data }], sha256Only);
    expect(plain.statusCode).toBe(202);
    expect(await storedDigests(plain.json().id)).toEqual({
      sha256: createHash('sha256').update(data).digest('hex'),
    });
  });

  it('refuses a form without a file, an unknown field, and a mismatched sha256 field', async () => {
    expect((await upload(fields)).json().code).toBe('MISSING_FILE');
    const unknown = await upload([
      ...fields,
      { name: 'colour', value: 'red' },
      { name: 'file', filename: 'f', data: Buffer.from('x') },
    ]);
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().code).toBe('VALIDATION_FAILED');
    const mismatch = await upload([
      ...fields,
      { name: 'sha256', value: hex() },
      { name: 'file', filename: 'f', data: Buffer.from('x') },
    ]);
    expect(mismatch.json().code).toBe('BAD_DIGEST');
  });
});

describe('POST /v1/evidence/batch', () => {
  function batch(items: unknown[], headers: Record<string, string> = {}) {
    return app.inject({
      method: 'POST',
      url: '/v1/evidence/batch',
      headers: { authorization: `Bearer ${unit}`, ...headers },
      payload: { items },
    });
  }

  it('accepts every good item in one commit: 202 with one result each, in order', async () => {
    const items = Array.from({ length: 50 }, () => ({
      sha256: hex(),
      projectId: 'village-road-1',
      kind: 'construction_log',
      visibility: 'public',
    }));
    const res = await batch(items);
    expect(res.statusCode).toBe(202);
    const body = res.json();
    expect(body.accepted).toBe(50);
    expect(body.results.map((r: { sha256: string }) => r.sha256)).toEqual(items.map((i) => i.sha256));
    // One signature for the whole batch; each item's receipt proves its own claims under it.
    const results = body.results as { id: string; sha256: string; cid: string; receipt: string }[];
    expect(new Set(results.map((r) => r.receipt.split('~')[0])).size).toBe(1);
    const jwks = (await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
    for (const r of results) {
      expect(await verifyReceipt(r.receipt, jwks)).toMatchObject({
        sub: r.id,
        sha256: r.sha256,
        cid: r.cid,
        projectId: 'village-road-1',
        kind: 'construction_log',
      });
    }
    const [jws, item] = results[7]!.receipt.split('~') as [string, string];
    const other = results[8]!.receipt.split('~')[1]!;
    await expect(verifyReceipt(`${jws}~${other.replace(/\.8\./, '.7.')}`, jwks)).rejects.toMatchObject({
      code: 'BAD_SIGNATURE',
    });
    expect(item.split('.')[1]).toBe('7');
    const seqs = (
      await env.pool.query('select seq from submissions where id = any($1::uuid[]) order by seq', [
        body.results.map((r: { id: string }) => r.id),
      ])
    ).rows.map((r) => Number(r.seq));
    expect(seqs[seqs.length - 1]! - seqs[0]!).toBe(49);
  });

  it('with RECEIPT_GROUPS=false signs every record alone: plain JWS receipts, each verifying', async () => {
    const plain = await env.app({ config: env.config({ receiptGroups: false }) });
    const items = Array.from({ length: 5 }, () => ({
      sha256: hex(),
      projectId: 'village-road-1',
      kind: 'construction_log',
      visibility: 'public',
    }));
    const res = await plain.inject({
      method: 'POST',
      url: '/v1/evidence/batch',
      headers: { authorization: `Bearer ${unit}` },
      payload: { items },
    });
    expect(res.statusCode).toBe(202);
    const results = res.json().results as { id: string; receipt: string }[];
    const jwks = (await plain.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
    for (const r of results) {
      expect(r.receipt).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
      expect((await verifyReceipt(r.receipt, jwks)).sub).toBe(r.id);
    }
    expect(new Set(results.map((r) => r.receipt.split('.')[2])).size).toBe(5);
  });

  it('answers 207 with a problem per bad item and stores only the good ones', async () => {
    const before = await count();
    const good = { sha256: hex(), projectId: 'village-road-1', kind: 'notice', visibility: 'public' };
    const res = await batch([
      good,
      { ...good, sha256: 'XYZ' },
      { ...good, sha256: hex(), projectId: 'no-such-project' },
      { ...good, sha256: hex(), kind: 'poem' },
      { ...good, sha256: hex(), extra: 1 },
      { ...good, sha256: hex(), projectId: 'other-project' },
    ]);
    expect(res.statusCode).toBe(207);
    const results = res.json().results;
    expect(results.map((r: { status: string }) => r.status)).toEqual([
      'accepted',
      'invalid',
      'invalid',
      'invalid',
      'invalid',
      'invalid',
    ]);
    expect(results.slice(1).map((r: { problem: { code: string } }) => r.problem.code)).toEqual([
      'BAD_DIGEST',
      'NO_SUCH_PROJECT',
      'UNKNOWN_KIND',
      'VALIDATION_FAILED',
      'FORBIDDEN',
    ]);
    expect(await count()).toBe(before + 1);
  });

  it('refuses more than MAX_BATCH_ITEMS with 413 and stores nothing', async () => {
    const before = await count();
    const items = Array.from({ length: 1001 }, () => ({
      sha256: hex(),
      projectId: 'village-road-1',
      kind: 'notice',
      visibility: 'public',
    }));
    const res = await batch(items);
    expect(res.statusCode).toBe(413);
    expect(res.json().code).toBe('BATCH_TOO_LARGE');
    expect(await count()).toBe(before);
  });

  it('replays a retried batch with the same Idempotency-Key', async () => {
    const items = Array.from({ length: 3 }, () => ({
      sha256: hex(),
      projectId: 'village-road-1',
      kind: 'notice',
      visibility: 'public',
    }));
    const key = `b-${hex(6)}`;
    const first = await batch(items, { 'idempotency-key': key });
    const again = await batch(items, { 'idempotency-key': key });
    expect(again.json().results.map((r: { id: string }) => r.id)).toEqual(
      first.json().results.map((r: { id: string }) => r.id),
    );
    expect((await batch([items[0]], { 'idempotency-key': key })).statusCode).toBe(409);
  });
});

describe('keys', () => {
  it('reuses keys on restart, and rotation keeps the retired key in the JWKS', async () => {
    const reloaded = await KeyRing.load(env.config().keysDir, { logOrigin: 'lianzheng.local/log' });
    expect(reloaded.receiptSigner.kid).toBe(app.keys.receiptSigner.kid);
    expect(reloaded.checkpointSigner.vkey).toBe(app.keys.checkpointSigner.vkey);

    const old = (
      await post({ sha256: hex(), projectId: 'village-road-1', kind: 'notice', visibility: 'public' })
    ).json();
    const denied = await app.inject({
      method: 'POST',
      url: '/v1/admin/keys/rotate',
      headers: { authorization: `Bearer ${unit}` },
    });
    expect(denied.statusCode).toBe(403);
    const rotated = await app.inject({
      method: 'POST',
      url: '/v1/admin/keys/rotate',
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(rotated.statusCode).toBe(200);
    const fresh = (
      await post({ sha256: hex(), projectId: 'village-road-1', kind: 'notice', visibility: 'public' })
    ).json();
    const jwks = (await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
    expect(jwks.keys.filter((k: { alg: string }) => k.alg === 'ES256')).toHaveLength(2);
    expect(jwks.keys.filter((k: { alg: string }) => k.alg === 'EdDSA')).toHaveLength(1);
    expect((await verifyReceipt(old.receipt, jwks)).sub).toBe(old.id);
    expect((await verifyReceipt(fresh.receipt, jwks)).sub).toBe(fresh.id);
    const header = (jws: string) => JSON.parse(Buffer.from(jws.split('.')[0]!, 'base64url').toString());
    expect(header(fresh.receipt).kid).toBe(rotated.json().kid);
    expect(header(old.receipt).kid).not.toBe(rotated.json().kid);
  });
});

describe('ops', () => {
  it('/healthz, /readyz with the database check, /metrics, /openapi.json, /docs', async () => {
    expect((await app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json().checks.database.ok).toBe(true);
    expect((await app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(401);
    const metrics = await metricsAsAdmin();
    expect(metrics.statusCode).toBe(200);
    expect(metrics.body).toContain('http_request_duration_seconds_bucket');
    expect(metrics.body).toContain('intake_queue_depth');
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/v1/evidence', '/v1/evidence/batch', '/.well-known/jwks.json']),
    );
    expect(Object.keys(doc.paths['/v1/evidence'].post.requestBody.content)).toEqual([
      'application/json',
      'multipart/form-data',
    ]);
    expect((await app.inject({ method: 'GET', url: '/docs' })).statusCode).toBeLessThan(400);
  });

  it('answers 503 problems quickly when the database is unreachable, and /readyz says why', async () => {
    const pg = await import('pg');
    const dead = new pg.default.Pool({
      connectionString: 'postgres://x:y@127.0.0.1:1/none',
      connectionTimeoutMillis: 1000,
    });
    const down = await env.app({ db: dead, migrate: false });
    const started = Date.now();
    const res = await down.inject({
      method: 'POST',
      url: '/v1/evidence',
      headers: { authorization: `Bearer ${unit}` },
      payload: { sha256: hex(), projectId: 'village-road-1', kind: 'notice', visibility: 'public' },
    });
    expect(res.statusCode).toBe(503);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json().code).toBe('SERVICE_UNAVAILABLE');
    expect(Date.now() - started).toBeLessThan(5000);
    const ready = await down.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json().checks.database.reason).toMatch(/ECONNREFUSED/);
    await down.close();
    await dead.end();
  });
});
