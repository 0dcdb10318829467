// Receipt key rotations, published and followed (#21): the key rotated twice through the admin
// route and once with `lianzheng keys rotate` on the files; receipts signed before and after verify;
// a trust.json saved before the rotations verifies the new receipts by the chain of statements,
// and a chain that is missing or forged fails loudly (exit 7).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { followRotations, jwkThumbprint, type KeyRotation, sha256, toHex } from '@lianzheng/proof';
import type { FastifyInstance } from 'fastify';
import { CompactSign, exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAnchorConfig } from '../../gateway/src/anchor/config.ts';
import { buildApp } from '../../gateway/src/app.ts';
import { issueDevToken, loadDevIssuerKey } from '../../gateway/src/auth/dev-issuer.ts';
import { EXIT, run } from '../../gateway/src/cli/main.ts';
import { testConfig } from '../../gateway/src/config.ts';
import {
  KeyRing,
  newEs256Jwk,
  publicJwkOf,
  signReceiptKeyRotation,
} from '../../gateway/src/keys/key-ring.ts';
import { demoProject, startTestDatabase, type TestDatabase } from './pipeline-support.ts';

let db: TestDatabase;
let app: FastifyInstance | undefined;
let work: string;
let gateway = '';
const tokens = { unit: '', admin: '' };
const project = demoProject();

function capture() {
  const lines: string[] = [];
  return { lines, out: { log: (s: string) => lines.push(s), error: (s: string) => lines.push(s) } };
}

async function submit(): Promise<{ id: string; sha256: string }> {
  const digest = toHex(sha256(randomBytes(32)));
  const res = await app!.inject({
    method: 'POST',
    url: '/v1/evidence',
    headers: { authorization: `Bearer ${tokens.unit}` },
    payload: { sha256: digest, projectId: project.id, kind: 'notice', visibility: 'public', title: '公示' },
  });
  expect(res.statusCode, res.body).toBe(202);
  recorded += 1;
  await app!.pipeline.batcher.waitForRecorded(recorded);
  return { id: res.json().id as string, sha256: digest };
}

async function verify(args: string[]) {
  const { lines, out } = capture();
  const code = await run(['verify', ...args], { DATA_DIR: db.dir, LOG_LEVEL: 'silent' }, out);
  return { code, text: lines.join('\n') };
}

const receiptKid = (bundle: { receipt: string }) =>
  JSON.parse(Buffer.from(bundle.receipt.split('.')[0]!, 'base64url').toString()).kid as string;

let recorded = 0;
let before: { id: string; sha256: string };
let after: { id: string; sha256: string };
let oldTrust: string;
const kids: string[] = [];
const sm2Kids: string[] = [];

beforeAll(async () => {
  db = await startTestDatabase();
  const config = testConfig({ dataDir: db.dir, sealIntervalMs: 20, rateLimitPublicPerMin: 100_000 });
  app = buildApp({ config, db: db.pool });
  await app.listen({ port: 0, host: '127.0.0.1' });
  gateway = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'lianzheng-key-rotation-'));
  const key = await loadDevIssuerKey(config.keysDir);
  tokens.unit = await issueDevToken(key, {
    role: 'unit',
    org: project.ownerOrg,
    audience: config.oidc.audience,
  });
  tokens.admin = await issueDevToken(key, { role: 'admin', audience: config.oidc.audience });
  const made = await app.inject({
    method: 'POST',
    url: '/v1/projects',
    headers: { authorization: `Bearer ${tokens.unit}` },
    payload: project,
  });
  expect(made.statusCode, made.body).toBe(201);
  before = await submit();
  kids.push(app.keys.receiptSigner.kid);
  sm2Kids.push(app.keys.receiptSm2Signer!.kid);
  oldTrust = path.join(work, 'OLD_trust.json');
  await fs.writeFile(oldTrust, (await app.inject({ method: 'GET', url: '/v1/trust.json' })).body);

  for (let i = 0; i < 2; i++) {
    const rotated = await app.inject({
      method: 'POST',
      url: '/v1/admin/keys/rotate',
      headers: { authorization: `Bearer ${tokens.admin}` },
    });
    expect(rotated.statusCode, rotated.body).toBe(200);
    expect(rotated.json().rotation).toMatchObject({
      byPrevious: expect.any(String),
      byNext: expect.any(String),
    });
    kids.push(rotated.json().kid);
    // CRYPTO_SUITE dual (the default): the SM2 receipt key is rotated in the same step.
    expect(rotated.json().sm2.retired).toContain(sm2Kids.at(-1));
    sm2Kids.push(rotated.json().sm2.kid);
  }
  // The third on the files, as an operator would with the gateway running.
  const cli = capture();
  expect(await run(['keys', 'rotate'], { DATA_DIR: db.dir, LOG_LEVEL: 'silent' }, cli.out)).toBe(EXIT.OK);
  const third = JSON.parse(cli.lines[0]!).kid as string;
  kids.push(third);
  sm2Kids.push(JSON.parse(cli.lines[0]!).sm2Keys[0].kid as string);
  await app.keys.refresh(); // what the gateway's watcher does within a second
  expect(app.keys.receiptSigner.kid).toBe(third);
  after = await submit();
});

