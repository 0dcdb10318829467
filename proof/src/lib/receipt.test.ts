import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Fixture, makeFixture, makeLog } from './_fixtures.ts';
import { toHex } from './encoding.ts';
import { ProofError } from './errors.ts';
import { type ReceiptClaims, verifyReceipt } from './receipt.ts';
import { recordLeafHash } from './record.ts';

async function codeOf(fn: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await fn();
  } catch (err) {
    return err instanceof ProofError ? err.code : `untyped ${String(err)}`;
  }
  return undefined;
}

let fx: Fixture;
let claims: ReceiptClaims;
beforeAll(async () => {
  fx = await makeFixture();
  const record = makeLog(1).records[0]!;
  claims = {
    iss: 'https://gateway.test',
    sub: record.id,
    iat: 1_772_352_000,
    sha256: record.digests.sha256,
    cid: record.cid,
    projectId: record.projectId,
    kind: record.kind,
    leaf: toHex(recordLeafHash(record)),
    ledger: 'embedded',
  };
});

describe('verifyReceipt', () => {
  it('returns the claims of a good receipt', async () => {
    expect(await verifyReceipt(await fx.signReceipt(claims), fx.jwks)).toEqual(claims);
  });

  it('verifies against a retired key still in the JWKS', async () => {
    const old = await generateKeyPair('ES256', { extractable: true });
    const jwks = { keys: [...fx.jwks.keys, { ...(await exportJWK(old.publicKey)), kid: 'retired-0' }] };
    const jws = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: 'ES256', kid: 'retired-0', typ: 'lianzheng-receipt+jwt' })
      .sign(old.privateKey);
    expect((await verifyReceipt(jws, jwks)).sub).toBe(claims.sub);
  });

  it('fails with UNKNOWN_KEY for a kid not in the JWKS', async () => {
    expect(
      await codeOf(async () => verifyReceipt(await fx.signReceipt(claims, { kid: 'nope' }), fx.jwks)),
    ).toBe('UNKNOWN_KEY');
  });

  it('fails with BAD_SIGNATURE for a receipt signed by another key under the same kid', async () => {
    const other = await generateKeyPair('ES256');
    const jws = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: 'ES256', kid: 'receipt-1', typ: 'lianzheng-receipt+jwt' })
      .sign(other.privateKey);
    expect(await codeOf(() => verifyReceipt(jws, fx.jwks))).toBe('BAD_SIGNATURE');
  });

  it('fails with BAD_SIGNATURE for a tampered payload', async () => {
    const [h, , s] = (await fx.signReceipt(claims)).split('.');
    const p = Buffer.from(JSON.stringify({ ...claims, sha256: 'f'.repeat(64) })).toString('base64url');
    expect(await codeOf(() => verifyReceipt(`${h}.${p}.${s}`, fx.jwks))).toBe('BAD_SIGNATURE');
  });

  it('fails with BAD_RECEIPT for a wrong typ, a missing kid, missing claims or garbage', async () => {
    expect(
      await codeOf(async () => verifyReceipt(await fx.signReceipt(claims, { typ: 'JWT' }), fx.jwks)),
    ).toBe('BAD_RECEIPT');
    expect(
      await codeOf(async () => verifyReceipt(await fx.signReceipt(claims, { kid: undefined }), fx.jwks)),
    ).toBe('BAD_RECEIPT');
    const { leaf: _leaf, ...noLeaf } = claims;
    expect(
      await codeOf(async () => verifyReceipt(await fx.signReceipt(noLeaf as ReceiptClaims), fx.jwks)),
    ).toBe('BAD_RECEIPT');
    const badKind = { ...claims, kind: 'poem' } as unknown as ReceiptClaims;
    expect(await codeOf(async () => verifyReceipt(await fx.signReceipt(badKind), fx.jwks))).toBe(
      'BAD_RECEIPT',
    );
    expect(await codeOf(() => verifyReceipt('a.b.c', fx.jwks))).toBe('BAD_RECEIPT');
    expect(await codeOf(() => verifyReceipt(42 as unknown as string, fx.jwks))).toBe('BAD_RECEIPT');
    expect(await codeOf(() => verifyReceipt('a.b.c', {} as never))).toBe('BAD_KEY');
  });

  it('fails with BAD_RECEIPT for another algorithm', async () => {
    const hs = new TextEncoder().encode('k'.repeat(32));
    const jws = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: 'HS256', kid: 'receipt-1', typ: 'lianzheng-receipt+jwt' })
      .sign(hs);
    expect(await codeOf(() => verifyReceipt(jws, fx.jwks))).toBe('BAD_RECEIPT');
  });
});
