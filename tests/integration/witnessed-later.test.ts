// Issue #24, a gap left: a witness that was down when a record's checkpoint was made cosigns a
// LATER checkpoint only. The record's bundle then carries `witnessed` — the smallest later
// checkpoint whose cosigners, with the record's own, meet the quorum, and the consistency proof
// to it — and verifyBundle, the assurance and verify-package count it. Two real witness servers
// (HTTP, C2SP tlog-witness) in this process, one stopped and started again on the same port
// (28611, from this test's range 28600–28699); real PostgreSQL; real pipeline (embedded ledger).
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import {
  checkWitnessQuorum,
  type ProofBundle,
  parseCheckpoint,
  sha256,
  toHex,
  verifyBundle,
} from '@lianzheng/proof';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../gateway/src/app.ts';
import { issueDevToken, loadDevIssuerKey } from '../../gateway/src/auth/dev-issuer.ts';
import { testConfig } from '../../gateway/src/config.ts';
import { MEMBERS } from '../../gateway/src/evidence-package/checks.ts';
import { verifyEvidencePackage } from '../../gateway/src/evidence-package/verify.ts';
import { readZip } from '../../gateway/src/evidence-package/zip.ts';
import { KeyRing } from '../../gateway/src/keys/key-ring.ts';
import { parseWitnessConfig } from '../../gateway/src/witness/config.ts';
import {
  newWitnessKeyPem,
  seedFromPem,
  startWitnessServer,
  Witness,
  type WitnessServer,
} from '../../gateway/src/witness/witness.ts';
import { demoProject, startTestDatabase, type TestDatabase } from './pipeline-support.ts';

const LATE_PORT = 28611;
let db: TestDatabase;
let app: FastifyInstance;
let owner: Record<string, string>;
const project = demoProject();
const witnesses: Witness[] = [];
const servers: (WitnessServer | undefined)[] = [];

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function submit(): Promise<{ id: string; sha256: string }> {
  const digest = toHex(sha256(randomBytes(32)));
  const res = await app.inject({
    method: 'POST',
    url: '/v1/evidence',
    headers: owner,
    payload: { projectId: project.id, visibility: 'public', kind: 'notice', sha256: digest },
  });
  expect(res.statusCode, res.body).toBe(202);
  return { id: res.json().id, sha256: digest };
}

async function entry(id: string) {
  return (await app.inject({ method: 'GET', url: `/v1/evidence/${id}` })).json();
}

const recorded = (id: string) =>
  until(`record ${id}`, async () => {
    const e = await entry(id);
    return e.status === 'accepted' ? undefined : e;
  });

beforeAll(async () => {
  db = await startTestDatabase();
  const base = testConfig({ dataDir: db.dir, sealIntervalMs: 20, rateLimitPublicPerMin: 1_000_000 });
  const keys = await KeyRing.load(base.keysDir, { logOrigin: base.logOrigin, suite: base.cryptoSuite });
  for (let i = 0; i < 2; i++) {
    witnesses.push(
      new Witness({
        name: ['notary.later/w1', 'audit.later/w2'][i]!,
        seed: seedFromPem(newWitnessKeyPem()),
        stateDir: path.join(db.dir, `witness-${i}`),
        logs: [{ origin: base.logOrigin, keys: keys.checkpointKeys() }],
        logger: { info: () => {}, warn: () => {}, error: () => {} },
      }),
    );
  }
  servers.push(await startWitnessServer(witnesses[0]!, { port: 0 }));
  // The late witness is down from the start: it will see its first checkpoint after two records.
  const config = parseWitnessConfig({
    WITNESSES: JSON.stringify([
      { name: 'Notary', nameZh: '公证处', url: servers[0]!.url, vkey: witnesses[0]!.vkey },
      { name: 'Audit', nameZh: '审计局', url: `http://127.0.0.1:${LATE_PORT}`, vkey: witnesses[1]!.vkey },
    ]),
    WITNESS_QUORUM: '2',
    WITNESS_TIMEOUT_MS: '1000',
    WITNESS_INTERVAL_MS: '50',
    WITNESS_RETRY_MS: '100',
  });
  app = buildApp({ config: { ...base, witnesses: config }, db: db.pool, keyRing: keys });
  await app.ready();
  const key = await loadDevIssuerKey(base.keysDir);
  owner = {
    authorization: `Bearer ${await issueDevToken(key, { role: 'unit', org: project.ownerOrg, audience: base.oidc.audience })}`,
  };
  const res = await app.inject({ method: 'POST', url: '/v1/projects', headers: owner, payload: project });
  expect(res.statusCode, res.body).toBe(201);
});

