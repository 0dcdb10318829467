import { generateKeyPairSync, verify } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { SigningThread } from './signing-thread.ts';

const threads: SigningThread[] = [];
afterAll(async () => {
  for (const t of threads) await t.close();
});

function newThread(): SigningThread {
  const t = new SigningThread();
  threads.push(t);
  return t;
}

const p256 = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
const verifies = (publicKey: ReturnType<typeof p256>['publicKey'], input: string, sig: string) =>
  verify(
    'sha256',
    Buffer.from(input),
    { key: publicKey, dsaEncoding: 'ieee-p1363' },
    Buffer.from(sig, 'base64url'),
  );

describe('SigningThread', () => {
  it('signs what one turn asks for in one message per key, each signature over its own input', async () => {
    const thread = newThread();
    const a = p256();
    const b = p256();
    const inputs = Array.from(
      { length: 50 },
      (_, i) => `header.${Buffer.from(`claims ${i} ✓`).toString('base64url')}`,
    );
    const signed = await Promise.all(
      inputs.map((input, i) => thread.sign(i % 2 ? 'b' : 'a', i % 2 ? b.privateKey : a.privateKey, input)),
    );
    expect(thread.messages).toBe(2);
    signed.forEach((sig, i) => {
      expect(Buffer.from(sig, 'base64url')).toHaveLength(64);
      expect(verifies(i % 2 ? b.publicKey : a.publicKey, inputs[i]!, sig)).toBe(true);
      // Not the other key's, not another input's.
      expect(verifies(i % 2 ? a.publicKey : b.publicKey, inputs[i]!, sig)).toBe(false);
      expect(verifies(i % 2 ? b.publicKey : a.publicKey, inputs[(i + 2) % inputs.length]!, sig)).toBe(false);
    });
    // A later turn is another message; the thread keeps the key it was sent.
    const later = await thread.sign('a', a.privateKey, 'x.y');
    expect(thread.messages).toBe(3);
    expect(verifies(a.publicKey, 'x.y', later)).toBe(true);
  });

  it('signs on the pool what a thread that stopped owed, and starts another for the next turn', async () => {
    const thread = newThread();
    const k = p256();
    await thread.sign('k', k.privateKey, 'warm.up');
    const owed = Array.from({ length: 2000 }, (_, i) => thread.sign('k', k.privateKey, `owed.${i}`));
    // Sent at the next turn; stopped before its answer can come back.
    await new Promise((r) => setImmediate(r));
    await thread.close();
    const sigs = await Promise.all(owed);
    for (const [i, sig] of sigs.entries()) expect(verifies(k.publicKey, `owed.${i}`, sig)).toBe(true);
    expect(thread.signedOnPool).toBe(2000);
    const before = thread.messages;
    const next = await thread.sign('k', k.privateKey, 'after.restart');
    expect(thread.messages).toBe(before + 1);
    expect(verifies(k.publicKey, 'after.restart', next)).toBe(true);
  });

  it('gives the error the pool gives for a key that cannot sign ES256', async () => {
    const thread = newThread();
    const ed = generateKeyPairSync('ed25519');
    await expect(thread.sign('ed', ed.privateKey, 'a.b')).rejects.toThrow();
    expect(thread.signedOnPool).toBe(1);
  });
});
