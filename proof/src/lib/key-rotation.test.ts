import { CompactSign, calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  ANCHOR_CHANGE_JWS_TYPE,
  anchorChangePayload,
  checkTrustWithRotations,
  followRotations,
  KEY_ROTATION_JWS_TYPE,
  type KeyRotation,
  keyRotationClaims,
  keyRotationPayload,
  MAX_ROTATIONS,
} from './key-rotation.ts';
import { signSm2Jws } from './receipt.ts';
import { sm2PublicKey, sm2RandomPrivateKey } from './sm2.ts';
import { jwkThumbprint, trustOf } from './trust.ts';

interface Key {
  kid: string;
  jwk: Record<string, unknown>;
  privateKey: CryptoKey;
}

async function es256(): Promise<Key> {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const pub = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(pub, 'sha256');
  return { kid, jwk: { ...pub, kid, alg: 'ES256', use: 'sig' }, privateKey };
}

const sign = (key: Key, payload: string) =>
  new CompactSign(new TextEncoder().encode(payload))
    .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: KEY_ROTATION_JWS_TYPE })
    .sign(key.privateKey);

async function rotation(previous: Key, next: Key, at = '2026-12-01T00:00:00.000Z'): Promise<KeyRotation> {
  const payload = keyRotationPayload(keyRotationClaims(previous, next, at));
  return { byPrevious: await sign(previous, payload), byNext: await sign(next, payload) };
}

const print = (k: Key) => jwkThumbprint(k.jwk);

describe('followRotations', () => {
  it('accepts the keys an unbroken chain reaches from a pinned key, counting the steps', async () => {
    const [a, b, c] = [await es256(), await es256(), await es256()];
    const chain = [await rotation(a, b), await rotation(b, c)];
    const result = await followRotations([{ thumbprint: print(a) }], chain);
    expect(result).toMatchObject({ ok: true, followed: 2, unreached: [] });
    if (!result.ok) throw new Error('unreachable');
    expect(result.keys.map((k) => [k.thumbprint, k.steps])).toEqual([
      [print(b), 1],
      [print(c), 2],
    ]);
    // A file pinned after the first rotation follows only the second.
    const later = await followRotations([print(a), print(b)], chain);
    expect(later).toMatchObject({ ok: true, followed: 1 });
  });

  it('refuses a statement whose signature fails, and one not signed by the next key', async () => {
    const [a, b, mallory] = [await es256(), await es256(), await es256()];
    const good = await rotation(a, b);
    // Mallory writes "a hands over to mallory" and signs it herself in a's name.
    const payload = keyRotationPayload(keyRotationClaims(a, mallory, '2026-12-02T00:00:00.000Z'));
    const forged = {
      byPrevious: await sign({ ...mallory, kid: a.kid }, payload),
      byNext: await sign(mallory, payload),
    };
    const refused = await followRotations([print(a)], [forged]);
    expect(refused).toMatchObject({ ok: false, code: 'BAD_SIGNATURE', index: 0 });
    if (refused.ok) throw new Error('unreachable');
    expect(refused.reason).toMatch(/statement 1: the signature by the previous key .* does not verify/);
    // A statement whose payload was edited after signing.
    const [h, , s] = good.byPrevious.split('.');
    const edited = Buffer.from(payload).toString('base64url');
    const tampered = { byPrevious: `${h}.${edited}.${s}`, byNext: good.byNext };
    expect(await followRotations([print(a)], [tampered])).toMatchObject({ ok: false, code: 'BAD_STATEMENT' });
    const both = {
      byPrevious: `${h}.${edited}.${s}`,
      byNext: `${good.byNext.split('.')[0]}.${edited}.${good.byNext.split('.')[2]}`,
    };
    expect(await followRotations([print(a)], [good, both])).toMatchObject({
      ok: false,
      code: 'BAD_SIGNATURE',
      index: 1,
    });
    // The previous key alone cannot name a successor that did not sign.
    const unsigned = { byPrevious: good.byPrevious, byNext: good.byPrevious };
    expect(await followRotations([print(a)], [unsigned])).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
  });

  it('refuses a fork: one key handing over to two different keys', async () => {
    const [a, b, c] = [await es256(), await es256(), await es256()];
    const result = await followRotations([print(a)], [await rotation(a, b), await rotation(a, c)]);
    expect(result).toMatchObject({ ok: false, code: 'FORK', index: 1 });
    if (result.ok) throw new Error('unreachable');
    expect(result.reason).toContain('a fork');
    // The same hand-over published twice is no fork.
    expect(await followRotations([print(a)], [await rotation(a, b), await rotation(a, b)])).toMatchObject({
      ok: true,
      followed: 1,
    });
  });

  it('accepts nothing past a gap, and names the statement after it', async () => {
    const [a, b, c] = [await es256(), await es256(), await es256()];
    const result = await followRotations([print(a)], [await rotation(b, c)]);
    expect(result).toEqual({
      ok: true,
      keys: [],
      followed: 0,
      unreached: [{ index: 0, previous: b.kid, next: c.kid }],
    });
  });

  it('refuses more statements than it follows, before checking any', async () => {
    const [a, b] = [await es256(), await es256()];
    const one = await rotation(a, b);
    const many = Array.from({ length: MAX_ROTATIONS + 1 }, () => one);
    expect(await followRotations([print(a)], many)).toMatchObject({ ok: false, code: 'BAD_STATEMENT' });
    expect(await followRotations([print(a)], many.slice(0, 3))).toMatchObject({ ok: true, followed: 1 });
  });

  it('refuses a statement that carries a private key member', async () => {
    const [a, b] = [await es256(), await es256()];
    const claims = keyRotationClaims(a, b, '2026-12-01T00:00:00.000Z');
    const payload = keyRotationPayload({
      ...claims,
      next: { ...claims.next, jwk: { ...claims.next.jwk, d: 'AAAA' } },
    });
    const result = await followRotations(
      [print(a)],
      [{ byPrevious: await sign(a, payload), byNext: await sign(b, payload) }],
    );
    expect(result).toMatchObject({ ok: false, code: 'BAD_STATEMENT' });
  });

  it('follows a statement signed with SM2 keys', async () => {
    const sm2 = () => {
      const privateKey = sm2RandomPrivateKey();
      const pub = sm2PublicKey(privateKey);
      const members = {
        kty: 'EC',
        crv: 'SM2',
        x: Buffer.from(pub.subarray(1, 33)).toString('base64url'),
        y: Buffer.from(pub.subarray(33)).toString('base64url'),
      };
      const kid = jwkThumbprint(members);
      return { kid, privateKey, jwk: { ...members, kid, alg: 'SM2-with-SM3', use: 'sig' } };
    };
    const [a, b] = [sm2(), sm2()];
    const claims = keyRotationClaims(a, b, '2026-12-01T00:00:00.000Z');
    const statement = {
      byPrevious: signSm2Jws(a, KEY_ROTATION_JWS_TYPE, claims),
      byNext: signSm2Jws(b, KEY_ROTATION_JWS_TYPE, claims),
    };
    expect(await followRotations([jwkThumbprint(a.jwk)], [statement])).toMatchObject({
      ok: true,
      followed: 1,
    });
    const swapped = { byPrevious: statement.byNext, byNext: statement.byNext };
    expect(await followRotations([jwkThumbprint(a.jwk)], [swapped])).toMatchObject({
      ok: false,
      code: 'BAD_SIGNATURE',
    });
  });
});