afterAll(async () => {
  await app?.close();
  for (const s of servers) await s?.close().catch(() => {});
  await db?.stop();
});

describe('witnessed: a later checkpoint cosigned by the quorum counts for an earlier record', () => {
  it('below the quorum while a witness is down; through a later checkpoint once it is back', async () => {
    const first = await submit();
    const e1 = await recorded(first.id);
    const size = e1.bundle.inclusion.size as number;
    // The witness that is up cosigns the record's own checkpoint; the quorum (2) is not met.
    const own = await until('the first cosignature', async () => {
      const e = await entry(first.id);
      return (e.bundle.cosignatures?.length ?? 0) >= 1 ? e : undefined;
    });
    expect(own.bundle.witnessed).toBeUndefined();
    expect(own.assurance.witnesses).toMatchObject({ level: 'below-quorum', quorum: 2, of: 2 });
    // A newer record, so the record's checkpoint is no longer the newest offered.
    const second = await submit();
    const e2 = await recorded(second.id);
    expect(e2.bundle.inclusion.size).toBeGreaterThan(size);

    servers.push(await startWitnessServer(witnesses[1]!, { port: LATE_PORT }));
    const later = await until('a witnessed part', async () => {
      const e = await entry(first.id);
      return e.bundle.witnessed ? e : undefined;
    });
    const bundle = later.bundle as ProofBundle;
    const laterSize = parseCheckpoint(bundle.witnessed!.checkpoint).size;
    expect(laterSize).toBeGreaterThan(size);
    expect(bundle.witnessed!.cosignatures.length).toBeGreaterThanOrEqual(1);
    expect(later.assurance.witnesses).toMatchObject({ level: 'quorum', quorum: 2, of: 2 });
    expect(later.assurance.witnesses.cosigned).toEqual([
      expect.objectContaining({ displayNameZh: '公证处' }),
      expect.objectContaining({ displayNameZh: '审计局', size: laterSize }),
    ]);

    const published = (await app.inject({ method: 'GET', url: '/v1/keys' })).json();
    const options = {
      sha256: first.sha256,
      keys: {
        jwks: published.jwks,
        checkpointKeys: published.checkpointKeys,
        witnesses: [witnesses[0]!.vkey, witnesses[1]!.vkey],
        witnessQuorum: 2,
      },
      requireWitnessQuorum: true,
    };
    const r = await verifyBundle(bundle, options);
    expect(r.ok, JSON.stringify(r.steps)).toBe(true);
    expect(r.steps.find((s) => s.step === 'witnesses')?.detail).toContain(
      `cosigned at size ${laterSize}, consistent with the record's checkpoint (size ${size})`,
    );
    // A tampered consistency proof (or none) is refused, and the quorum is not reached by it.
    for (const consistency of [
      [],
      bundle.witnessed!.consistency.map((h) => h.replace(/^./, (c) => (c === 'f' ? 'e' : 'f'))),
    ]) {
      const bad = await verifyBundle(
        { ...bundle, witnessed: { ...bundle.witnessed!, consistency } },
        options,
      );
      expect(bad.steps.find((s) => s.step === 'witnesses')).toMatchObject({
        status: 'fail',
        code: 'WITNESSED_INCONSISTENT',
      });
    }

    // The package carries it, and verify-package (offline) counts it.
    const res = await app.inject({ method: 'GET', url: `/v1/evidence/${first.id}/package` });
    expect(res.statusCode, res.body.slice(0, 300)).toBe(200);
    const checked = await verifyEvidencePackage(res.rawPayload);
    const step = checked.checks.find((c) => c.id === 'bundle.witnesses');
    expect(step).toMatchObject({ status: 'pass' });
    expect(step?.detail).toContain(`cosigned at size ${laterSize}, consistent with the record's checkpoint`);
    expect(checked.checks.find((c) => c.id === 'witnessed-checkpoint')).toMatchObject({ status: 'pass' });
    const files = await readZip(res.rawPayload);
    const note = files.get(MEMBERS.witnessedCheckpoint)!.toString('utf8');
    expect(checkWitnessQuorum(note, [witnesses[0]!.vkey, witnesses[1]!.vkey], 1).met).toBe(true);

    // A record whose own checkpoint meets the quorum carries no witnessed part.
    const third = await submit();
    await recorded(third.id);
    const full = await until('two cosignatures on the newest record', async () => {
      const e = await entry(third.id);
      return (e.bundle.cosignatures?.length ?? 0) >= 2 ? e : undefined;
    });
    expect(full.bundle.witnessed).toBeUndefined();
  });
});
