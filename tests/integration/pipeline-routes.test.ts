import { randomBytes } from 'node:crypto';
import {
  checkTrust,
  fromHex,
  noteKeyAlgorithm,
  type ProofBundle,
  recordLeafHash,
  sha256,
  toHex,
  verifyBundle,
  verifyConsistency,
  verifyInclusion,
} from '@lianzheng/proof';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../gateway/src/app.ts';
import { issueDevToken, loadDevIssuerKey } from '../../gateway/src/auth/dev-issuer.ts';
import { testConfig } from '../../gateway/src/config.ts';
import { demoProject, startTestDatabase, type TestDatabase } from './pipeline-support.ts';

let db: TestDatabase;
let app: FastifyInstance;
const tokens: Record<string, string> = {};
const project = demoProject();

function auth(who?: string) {
  return who ? { authorization: `Bearer ${tokens[who]}` } : {};
}

async function submit(who: string, body: Record<string, unknown>): Promise<{ id: string; sha256: string }> {
  const sha = (body.sha256 as string | undefined) ?? toHex(sha256(randomBytes(32)));
  const res = await app.inject({
    method: 'POST',
    url: '/v1/evidence',
    headers: auth(who),
    payload: { projectId: project.id, visibility: 'public', ...body, sha256: sha },
  });
  expect(res.statusCode, res.body).toBe(202);
  return { id: res.json().id, sha256: sha };
}