afterAll(async () => {
  await app?.close();
  await db?.stop();
  if (work) await fs.rm(work, { recursive: true, force: true });
});

describe('receipt key rotations', () => {
  it('publishes each rotation, oldest first, in /v1/keys and trust.json, chained from the first key', async () => {
    const keys = (await app!.inject({ method: 'GET', url: '/v1/keys' })).json();
    // Three of the ES256 key, then three of the SM2 key.
    expect(keys.rotations).toHaveLength(6);
    const trust = (await app!.inject({ method: 'GET', url: '/v1/trust.json' })).json();
    expect(trust.rotations).toEqual(keys.rotations);
    const chain = await followRotations([kids[0]!], keys.rotations);
    expect(chain.ok && chain.keys.map((k) => [k.kid, k.steps])).toEqual([
      [kids[1], 1],
      [kids[2], 2],
      [kids[3], 3],
    ]);
    const bundles = await Promise.all(
      [before, after].map(async (r) =>
        (await app!.inject({ method: 'GET', url: `/v1/verify/${r.sha256}` })).json(),
      ),
    );
    expect(receiptKid(bundles[0].records[0].bundle)).toBe(kids[0]);
    expect(receiptKid(bundles[1].records[0].bundle)).toBe(kids[3]);
    // The SM2 chain, followed from the first SM2 key alone; both keys of each end published.
    const sm2Chain = await followRotations([sm2Kids[0]!], keys.rotations);
    expect(sm2Chain.ok && sm2Chain.keys.map((k) => [k.kid, k.steps])).toEqual([
      [sm2Kids[1], 1],
      [sm2Kids[2], 2],
      [sm2Kids[3], 3],
    ]);
    expect(new Set(sm2Kids).size).toBe(4);
    const published = new Set(keys.jwks.keys.map((k: { kid: string }) => k.kid));
    for (const kid of sm2Kids) expect(published.has(kid)).toBe(true);
    expect(receiptKid({ receipt: bundles[0].records[0].bundle.receiptSm2 })).toBe(sm2Kids[0]);
    expect(receiptKid({ receipt: bundles[1].records[0].bundle.receiptSm2 })).toBe(sm2Kids[3]);
    // The SM2 checkpoint line keeps its key (as the Ed25519 one): the old trust file pins it.
    const pinnedCheckpoints = JSON.parse(await fs.readFile(oldTrust, 'utf8')).checkpointKeys;
    expect(keys.checkpointKeys).toEqual(pinnedCheckpoints);
  });

  it('verifies the old and the new receipt against the gateway, and with a trust file saved before the rotations', async () => {
    for (const r of [before, after]) {
      const plain = await verify(['--sha256', r.sha256, '--gateway', gateway]);
      expect(plain.code, plain.text).toBe(EXIT.OK);
      const pinned = await verify(['--sha256', r.sha256, '--gateway', gateway, '--trust', oldTrust]);
      expect(pinned.code, pinned.text).toBe(EXIT.OK);
      // Three ES256 and three SM2 rotations followed from the keys pinned before them.
      expect(pinned.text).toContain('by following 6 key rotations, each signed by the key before it');
    }
  });

  it('fails loudly (exit 7) when the chain is missing or a statement is forged', async () => {
    const keys = (await app!.inject({ method: 'GET', url: '/v1/keys' })).json();
    const found = (await app!.inject({ method: 'GET', url: `/v1/verify/${after.sha256}` })).json();
    const bundle = path.join(work, 'bundle.json');
    await fs.writeFile(bundle, JSON.stringify(found.records[0].bundle));
    const offline = async (published: object) => {
      const file = path.join(work, `keys-${randomBytes(4).toString('hex')}.json`);
      await fs.writeFile(file, JSON.stringify(published));
      return verify([
        '--sha256',
        after.sha256,
        '--bundle',
        bundle,
        '--keys',
        file,
        '--gateway',
        gateway,
        '--trust',
        oldTrust,
      ]);
    };
    const genuine = await offline(keys);
    expect(genuine.code, genuine.text).toBe(EXIT.OK);

    const missing = await offline({ ...keys, rotations: keys.rotations.slice(0, 2) });
    expect(missing.code, missing.text).toBe(EXIT.TRUST_MISMATCH);
    expect(missing.text).toMatch(new RegExp(`receipt key ${kids[3]} .*is not pinned`));
    expect(missing.text).toContain('nothing was verified');

    // Tampered: the last statement's payload made to name an attacker's key, its signatures kept.
    const rotations = keys.rotations as KeyRotation[];
    const last = rotations[2]!;
    const claims = JSON.parse(Buffer.from(last.byPrevious.split('.')[1]!, 'base64url').toString());
    const attacker = await generateKeyPair('ES256', { extractable: true });
    const evilJwk = { ...(await exportJWK(attacker.publicKey)), kid: 'evil', alg: 'ES256', use: 'sig' };
    const evilClaims = { ...claims, next: { kid: 'evil', thumbprint: '', jwk: evilJwk } };
    evilClaims.next.thumbprint = jwkThumbprint(evilJwk);
    const evilPayload = Buffer.from(JSON.stringify(evilClaims)).toString('base64url');
    const swap = (jws: string) => `${jws.split('.')[0]}.${evilPayload}.${jws.split('.')[2]}`;
    const bySelf = await new CompactSign(Buffer.from(JSON.stringify(evilClaims)))
      .setProtectedHeader({ alg: 'ES256', kid: 'evil', typ: 'lianzheng-key-rotation+jwt' })
      .sign(attacker.privateKey);
    const forged = { byPrevious: swap(last.byPrevious), byNext: bySelf };
    const refused = await offline({
      ...keys,
      jwks: { keys: [...keys.jwks.keys, evilJwk] },
      rotations: [...rotations.slice(0, 2), forged],
    });
    expect(refused.code, refused.text).toBe(EXIT.TRUST_MISMATCH);
    expect(refused.text).toMatch(
      /key rotations refused: rotation statement 3: the signature by the previous key/,
    );

    // Both signatures kept over an edited payload.
    const edited = { byPrevious: swap(last.byPrevious), byNext: swap(last.byNext) };
    const broken = await offline({ ...keys, rotations: [...rotations.slice(0, 2), edited] });
    expect(broken.code, broken.text).toBe(EXIT.TRUST_MISMATCH);
    expect(broken.text).toMatch(/rotation statement 3: the signature by the previous key .* does not verify/);

    // A fork: the first key handing over a second time, properly signed with the real first key
    // (as someone holding a stolen retired key could), to a key of its own.
    const file = JSON.parse(await fs.readFile(path.join(db.dir, 'keys', 'receipt-keys.json'), 'utf8'));
    const other = await newEs256Jwk();
    const fork = signReceiptKeyRotation(
      file.keys[0],
      { ...other, createdAt: new Date().toISOString() },
      new Date().toISOString(),
    );
    const forked = await offline({
      ...keys,
      jwks: { keys: [...keys.jwks.keys, publicJwkOf(other.jwk)] },
      rotations: [...rotations, fork],
    });
    expect(forked.code, forked.text).toBe(EXIT.TRUST_MISMATCH);
    expect(forked.text).toMatch(
      /rotation statement 7: key .* hands over to .* and to another key in statement 1: a fork/,
    );
  });

  it('publishes an anchoring identity change signed by the receipt key, which a trust file pinning the retired site follows', async () => {
    const retired = {
      chainId: 'eip155:31337',
      contract: `0x${'1'.repeat(40)}`,
      anchorer: `0x${'a'.repeat(40)}`,
    };
    // Publish-only anchoring (role api: no anchorer runs, nothing is sent to the RPC address).
    const anchor = parseAnchorConfig({
      ANCHOR_RPC_URL: 'http://127.0.0.1:9',
      ANCHOR_CHAIN_ID: '31337',
      ANCHOR_CONTRACT: `0x${'2'.repeat(40)}`,
      ANCHOR_ADDRESS: `0x${'b'.repeat(40)}`,
      ANCHOR_RETIRED: `31337:${retired.contract}:${retired.anchorer}`,
    })!;
    const publisher = buildApp({
      config: testConfig({ dataDir: db.dir, role: 'api', anchor, databaseUrl: 'postgres://unused' }),
      db: db.pool,
    });
    try {
      await publisher.ready();
      const keys = (await publisher.inject({ method: 'GET', url: '/v1/keys' })).json();
      expect(keys.anchorChanges).toHaveLength(1);
      const claims = JSON.parse(Buffer.from(keys.anchorChanges[0].split('.')[1], 'base64url').toString());
      expect(claims).toEqual({
        type: 'lianzheng-anchor-change/v1',
        retired,
        next: { chainId: 'eip155:31337', contract: anchor.contract, anchorer: anchor.address },
      });
      const found = (await app!.inject({ method: 'GET', url: `/v1/verify/${after.sha256}` })).json();
      const bundle = path.join(work, 'bundle-anchor.json');
      await fs.writeFile(bundle, JSON.stringify(found.records[0].bundle));
      // A trust file from the days of the retired site and the first receipt key.
      const pinnedOld = path.join(work, 'trust-retired-site.json');
      await fs.writeFile(
        pinnedOld,
        JSON.stringify({ ...JSON.parse(await fs.readFile(oldTrust, 'utf8')), anchor: retired }),
      );
      const check = async (published: object) => {
        const file = path.join(work, `keys-${randomBytes(4).toString('hex')}.json`);
        await fs.writeFile(file, JSON.stringify(published));
        return verify(['--sha256', after.sha256, '--bundle', bundle, '--keys', file, '--trust', pinnedOld]);
      };
      const followed = await check(keys);
      expect(followed.code, followed.text).toBe(EXIT.OK);
      expect(followed.text).toContain(`anchoring moved from ${retired.anchorer}`);
      const silent = await check({ ...keys, anchorChanges: undefined });
      expect(silent.code, silent.text).toBe(EXIT.TRUST_MISMATCH);
      expect(silent.text).toMatch(/anchoring identity .* differs from the pinned/);
    } finally {
      await publisher.close();
    }
  });
});

