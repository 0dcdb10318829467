// Checkpoint key rotations a verifier can follow (issue #23: the SM2 checkpoint key rotates). A
// trust file pins the checkpoint verifier keys of the day it was saved; after a rotation the log
// signs with a key it does not name. Each rotation is therefore published as a signed note —
//
//     lianzheng-checkpoint-key-rotation/v1
//     previous <verifier key>
//     next <verifier key>
//     at <ISO 8601>
//
// — signed, as checkpoints are, by the previous key (only its holder could hand over) and by the
// next key (it agreed to be the successor). A signed note rather than a JWS, because checkpoint
// keys are note keys (C2SP signed-note): whoever checks checkpoints checks these with the same code,
// and the text cannot be read as a checkpoint (its second line is not a tree size). Kept apart
// from the receipt key rotations (`followRotations`): the SM2 key that first signed both receipts
// and checkpoints hands its two roles to two different keys, which in one chain would be a fork.

import { noteKeyAlgorithm, openNote, verifyNote } from './checkpoint.ts';
import { isProofError } from './errors.ts';

/** The first line of a checkpoint key rotation statement. */
export const CHECKPOINT_KEY_ROTATION_TYPE = 'lianzheng-checkpoint-key-rotation/v1';

/** The most statements a verifier follows, and the longest one it reads. */
export const MAX_CHECKPOINT_ROTATIONS = 10_000;
const MAX_STATEMENT_BYTES = 4096;

/** What a checkpoint key rotation statement says. */
export interface CheckpointKeyRotationClaims {
  /** The verifier key handing over, and the one taking over (same key name: the log's origin). */
  previous: string;
  next: string;
  /** When the new key began signing (ISO 8601). */
  at: string;
}

/** The note text both keys sign (`signNote` it with the previous key, then with the next). */
export function checkpointKeyRotationText(previous: string, next: string, at: string): string {
  return `${CHECKPOINT_KEY_ROTATION_TYPE}\nprevious ${previous}\nnext ${next}\nat ${at}\n`;
}

const nameOf = (vkey: string) => vkey.slice(0, vkey.indexOf('+'));

/** Why a statement, and so the whole set, is refused. */
export interface CheckpointFollowFailure {
  ok: false;
  code: 'BAD_STATEMENT' | 'BAD_SIGNATURE' | 'FORK';
  index: number;
  reason: string;
}

export type CheckpointFollowResult =
  | {
      ok: true;
      /** Verifier keys not pinned that a chain from a pinned key reaches, in the order reached. */
      keys: string[];
      /** Statements whose previous key is neither pinned nor reached: a gap before them. */
      unreached: { index: number; previous: string; next: string }[];
    }
  | CheckpointFollowFailure;

const fail = (
  code: CheckpointFollowFailure['code'],
  index: number,
  reason: string,
): CheckpointFollowFailure => ({
  ok: false,
  code,
  index,
  reason: `checkpoint key rotation ${index + 1}: ${reason}`,
});

/**
 * Reads and checks one statement completely: its text, both keys (well-formed, of one name, not
 * the same key) and both signatures. Returns its claims, or why not.
 */
export function checkCheckpointKeyRotation(
  statement: unknown,
  index = 0,
): CheckpointKeyRotationClaims | CheckpointFollowFailure {
  if (typeof statement !== 'string' || statement.length > MAX_STATEMENT_BYTES)
    return fail('BAD_STATEMENT', index, `not a signed note of at most ${MAX_STATEMENT_BYTES} bytes`);
  let text: string;
  try {
    text = openNote(statement).text;
  } catch (e) {
    if (!isProofError(e)) throw e;
    return fail('BAD_STATEMENT', index, `not a signed note (${e.message})`);
  }
  const m = /^lianzheng-checkpoint-key-rotation\/v1\nprevious (\S+)\nnext (\S+)\nat (\S+)\n$/.exec(text);
  if (!m) return fail('BAD_STATEMENT', index, `not a ${CHECKPOINT_KEY_ROTATION_TYPE} statement`);
  const [, previous, next, at] = m as unknown as [string, string, string, string];
  if (Number.isNaN(Date.parse(at))) return fail('BAD_STATEMENT', index, 'its time is not a date');
  for (const [end, vkey] of [
    ['previous', previous],
    ['next', next],
  ] as const) {
    try {
      noteKeyAlgorithm(vkey);
    } catch (e) {
      if (!isProofError(e)) throw e;
      return fail('BAD_STATEMENT', index, `the ${end} key: ${e.message}`);
    }
  }
  if (nameOf(previous) !== nameOf(next))
    return fail('BAD_STATEMENT', index, 'a rotation keeps the key name (the log origin)');
  if (previous === next) return fail('BAD_STATEMENT', index, 'a key cannot hand over to itself');
  // Each key on its own: verifyNote needs a good signature by a key it is given and refuses a bad
  // one, so both must have signed.
  for (const [end, vkey] of [
    ['previous', previous],
    ['next', next],
  ] as const) {
    try {
      verifyNote(statement, [vkey]);
    } catch (e) {
      if (!isProofError(e)) throw e;
      return fail('BAD_SIGNATURE', index, `no good signature by the ${end} key (${e.message})`);
    }
  }
  return { previous, next, at };
}

/**
 * Follows published checkpoint key rotations from pinned verifier keys, as `followRotations` does
 * for receipt keys: every statement is checked; a bad one, or one key handing over to two keys (a
 * fork), refuses the whole set; a key not pinned is reached only through statements from a pinned
 * or reached key; statements from keys nobody reached are listed as `unreached`. Pure.
 */
export function followCheckpointRotations(
  pinned: readonly string[],
  statements: readonly unknown[],
): CheckpointFollowResult {
  if (!Array.isArray(statements)) return fail('BAD_STATEMENT', 0, 'the statements are not a list');
  if (statements.length > MAX_CHECKPOINT_ROTATIONS)
    return fail(
      'BAD_STATEMENT',
      MAX_CHECKPOINT_ROTATIONS,
      `more than ${MAX_CHECKPOINT_ROTATIONS} statements`,
    );
  const checked: CheckpointKeyRotationClaims[] = [];
  const successor = new Map<string, { next: string; index: number }>();
  for (const [index, statement] of statements.entries()) {
    const claims = checkCheckpointKeyRotation(statement, index);
    if ('ok' in claims) return claims;
    const seen = successor.get(claims.previous);
    if (seen && seen.next !== claims.next)
      return fail(
        'FORK',
        index,
        `key ${claims.previous.split('+')[1]} hands over to two keys (here and in statement ${seen.index + 1}): a fork`,
      );
    successor.set(claims.previous, { next: claims.next, index });
    checked.push(claims);
  }
  const trusted = new Set(pinned);
  const keys: string[] = [];
  const used = new Set<number>();
  for (let changed = true; changed; ) {
    changed = false;
    for (const [index, c] of checked.entries()) {
      if (used.has(index) || !trusted.has(c.previous)) continue;
      used.add(index);
      if (trusted.has(c.next)) continue;
      trusted.add(c.next);
      keys.push(c.next);
      changed = true;
    }
  }
  const unreached = checked.flatMap((c, index) =>
    used.has(index) ? [] : [{ index, previous: c.previous, next: c.next }],
  );
  return { ok: true, keys, unreached };
}
