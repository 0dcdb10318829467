// Bundles issued before the gateway signed dual's SM2 receipts once per group commit (2026-12-07)
// carry a plain compact SM2 JWS as `receiptSm2`. The fixture is such a bundle, as a dual gateway
// answered it, with the keys it published; it must keep verifying, and stay checked for real.
import { describe, expect, it } from 'vitest';
import { verifyBundle } from './bundle.ts';
import fixture from './fixtures/dual-bundle-plain-sm2-receipt.json' with { type: 'json' };
import { attachReceipt, detachReceipt, signSm2ReceiptGroup, verifyReceipt } from './receipt.ts';
import { sm2PublicKey, sm2RandomPrivateKey } from './sm2.ts';

const options = { sha256: fixture.sha256, keys: fixture.keys };
const receiptStep = (result: Awaited<ReturnType<typeof verifyBundle>>) =>
  result.steps.find((s) => s.step === 'receipt')!;

describe('a dual bundle with a plain SM2 receipt (the form before group-signed SM2 receipts)', () => {
  it('is the plain form, and verifies with both receipts checked', async () => {
    expect(fixture.bundle.receiptSm2.split('.')).toHaveLength(3);
    expect(fixture.bundle.receiptSm2).not.toContain('~');
    const result = await verifyBundle(structuredClone(fixture.bundle), options);
    expect(result.steps.filter((s) => s.status === 'fail')).toEqual([]);
    expect(result.ok).toBe(true);
    expect(receiptStep(result).detail).toContain('ES256 + SM2-with-SM3');
  });

  it('fails when its SM2 signature is changed', async () => {
    const bundle = structuredClone(fixture.bundle);
    const [h, p, sig] = bundle.receiptSm2.split('.') as [string, string, string];
    const bytes = Buffer.from(sig, 'base64url');
    bytes[10]! ^= 1;
    bundle.receiptSm2 = `${h}.${p}.${bytes.toString('base64url')}`;
    const result = await verifyBundle(bundle, options);
    expect(result.ok).toBe(false);
    expect(receiptStep(result).code).toBe('BAD_SIGNATURE');
  });
});

describe('detached receipts (a dual batch answer’s receiptSm2)', () => {
  const keyOf = (kid: string) => {
    const privateKey = sm2RandomPrivateKey();
    const pub = sm2PublicKey(privateKey);
    const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64url');
    return {
      key: { kid, privateKey },
      jwk: { kty: 'EC', crv: 'SM2', x: b64(pub.subarray(1, 33)), y: b64(pub.subarray(33)), kid },
    };
  };
  const first = keyOf('first');
  const second = keyOf('second');
  const jwks = { keys: [first.jwk, second.jwk] };
  const item = (i: number) => ({
    sub: `0190000${i}-0000-7000-8000-000000000000`,
    sha256: 'ab'.repeat(32),
    cid: `cid-${i}`,
    projectId: 'p',
    kind: 'notice' as const,
    leaf: 'cd'.repeat(32),
  });
  const shared = { iss: 'https://gw.example', iat: 1_800_000_000, ledger: 'embedded' as const };
  const items = [0, 1, 2].map(item);
  const receipts = signSm2ReceiptGroup(first.key, shared, items);
  const seconds = signSm2ReceiptGroup(second.key, shared, items);

  it('keeps only header and signature, and attaches back to a receipt that verifies', async () => {
    const detached = detachReceipt(seconds[1]!, receipts[1]!)!;
    expect(detached).toMatch(/^[\w-]+\.\.[\w-]+$/);
    expect(detached.length).toBeLessThan(seconds[1]!.length / 2);
    const whole = attachReceipt(detached, receipts[1]!);
    expect(whole).toBe(seconds[1]);
    expect((await verifyReceipt(whole, jwks)).sub).toBe(items[1]!.sub);
    // Plain receipts (a group of one) detach and attach the same way.
    const [one] = signSm2ReceiptGroup(first.key, shared, [item(7)]);
    const [two] = signSm2ReceiptGroup(second.key, shared, [item(7)]);
    expect(attachReceipt(detachReceipt(two!, one!)!, one!)).toBe(two);
  });

  it('is not made for receipts that sign other payloads or items, and does not verify against them', async () => {
    expect(detachReceipt(seconds[1]!, receipts[2]!)).toBeUndefined(); // another item
    const later = signSm2ReceiptGroup(first.key, { ...shared, iat: shared.iat + 1 }, items);
    expect(detachReceipt(seconds[1]!, later[1]!)).toBeUndefined(); // another payload
    const detached = detachReceipt(seconds[1]!, receipts[1]!)!;
    await expect(verifyReceipt(attachReceipt(detached, later[1]!), jwks)).rejects.toMatchObject({
      code: 'BAD_SIGNATURE',
    });
    expect(() => attachReceipt(seconds[1]!, receipts[1]!)).toThrow(/detached/);
  });
});
