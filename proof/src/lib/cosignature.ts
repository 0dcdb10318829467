// C2SP tlog-cosignature, the Ed25519 `cosignature/v1` type: a witness's statement that, as of a
// time, the checkpoint is the largest consistent tree head it has seen for the log's origin.
//   signed message:   "cosignature/v1\n" ‖ "time <POSIX seconds>\n" ‖ <checkpoint body>
//   signature line:   — <witness name> base64(key ID ‖ u64 big-endian time ‖ Ed25519 signature)
//   key ID:           first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x04 ‖ 32-byte public key)
//   verifier key:     <name>+<hex key ID>+<base64(0x04 ‖ public key)>
// Cosignature lines sit beside the log's own signature lines in the signed note; the log's
// verifiers ignore them (unknown key ID) and these functions ignore the log's lines.
import { publicKey as edPublicKey, signMessage, verifyMessage } from '#ed25519-impl';
import { type NoteSignature, openNote, parseCheckpoint } from './checkpoint.ts';
import { sha256 } from './digest.ts';
import { bytesEqual, concatBytes, fromBase64, fromHex, toBase64, toHex, utf8 } from './encoding.ts';
import { ProofError, type ProofErrorCode } from './errors.ts';

const TYPE_COSIGNATURE_V1 = 0x04;
const SIG_PREFIX = '\u2014 ';
const HEADER = 'cosignature/v1\n';
/** key ID (4) + timestamp (8) + Ed25519 signature (64). */
const COSIGNATURE_BYTES = 4 + 8 + 64;
// The spec caps the timestamp at 2^63 - 1; JavaScript numbers are exact only to 2^53 - 1, which
// is some 285 million years from now, so that is the bound here.
const MAX_TIME = Number.MAX_SAFE_INTEGER;
const BAD_NAME = /[\s+]/u;
const MAX_WITNESS_KEYS = 100;

export interface Cosigner {
  name: string;
  /** The 32-byte Ed25519 seed. */
  privateKey: Uint8Array;
}

export interface CosignerKey {
  name: string;
  keyId: Uint8Array;
  publicKey: Uint8Array;
  /** The verifier key this was read from. */
  vkey: string;
}

export interface Cosignature {
  /** The witness's key name. */
  name: string;
  /** When the witness cosigned, POSIX seconds. */
  time: number;
  /** The witness's verifier key. */
  vkey: string;
}

function fail(code: ProofErrorCode, why: string): never {
  throw new ProofError(code, why);
}

function checkName(name: string): void {
  if (typeof name !== 'string' || name.length === 0 || name.length > 256 || BAD_NAME.test(name)) {
    fail('BAD_KEY', 'a witness name is non-empty, at most 256 characters, without spaces or "+"');
  }
}

function checkTime(time: number): void {
  if (!Number.isSafeInteger(time) || time < 0 || time > MAX_TIME) {
    fail('BAD_SIGNATURE', 'a cosignature time is a non-negative whole number of seconds');
  }
}

function cosignerKeyId(name: string, publicKey: Uint8Array): Uint8Array {
  return sha256(concatBytes(utf8(name), new Uint8Array([0x0a, TYPE_COSIGNATURE_V1]), publicKey)).subarray(
    0,
    4,
  );
}

/** The message a cosignature/v1 signs: the header line, the time line, the checkpoint body. */
export function cosignatureMessage(body: string, time: number): Uint8Array {
  checkTime(time);
  return utf8(`${HEADER}time ${time}\n${body}`);
}

/** The public key of a witness's 32-byte Ed25519 seed. */
export function deriveCosignerPublicKey(privateKey: Uint8Array): Uint8Array {
  if (!(privateKey instanceof Uint8Array) || privateKey.length !== 32) fail('BAD_KEY', 'a seed is 32 bytes');
  return edPublicKey(privateKey);
}

