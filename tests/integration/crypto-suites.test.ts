// CRYPTO_SUITE end to end (issue #23): one database and one keys folder, the gateway restarted
// under dual, gm and intl in turn, as an operator switching suites would. Each run's receipts
// (single and batch) and bundles are checked from outside with proof's verifyBundle and the keys
// the gateway publishes; every earlier run's bundles must still verify after the switch.
import { randomBytes } from 'node:crypto';
import {
  attachReceipt,
  noteKeyAlgorithm,
  type ProofBundle,
  RECEIPT_SM2_ALG,
  sha256,
  sm3,
  timestampImprintAlgorithm,
  toHex,
  verifyBundle,
  verifyReceipt,
  verifyTimestampToken,
} from '@lianzheng/proof';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../gateway/src/app.ts';
import { auditDatabase } from '../../gateway/src/audit/audit.ts';
import { issueDevToken, loadDevIssuerKey } from '../../gateway/src/auth/dev-issuer.ts';
import { type Config, type CryptoSuite, testConfig } from '../../gateway/src/config.ts';
import { TIMESTAMP_QUERY } from '../../gateway/src/routes/tsa/index.ts';
import { buildRequest, parseResponse } from '../../gateway/src/tsa/_test-helpers.ts';
import { OID } from '../../gateway/src/tsa/oids.ts';
import { demoProject, startTestDatabase, type TestDatabase } from './pipeline-support.ts';

let db: TestDatabase;
const project = demoProject();
const earlier: { suite: CryptoSuite; bundle: ProofBundle; sha256: string }[] = [];

beforeAll(async () => {
  db = await startTestDatabase();
});
afterAll(async () => {
  await db?.stop();
});

const algOf = (jws: string) => JSON.parse(Buffer.from(jws.split('.')[0]!, 'base64url').toString()).alg;

async function start(suite: CryptoSuite, overrides: Partial<Config> = {}) {
  const config = testConfig({ dataDir: db.dir, sealIntervalMs: 20, cryptoSuite: suite, ...overrides });
  const app = buildApp({ config, db: db.pool });
  await app.ready();
  const key = await loadDevIssuerKey(config.keysDir);
  const unit = await issueDevToken(key, {
    role: 'unit',
    org: 'village-committee',
    audience: config.oidc.audience,
  });
  return { app, headers: { authorization: `Bearer ${unit}` } };
}

