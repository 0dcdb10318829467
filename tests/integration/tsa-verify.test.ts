// The gateway's TSA and proof/'s browser-safe verifier, together: fresh tokens of every key type,
// the checks that must fail, key rotation, and serial numbers from real PostgreSQL.
import { createHash, generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createClockSerial,
  createPgSerial,
  createTimeStampSigner,
  createTimestampToken,
  initPki,
  loadLocalTimeStampSigner,
  loadRootCa,
  pkiPaths,
  rotateTsaKey,
} from '../../gateway/src/tsa/index.ts';
import { issueCertificate } from '../../gateway/src/tsa/pki.ts';
import { verifyTimestampToken } from '../../proof/src/timestamp/index.ts';
import { startTestDatabase, type TestDatabase } from './pipeline-support.ts';

let dir: string;
let rootPem: string;
const rootHash = createHash('sha256').update('checkpoint root').digest();

beforeAll(async () => {
  dir = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'lz-tsa-verify-')), 'pki');
  await initPki({ dir });
  rootPem = await fs.readFile(pkiPaths(dir).rootCert, 'utf8');
});
afterAll(async () => {
  await fs.rm(path.dirname(dir), { recursive: true, force: true });
});

describe('tokens from the gateway TSA verify with proof/', () => {
  it.each([
    ['EC P-256', () => generateKeyPairSync('ec', { namedCurve: 'P-256' })],
    ['EC P-384', () => generateKeyPairSync('ec', { namedCurve: 'P-384' })],
    ['RSA-2048', () => generateKeyPairSync('rsa', { modulusLength: 2048 })],
  ])('%s: a checkpoint token verifies with only the root CA', async (_name, makeKey) => {
    const ca = await loadRootCa(dir);
    const pair = makeKey();
    const certificate = issueCertificate(ca, 'tsa', { commonName: 'TSA' }, pair.publicKey);
    const signer = createTimeStampSigner({
      privateKey: pair.privateKey,
      certificate,
      nextSerial: createClockSerial(),
    });
    const token = await createTimestampToken(signer, rootHash);
    const r = await verifyTimestampToken(token, rootHash, [rootPem], { hashAlgorithm: 'sha256' });
    expect(r).toMatchObject({ status: 'pass', policy: signer.policyOid });
    expect(Math.abs(Date.parse(r.genTime!) - Date.now())).toBeLessThan(60_000);
  });

  it('fails a token signed under a certificate without the timeStamping EKU', async () => {
    const ca = await loadRootCa(dir);
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const certificate = issueCertificate(ca, 'receipt', { commonName: 'not a TSA' }, pair.publicKey);
    const signer = createTimeStampSigner({
      privateKey: pair.privateKey,
      certificate,
      nextSerial: createClockSerial(),
    });
    const r = await verifyTimestampToken(await createTimestampToken(signer, rootHash), rootHash, [rootPem]);
    expect(r.code).toBe('TSA_BAD_EKU');
  });

  it('fails a token whose genTime lies outside the certificate validity', async () => {
    const signer = await loadLocalTimeStampSigner(dir, {
      nextSerial: createClockSerial(),
      now: () => new Date('2001-01-01T00:00:00Z'),
    });
    const r = await verifyTimestampToken(await createTimestampToken(signer, rootHash), rootHash, [rootPem]);
    expect(r.code).toBe('TSA_CERT_NOT_VALID_AT_GENTIME');
  });

  it('fails a token from a TSA under another root', async () => {
    const otherDir = path.join(path.dirname(dir), 'other');
    await initPki({ dir: otherDir });
    const other = await loadLocalTimeStampSigner(otherDir, { nextSerial: createClockSerial() });
    const r = await verifyTimestampToken(await createTimestampToken(other, rootHash), rootHash, [rootPem]);
    expect(r.code).toBe('TSA_UNTRUSTED');
  });

  it('keeps old tokens verifiable after the TSA key is rotated', async () => {
    const before = await loadLocalTimeStampSigner(dir, { nextSerial: createClockSerial() });
    const withCert = await createTimestampToken(before, rootHash);
    const withoutCert = await before.timestamp(rootHash, { certReq: false });
    await rotateTsaKey(dir);
    const after = await loadLocalTimeStampSigner(dir, { nextSerial: createClockSerial() });
    expect(Buffer.from(after.certificates[0]!).equals(Buffer.from(before.certificates[0]!))).toBe(false);
    const published = await fs.readFile(pkiPaths(dir).published, 'utf8');
    expect((await verifyTimestampToken(withCert, rootHash, [rootPem])).status).toBe('pass');
    // A token without its certificate finds it in the published bundle (current and retired).
    expect((await verifyTimestampToken(withoutCert, rootHash, [rootPem])).code).toBe(
      'TSA_SIGNER_CERT_MISSING',
    );
    const r = await verifyTimestampToken(withoutCert, rootHash, [rootPem], { certificates: [published] });
    expect(r.status).toBe('pass');
    const fresh = await createTimestampToken(after, rootHash);
    expect((await verifyTimestampToken(fresh, rootHash, [rootPem])).status).toBe('pass');
  });
});

describe('serial numbers from PostgreSQL', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await startTestDatabase();
  });
  afterAll(async () => {
    await db?.stop();
  });

  it('are unique across processes and increasing within each, across block boundaries', async () => {
    const a = createPgSerial(db.pool);
    const b = createPgSerial(db.pool);
    const take = async (next: () => bigint | Promise<bigint>, n: number) =>
      Promise.all(Array.from({ length: n }, () => next()));
    const [sa, sb] = await Promise.all([take(a, 2500), take(b, 2500)]);
    const all = new Set([...sa, ...sb].map(String));
    expect(all.size).toBe(5000);
    for (const s of [sa, sb]) for (let i = 1; i < s.length; i++) expect(s[i]! > s[i - 1]!).toBe(true);
  });

  it('serve a TSA whose tokens carry them', async () => {
    const signer = await loadLocalTimeStampSigner(dir, { nextSerial: createPgSerial(db.pool) });
    const r1 = await verifyTimestampToken(await createTimestampToken(signer, rootHash), rootHash, [rootPem]);
    const r2 = await verifyTimestampToken(await createTimestampToken(signer, rootHash), rootHash, [rootPem]);
    expect(r1.status).toBe('pass');
    expect(BigInt(`0x${r2.serialNumber}`)).toBe(BigInt(`0x${r1.serialNumber}`) + 1n);
  });
});
