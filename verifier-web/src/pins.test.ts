import {
  jwkThumbprint,
  KEY_ROTATION_JWS_TYPE,
  keyRotationClaims,
  keyRotationPayload,
} from '@lianzheng/proof';
import { CompactSign, calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import type { KeysAnswer } from './api.ts';
import { messagesEn, messagesZh } from './messages.ts';
import { checkReceiptPin, pinsOf } from './pins.ts';

async function es256() {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const pub = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(pub, 'sha256');
  return { kid, jwk: { ...pub, kid, alg: 'ES256', use: 'sig' } as Record<string, unknown>, privateKey };
}
type Key = Awaited<ReturnType<typeof es256>>;

async function rotation(a: Key, b: Key) {
  const payload = keyRotationPayload(keyRotationClaims(a, b, '2026-12-07T00:00:00.000Z'));
  const sign = (k: Key) =>
    new CompactSign(new TextEncoder().encode(payload))
      .setProtectedHeader({ alg: 'ES256', kid: k.kid, typ: KEY_ROTATION_JWS_TYPE })
      .sign(k.privateKey);
  return { byPrevious: await sign(a), byNext: await sign(b) };
}

const keysOf = (ks: Key[], rotations: KeysAnswer['rotations'] = []): KeysAnswer => ({
  jwks: { keys: ks.map((k) => k.jwk) },
  checkpointKeys: [],
  tsaRoots: [],
  rotations,
});

describe('keys pinned in the address (?pin=)', () => {
  it('reads the pins of a query string, none when absent', () => {
    expect(pinsOf('')).toBeUndefined();
    expect(pinsOf('?rpc=x')).toBeUndefined();
    expect(pinsOf('?pin=a,b&pin=c')).toEqual(['a', 'b', 'c']);
  });

  it('passes a pinned key, follows published rotations, and fails a key nothing leads to', async () => {
    const [a, b, c, stranger] = [await es256(), await es256(), await es256(), await es256()];
    const chain = [await rotation(a, b), await rotation(b, c)];
    const pin = [jwkThumbprint(a.jwk)];
    expect(await checkReceiptPin(pin, keysOf([a, b, c], chain), a.kid)).toEqual({ state: 'pinned' });
    expect(await checkReceiptPin(pin, keysOf([a, b, c], chain), c.kid)).toEqual({
      state: 'followed',
      steps: 2,
    });
    // Without the statements, the new key is not the reader's.
    expect(await checkReceiptPin(pin, keysOf([a, b, c]), c.kid)).toEqual({ state: 'mismatch', kid: c.kid });
    expect(await checkReceiptPin(pin, keysOf([a, stranger], chain), stranger.kid)).toMatchObject({
      state: 'mismatch',
    });
    // A statement not signed by the key before it refuses the chain.
    const forged = { ...chain[1]!, byPrevious: chain[1]!.byNext };
    expect(await checkReceiptPin(pin, keysOf([a, b, c], [chain[0]!, forged]), c.kid)).toMatchObject({
      state: 'refused',
      reason: expect.stringContaining('rotation statement 2'),
    });
    expect(await checkReceiptPin(['not-a-thumbprint'], keysOf([a]), a.kid)).toEqual({ state: 'bad-pin' });
  });

  it('has the words in both languages', () => {
    for (const key of ['pin.pinned', 'pin.followed', 'pin.mismatch', 'pin.refused', 'pin.badPin'] as const) {
      expect(messagesZh[key]).toBeTruthy();
      expect(messagesEn[key]).toBeTruthy();
    }
  });
});
