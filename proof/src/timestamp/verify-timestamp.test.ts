import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fixtures from './fixtures/tokens.json' with { type: 'json' };
import { verifyCheckpointTimestamp, verifyTimestampToken } from './index.ts';

const b64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));
const data = new TextEncoder().encode(fixtures.data);
const digest = (alg: string) => new Uint8Array(createHash(alg).update(data).digest());
const ours = fixtures.lianzheng;
const ossl = fixtures.openssl;

/** Flip one bit of the first occurrence of `needle` inside `token`. */
function flipInside(token: Uint8Array, needle: Uint8Array): Uint8Array {
  const at = Buffer.from(token).indexOf(Buffer.from(needle));
  if (at < 0) throw new Error('needle not found');
  const copy = Uint8Array.from(token);
  copy[at + needle.length - 1]! ^= 0x01;
  return copy;
}

describe('verifyTimestampToken: tokens from the gateway TSA (ECDSA P-256)', () => {
  const token = b64(ours.tokenSha256WithCertAndNonce);

  it('passes with the certificate in the token, and reports genTime, serial and policy', async () => {
    const r = await verifyTimestampToken(token, digest('sha256'), [ours.root], {
      nonce: BigInt(`0x${ours.nonce}`),
      hashAlgorithm: 'sha256',
    });
    expect(r).toMatchObject({ step: 'timestamp', status: 'pass', policy: '1.3.6.1.4.1.55555.3161.1' });
    expect(r.code).toBeUndefined();
    expect(r.genTime).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(r.serialNumber).toMatch(/^[0-9a-f]+$/);
  });

  it('does not alias or modify the caller bytes', async () => {
    const buf = Buffer.from(token);
    const before = Buffer.from(buf);
    await verifyTimestampToken(buf, digest('sha256'), [ours.root]);
    expect(buf.equals(before)).toBe(true);
  });

  it('fails on another imprint, another algorithm, another nonce, another policy', async () => {
    const roots = [ours.root];
    expect((await verifyTimestampToken(token, digest('sha512'), roots)).code).toBe('TSA_IMPRINT_MISMATCH');
    const other = digest('sha256').map((b) => b ^ 0xff);
    expect((await verifyTimestampToken(token, other, roots)).code).toBe('TSA_IMPRINT_MISMATCH');
    expect(
      (await verifyTimestampToken(token, digest('sha256'), roots, { hashAlgorithm: 'sha384' })).code,
    ).toBe('TSA_IMPRINT_MISMATCH');
    expect((await verifyTimestampToken(token, digest('sha256'), roots, { nonce: 7n })).code).toBe(
      'TSA_NONCE_MISMATCH',
    );
    expect((await verifyTimestampToken(token, digest('sha256'), roots, { policies: ['1.2.3'] })).code).toBe(
      'TSA_POLICY_NOT_ACCEPTED',
    );
  });

  it('fails when the TSTInfo, the certificate id or the signature is tampered with', async () => {
    const nonce = Buffer.from(ours.nonce, 'hex');
    const roots = [ours.root];
    const badTst = flipInside(token, nonce);
    expect((await verifyTimestampToken(badTst, digest('sha256'), roots)).code).toBe(
      'TSA_MESSAGE_DIGEST_MISMATCH',
    );

    const certDer = Buffer.from(ours.tsaCert.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const certHash = createHash('sha256').update(certDer).digest();
    const badId = flipInside(token, certHash);
    expect((await verifyTimestampToken(badId, digest('sha256'), roots)).code).toBe('TSA_CERT_ID_MISMATCH');

    const badSig = Uint8Array.from(token);
    badSig[badSig.length - 3]! ^= 0x01; // inside the ECDSA signature's s
    expect((await verifyTimestampToken(badSig, digest('sha256'), roots)).code).toBe('TSA_BAD_SIGNATURE');
  });

  it('fails to chain to a root it was not given, and is skipped without any root', async () => {
    expect((await verifyTimestampToken(token, digest('sha256'), [ossl.root])).code).toBe('TSA_UNTRUSTED');
    const r = await verifyTimestampToken(token, digest('sha256'), []);
    expect(r).toMatchObject({ status: 'skipped', code: 'TSA_NO_TRUSTED_ROOTS' });
    const tampered = Uint8Array.from(token);
    tampered[tampered.length - 3]! ^= 0x01;
    expect((await verifyTimestampToken(tampered, digest('sha256'), [])).status).toBe('fail');
  });

  it('needs the TSA certificate from the caller when the token does not carry it', async () => {
    const noCert = b64(ours.tokenSha512NoCert);
    expect((await verifyTimestampToken(noCert, digest('sha512'), [ours.root])).code).toBe(
      'TSA_SIGNER_CERT_MISSING',
    );
    const r = await verifyTimestampToken(noCert, digest('sha512'), [ours.root], {
      certificates: [ours.tsaCert],
    });
    expect(r.status).toBe('pass');
  });

  it('refuses garbage with TSA_MALFORMED, never by throwing', async () => {
    const inputs = [
      new Uint8Array(),
      new Uint8Array([0x30]),
      new Uint8Array(100).fill(0x30),
      token.subarray(0, 50),
    ];
    for (const input of inputs) {
      const r = await verifyTimestampToken(input, digest('sha256'), [ours.root]);
      expect(r).toMatchObject({ status: 'fail', code: 'TSA_MALFORMED' });
    }
    const withTrailing = new Uint8Array([...token, 0]);
    expect((await verifyTimestampToken(withTrailing, digest('sha256'), [ours.root])).code).toBe(
      'TSA_MALFORMED',
    );
  });
});

describe('verifyTimestampToken: tokens from `openssl ts -reply` (RSA, ESSCertIDv2)', () => {
  it('passes with the certificate in the token', async () => {
    const r = await verifyTimestampToken(b64(ossl.tokenSha256WithCert), digest('sha256'), [ossl.root]);
    expect(r).toMatchObject({ status: 'pass', policy: '1.2.3.4.1', serialNumber: expect.any(String) });
  });

  it('passes without it when the caller supplies it (SHA-384 imprint, no nonce)', async () => {
    const token = b64(ossl.tokenSha384NoCert);
    const r = await verifyTimestampToken(token, digest('sha384'), [ossl.root], {
      certificates: [ossl.tsaCert],
    });
    expect(r.status).toBe('pass');
    expect(
      (await verifyTimestampToken(token, digest('sha384'), [ours.root], { certificates: [ossl.tsaCert] }))
        .code,
    ).toBe('TSA_UNTRUSTED');
  });

  it('fails when the RSA signature is tampered with', async () => {
    const token = b64(ossl.tokenSha384NoCert);
    const bad = Uint8Array.from(token);
    bad[bad.length - 10]! ^= 0x01;
    const r = await verifyTimestampToken(bad, digest('sha384'), [ossl.root], {
      certificates: [ossl.tsaCert],
    });
    expect(r.code).toBe('TSA_BAD_SIGNATURE');
  });
});

describe('verifyCheckpointTimestamp (the verifyBundle adapter)', () => {
  it("takes the bundle's base64 token and pins SHA-256", async () => {
    const r = await verifyCheckpointTimestamp(ours.tokenSha256WithCertAndNonce, digest('sha256'), [
      ours.root,
    ]);
    expect(r.status).toBe('pass');
    const s512 = await verifyCheckpointTimestamp(ours.tokenSha512NoCert, digest('sha512'), [ours.root]);
    expect(s512.code).toBe('TSA_IMPRINT_MISMATCH');
    expect((await verifyCheckpointTimestamp('%%%', digest('sha256'), [ours.root])).code).toBe(
      'TSA_MALFORMED',
    );
  });
});
