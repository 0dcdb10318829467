import { describe, expect, it } from 'vitest';
import {
  deriveNotePublicKey,
  type NoteAlgorithm,
  noteVerifierKey,
  signNote,
  verifyCheckpoint,
} from './checkpoint.ts';
import {
  CHECKPOINT_KEY_ROTATION_TYPE,
  checkCheckpointKeyRotation,
  checkpointKeyRotationText,
  followCheckpointRotations,
} from './checkpoint-key-rotation.ts';
import { checkTrustWithRotations } from './key-rotation.ts';
import { sm2RandomPrivateKey } from './sm2.ts';
import { trustOf } from './trust.ts';

const ORIGIN = 'lianzheng.example/log';

interface NoteKey {
  name: string;
  privateKey: Uint8Array;
  algorithm: NoteAlgorithm;
  vkey: string;
}

function noteKey(algorithm: NoteAlgorithm = 'sm2', name = ORIGIN): NoteKey {
  const privateKey = algorithm === 'sm2' ? sm2RandomPrivateKey() : crypto.getRandomValues(new Uint8Array(32));
  return {
    name,
    privateKey,
    algorithm,
    vkey: noteVerifierKey(name, deriveNotePublicKey(privateKey, algorithm), algorithm),
  };
}

/** A statement as the gateway makes it: the text signed by the previous key, then the next. */
const handOver = (
  previous: NoteKey,
  next: NoteKey,
  at = '2026-12-07T04:00:00.000Z',
  signers = [previous, next],
) => signers.reduce((note, k) => signNote(note, k), checkpointKeyRotationText(previous.vkey, next.vkey, at));

describe('checkpoint key rotation statements', () => {
  it('reads a statement signed by both keys: a signed note whose text names them', () => {
    const [a, b] = [noteKey(), noteKey()];
    const statement = handOver(a, b);
    expect(statement.startsWith(`${CHECKPOINT_KEY_ROTATION_TYPE}\nprevious ${a.vkey}\n`)).toBe(true);
    expect(checkCheckpointKeyRotation(statement)).toEqual({
      previous: a.vkey,
      next: b.vkey,
      at: '2026-12-07T04:00:00.000Z',
    });
    // It is no checkpoint: a verifier of checkpoints refuses it even with the right key.
    return expect(verifyCheckpoint(statement, [a.vkey])).rejects.toMatchObject({ code: 'BAD_CHECKPOINT' });
  });

  it('refuses a statement one key did not sign, a changed one, one signed by an impostor, and a renamed key', () => {
    const [a, b, mallory] = [noteKey(), noteKey(), noteKey()];
    expect(checkCheckpointKeyRotation(handOver(a, b, undefined, [a]))).toMatchObject({
      ok: false,
      code: 'BAD_SIGNATURE',
      reason: expect.stringContaining('the next key'),
    });
    expect(checkCheckpointKeyRotation(handOver(a, b, undefined, [b]))).toMatchObject({
      code: 'BAD_SIGNATURE',
      reason: expect.stringContaining('the previous key'),
    });
    // Mallory's key has the log's name but not b's key hash: it signs nothing that counts for b.
    expect(checkCheckpointKeyRotation(handOver(a, b, undefined, [a, mallory]))).toMatchObject({
      code: 'BAD_SIGNATURE',
    });
    const changed = handOver(a, b).replace('at 2026-12-07', 'at 2026-12-08');
    expect(checkCheckpointKeyRotation(changed)).toMatchObject({ code: 'BAD_SIGNATURE' });
    const renamed = noteKey('sm2', 'elsewhere.example/log');
    expect(checkCheckpointKeyRotation(handOver(a, renamed))).toMatchObject({
      code: 'BAD_STATEMENT',
      reason: expect.stringContaining('key name'),
    });
    expect(checkCheckpointKeyRotation(handOver(a, a))).toMatchObject({ code: 'BAD_STATEMENT' });
    for (const bad of [42, 'not a note', `${CHECKPOINT_KEY_ROTATION_TYPE}\n`, 'x'.repeat(5000)])
      expect(checkCheckpointKeyRotation(bad)).toMatchObject({ ok: false, code: 'BAD_STATEMENT' });
  });

  it('follows a chain from a pinned key (SM2, or Ed25519 to SM2), names a gap, and refuses a fork', () => {
    const [a, b, c, d] = [noteKey(), noteKey(), noteKey(), noteKey()];
    const chain = [handOver(a, b), handOver(b, c)];
    expect(followCheckpointRotations([a.vkey], chain)).toEqual({
      ok: true,
      keys: [b.vkey, c.vkey],
      unreached: [],
    });
    // Out of order, and from a file pinned after the first rotation.
    expect(followCheckpointRotations([a.vkey], [...chain].reverse())).toMatchObject({
      keys: [b.vkey, c.vkey],
    });
    expect(followCheckpointRotations([a.vkey, b.vkey], chain)).toMatchObject({ keys: [c.vkey] });
    // A key nobody pinned or reached hands over: a gap, and nothing after it is accepted.
    expect(followCheckpointRotations([a.vkey], [handOver(b, c)])).toMatchObject({
      ok: true,
      keys: [],
      unreached: [{ index: 0, previous: b.vkey, next: c.vkey }],
    });
    expect(followCheckpointRotations([a.vkey], [...chain, handOver(a, d)])).toMatchObject({
      ok: false,
      code: 'FORK',
      index: 2,
    });
    const ed = noteKey('ed25519');
    expect(followCheckpointRotations([ed.vkey], [handOver(ed, a)])).toMatchObject({
      ok: true,
      keys: [a.vkey],
    });
    expect(followCheckpointRotations([a.vkey], [chain[0], 'forged'])).toMatchObject({
      ok: false,
      code: 'BAD_STATEMENT',
      index: 1,
    });
  });

  it('checkTrustWithRotations: a trust file pinning the old checkpoint key accepts the new one only through a statement', async () => {
    const [ed, a, b, mallory] = [noteKey('ed25519'), noteKey(), noteKey(), noteKey()];
    const before = { jwks: { keys: [] }, checkpointKeys: [ed.vkey, a.vkey] };
    const trust = trustOf(before);
    const after = {
      ...before,
      checkpointKeys: [ed.vkey, a.vkey, b.vkey],
      checkpointRotations: [handOver(a, b)],
    };
    expect(await checkTrustWithRotations(trust, after)).toEqual({ ok: true, differences: [], followed: 1 });
    expect(trustOf(after).checkpointRotations).toEqual(after.checkpointRotations);
    // Without the statement, or with one from a key not pinned, the new key is not pinned.
    const bare = await checkTrustWithRotations(trust, { ...after, checkpointRotations: [] });
    expect(bare.ok).toBe(false);
    expect(bare.differences[0]).toMatch(
      /^checkpoint key lianzheng\.example\/log\+[0-9a-f]{8} .* is not pinned/,
    );
    const forged = await checkTrustWithRotations(trust, {
      ...after,
      checkpointKeys: [...after.checkpointKeys, mallory.vkey],
      checkpointRotations: [handOver(a, b), handOver(ed, mallory, undefined, [mallory])],
    });
    expect(forged).toMatchObject({
      ok: false,
      differences: [expect.stringMatching(/^key rotations refused: checkpoint key rotation 2/)],
    });
  });
});
