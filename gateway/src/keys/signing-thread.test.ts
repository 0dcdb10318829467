import { generateKeyPairSync, verify } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { verifyReceipt } from '@lianzheng/proof';
import { compactVerify, createLocalJWKSet } from 'jose';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { KeyRing } from './key-ring.ts';
import { SigningThread } from './signing-thread.ts';

const threads: SigningThread[] = [];
afterAll(async () => {
  for (const t of threads) await t.close();
});
const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await fs.rm(d, { recursive: true, force: true });
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

describe('KeyRing with signingThread', () => {
  it('single receipts signed on the thread are standard JWS that jose and proof/ verify, before and after a rotation', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lz-keys-'));
    dirs.push(dir);
    const ring = await KeyRing.load(dir, { logOrigin: 'example.org/log', signingThread: true });
    const claims = (sub: string) => ({
      iss: 'lianzheng.local',
      sub,
      iat: 1_800_000_000,
      sha256: 'a'.repeat(64),
      cid: 'bafkreifkvkvkvkvkvkvkvkvkvkvkvkvkvkvkvkvkvkvkvkvkvkvkvkvkvi',
      projectId: 'p',
      kind: 'notice' as const,
      leaf: 'b'.repeat(64),
      ledger: 'embedded' as const,
    });
    const first = await Promise.all(['r1', 'r2', 'r3'].map((s) => ring.receiptSigner.signAsync(claims(s))));
    await ring.rotate();
    const second = await ring.receiptSigner.signAsync(claims('r4'));
    const jwks = createLocalJWKSet(ring.jwks());
    for (const [i, jws] of [...first, second].entries()) {
      expect((await verifyReceipt(jws, ring.jwks())).sub).toBe(`r${i + 1}`);
      const { protectedHeader } = await compactVerify(jws, jwks);
      expect(protectedHeader.alg).toBe('ES256');
    }
    expect(JSON.parse(Buffer.from(second.split('.')[0]!, 'base64url').toString()).kid).toBe(
      ring.receiptSigner.kid,
    );
    expect(ring.receiptSigner.kid).not.toBe(
      JSON.parse(Buffer.from(first[0]!.split('.')[0]!, 'base64url').toString()).kid,
    );
  });
});