async function recordedBundle(app: FastifyInstance, headers: object, id: string): Promise<ProofBundle> {
  for (let i = 0; i < 200; i++) {
    const body = (
      await app.inject({ method: 'GET', url: `/v1/evidence/${id}`, headers: headers as never })
    ).json();
    if (body.status === 'recorded') return body.bundle as ProofBundle;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${id} was not recorded`);
}

async function verifyOutside(app: FastifyInstance, bundle: ProofBundle, digest: string) {
  const keys = (await app.inject({ method: 'GET', url: '/v1/keys' })).json();
  return verifyBundle(bundle, {
    sha256: digest,
    keys: { jwks: keys.jwks, checkpointKeys: keys.checkpointKeys, tsaRoots: keys.tsaRoots },
  });
}

describe.each(['dual', 'gm', 'intl'] as const)('CRYPTO_SUITE=%s', (suite) => {
  it('signs receipts and checkpoints with its suite, and every bundle so far verifies from outside', async () => {
    const { app, headers } = await start(suite);
    try {
      if (earlier.length === 0) {
        const res = await app.inject({ method: 'POST', url: '/v1/projects', headers, payload: project });
        expect(res.statusCode, res.body).toBe(201);
      }
      const keys = (await app.inject({ method: 'GET', url: '/v1/keys' })).json();
      // The SM2 key, once made (the first run is dual), stays published under every suite.
      expect(keys.checkpointKeys.map(noteKeyAlgorithm)).toEqual(['ed25519', 'sm2']);
      expect(keys.jwks.keys.filter((k: { crv?: string }) => k.crv === 'SM2')).toHaveLength(1);

      const digest = toHex(sha256(randomBytes(32)));
      const single = await app.inject({
        method: 'POST',
        url: '/v1/evidence',
        headers,
        payload: { projectId: project.id, kind: 'notice', visibility: 'public', sha256: digest },
      });
      expect(single.statusCode, single.body).toBe(202);
      const accepted = single.json();
      // The plain receipt: ES256 (any JOSE library) unless gm; dual adds the SM2 one beside it.
      expect(algOf(accepted.receipt)).toBe(suite === 'gm' ? RECEIPT_SM2_ALG : 'ES256');
      if (suite === 'dual') {
        expect(algOf(accepted.receiptSm2)).toBe(RECEIPT_SM2_ALG);
        expect(await verifyReceipt(accepted.receiptSm2, keys.jwks)).toEqual(
          await verifyReceipt(accepted.receipt, keys.jwks),
        );
      } else expect(accepted.receiptSm2).toBeUndefined();

      const batch = await app.inject({
        method: 'POST',
        url: '/v1/evidence/batch',
        headers,
        payload: {
          items: [1, 2, 3].map(() => ({
            projectId: project.id,
            kind: 'notice',
            visibility: 'public',
            sha256: toHex(sha256(randomBytes(32))),
          })),
        },
      });
      expect(batch.statusCode, batch.body).toBe(202);
      for (const item of batch.json().results) {
        expect(algOf(item.receipt)).toBe(suite === 'gm' ? RECEIPT_SM2_ALG : 'ES256');
        expect(item.receiptSm2 === undefined).toBe(suite !== 'dual');
        if (suite === 'dual') {
          // Detached (`<header>..<signature>`): the payload and item are the ES256 receipt's.
          expect(item.receiptSm2).toMatch(/^[\w-]+\.\.[\w-]+$/);
          expect(item.receiptSm2.length).toBeLessThan(300);
          const whole = attachReceipt(item.receiptSm2, item.receipt);
          expect(algOf(whole)).toBe(RECEIPT_SM2_ALG);
          expect(await verifyReceipt(whole, keys.jwks)).toEqual(await verifyReceipt(item.receipt, keys.jwks));
          // Stored and in the bundle it is whole.
          const bundle = await recordedBundle(app, headers, item.id);
          expect(bundle.receiptSm2).toBe(whole);
        }
      }

      const bundle = await recordedBundle(app, headers, accepted.id);
      expect(bundle.receiptSm2 === undefined).toBe(suite !== 'dual');
      const lines = bundle.inclusion!.checkpoint.split('\n').filter((l) => l.startsWith('— '));
      expect(lines).toHaveLength(suite === 'dual' ? 2 : 1);
      const result = await verifyOutside(app, bundle, digest);
      expect(result.steps.filter((s) => s.status === 'fail')).toEqual([]);
      expect(result.ok).toBe(true);
      const algorithms = { dual: 'ed25519 + sm2', gm: 'sm2', intl: 'ed25519' }[suite];
      expect(result.steps.find((s) => s.step === 'checkpoint')!.detail).toContain(`(${algorithms})`);
      // The checkpoint's time-stamp: GM/T 0033 (an SM3 imprint, the SM2 TSA) under gm only.
      const token = Buffer.from(bundle.timestamp!.token, 'base64');
      expect(timestampImprintAlgorithm(token)).toBe(suite === 'gm' ? 'sm3' : 'sha256');
      expect(result.steps.find((s) => s.step === 'timestamp')!.status).toBe('pass');
      // The runs before this one: still verifiable with what this gateway publishes.
      for (const before of earlier) {
        const again = await verifyOutside(app, before.bundle, before.sha256);
        expect(again.ok, `${before.suite} bundle under ${suite}`).toBe(true);
      }
      earlier.push({ suite, bundle, sha256: digest });

      // SM3 through the trail: a hash-only submission with sm3 beside sha256 is found by either
      // digest (GET /v1/verify/sm3/{hex}), with the visibility rules of the SHA-256 lookup.
      const docSha = toHex(sha256(randomBytes(32)));
      const docSm3 = toHex(sm3(randomBytes(32)));
      const withSm3 = await app.inject({
        method: 'POST',
        url: '/v1/evidence',
        headers,
        payload: {
          projectId: project.id,
          kind: 'notice',
          visibility: 'restricted',
          title: 'restricted title',
          sha256: docSha,
          sm3: docSm3,
        },
      });
      expect(withSm3.statusCode, withSm3.body).toBe(202);
      const bySm3 = (who: object) =>
        app.inject({ method: 'GET', url: `/v1/verify/sm3/${docSm3}`, headers: who as never });
      const mine = (await bySm3(headers)).json();
      expect(mine.sm3).toBe(docSm3);
      expect(mine.records.map((r: { id: string }) => r.id)).toEqual([withSm3.json().id]);
      expect(mine.records[0].bundle.record.digests).toEqual({ sha256: docSha, sm3: docSm3 });
      expect(mine.records[0].bundle.details.title).toBe('restricted title');
      const anonymous = await bySm3({});
      expect(anonymous.statusCode).toBe(200);
      expect(anonymous.json().records).toHaveLength(1);
      expect(anonymous.json().records[0].bundle.details).toBeUndefined();
      expect(anonymous.body).not.toContain('restricted title');
      expect((await bySm3({})).json().records[0].id).toBe(withSm3.json().id);
      const none = await app.inject({ method: 'GET', url: `/v1/verify/sm3/${docSha}` });
      expect(none.json().records).toEqual([]);
      const bad = await app.inject({ method: 'GET', url: '/v1/verify/sm3/XYZ' });
      expect(bad.statusCode).toBe(400);
      expect(bad.headers['content-type']).toContain('application/problem+json');

      // POST /tsa with an SM3 imprint: a GM/T 0033 token (SM2 TSA certificate under the same
      // root) with dual and gm; intl refuses SM3 as before (badAlg). SHA-256 keeps the ECDSA token.
      const imprint = sm3(randomBytes(40));
      const tsa = await app.inject({
        method: 'POST',
        url: '/tsa',
        headers: { 'content-type': TIMESTAMP_QUERY },
        payload: buildRequest({ hashOid: OID.sm3, imprint, certReq: true }),
      });
      expect(tsa.statusCode).toBe(200);
      const reply = parseResponse(tsa.rawPayload);
      if (suite === 'intl') expect(reply.status).toBe(2);
      else {
        expect(reply.status).toBe(0);
        const check = await verifyTimestampToken(reply.token!, imprint, keys.tsaRoots, {
          hashAlgorithm: 'sm3',
        });
        expect(check.status, check.detail).toBe('pass');
      }
    } finally {
      await app.close();
    }
  });
});

// CRYPTO_SUITE dual signs the SM2 receipts of single POSTs once per group commit (one signature
// per distinct iat), not once per request. Before that change each was a plain compact JWS
// (still made with RECEIPT_GROUPS=false): such receipts and bundles must keep verifying.
describe('CRYPTO_SUITE=dual: one SM2 signature for the single POSTs of a group commit', () => {
  const post = (app: FastifyInstance, headers: object, digest: string) =>
    app.inject({
      method: 'POST',
      url: '/v1/evidence',
      headers: headers as never,
      payload: { projectId: project.id, kind: 'notice', visibility: 'public', sha256: digest },
    });

  it('shares SM2 signatures between concurrent POSTs; each states its ES256 receipt’s claims; batch SM2 receipts stored detached, read whole, audited; old plain SM2 receipts still verify', async () => {
    // The form before: RECEIPT_GROUPS=false signs each SM2 receipt alone, a plain compact JWS.
    const old = await start('dual', { receiptGroups: false });
    const oldDigest = toHex(sha256(randomBytes(32)));
    let oldBundle: ProofBundle;
    try {
      if (earlier.length === 0) {
        const res = await old.app.inject({
          method: 'POST',
          url: '/v1/projects',
          headers: old.headers,
          payload: project,
        });
        expect(res.statusCode, res.body).toBe(201);
      }
      const res = await post(old.app, old.headers, oldDigest);
      expect(res.statusCode, res.body).toBe(202);
      oldBundle = await recordedBundle(old.app, old.headers, res.json().id);
    } finally {
      await old.app.close();
    }

    const { app, headers } = await start('dual');
    try {
      const keys = (await app.inject({ method: 'GET', url: '/v1/keys' })).json();
      const warm = await post(app, headers, toHex(sha256(randomBytes(32))));
      expect(warm.statusCode, warm.body).toBe(202);
      const digests = Array.from({ length: 40 }, () => toHex(sha256(randomBytes(32))));
      const answers = (await Promise.all(digests.map((d) => post(app, headers, d)))).map((r) => {
        expect(r.statusCode, r.body).toBe(202);
        return r.json();
      });
      const signatures = new Set<string>();
      for (const a of answers) {
        // The ES256 receipt stays a plain compact JWS (issue #22) …
        expect(a.receipt.split('.')).toHaveLength(3);
        expect(a.receipt).not.toContain('~');
        // … and the SM2 one states exactly its claims (same iat), in either form.
        expect(algOf(a.receiptSm2)).toBe(RECEIPT_SM2_ALG);
        expect(await verifyReceipt(a.receiptSm2, keys.jwks)).toEqual(
          await verifyReceipt(a.receipt, keys.jwks),
        );
        signatures.add(a.receiptSm2.split('~')[0]);
      }
      // The first POST flushes alone; the others wait for it and share the next group commits.
      expect(signatures.size).toBeLessThanOrEqual(digests.length / 2);
      expect(answers.some((a) => a.receiptSm2.includes('~'))).toBe(true);

      // A grouped SM2 receipt in the bundle verifies, and a tampered item does not.
      const grouped = answers.find((a) => a.receiptSm2.includes('~'))!;
      const bundle = await recordedBundle(app, headers, grouped.id);
      expect(bundle.receiptSm2).toBe(grouped.receiptSm2);
      const result = await verifyOutside(app, bundle, digests[answers.indexOf(grouped)]!);
      expect(result.steps.filter((s) => s.status === 'fail')).toEqual([]);
      expect(result.steps.find((s) => s.step === 'receipt')!.detail).toContain(`ES256 + ${RECEIPT_SM2_ALG}`);
      const other = answers.find(
        (a) => a !== grouped && a.receiptSm2.split('~')[0] === grouped.receiptSm2.split('~')[0],
      );
      if (other) {
        // Another record's item under the same signature: genuine, but other claims.
        const swapped = await verifyOutside(
          app,
          { ...bundle, receiptSm2: other.receiptSm2 },
          digests[answers.indexOf(grouped)]!,
        );
        expect(swapped.steps.find((s) => s.step === 'receipt')!.code).toBe('RECEIPT_MISMATCH');
      }

      // A batch's SM2 receipts are stored detached and read whole: in the bundle, and by the audit,
      // which also notices one changed in the database.
      const batch = await app.inject({
        method: 'POST',
        url: '/v1/evidence/batch',
        headers,
        payload: {
          items: [1, 2, 3, 4, 5].map(() => ({
            projectId: project.id,
            kind: 'notice',
            visibility: 'public',
            sha256: toHex(sha256(randomBytes(32))),
          })),
        },
      });
      expect(batch.statusCode, batch.body).toBe(202);
      const items = batch.json().results as { id: string; receipt: string; receiptSm2: string }[];
      // Stored once for the group (migration 0993): each row keeps its receipt's item, the group its
      // JWS and the detached SM2 JWS; readers get both back whole through submission_states.
      const rowsStored = await db.pool.query<{
        id: string;
        receipt: string;
        receipt_sm2: string | null;
        receipt_group: string | null;
      }>(
        'select id::text, receipt, receipt_sm2, receipt_group::text from submissions where id = any($1::uuid[]) order by id',
        [items.map((i) => i.id)],
      );
      expect(rowsStored.rows).toHaveLength(5);
      const groupIds = new Set(rowsStored.rows.map((r) => r.receipt_group));
      expect(groupIds.size).toBe(1);
      const groupId = [...groupIds][0]!;
      expect(groupId).not.toBeNull();
      const group = (
        await db.pool.query<{ jws: string; jws_sm2_detached: string }>(
          'select jws, jws_sm2_detached from receipt_groups where id = $1',
          [groupId],
        )
      ).rows[0]!;
      for (const row of rowsStored.rows) {
        const item = items.find((i) => i.id === row.id)!;
        expect(row.receipt_sm2).toBeNull();
        expect(`${group.jws}~${row.receipt}`).toBe(item.receipt);
        expect(group.jws_sm2_detached).toBe(item.receiptSm2);
      }
      const stored = await db.pool.query<{ id: string; receipt: string; receipt_sm2: string }>(
        'select id::text, receipt, receipt_sm2 from submission_states where id = any($1::uuid[]) order by id',
        [items.map((i) => i.id)],
      );
      expect(stored.rows).toHaveLength(5);
      for (const row of stored.rows) {
        const item = items.find((i) => i.id === row.id)!;
        expect(row.receipt).toBe(item.receipt);
        expect(row.receipt_sm2).toBe(item.receiptSm2);
        const inBundle = (await recordedBundle(app, headers, item.id)).receiptSm2!;
        expect(inBundle).toBe(attachReceipt(row.receipt_sm2, item.receipt));
        expect((await verifyReceipt(inBundle, keys.jwks)).sub).toBe(item.id);
      }
      const auditKeys = { checkpointKeys: keys.checkpointKeys, jwks: keys.jwks };
      const receiptCodes = async () =>
        (await auditDatabase(db.pool, auditKeys)).differences
          .filter((d) => d.code.startsWith('RECEIPT_'))
          .map((d) => `${d.code} ${d.subject}`);
      expect(await receiptCodes()).toEqual([]);
      // One SM2 signature serves the whole group: a flipped bit in it is found in every row's receipt.
      const [h, , sig] = group.jws_sm2_detached.split('.') as [string, string, string];
      const flipped = Buffer.from(sig, 'base64url');
      flipped[5]! ^= 1;
      await db.pool.query('update receipt_groups set jws_sm2_detached = $2 where id = $1', [
        groupId,
        `${h}..${flipped.toString('base64url')}`,
      ]);
      try {
        const found = await receiptCodes();
        expect(found).toHaveLength(5);
        for (const row of stored.rows) expect(found.some((f) => f.includes(row.id))).toBe(true);
        for (const f of found) expect(f).toMatch(/^RECEIPT_INVALID .*/);
      } finally {
        await db.pool.query('update receipt_groups set jws_sm2_detached = $2 where id = $1', [
          groupId,
          group.jws_sm2_detached,
        ]);
      }
      // …and a row's own item, changed, only in that row's.
      const victim = rowsStored.rows[2]!;
      const [claims, index, path] = victim.receipt.split('.') as [string, string, string];
      const bent = Buffer.from(path, 'base64url');
      bent[3]! ^= 1;
      await db.pool.query('update submissions set receipt = $2 where id = $1', [
        victim.id,
        `${claims}.${index}.${bent.toString('base64url')}`,
      ]);
      try {
        const found = await receiptCodes();
        expect(found.length).toBeGreaterThan(0);
        for (const f of found) expect(f).toContain(victim.id);
      } finally {
        await db.pool.query('update submissions set receipt = $2 where id = $1', [victim.id, victim.receipt]);
      }

      // The plain SM2 receipt made before still verifies, in its bundle, with what is published now.
      expect(oldBundle.receiptSm2!.split('.')).toHaveLength(3);
      expect(oldBundle.receiptSm2).not.toContain('~');
      const again = await verifyOutside(app, oldBundle, oldDigest);
      expect(again.steps.filter((s) => s.status === 'fail')).toEqual([]);
      expect(again.ok).toBe(true);
    } finally {
      await app.close();
    }
  });
});
