// Bundles issued before the gateway signed dual's SM2 receipts once per group commit (2026-12-07)
// carry a plain compact SM2 JWS as `receiptSm2`. The fixture is such a bundle, as a dual gateway
// answered it, with the keys it published; it must keep verifying, and stay checked for real.
import { describe, expect, it } from 'vitest';
import { verifyBundle } from './bundle.ts';
import fixture from './fixtures/dual-bundle-plain-sm2-receipt.json' with { type: 'json' };

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
