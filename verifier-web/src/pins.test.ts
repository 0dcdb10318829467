import {
  checkpointKeyFingerprint,
  checkpointKeyRotationText,
  deriveNotePublicKey,
  jwkThumbprint,
  KEY_ROTATION_JWS_TYPE,
  keyRotationClaims,
  keyRotationPayload,
  noteVerifierKey,
  signNote,
  sm2RandomPrivateKey,
} from '@lianzheng/proof';
import { CompactSign, calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { makeBundle, makeFixture, makeLog } from '../../proof/src/lib/_fixtures.ts';
import type { KeysAnswer } from './api.ts';
import { runChecks } from './checks.ts';
import { messagesEn, messagesZh } from './messages.ts';
import { checkCheckpointPins, checkReceiptPin, pinKinds, pinsOf, readPins } from './pins.ts';

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

/** An SM2 checkpoint key of the fixture log's origin, as the gateway's rotations make them. */
function sm2NoteKey(name: string) {
  const privateKey = sm2RandomPrivateKey();
  return {
    name,
    privateKey,
    algorithm: 'sm2' as const,
    vkey: noteVerifierKey(name, deriveNotePublicKey(privateKey, 'sm2'), 'sm2'),
  };
}
type NoteKey = ReturnType<typeof sm2NoteKey>;
const handOver = (a: NoteKey, b: NoteKey, signers = [a, b]) =>
  signers.reduce(
    (note, k) => signNote(note, k),
    checkpointKeyRotationText(a.vkey, b.vkey, '2026-12-07T06:00:00.000Z'),
  );

describe('checkpoint keys pinned in the address (?pin=<SHA-256 of the verifier key>)', () => {
  it('tells receipt thumbprints from checkpoint prints, and refuses anything else', () => {
    const thumb = 'A'.repeat(43);
    const print = 'ab'.repeat(32);
    expect(pinKinds([thumb, print.toUpperCase()])).toEqual({ receipt: [thumb], checkpoint: [print] });
    expect(pinKinds([thumb, 'ab'.repeat(31)])).toBeUndefined();
    expect(pinKinds([])).toBeUndefined();
    expect(readPins('?pin=nonsense', { jwks: { keys: [] }, checkpointKeys: [], tsaRoots: [] })).toMatchObject(
      {
        bad: true,
      },
    );
  });

  it('believes a pinned key, follows published checkpoint key rotations, and refuses a forged one', () => {
    const origin = 'lianzheng.test/log';
    const [a, b, stranger] = [sm2NoteKey(origin), sm2NoteKey(origin), sm2NoteKey(origin)];
    const keys = (rotations: string[], served = [a.vkey, b.vkey]): KeysAnswer => ({
      jwks: { keys: [] },
      checkpointKeys: served,
      tsaRoots: [],
      checkpointRotations: rotations,
    });
    const pinA = [checkpointKeyFingerprint(a.vkey)];
    expect(checkCheckpointPins(pinA, keys([]))).toEqual({ state: 'pinned', keys: [a.vkey] });
    expect(checkCheckpointPins(pinA, keys([handOver(a, b)]))).toEqual({
      state: 'followed',
      keys: [a.vkey, b.vkey],
      steps: 1,
    });
    // Signed by the previous key only: the whole set is refused.
    expect(checkCheckpointPins(pinA, keys([handOver(a, b, [a])]))).toMatchObject({ state: 'refused' });
    expect(checkCheckpointPins([checkpointKeyFingerprint(stranger.vkey)], keys([]))).toEqual({
      state: 'unknown',
    });
    // What the checks then believe: the pinned and reached keys only.
    expect(readPins(`?pin=${pinA[0]}`, keys([]))?.keys.checkpointKeys).toEqual([a.vkey]);
    expect(
      readPins(`?pin=${checkpointKeyFingerprint(stranger.vkey)}`, keys([]))?.keys.checkpointKeys,
    ).toEqual([]);
  });

  it("passes the checkpoint step with the log's own key pinned and fails it when the pin matches no served key", async () => {
    const fx = await makeFixture();
    const bundle = await makeBundle(fx, makeLog(8), 3, 8, 8);
    delete (bundle as { anchor?: unknown }).anchor;
    const served: KeysAnswer = { jwks: fx.jwks as never, checkpointKeys: fx.checkpointKeys, tsaRoots: [] };
    const api = {
      ledgerTx: async () => ({
        valid: true,
        block: 1,
        size: bundle.ledger?.size ?? 8,
        root: bundle.ledger?.root ?? '',
      }),
      anchorTx: async () => {
        throw new Error('not asked');
      },
    };
    const checkpointOf = async (search: string) => {
      const pins = readPins(search, served)!;
      const run = await runChecks(bundle, bundle.record.digests.sha256, { api, keys: pins.keys });
      return run.steps.find((s) => s.step === 'checkpoint')!.status;
    };
    expect(await checkpointOf(`?pin=${checkpointKeyFingerprint(fx.checkpointKeys[0]!)}`)).toBe('pass');
    expect(await checkpointOf(`?pin=${'0'.repeat(64)}`)).toBe('fail');
  });
});