/** The witness verifier key `name+hex(key ID)+base64(0x04 ‖ public key)`. */
export function cosignerVerifierKey(name: string, publicKey: Uint8Array): string {
  checkName(name);
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32)
    fail('BAD_KEY', 'a public key is 32 bytes');
  const raw = concatBytes(new Uint8Array([TYPE_COSIGNATURE_V1]), publicKey);
  return `${name}+${toHex(cosignerKeyId(name, publicKey))}+${toBase64(raw)}`;
}

/** Reads a witness verifier key; throws `BAD_KEY` unless it is a well-formed type 0x04 key. */
export function parseCosignerKey(vkey: string): CosignerKey {
  if (typeof vkey !== 'string' || vkey.length > 1024) fail('BAD_KEY', 'a verifier key is a short string');
  const first = vkey.indexOf('+');
  const second = first < 0 ? -1 : vkey.indexOf('+', first + 1);
  if (second < 0) fail('BAD_KEY', 'a verifier key is name+hash+key');
  const name = vkey.slice(0, first);
  const idHex = vkey.slice(first + 1, second);
  checkName(name);
  if (!/^[0-9a-f]{8}$/.test(idHex)) fail('BAD_KEY', 'the key ID is 8 lowercase hex digits');
  let raw: Uint8Array;
  try {
    raw = fromBase64(vkey.slice(second + 1));
  } catch {
    fail('BAD_KEY', 'the key is not base64');
  }
  if (raw.length !== 33 || raw[0] !== TYPE_COSIGNATURE_V1) {
    fail('BAD_KEY', 'a witness key is type 0x04 (cosignature/v1) with a 32-byte Ed25519 key');
  }
  const publicKey = raw.subarray(1);
  const keyId = fromHex(idHex);
  if (!bytesEqual(cosignerKeyId(name, publicKey), keyId))
    fail('BAD_KEY', 'the key ID does not match the key');
  return { name, keyId, publicKey, vkey };
}

function noteBody(note: string): string {
  // A bare body or a signed note: cosign the body only, never the signature lines.
  const body = note.includes('\n\n') ? openNote(note).text : note;
  parseCheckpoint(body);
  return body;
}

/**
 * The cosignature/v1 line (ending in a newline) of a witness over a checkpoint (its body or the
 * signed note), made at `time` (POSIX seconds).
 */
export function cosignCheckpoint(note: string, cosigner: Cosigner, time: number): string {
  checkName(cosigner.name);
  const body = noteBody(note);
  const publicKey = deriveCosignerPublicKey(cosigner.privateKey);
  const stamp = new Uint8Array(8);
  new DataView(stamp.buffer).setBigUint64(0, BigInt(time));
  const signature = signMessage(cosigner.privateKey, cosignatureMessage(body, time));
  const blob = concatBytes(cosignerKeyId(cosigner.name, publicKey), stamp, signature);
  return `${SIG_PREFIX}${cosigner.name} ${toBase64(blob)}\n`;
}

function readCosignature(sig: NoteSignature): { time: number; signature: Uint8Array } | undefined {
  // openNote split off the 4-byte key ID; what is left is u64 time ‖ 64-byte signature.
  if (sig.signature.length !== COSIGNATURE_BYTES - 4) return undefined;
  const view = new DataView(sig.signature.buffer, sig.signature.byteOffset, 8);
  const big = view.getBigUint64(0);
  if (big > BigInt(MAX_TIME)) return undefined;
  return { time: Number(big), signature: sig.signature.subarray(8) };
}

export interface CosignatureCheck {
  /** Cosignatures by trusted witnesses that verify, at most one per witness, in the order given. */
  cosignatures: Cosignature[];
  /** Names of trusted witnesses whose line is present but does not verify (or is malformed). */
  invalid: string[];
}

