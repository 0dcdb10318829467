import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Fixture, makeFixture, makeLog, receiptItemOf } from './_fixtures.ts';
import { canonicalJson } from './canonical-json.ts';
import { toHex } from './encoding.ts';
import { ProofError } from './errors.ts';
import {
  buildReceiptGroup,
  decodeReceipt,
  RECEIPT_GROUP_TYPE,
  RECEIPT_SM2_ALG,
  RECEIPT_TYPE,
  type ReceiptClaims,
  type ReceiptItemClaims,
  signSm2Jws,
  signSm2ReceiptGroup,
  verifyReceipt,
} from './receipt.ts';
import { recordLeafHash } from './record.ts';
import { sm2PublicKey, sm2RandomPrivateKey, sm2Verify } from './sm2.ts';

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

describe('group receipts (one signature for a group commit)', () => {
  const shared = { iss: 'https://gateway.test', iat: 1_772_352_000, ledger: 'fabric' as const };
  let items: ReceiptItemClaims[];
  let receipts: string[];
  beforeAll(async () => {
    items = makeLog(7).records.map(receiptItemOf);
    receipts = await signGroup(items);
  });
  async function signGroup(group: ReceiptItemClaims[], header: Record<string, unknown> = {}) {
    const built = buildReceiptGroup(group);
    const jws = await fx.signReceipt(built.claims(shared) as unknown as ReceiptClaims, {
      typ: RECEIPT_GROUP_TYPE,
      ...header,
    });
    return built.items.map((item) => `${jws}~${item}`);
  }
  const b64 = (text: string) => Buffer.from(text).toString('base64url');
  const withItem = (receipt: string, change: (parts: string[]) => void) => {
    const [jws, item] = receipt.split('~') as [string, string];
    const parts = item.split('.');
    change(parts);
    return `${jws}~${parts.join('.')}`;
  };

  it("gives every record of the group its own claims and the group's shared ones", async () => {
    for (const [i, receipt] of receipts.entries()) {
      expect(await verifyReceipt(receipt, fx.jwks)).toEqual({ ...items[i], ...shared });
    }
  });

  it('writes item claims as canonical JSON also for strings that need escaping', async () => {
    const odd = { ...items[0]!, projectId: '村"\\\n\u2028\u007f é😀\u0001' };
    const [receipt] = await signGroup([odd, items[1]!]);
    expect(await verifyReceipt(receipt!, fx.jwks)).toEqual({ ...odd, ...shared });
    const bytes = Buffer.from(receipt!.split('~')[1]!.split('.')[0]!, 'base64url').toString('utf8');
    expect(bytes).toBe(canonicalJson({ ...odd }));
  });

  it('works for a group of one (an empty path)', async () => {
    const [one] = await signGroup(items.slice(2, 3));
    expect(one).toMatch(/~[A-Za-z0-9_-]+\.0\.$/);
    expect(await verifyReceipt(one!, fx.jwks)).toEqual({ ...items[2], ...shared });
  });

  it('fails with BAD_SIGNATURE when the item is not the one signed: claims, index, path, other group', async () => {
    const forged = withItem(receipts[3]!, (p) => {
      p[0] = Buffer.from(canonicalJson({ ...items[3], sha256: 'f'.repeat(64) })).toString('base64url');
    });
    expect(await codeOf(() => verifyReceipt(forged, fx.jwks))).toBe('BAD_SIGNATURE');
    const moved = withItem(receipts[3]!, (p) => {
      p[1] = '4';
    });
    expect(await codeOf(() => verifyReceipt(moved, fx.jwks))).toBe('BAD_SIGNATURE');
    const flipped = withItem(receipts[3]!, (p) => {
      const path = Buffer.from(p[2]!, 'base64url');
      path[5]! ^= 1;
      p[2] = path.toString('base64url');
    });
    expect(await codeOf(() => verifyReceipt(flipped, fx.jwks))).toBe('BAD_SIGNATURE');
    const shortened = withItem(receipts[3]!, (p) => {
      p[2] = Buffer.from(p[2]!, 'base64url').subarray(32).toString('base64url');
    });
    expect(await codeOf(() => verifyReceipt(shortened, fx.jwks))).toBe('BAD_SIGNATURE');
    const [otherJws] = (await signGroup(items.slice(0, 6)))[0]!.split('~');
    const swapped = `${otherJws}~${receipts[3]!.split('~')[1]}`;
    expect(await codeOf(() => verifyReceipt(swapped, fx.jwks))).toBe('BAD_SIGNATURE');
  });

  it('fails with BAD_RECEIPT for a malformed item', async () => {
    const cases = [
      withItem(receipts[1]!, (p) => {
        p[0] = b64(JSON.stringify({ ...items[1] }, null, 1));
      }),
      withItem(receipts[1]!, (p) => {
        p[0] = b64(canonicalJson({ ...items[1], extra: 1 }));
      }),
      withItem(receipts[1]!, (p) => {
        const { leaf: _leaf, ...rest } = items[1]!;
        p[0] = b64(canonicalJson(rest));
      }),
      withItem(receipts[1]!, (p) => {
        p[0] = b64('[1,2]');
      }),
      withItem(receipts[1]!, (p) => {
        p[1] = '01';
      }),
      withItem(receipts[1]!, (p) => {
        p[2] = `${p[2]}AA`;
      }),
      withItem(receipts[1]!, (p) => {
        p[2] = `${p[2]}=`;
      }),
      withItem(receipts[1]!, (p) => {
        p.pop();
      }),
      `${receipts[1]}~more`,
    ];
    for (const c of cases)
      expect([c.slice(-12), await codeOf(() => verifyReceipt(c, fx.jwks))]).toEqual([
        c.slice(-12),
        'BAD_RECEIPT',
      ]);
  });

  it('decodeReceipt reads the stated claims of either form without checking them, and nothing from garbage', async () => {
    expect(decodeReceipt(receipts[4]!)).toEqual({ ...items[4], ...shared });
    expect(decodeReceipt(await fx.signReceipt(claims))).toEqual(claims);
    for (const bad of ['', 'a.b', 'a.b.c', `${receipts[0]}~x`, `${receipts[0]!.split('~')[0]}~!!.0.`]) {
      expect(decodeReceipt(bad)).toBeUndefined();
    }
  });

  it('keeps the two forms apart by typ: a group JWS alone, or a single receipt with an item, is refused', async () => {
    const [groupJws, item] = receipts[0]!.split('~') as [string, string];
    expect(await codeOf(() => verifyReceipt(groupJws, fx.jwks))).toBe('BAD_RECEIPT');
    const single = await fx.signReceipt(claims);
    expect(await codeOf(() => verifyReceipt(`${single}~${item}`, fx.jwks))).toBe('BAD_RECEIPT');
    const mistyped = await signGroup(items, { typ: 'lianzheng-receipt+jwt' });
    expect(await codeOf(() => verifyReceipt(mistyped[0]!, fx.jwks))).toBe('BAD_RECEIPT');
  });

  it('fails with BAD_RECEIPT for a signed group without a size or a root', async () => {
    const built = buildReceiptGroup(items.slice(0, 2));
    for (const bad of [{ size: 0 }, { size: 2.5 }, { root: 'zz' }, { root: undefined }]) {
      const jws = await fx.signReceipt({ ...built.claims(shared), ...bad } as unknown as ReceiptClaims, {
        typ: RECEIPT_GROUP_TYPE,
      });
      expect(await codeOf(() => verifyReceipt(`${jws}~${built.items[0]}`, fx.jwks))).toBe('BAD_RECEIPT');
    }
  });
});