describe('rotations by several processes at once', () => {
  it('four `lianzheng keys rotate` processes on one keys folder: every key kept, one unbroken chain', async () => {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'lianzheng-rotate-procs-'));
    try {
      const keysDir = path.join(dataDir, 'keys');
      const first = (await KeyRing.load(keysDir, { logOrigin: 'example.org/log' })).receiptSigner.kid;
      const bin = path.resolve(import.meta.dirname, '../../scripts/lianzheng.mjs');
      const runs = await Promise.all(
        [0, 1, 2, 3].map(
          () =>
            new Promise<{ code: number | null; out: string }>((resolve) => {
              const child = spawn(process.execPath, [bin, 'keys', 'rotate'], {
                env: { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'silent' },
                stdio: ['ignore', 'pipe', 'pipe'],
              });
              let out = '';
              child.stdout.on('data', (d) => (out += d));
              child.stderr.on('data', (d) => (out += d));
              child.on('close', (code) => resolve({ code, out }));
            }),
        ),
      );
      for (const r of runs) expect(r.code, r.out).toBe(0);
      const made = runs.map(
        (r) => JSON.parse(r.out.slice(r.out.indexOf('{'), r.out.lastIndexOf('}') + 1)).kid,
      );
      const ring = await KeyRing.load(keysDir, { logOrigin: 'example.org/log' });
      expect(new Set(ring.receiptKeys().map((k) => k.kid))).toEqual(new Set([first, ...made]));
      expect(await followRotations([first], ring.rotations())).toMatchObject({
        ok: true,
        followed: 4,
        unreached: [],
      });
    } finally {
      await fs.rm(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
