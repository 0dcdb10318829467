import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashFile } from './hash-file.ts';

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