describe('SM2 receipts (alg SM2-with-SM3)', () => {
  const privateKey = sm2RandomPrivateKey();
  const publicKey = sm2PublicKey(privateKey);
  const sm2Jwk = {
    kty: 'EC',
    crv: 'SM2',
    x: Buffer.from(publicKey.subarray(1, 33)).toString('base64url'),
    y: Buffer.from(publicKey.subarray(33)).toString('base64url'),
    kid: 'sm2-key',
    alg: RECEIPT_SM2_ALG,
    use: 'sig',
  };
  const key = { kid: 'sm2-key', privateKey };
  const withSm2 = () => ({ keys: [...fx.jwks.keys, sm2Jwk] });

  it('a plain SM2 receipt verifies, and its signature is SM2 with Z over the signing input', async () => {
    const jws = signSm2Jws(key, RECEIPT_TYPE, claims);
    expect(JSON.parse(Buffer.from(jws.split('.')[0]!, 'base64url').toString())).toEqual({
      alg: 'SM2-with-SM3',
      kid: 'sm2-key',
      typ: 'lianzheng-receipt+jwt',
    });
    expect(await verifyReceipt(jws, withSm2())).toEqual(claims);
    // An SM2 key in the set does not disturb jose's check of the ES256 receipt beside it.
    expect(await verifyReceipt(await fx.signReceipt(claims), withSm2())).toEqual(claims);
    const [h, p, sig] = jws.split('.') as [string, string, string];
    expect(sm2Verify(publicKey, new TextEncoder().encode(`${h}.${p}`), Buffer.from(sig, 'base64url'))).toBe(
      true,
    );
  });

  it('SM2 group receipts verify item by item, as ES256 ones do', async () => {
    const items = makeLog(3).records.map((r) => receiptItemOf(r));
    const shared = { iss: claims.iss, iat: claims.iat, ledger: claims.ledger };
    const receipts = signSm2ReceiptGroup(key, shared, items);
    expect(receipts).toHaveLength(3);
    for (const [i, receipt] of receipts.entries()) {
      expect((await verifyReceipt(receipt, withSm2())).sub).toBe(items[i]!.sub);
    }
    expect(signSm2ReceiptGroup(key, shared, items.slice(0, 1))[0]).not.toContain('~');
  });

  it('refuses a bad SM2 signature, an unknown or non-SM2 kid, a wrong typ, and an off-curve key', async () => {
    const jws = signSm2Jws(key, RECEIPT_TYPE, claims);
    const other = signSm2Jws({ kid: 'sm2-key', privateKey: sm2RandomPrivateKey() }, RECEIPT_TYPE, claims);
    expect(await codeOf(() => verifyReceipt(other, withSm2()))).toBe('BAD_SIGNATURE');
    const [h, p] = jws.split('.');
    expect(await codeOf(() => verifyReceipt(`${h}.${p}.${other.split('.')[2]}`, withSm2()))).toBe(
      'BAD_SIGNATURE',
    );
    expect(await codeOf(() => verifyReceipt(jws, fx.jwks))).toBe('UNKNOWN_KEY');
    const esKid = fx.jwks.keys[0]!.kid!;
    expect(
      await codeOf(() =>
        verifyReceipt(signSm2Jws({ kid: esKid, privateKey }, RECEIPT_TYPE, claims), fx.jwks),
      ),
    ).toBe('UNKNOWN_KEY');
    expect(await codeOf(() => verifyReceipt(signSm2Jws(key, 'JWT', claims), withSm2()))).toBe('BAD_RECEIPT');
    const offCurve = { ...sm2Jwk, y: Buffer.from(publicKey.subarray(1, 33)).toString('base64url') };
    expect(await codeOf(() => verifyReceipt(jws, { keys: [offCurve] }))).toBe('BAD_KEY');
  });
});