describe('checkTrustWithRotations', () => {
  it('passes an old trust file through the published chain, and names a missing or forged one', async () => {
    const [a, b, c] = [await es256(), await es256(), await es256()];
    const pub = (k: Key) => ({ ...k.jwk });
    const before = trustOf({ jwks: { keys: [pub(a)] }, checkpointKeys: [] });
    const chain = [await rotation(a, b), await rotation(b, c)];
    const now = { jwks: { keys: [pub(a), pub(b), pub(c)] }, checkpointKeys: [], rotations: chain };
    expect(await checkTrustWithRotations(before, now)).toEqual({ ok: true, differences: [], followed: 2 });
    // trust.json carries the statements too.
    expect(trustOf(now).rotations).toEqual(chain);
    const missing = await checkTrustWithRotations(before, { ...now, rotations: [chain[0]!] });
    expect(missing.ok).toBe(false);
    expect(missing.differences).toEqual([
      expect.stringMatching(new RegExp(`^receipt key ${c.kid} .* is not pinned \\(no rotation statement`)),
    ]);
    const gap = await checkTrustWithRotations(before, { ...now, rotations: [chain[1]!] });
    expect(gap.differences.join('\n')).toContain('neither pinned nor reached');
    const forged = { ...chain[1]!, byNext: chain[0]!.byNext };
    const refused = await checkTrustWithRotations(before, { ...now, rotations: [chain[0]!, forged] });
    expect(refused).toMatchObject({ ok: false, followed: 0 });
    expect(refused.differences[0]).toMatch(/^key rotations refused: rotation statement 2/);
  });

  it('takes a new anchoring identity only with a change statement signed by a trusted receipt key', async () => {
    const [a, b, mallory] = [await es256(), await es256(), await es256()];
    const old = { chainId: 'eip155:31337', contract: '0x' + '1'.repeat(40), anchorer: '0x' + 'a'.repeat(40) };
    const moved = { ...old, contract: '0x' + '2'.repeat(40) };
    const before = trustOf({ jwks: { keys: [{ ...a.jwk }] }, checkpointKeys: [], anchor: old });
    const rotations = [await rotation(a, b)];
    const now = {
      jwks: { keys: [{ ...a.jwk }, { ...b.jwk }] },
      checkpointKeys: [],
      rotations,
      anchor: moved,
    };
    const signChange = (k: Key) =>
      new CompactSign(new TextEncoder().encode(anchorChangePayload(old, moved)))
        .setProtectedHeader({ alg: 'ES256', kid: k.kid, typ: ANCHOR_CHANGE_JWS_TYPE })
        .sign(k.privateKey);
    const unannounced = await checkTrustWithRotations(before, now);
    expect(unannounced.ok).toBe(false);
    expect(unannounced.differences.join('\n')).toMatch(/anchoring identity .* differs from the pinned/);
    // Signed by b, a key reached by rotation from the pinned a.
    const announced = await checkTrustWithRotations(before, { ...now, anchorChanges: [await signChange(b)] });
    expect(announced).toMatchObject({ ok: true, followed: 1, anchorChange: { retired: old, next: moved } });
    const byStranger = await checkTrustWithRotations(before, {
      ...now,
      anchorChanges: [await signChange(mallory)],
    });
    expect(byStranger.ok).toBe(false);
    expect(byStranger.differences.join('\n')).toContain('anchoring identity change 1 refused');
  });
});
