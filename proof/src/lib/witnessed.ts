// A record's witnesses may have cosigned a LATER checkpoint than the record's own: a witness that
// was down when the record's checkpoint was made is offered only newer ones (docs/witnesses.md).
// The bundle's optional `witnessed` part carries such a checkpoint, the witnesses' lines over it
// and the consistency proof from the record's checkpoint to it. A cosignature over the later tree
// vouches for the record's tree too once the proof shows the later tree extends it: a witness
// cosigns only a tree consistent with every earlier one it saw, so the record's tree is a prefix
// of what it vouched for. This file holds the checks that need no signature by the log (sync, so
// the assurance can use them); verifyBundle's witnesses step also checks the log's signature.
import { type Checkpoint, parseCheckpoint } from './checkpoint.ts';
import { type CosignatureCheck, verifyCosignatures } from './cosignature.ts';
import { hashFromHex, isSha256Hex } from './encoding.ts';
import { ProofError } from './errors.ts';
import { assertConsistency } from './merkle-proof.ts';

/** A later checkpoint cosigned by witnesses, tied to the record's checkpoint by a consistency proof. */
export interface WitnessedRef {
  /** The later signed checkpoint note (the log's signature lines only), size ≥ the record's. */
  checkpoint: string;
  /** C2SP cosignature/v1 lines over `checkpoint`'s body (no newline), as in `cosignatures`. */
  cosignatures: string[];
  /** Hex consistency proof from `inclusion.size` to the later checkpoint's size. */
  consistency: string[];
}

/** Cap on cosignature lines (as for `cosignatures`) and on proof hashes (a tree of 2^64 needs < 128). */
export const MAX_WITNESSED_LINES = 64;
const MAX_PROOF = 128;
const MAX_NOTE = 16 * 1024;

export type WitnessedCheck =
  | { ok: true; checkpoint: Checkpoint; check: CosignatureCheck }
  | { ok: false; code: string; detail: string };

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Whether `value` has the shape of a `witnessed` part (sizes and signatures not checked yet). */
export function isWitnessedShape(value: unknown): value is WitnessedRef {
  return (
    isObject(value) &&
    typeof value.checkpoint === 'string' &&
    value.checkpoint.length <= MAX_NOTE &&
    Array.isArray(value.cosignatures) &&
    value.cosignatures.length <= MAX_WITNESSED_LINES &&
    value.cosignatures.every((l) => typeof l === 'string' && l.startsWith('\u2014 ') && !l.includes('\n')) &&
    Array.isArray(value.consistency) &&
    value.consistency.length <= MAX_PROOF &&
    value.consistency.every(isSha256Hex)
  );
}

/**
 * Checks a `witnessed` part against the record's checkpoint: same origin
 * (`WITNESSED_FOREIGN_ORIGIN`), a size no smaller (`WITNESSED_SMALLER`), the consistency proof
 * (`WITNESSED_INCONSISTENT`), then the cosignature lines against the trusted witness keys. The
 * later checkpoint's signature by the log is NOT checked here (see verifyBundle).
 */
export function checkWitnessed(
  recordCheckpoint: Checkpoint,
  witnessed: unknown,
  witnessKeys: readonly string[],
): WitnessedCheck {
  if (!isWitnessedShape(witnessed)) {
    return {
      ok: false,
      code: 'BAD_BUNDLE',
      detail: `witnessed needs a checkpoint, at most ${MAX_WITNESSED_LINES} cosignature lines and a hex consistency proof`,
    };
  }
  let later: Checkpoint;
  try {
    later = parseCheckpoint(witnessed.checkpoint);
  } catch (err) {
    return { ok: false, code: 'BAD_BUNDLE', detail: `witnessed.checkpoint: ${(err as Error).message}` };
  }
  if (later.origin !== recordCheckpoint.origin) {
    return {
      ok: false,
      code: 'WITNESSED_FOREIGN_ORIGIN',
      detail: `the witnessed checkpoint is of ${later.origin}, the record's of ${recordCheckpoint.origin}`,
    };
  }
  if (later.size < recordCheckpoint.size) {
    return {
      ok: false,
      code: 'WITNESSED_SMALLER',
      detail: `the witnessed checkpoint has size ${later.size}, smaller than the record's ${recordCheckpoint.size}`,
    };
  }
  try {
    assertConsistency(
      recordCheckpoint.size,
      later.size,
      witnessed.consistency.map(hashFromHex),
      recordCheckpoint.rootHash,
      later.rootHash,
    );
  } catch (err) {
    return {
      ok: false,
      code: 'WITNESSED_INCONSISTENT',
      detail: `the tree of size ${later.size} does not extend the record's tree of size ${recordCheckpoint.size}: ${err instanceof ProofError ? err.message : String(err)}`,
    };
  }
  const note = `${witnessed.checkpoint}${witnessed.cosignatures.map((l) => `${l}\n`).join('')}`;
  return { ok: true, checkpoint: later, check: verifyCosignatures(note, witnessKeys) };
}
