import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { compareFileDigests, hashFile } from './hash-file.ts';

describe('hashFile: SHA-256 and SM3 in one pass', () => {
  const bytes = new Uint8Array(3 * 1024 * 1024 + 17).map((_, i) => (i * 31 + 7) & 0xff);
  const file = new Blob([bytes]);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const sm3 = createHash('sm3').update(bytes).digest('hex'); // OpenSSL's SM3, an outside check

  it('one-shot (WebCrypto) and streamed (chunk by chunk) give both digests of the bytes', async () => {
    const oneShot = await hashFile(file, { oneShotMaxBytes: 1 << 30 });
    expect(oneShot).toMatchObject({ method: 'webcrypto', sha256, sm3 });
    const streamed = await hashFile(file, { oneShotMaxBytes: 1024 });
    expect(streamed).toMatchObject({ method: 'stream', sha256, sm3 });
  });

  it('skips SM3 when asked to', async () => {
    const out = await hashFile(file, { oneShotMaxBytes: 1024, sm3: false });
    expect(out.sha256).toBe(sha256);
    expect(out.sm3).toBeUndefined();
  });
});

describe('compareFileDigests: the certificate\'s "check a file you hold"', () => {
  const bytes = new TextEncoder().encode('中标通知书 第 7 号\n');
  const other = new TextEncoder().encode('中标通知书 第 8 号\n');
  const digests = (b: Uint8Array) => ({
    sha256: createHash('sha256').update(b).digest('hex'),
    sm3: createHash('sm3').update(b).digest('hex'),
  });

  it('checks SHA-256 and, where the record carries one, SM3 computed in the same pass', async () => {
    const record = digests(bytes);
    const out = await hashFile(new Blob([bytes]), { oneShotMaxBytes: 1024 });
    expect(compareFileDigests(out, record)).toEqual({ result: 'match', sm3Checked: true });
    // A record from before SM3 (SHA-256 only): SHA-256 alone decides.
    expect(compareFileDigests(out, { sha256: record.sha256 })).toEqual({
      result: 'match',
      sm3Checked: false,
    });
    const wrong = await hashFile(new Blob([other]), { oneShotMaxBytes: 1 });
    expect(compareFileDigests(wrong, record)).toEqual({ result: 'mismatch', sm3Checked: false });
  });

  it('refuses a file whose SHA-256 matches the record but whose SM3 does not (uppercase hex is the same digest)', () => {
    const file = digests(bytes);
    const record = { sha256: file.sha256.toUpperCase(), sm3: digests(other).sm3 };
    expect(compareFileDigests(file, record)).toEqual({ result: 'sm3-mismatch', sm3Checked: true });
    expect(compareFileDigests(file, { ...record, sm3: file.sm3.toUpperCase() }).result).toBe('match');
  });
});
