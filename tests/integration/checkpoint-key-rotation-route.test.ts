// POST /v1/admin/keys/rotate-checkpoint (issue #23): the SM2 checkpoint key rotated by an admin
// through the API. The new key signs the next checkpoints at once, GET /v1/keys publishes it beside
// the old one with the signed hand-over, a trust file saved before the rotation accepts the new key
// only through that statement, the local PKI certifies it, and only an admin may rotate.
import { randomBytes, X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  checkTrust,
  checkTrustWithRotations,
  parseCheckpoint,
  sha256,
  toHex,
  trustOf,
  verifyBundle,
} from '@lianzheng/proof';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../gateway/src/app.ts';
import { issueDevToken, loadDevIssuerKey } from '../../gateway/src/auth/dev-issuer.ts';
import { testConfig } from '../../gateway/src/config.ts';
import { pkiPaths } from '../../gateway/src/tsa/index.ts';
import { demoProject, startTestDatabase, type TestDatabase } from './pipeline-support.ts';

let db: TestDatabase;
let app: FastifyInstance;
const tokens = { admin: '', unit: '' };
const project = demoProject();

beforeAll(async () => {
  db = await startTestDatabase();
  const config = testConfig({ dataDir: db.dir, sealIntervalMs: 20, cryptoSuite: 'dual' });
  app = buildApp({ config, db: db.pool });
  await app.ready();
  const key = await loadDevIssuerKey(config.keysDir);
  const audience = config.oidc.audience;
  tokens.admin = await issueDevToken(key, { role: 'admin', audience });
  tokens.unit = await issueDevToken(key, { role: 'unit', org: 'village-committee', audience });
  const res = await app.inject({
    method: 'POST',
    url: '/v1/projects',
    headers: { authorization: `Bearer ${tokens.unit}` },
    payload: project,
  });
  expect(res.statusCode, res.body).toBe(201);
});
afterAll(async () => {
  await app?.close();
  await db?.stop();
});

async function recordedBundle() {
  const digest = toHex(sha256(randomBytes(32)));
  const res = await app.inject({
    method: 'POST',
    url: '/v1/evidence',
    headers: { authorization: `Bearer ${tokens.unit}` },
    payload: { projectId: project.id, kind: 'notice', visibility: 'public', sha256: digest },
  });
  expect(res.statusCode, res.body).toBe(202);
  for (let i = 0; i < 200; i++) {
    const body = (
      await app.inject({
        method: 'GET',
        url: `/v1/evidence/${res.json().id}`,
        headers: { authorization: `Bearer ${tokens.unit}` },
      })
    ).json();
    if (body.status === 'recorded') return { bundle: body.bundle, digest };
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('not recorded');
}

const keysNow = async () => (await app.inject({ method: 'GET', url: '/v1/keys' })).json();
/** The key hashes (hex) of a checkpoint's signature lines (`— <name> <base64(hash ‖ sig)>`). */
const signers = (checkpoint: string) =>
  checkpoint
    .split('\n')
    .filter((l) => l.startsWith('— '))
    .map((l) => Buffer.from(l.split(' ')[2]!, 'base64').subarray(0, 4).toString('hex'));

describe('rotating the SM2 checkpoint key through the admin route', () => {
  it('refuses anyone but an admin', async () => {
    for (const headers of [{}, { authorization: `Bearer ${tokens.unit}` }]) {
      const res = await app.inject({ method: 'POST', url: '/v1/admin/keys/rotate-checkpoint', headers });
      expect([401, 403]).toContain(res.statusCode);
      expect(res.headers['content-type']).toContain('application/problem+json');
    }
  });

  it('signs the next checkpoints with the new key, publishes the hand-over, and certifies the key', async () => {
    const before = await keysNow();
    const savedTrust = trustOf(before);
    const old = await recordedBundle();
    expect(before.checkpointRotations).toBeUndefined();

    const res = await app.inject({
      method: 'POST',
      url: '/v1/admin/keys/rotate-checkpoint',
      headers: { authorization: `Bearer ${tokens.admin}` },
    });
    expect(res.statusCode, res.body).toBe(200);
    const { vkey, statement } = res.json() as { vkey: string; statement: string };
    expect(statement).toContain('lianzheng-checkpoint-key-rotation/v1');

    const after = await keysNow();
    expect(after.checkpointKeys).toContain(vkey);
    for (const k of before.checkpointKeys) expect(after.checkpointKeys).toContain(k);
    expect(after.checkpointRotations).toEqual([statement]);

    // New records' checkpoints carry the new SM2 key's line, the old bundle keeps the old one.
    const next = await recordedBundle();
    const newHash = vkey.split('+')[1];
    expect(signers(next.bundle.inclusion.checkpoint)).toContain(newHash);
    expect(signers(old.bundle.inclusion.checkpoint)).not.toContain(newHash);
    expect(parseCheckpoint(next.bundle.inclusion.checkpoint).size).toBeGreaterThan(
      parseCheckpoint(old.bundle.inclusion.checkpoint).size,
    );
    for (const { bundle, digest } of [old, next]) {
      const result = await verifyBundle(bundle, {
        sha256: digest,
        keys: { jwks: after.jwks, checkpointKeys: after.checkpointKeys, tsaRoots: after.tsaRoots },
      });
      expect(result.ok, JSON.stringify(result.steps)).toBe(true);
    }

    // A trust file saved before: the new key is not pinned, the signed hand-over leads to it.
    expect(checkTrust(savedTrust, after).ok).toBe(false);
    const followed = await checkTrustWithRotations(savedTrust, after);
    expect(followed.ok, followed.differences.join('; ')).toBe(true);
    expect(await checkTrustWithRotations(savedTrust, { ...after, checkpointRotations: [] })).toMatchObject({
      ok: false,
    });

    // The local PKI certified the new key under the SM2 root.
    const dir = pkiPaths(path.join(app.config.dataDir, 'pki')).sm2CheckpointCertsDir;
    const certs = (await fs.readdir(dir)).filter((f) => f.endsWith('.cert.pem'));
    expect(certs.length).toBeGreaterThanOrEqual(1);
    const cert = new X509Certificate(await fs.readFile(path.join(dir, certs[0]!), 'utf8'));
    expect(cert.issuer).toContain('SM2');
  });
});
