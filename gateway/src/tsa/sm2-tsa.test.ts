// GM/T 0033 time-stamps (issue #23): an SM3 imprint is answered by the SM2 TSA key — SM3 digests,
// an SM2-with-SM3 signature (Z over the default ID) by a certificate of an SM2 key — while SHA-2
// imprints keep the ECDSA token. proof/ verifies both; `openssl ts` parses both, and what OpenSSL
// can and cannot verify of the SM2 one is decided here (docs/gm-crypto.md records it).
import { execFile } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { sm2Verify, sm3, toHex, verifyTimestampToken } from '@lianzheng/proof';
import forge from 'node-forge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRequest, parseResponse, testCa, testSigner } from './_test-helpers.ts';
import { toPem } from './certificate.ts';
import { type Asn1, fromBinary, fromDer } from './der.ts';
import { OID } from './oids.ts';
import { issueCertificate } from './pki.ts';
import { createClockSerial } from './serial.ts';
import { createTimeStampSigner, routeByImprint } from './signer.ts';

const run = promisify(execFile);
let dir: string;
async function openssl(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run('openssl', args, { cwd: dir });
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

const ca = testCa();
const rootPem = toPem(ca.certificate);
const sm2Pair = generateKeyPairSync('ec', { namedCurve: 'SM2' });
const sm2Certificate = issueCertificate(ca, 'tsa', { commonName: 'Test SM2 TSA' }, sm2Pair.publicKey);
const sm2Signer = createTimeStampSigner({
  privateKey: sm2Pair.privateKey,
  certificate: sm2Certificate,
  nextSerial: createClockSerial(),
});
const ecdsa = testSigner().signer;
const tsa = routeByImprint(ecdsa, sm2Signer);
const data = Buffer.from('a public-works contract, 2026');
const sm3Imprint = sm3(data);

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lz-sm2-tsa-'));
  await fs.writeFile(path.join(dir, 'root.pem'), rootPem);
  await fs.writeFile(path.join(dir, 'f'), data);
  await fs.writeFile(
    path.join(dir, 'tsa.pub.pem'),
    createPublicKey(sm2Pair.privateKey).export({ type: 'spki', format: 'pem' }),
  );
});
afterAll(async () => {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

const v = (a: Asn1) => a.value as Asn1[];
/** SignerInfo's digest and signature algorithms, signed attributes (as signed: SET OF) and signature. */
function signerInfoOf(token: Uint8Array) {
  const sd = v(v(v(fromDer(token))[1]!)[0]!);
  const si = v(v(sd[sd.length - 1]!)[0]!);
  const attrs = fromBinary(forge.asn1.toDer(si[3]!).getBytes());
  attrs[0] = 0x31;
  return {
    digestOid: forge.asn1.derToOid(v(si[2]!)[0]!.value as string),
    signatureOid: forge.asn1.derToOid(v(si[4]!)[0]!.value as string),
    signedAttrs: attrs,
    signature: fromBinary(si[5]!.value as string),
  };
}

describe('GM/T 0033 time-stamps: SM3 imprint → SM2 token', () => {
  it('grants an SM3 request with an SM2-with-SM3 token over SM3 digests, which proof/ verifies', async () => {
    const res = await tsa.respond(buildRequest({ hashOid: OID.sm3, imprint: sm3Imprint, certReq: true }));
    expect(res.status).toBe('granted');
    const p = parseResponse(res.der);
    expect(p.tstInfo!.hashOid).toBe(OID.sm3);
    const si = signerInfoOf(p.token!);
    expect(si.digestOid).toBe(OID.sm3);
    expect(si.signatureOid).toBe(OID.sm2WithSm3);
    const check = await verifyTimestampToken(p.token!, sm3Imprint, [rootPem], { hashAlgorithm: 'sm3' });
    expect(check, check.detail).toMatchObject({ status: 'pass' });
    // The signature is standard SM2 with Z (default ID) over the signed attributes…
    const spki = createPublicKey(sm2Pair.privateKey).export({ type: 'spki', format: 'der' });
    const publicKey = new Uint8Array(spki.subarray(spki.length - 65));
    const [r, s] = v(fromDer(si.signature)).map((i) => fromBinary(i.value as string));
    const rs = new Uint8Array(64);
    rs.set(r!.subarray(-32), 32 - Math.min(32, r!.length));
    rs.set(s!.subarray(-32), 64 - Math.min(32, s!.length));
    expect(sm2Verify(publicKey, si.signedAttrs, rs)).toBe(true);
    // …and not valid under another ID: Z is in it.
    expect(sm2Verify(publicKey, si.signedAttrs, rs, { id: '' })).toBe(false);
  });

  it('refuses a changed token and a token over another digest', async () => {
    const res = await tsa.respond(buildRequest({ hashOid: OID.sm3, imprint: sm3Imprint, certReq: true }));
    const token = parseResponse(res.der).token!;
    const other = await verifyTimestampToken(token, sm3(Buffer.from('other')), [rootPem]);
    expect(other).toMatchObject({ status: 'fail', code: 'TSA_IMPRINT_MISMATCH' });
    const si = signerInfoOf(token);
    const at = token.lastIndexOf(si.signature.subarray(-8));
    const forged = Buffer.from(token);
    forged[at]! ^= 1;
    expect(await verifyTimestampToken(forged, sm3Imprint, [rootPem])).toMatchObject({
      status: 'fail',
      code: 'TSA_BAD_SIGNATURE',
    });
  });

  it('keeps the ECDSA token for SHA-256, and an international-only TSA still refuses SM3 (badAlg)', async () => {
    const sha = await tsa.respond(buildRequest({ imprint: new Uint8Array(32).fill(7), certReq: true }));
    expect(signerInfoOf(parseResponse(sha.der).token!).signatureOid).toBe(OID.ecdsaWithSha256);
    const intl = await ecdsa.respond(buildRequest({ hashOid: OID.sm3, imprint: sm3Imprint }));
    expect(intl).toMatchObject({ status: 'rejection', failure: 'badAlg' });
    // And the SM2 key answers SM3 only: a SHA-256 request sent to it alone is badAlg too.
    const wrong = await sm2Signer.respond(buildRequest({ imprint: new Uint8Array(32) }));
    expect(wrong).toMatchObject({ status: 'rejection', failure: 'badAlg' });
  });
});

describe('openssl and the two tokens', () => {
  it('openssl ts makes SM3 queries, parses both replies, verifies the ECDSA one; the SM2 one only by pkeyutl', async () => {
    for (const alg of ['sm3', 'sha256']) {
      expect(
        (await openssl('ts', '-query', '-data', 'f', `-${alg}`, '-cert', '-out', `${alg}.tsq`)).code,
      ).toBe(0);
      const res = await tsa.respond(await fs.readFile(path.join(dir, `${alg}.tsq`)));
      expect(res.status).toBe('granted');
      await fs.writeFile(path.join(dir, `${alg}.tsr`), res.der);
      const text = await openssl('ts', '-reply', '-in', `${alg}.tsr`, '-text');
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toMatch(/Status: Granted\./);
      expect(text.stdout).toContain(`Hash Algorithm: ${alg}`);
    }
    const ecdsaVerify = await openssl(
      'ts',
      '-verify',
      '-data',
      'f',
      '-in',
      'sha256.tsr',
      '-CAfile',
      'root.pem',
    );
    expect(ecdsaVerify.stdout).toContain('Verification: OK');
    // OpenSSL 3.0's `ts -verify` checks a CMS signature over the digest of the signed attributes,
    // without SM2's Z: it cannot verify a standard (GM/T 0010) SM2 token. Decided on every run.
    const sm2TsVerify = await openssl('ts', '-verify', '-data', 'f', '-in', 'sm3.tsr', '-CAfile', 'root.pem');
    expect(sm2TsVerify.stdout).not.toContain('Verification: OK');
    // What does verify it: the signed attributes and the signature taken out of the token, and
    // `openssl pkeyutl` with SM3 and the distinguishing ID (the command docs/gm-crypto.md shows).
    const token = parseResponse(await fs.readFile(path.join(dir, 'sm3.tsr'))).token!;
    const si = signerInfoOf(token);
    await fs.writeFile(path.join(dir, 'attrs.der'), si.signedAttrs);
    await fs.writeFile(path.join(dir, 'sig.der'), si.signature);
    const pkeyutl = (id: string) =>
      openssl(
        'pkeyutl',
        '-verify',
        '-pubin',
        '-inkey',
        'tsa.pub.pem',
        '-rawin',
        '-digest',
        'sm3',
        '-pkeyopt',
        `distid:${id}`,
        '-in',
        'attrs.der',
        '-sigfile',
        'sig.der',
      );
    expect((await pkeyutl('1234567812345678')).stdout).toContain('Signature Verified Successfully');
    expect((await pkeyutl('ALICE123@YAHOO.COM')).stdout).not.toContain('Signature Verified Successfully');
    expect(toHex(sm3(data))).toBe(toHex(sm3Imprint));
  });
});