async function waitRecorded(id: string): Promise<Record<string, unknown>> {
  for (let i = 0; i < 200; i++) {
    const res = await app.inject({ method: 'GET', url: `/v1/evidence/${id}`, headers: auth('admin') });
    const body = res.json();
    if (body.status !== 'accepted') return body;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${id} was not recorded`);
}

async function verifyOutside(bundle: ProofBundle, digest: string) {
  const keys = (await app.inject({ method: 'GET', url: '/v1/keys' })).json();
  return verifyBundle(bundle, {
    sha256: digest,
    keys: { jwks: keys.jwks, checkpointKeys: keys.checkpointKeys },
    getLedgerTx: async (ref) => {
      const res = await app.inject({ method: 'GET', url: `/v1/ledger/tx/${ref.txId}` });
      if (res.statusCode === 404) return { valid: false, block: -1, size: -1, root: '' };
      return res.json();
    },
  });
}

beforeAll(async () => {
  db = await startTestDatabase();
  const config = testConfig({ dataDir: db.dir, sealIntervalMs: 20, rateLimitPublicPerMin: 100_000 });
  app = buildApp({ config, db: db.pool });
  await app.ready();
  const key = await loadDevIssuerKey(config.keysDir);
  const audience = config.oidc.audience;
  tokens.unit = await issueDevToken(key, { role: 'unit', org: 'village-committee', audience });
  tokens.otherUnit = await issueDevToken(key, { role: 'unit', org: 'another-town', audience });
  tokens.inspector = await issueDevToken(key, { role: 'inspector', region: '620100', audience });
  tokens.farInspector = await issueDevToken(key, { role: 'inspector', region: '630000', audience });
  tokens.admin = await issueDevToken(key, { role: 'admin', audience });
});

afterAll(async () => {
  await app?.close();
  await db?.stop();
});

describe('projects', () => {
  it('registers through the ledger with the roles the API promises', async () => {
    const body = { ...project, ownerOrg: undefined };
    expect((await app.inject({ method: 'POST', url: '/v1/projects', payload: body })).statusCode).toBe(401);
    const foreign = await app.inject({
      method: 'POST',
      url: '/v1/projects',
      headers: auth('otherUnit'),
      payload: { ...body, ownerOrg: project.ownerOrg },
    });
    expect(foreign.statusCode).toBe(403);
    const bad = await app.inject({
      method: 'POST',
      url: '/v1/projects',
      headers: auth('unit'),
      payload: { ...body, budget: 'lots' },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.headers['content-type']).toContain('application/problem+json');
    const created = await app.inject({
      method: 'POST',
      url: '/v1/projects',
      headers: auth('unit'),
      payload: body,
    });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json()).toMatchObject({
      project: { id: project.id, level: 'C', ownerOrg: 'village-committee' },
    });
    const again = await app.inject({
      method: 'POST',
      url: '/v1/projects',
      headers: auth('unit'),
      payload: body,
    });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ repeated: true, ledger: created.json().ledger });
    const clash = await app.inject({
      method: 'POST',
      url: '/v1/projects',
      headers: auth('unit'),
      payload: { ...body, name: 'Something else' },
    });
    expect(clash.statusCode).toBe(409);
    const got = await app.inject({ method: 'GET', url: `/v1/projects/${project.id}` });
    expect(got.json()).toMatchObject({ project: { id: project.id, regionCode: '620102' }, records: 0 });
    expect((await app.inject({ method: 'GET', url: '/v1/projects/no-such' })).statusCode).toBe(404);
  });
});

describe('evidence, verify and the log', () => {
  let contract: { id: string; sha256: string };
  let payment: { id: string; sha256: string };

  it('records every kind and serves bundles that verify from outside', async () => {
    contract = await submit('unit', {
      kind: 'contract',
      visibility: 'restricted',
      amount: '100000000',
      title: 'Road contract',
    });
    payment = await submit('unit', {
      kind: 'payment_approval',
      visibility: 'restricted',
      refs: [contract.id],
      amount: '50000000',
      milestone: 'm1',
    });
    const notice = await submit('unit', { kind: 'notice', title: 'Award notice' });
    for (const item of [contract, payment, notice]) {
      const body = await waitRecorded(item.id);
      expect(body.status).toBe('recorded');
      const verified = await verifyOutside(body.bundle as ProofBundle, item.sha256);
      expect(verified.steps.filter((s) => s.status === 'fail')).toEqual([]);
      expect(verified.ok).toBe(true);
      expect(verified.steps.find((s) => s.step === 'ledger')?.status).toBe('pass');
    }
  });

  it('shows restricted details and flag facts only to the owner, inspectors of the region and admins', async () => {
    const seen = async (who?: string) =>
      (await app.inject({ method: 'GET', url: `/v1/evidence/${payment.id}`, headers: auth(who) })).json();
    const anonymous = await seen();
    expect(anonymous.details).toBeUndefined();
    expect(anonymous.bundle.details).toBeUndefined();
    expect(anonymous.flags.map((f: { code: string }) => f.code)).toContain('ADVANCE_OVER_LIMIT');
    expect(anonymous.flags.every((f: { detail?: unknown }) => f.detail === undefined)).toBe(true);
    for (const who of ['unit', 'inspector', 'admin']) {
      const body = await seen(who);
      expect(body.details?.amount, who).toBe('50000000');
      expect(body.bundle.details?.amount, who).toBe('50000000');
      expect(
        body.flags.some((f: { detail?: unknown }) => f.detail !== undefined),
        who,
      ).toBe(true);
    }
    for (const who of ['otherUnit', 'farInspector']) expect((await seen(who)).details, who).toBeUndefined();

    const flagsPublic = (await app.inject({ method: 'GET', url: `/v1/projects/${project.id}/flags` })).json();
    expect(flagsPublic.flags.length).toBeGreaterThan(0);
    expect(flagsPublic.flags.every((f: { detail?: unknown }) => f.detail === undefined)).toBe(true);
    const flagsInspector = (
      await app.inject({ method: 'GET', url: `/v1/projects/${project.id}/flags`, headers: auth('inspector') })
    ).json();
    expect(flagsInspector.flags.every((f: { detail?: unknown }) => f.detail !== undefined)).toBe(true);
  });

  it('answers verify with supersede state, and 404/400 for unknown or malformed ids', async () => {
    const replacement = await submit('unit', {
      kind: 'contract',
      visibility: 'restricted',
      amount: '110000000',
      supersedes: contract.id,
    });
    await waitRecorded(replacement.id);
    const res = await app.inject({ method: 'GET', url: `/v1/verify/${contract.sha256}` });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.records).toHaveLength(1);
    expect(body.records[0]).toMatchObject({
      id: contract.id,
      status: 'recorded',
      supersededBy: replacement.id,
      standing: { state: 'superseded', by: replacement.id },
      // The embedded ledger is what it is: one operator, not on chain; no anchoring configured.
      assurance: {
        ledger: { level: 'embedded' },
        anchoring: { level: 'none' },
        witnesses: { level: 'none' },
        onChain: false,
      },
    });
    expect(['gateway-clock', 'operator-tsa']).toContain(body.records[0].assurance.time.level);
    // The certificate's route says the same.
    const evidence = (await app.inject({ method: 'GET', url: `/v1/evidence/${contract.id}` })).json();
    expect(evidence.standing).toEqual(body.records[0].standing);
    expect(evidence.assurance).toEqual(body.records[0].assurance);
    const standing = (await app.inject({ method: 'GET', url: `/v1/evidence/${replacement.id}` })).json();
    expect(standing.standing).toEqual({ state: 'standing' });
    expect(body.records[0].bundle.details).toBeUndefined();
    expect((await verifyOutside(body.records[0].bundle, contract.sha256)).ok).toBe(true);
    const none = await app.inject({ method: 'GET', url: `/v1/verify/${'0'.repeat(64)}` });
    expect(none.json()).toEqual({ sha256: '0'.repeat(64), records: [] });
    expect((await app.inject({ method: 'GET', url: '/v1/verify/ABC' })).statusCode).toBe(400);
    expect((await app.inject({ method: 'GET', url: `/v1/evidence/${crypto.randomUUID()}` })).statusCode).toBe(
      404,
    );

    const trail = (await app.inject({ method: 'GET', url: `/v1/projects/${project.id}/records` })).json();
    expect(trail.records.map((r: { id: string }) => r.id)).toContain(replacement.id);
    // Found by fuzzing: Ajv 8 coerces 1e309 to Infinity and let it through integer/maximum (a 500).
    for (const limit of ['1e309', '-1e309']) {
      const huge = await app.inject({
        method: 'GET',
        url: `/v1/projects/${project.id}/records?limit=${limit}`,
      });
      expect(huge.statusCode).toBe(400);
      expect(huge.json().code).toBe('VALIDATION_FAILED');
    }
  });

  it('answers many verify lookups at once each with its own records, caches only recorded public answers', async () => {
    // Concurrent lookups share their queries (digestLookups): each must still get its digest's answer.
    const digests = [contract.sha256, payment.sha256, '0'.repeat(64), contract.sha256];
    const answers = await Promise.all(
      digests.map((d) => app.inject({ method: 'GET', url: `/v1/verify/${d}` })),
    );
    expect(answers.map((a) => a.json().sha256)).toEqual(digests);
    expect(answers.map((a) => a.json().records.map((r: { id: string }) => r.id))).toEqual([
      [contract.id],
      [payment.id],
      [],
      [contract.id],
    ]);

    // An accepted record is what clients poll for: its answer is never kept, so the poll sees it
    // recorded as soon as it is.
    const fresh = await submit('unit', { kind: 'notice', title: 'Fresh notice' });
    const polled = await app.inject({ method: 'GET', url: `/v1/verify/${fresh.sha256}` });
    expect(polled.json().records[0].status).toBe('accepted');
    await waitRecorded(fresh.id);
    const recorded = await app.inject({ method: 'GET', url: `/v1/verify/${fresh.sha256}` });
    expect(recorded.json().records[0].status).toBe('recorded');
    expect(recorded.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(recorded.headers['cache-control']).toBe('public, max-age=5');

    // A recorded public answer asked for again within a second is kept (a digest asked for once
    // is not worth a copy) and then served from the one-second cache: the same bytes even though
    // a withdrawal was recorded meanwhile; a principal's answer is never cached.
    const kept = await app.inject({ method: 'GET', url: `/v1/verify/${fresh.sha256}` });
    expect(kept.body).toBe(recorded.body);
    const withdrawal = await submit('unit', {
      kind: 'withdrawal',
      reason: 'posted by mistake',
      refs: [fresh.id],
    });
    await waitRecorded(withdrawal.id);
    const again = await app.inject({ method: 'GET', url: `/v1/verify/${fresh.sha256}` });
    expect(again.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(again.body).toBe(kept.body);
    const privileged = await app.inject({
      method: 'GET',
      url: `/v1/verify/${fresh.sha256}`,
      headers: auth('admin'),
    });
    expect(privileged.headers['cache-control']).toBe('private, no-store');
    expect(privileged.json().records[0].withdrawnBy).toBe(withdrawal.id);
    await new Promise((r) => setTimeout(r, 1100));
    const later = await app.inject({ method: 'GET', url: `/v1/verify/${fresh.sha256}` });
    expect(later.json().records[0].withdrawnBy).toBe(withdrawal.id);
    // Withdrawn comes first: by whom, when and why (the withdrawal is public).
    expect(later.json().records[0].standing).toMatchObject({
      state: 'withdrawn',
      by: withdrawal.id,
      reason: 'posted by mistake',
    });
    expect(Date.parse(later.json().records[0].standing.at)).not.toBeNaN();
  });

  it('serves checkpoints, the note key and proofs a monitor can check', async () => {
    const note = await app.inject({ method: 'GET', url: '/v1/log/checkpoint' });
    expect(note.statusCode).toBe(200);
    expect(note.headers['content-type']).toContain('text/plain');
    const [origin, sizeLine, rootLine] = note.body.split('\n');
    expect(origin).toBe(app.config.logOrigin);
    const size = Number(sizeLine);
    const root = Buffer.from(rootLine!, 'base64');
    const key = await app.inject({ method: 'GET', url: '/v1/log/key' });
    expect(key.body.trim()).toBe(app.keys.checkpointSigner.vkey);

    const evidence = (await app.inject({ method: 'GET', url: `/v1/evidence/${payment.id}` })).json();
    const inclusion = (
      await app.inject({
        method: 'GET',
        url: `/v1/log/proof/inclusion?index=${evidence.leafIndex}&size=${size}`,
      })
    ).json();
    expect(inclusion.rootHash).toBe(root.toString('hex'));
    expect(
      verifyInclusion(
        recordLeafHash(evidence.record),
        evidence.leafIndex,
        size,
        inclusion.path.map(fromHex),
        new Uint8Array(root),
      ),
    ).toBe(true);

    const first = evidence.bundle.inclusion;
    const firstRoot = Buffer.from(first.checkpoint.split('\n')[2], 'base64');
    const consistency = (
      await app.inject({ method: 'GET', url: `/v1/log/proof/consistency?from=${first.size}&to=${size}` })
    ).json();
    expect(
      verifyConsistency(
        first.size,
        size,
        consistency.path.map(fromHex),
        new Uint8Array(firstRoot),
        new Uint8Array(root),
      ),
    ).toBe(true);
    const tooFar = await app.inject({
      method: 'GET',
      url: `/v1/log/proof/inclusion?index=0&size=${size + 100}`,
    });
    expect(tooFar.statusCode).toBe(400);
    expect(tooFar.json().reason).toBe('SIZE_OUT_OF_RANGE');
  });

  it('reports ready, exports its metrics, and names the ledger in /v1/keys', async () => {
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json().checks.ledger.ok).toBe(true);
    const metrics = (await app.inject({ method: 'GET', url: '/metrics', headers: auth('admin') })).body;
    for (const name of [
      'lianzheng_queue_depth',
      'lianzheng_batch_size',
      'lianzheng_ledger_latency_seconds',
    ]) {
      expect(metrics).toContain(name);
    }
    expect(metrics).toMatch(/lianzheng_records_recorded_total \d+/);
    // The verify lookups above went through the coalesced reads, and their proofs' subtrees too.
    expect(metrics).toMatch(/lianzheng_read_batch_keys_count\{read="digest"\} [1-9]/);
    expect(metrics).toMatch(/lianzheng_read_batch_keys_count\{read="subtree"\} [1-9]/);
    const keys = (await app.inject({ method: 'GET', url: '/v1/keys' })).json();
    expect(keys).toMatchObject({ ledger: 'embedded', ledgerNote: 'embedded single-node ledger' });
    expect(Array.isArray(keys.operatorRoots)).toBe(true);
    // The keys to pin, as a file to keep: the same answer at both addresses, and it pins these keys.
    const trust = await app.inject({ method: 'GET', url: '/v1/trust.json' });
    expect(trust.statusCode).toBe(200);
    expect(trust.headers['content-disposition']).toContain('trust.json');
    expect(trust.json()).toMatchObject({ format: 'lianzheng-trust/1', checkpointKeys: keys.checkpointKeys });
    expect((await app.inject({ method: 'GET', url: '/v1/keys?format=trust' })).json()).toEqual(trust.json());
    expect(checkTrust(trust.json(), keys)).toEqual({ ok: true, differences: [] });
    // CRYPTO_SUITE dual (the default): the SM2 key is published beside the others — its JWK
    // (kty EC, crv SM2) in the JWKS and pinned by thumbprint, its note key after the Ed25519 one.
    const sm2 = app.keys.sm2!;
    expect(keys.checkpointKeys).toEqual([app.keys.checkpointSigner.vkey, sm2.checkpointSigner.vkey]);
    expect(keys.checkpointKeys.map(noteKeyAlgorithm)).toEqual(['ed25519', 'sm2']);
    expect(keys.jwks.keys).toContainEqual({ ...sm2.jwk });
    expect(trust.json().receiptKeys).toContainEqual({ kid: sm2.kid, thumbprint: sm2.kid });
    const unpinned = { ...trust.json(), checkpointKeys: [app.keys.checkpointSigner.vkey] };
    expect(checkTrust(unpinned, keys).differences).toEqual([expect.stringContaining('is not pinned')]);
  });

  it('describes the pipeline routes in the OpenAPI document', async () => {
    const res = await app.inject({ method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    const paths = Object.keys(res.json().paths);
    for (const p of [
      '/v1/projects',
      '/v1/projects/{id}',
      '/v1/projects/{id}/records',
      '/v1/projects/{id}/flags',
      '/v1/projects/{id}/delegates',
      '/v1/projects/{id}/delegates/{org}',
      '/v1/evidence/{id}',
      '/v1/evidence/status',
      '/v1/verify/{sha256}',
      '/v1/log/checkpoint',
      '/v1/log/key',
      '/v1/log/proof/inclusion',
      '/v1/log/proof/consistency',
      '/v1/keys',
      '/v1/trust.json',
      '/v1/ledger/tx/{txId}',
    ]) {
      expect(paths, p).toContain(p);
    }
  });
});