/**
 * Checks a signed checkpoint's cosignature lines against the witness keys a verifier trusts.
 * Lines by unknown keys (the log's own, untrusted witnesses) are ignored, as C2SP asks. A
 * line by a trusted witness that fails is reported in `invalid` rather than thrown, so one bad
 * witness cannot hide the others; callers decide (see `checkWitnessQuorum`).
 * `maxFutureSeconds` (with `now`) refuses cosignatures dated in the future, which the spec allows.
 */
export function verifyCosignatures(
  note: string,
  witnessKeys: readonly string[],
  options: { now?: number; maxFutureSeconds?: number } = {},
): CosignatureCheck {
  if (!Array.isArray(witnessKeys) || witnessKeys.length > MAX_WITNESS_KEYS) {
    fail('BAD_KEY', `witness keys are a list of at most ${MAX_WITNESS_KEYS}`);
  }
  const keys = witnessKeys.map(parseCosignerKey);
  const { text, signatures } = openNote(note);
  parseCheckpoint(text);
  const found = new Map<string, Cosignature>();
  const invalid: string[] = [];
  for (const sig of signatures) {
    const key = keys.find((k) => k.name === sig.name && bytesEqual(k.keyId, sig.keyHash));
    if (key === undefined || found.has(key.vkey)) continue;
    const cosig = readCosignature(sig);
    const future =
      cosig !== undefined &&
      options.maxFutureSeconds !== undefined &&
      cosig.time > (options.now ?? Math.floor(Date.now() / 1000)) + options.maxFutureSeconds;
    if (
      cosig === undefined ||
      future ||
      !verifyMessage(key.publicKey, cosignatureMessage(text, cosig.time), cosig.signature)
    ) {
      if (!invalid.includes(key.name)) invalid.push(key.name);
      continue;
    }
    found.set(key.vkey, { name: key.name, time: cosig.time, vkey: key.vkey });
  }
  const cosignatures = keys.flatMap((k) => {
    const c = found.get(k.vkey);
    return c === undefined ? [] : [c];
  });
  return { cosignatures, invalid: invalid.filter((n) => !cosignatures.some((c) => c.name === n)) };
}

export interface QuorumResult extends CosignatureCheck {
  quorum: number;
  /** Trusted witnesses. */
  of: number;
  met: boolean;
}

/** Whether at least `quorum` of the trusted witnesses cosigned the checkpoint (see `verifyCosignatures`). */
export function checkWitnessQuorum(
  note: string,
  witnessKeys: readonly string[],
  quorum: number,
  options: { now?: number; maxFutureSeconds?: number } = {},
): QuorumResult {
  if (!Number.isSafeInteger(quorum) || quorum < 0 || quorum > witnessKeys.length) {
    fail('BAD_KEY', 'the quorum is a whole number no larger than the number of witnesses');
  }
  const check = verifyCosignatures(note, witnessKeys, options);
  return { ...check, quorum, of: witnessKeys.length, met: check.cosignatures.length >= quorum };
}

/**
 * Reads a witness's add-checkpoint answer (one or more signature lines) and keeps the lines that
 * are valid cosignatures by `vkey` over `note`; throws `BAD_SIGNATURE` when there is none.
 */
export function acceptCosignatureLines(note: string, answer: string, vkey: string): string[] {
  if (typeof answer !== 'string' || answer.length > 64 * 1024 || !answer.endsWith('\n')) {
    fail('BAD_NOTE', 'a cosignature answer is signature lines ending in a newline');
  }
  const { text } = openNote(note);
  const key = parseCosignerKey(vkey);
  const lines = answer.slice(0, -1).split('\n');
  const kept: string[] = [];
  for (const line of lines) {
    if (!line.startsWith(SIG_PREFIX)) fail('BAD_NOTE', 'a signature line starts with an em dash');
    const check = verifyCosignatures(`${text}\n${line}\n`, [vkey]);
    if (check.cosignatures.length === 1) kept.push(`${line}\n`);
  }
  if (kept.length === 0) fail('BAD_SIGNATURE', `no valid cosignature by ${key.name} in the answer`);
  return kept;
}
