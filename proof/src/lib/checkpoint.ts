// C2SP tlog-checkpoint notes, signed as C2SP signed-note with Ed25519.
//   checkpoint body:  <origin>\n<size>\n<base64 root>\n[<extension>\n]*
//   signed note:      <body>\n— <key name> <base64(key hash ‖ signature)>\n ...
//   verifier key:     <key name>+<hex key hash>+<base64(0x01 ‖ public key)>
//   key hash:         first 4 bytes of SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ public key)
// and, beside Ed25519, SM2 (GB/T 32918.2, with SM3 and Z over the default ID 1234567812345678)
// under signed-note's type 0xff ("no identifier byte assigned; follow it with a longer
// identifier"): the type is 0xff ‖ "SM2-with-SM3" (OpenSSL's name for OID 1.2.156.10197.1.501,
// SM2 signature with SM3), the public key 65 bytes uncompressed, the signature r ‖ s (64 bytes):
//   verifier key:     <key name>+<hex key hash>+<base64(0xff ‖ "SM2-with-SM3" ‖ 04 ‖ x ‖ y)>
//   key hash:         first 4 bytes of SHA-256(key name ‖ 0x0A ‖ 0xff ‖ "SM2-with-SM3" ‖ 04 ‖ x ‖ y)
import { publicKey as edPublicKey, signMessage, verifyMessage } from '#ed25519-impl';
import { sha256 } from './digest.ts';
import { bytesEqual, concatBytes, fromBase64, fromHex, toBase64, toHex, utf8 } from './encoding.ts';
import { ProofError, type ProofErrorCode } from './errors.ts';
import { assertSm2PublicKey, sm2PublicKey, sm2Sign, sm2Verify } from './sm2.ts';

const ALG_ED25519 = 0x01;
/** The signed-note signature type of SM2 checkpoint signatures (see the head of this file). */
const TYPE_SM2 = concatBytes(new Uint8Array([0xff]), utf8('SM2-with-SM3'));
const SM2_PUBLIC_KEY_BYTES = 65;
const SIG_PREFIX = '\u2014 '; // em dash, space
const MAX_NOTE_BYTES = 1 << 20;
const MAX_SIGNATURES = 100;
const DECIMAL = /^(0|[1-9][0-9]*)$/;
// Unicode white space or '+' may not appear in a key name (signed-note).
const BAD_NAME = /[\s+]/u;
// ASCII control characters other than newline may not appear in a note.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f]/;

export interface Checkpoint {
  origin: string;
  size: number;
  rootHash: Uint8Array;
  extensions?: string[];
}

/** A signed-note signature algorithm: `ed25519` (type 0x01) or `sm2` (type 0xff ‖ "SM2-with-SM3"). */
export type NoteAlgorithm = 'ed25519' | 'sm2';

export interface CheckpointSigner {
  name: string;
  /** The 32-byte Ed25519 seed, or the 32-byte SM2 private key. */
  privateKey: Uint8Array;
  /** Default `ed25519`. */
  algorithm?: NoteAlgorithm;
}

export interface NoteSignature {
  name: string;
  keyHash: Uint8Array;
  signature: Uint8Array;
}

interface VerifierKey {
  name: string;
  keyHash: Uint8Array;
  publicKey: Uint8Array;
  algorithm: NoteAlgorithm;
}

function fail(code: ProofErrorCode, why: string): never {
  throw new ProofError(code, why);
}

function checkKeyName(name: string): void {
  if (typeof name !== 'string' || name.length === 0 || BAD_NAME.test(name)) {
    fail('BAD_KEY', 'a key name is non-empty, without spaces or "+"');
  }
}

function checkEd25519Key(key: Uint8Array, what: string): void {
  if (!(key instanceof Uint8Array) || key.length !== 32) fail('BAD_KEY', `${what} must be 32 bytes`);
}

function typeBytes(algorithm: NoteAlgorithm): Uint8Array {
  return algorithm === 'sm2' ? TYPE_SM2 : new Uint8Array([ALG_ED25519]);
}

function keyHash(name: string, publicKey: Uint8Array, algorithm: NoteAlgorithm = 'ed25519'): Uint8Array {
  return sha256(concatBytes(utf8(name), new Uint8Array([0x0a]), typeBytes(algorithm), publicKey)).subarray(
    0,
    4,
  );
}

function checkPublicKey(publicKey: Uint8Array, algorithm: NoteAlgorithm): void {
  if (algorithm === 'ed25519') checkEd25519Key(publicKey, 'public key');
  else if (
    !(publicKey instanceof Uint8Array) ||
    publicKey.length !== SM2_PUBLIC_KEY_BYTES ||
    publicKey[0] !== 0x04
  )
    fail('BAD_KEY', 'an SM2 public key is 65 bytes, 04 ‖ x ‖ y');
}

/** The public key of a 32-byte Ed25519 seed, or (`sm2`) of a 32-byte SM2 private key. */
export function deriveNotePublicKey(
  privateKey: Uint8Array,
  algorithm: NoteAlgorithm = 'ed25519',
): Uint8Array {
  checkEd25519Key(privateKey, 'private key');
  return algorithm === 'sm2' ? sm2PublicKey(privateKey) : edPublicKey(privateKey);
}

/** The signed-note verifier key `name+hash+base64(type ‖ public key)`. */
export function noteVerifierKey(
  name: string,
  publicKey: Uint8Array,
  algorithm: NoteAlgorithm = 'ed25519',
): string {
  checkKeyName(name);
  checkPublicKey(publicKey, algorithm);
  const encoded = toBase64(concatBytes(typeBytes(algorithm), publicKey));
  return `${name}+${toHex(keyHash(name, publicKey, algorithm))}+${encoded}`;
}

/** The algorithm of a verifier key (`ed25519` or `sm2`); throws `BAD_KEY` for a malformed one. */
export function noteKeyAlgorithm(vkey: string): NoteAlgorithm {
  return parseVerifierKey(vkey).algorithm;
}

function parseVerifierKey(vkey: string): VerifierKey {
  if (typeof vkey !== 'string') fail('BAD_KEY', 'a verifier key is a string');
  // The base64 key may itself contain '+', so split at the first two only (names cannot hold '+').
  const first = vkey.indexOf('+');
  const second = first < 0 ? -1 : vkey.indexOf('+', first + 1);
  if (second < 0) fail('BAD_KEY', 'a verifier key is name+hash+key');
  const name = vkey.slice(0, first);
  const hashHex = vkey.slice(first + 1, second);
  const keyB64 = vkey.slice(second + 1);
  checkKeyName(name);
  if (!/^[0-9a-f]{8}$/.test(hashHex)) fail('BAD_KEY', 'the key hash is 8 lowercase hex digits');
  let raw: Uint8Array;
  try {
    raw = fromBase64(keyB64);
  } catch {
    fail('BAD_KEY', 'the key is not base64');
  }
  let algorithm: NoteAlgorithm;
  let publicKey: Uint8Array;
  if (raw.length === 33 && raw[0] === ALG_ED25519) {
    algorithm = 'ed25519';
    publicKey = raw.subarray(1);
  } else if (
    raw.length === TYPE_SM2.length + SM2_PUBLIC_KEY_BYTES &&
    bytesEqual(raw.subarray(0, TYPE_SM2.length), TYPE_SM2)
  ) {
    algorithm = 'sm2';
    publicKey = raw.subarray(TYPE_SM2.length);
    assertSm2PublicKey(publicKey); // on the curve, so a bad key is named as such, not as a bad signature
  } else {
    fail('BAD_KEY', 'only Ed25519 and SM2 verifier keys are supported');
  }
  const expected = fromHex(hashHex);
  if (!bytesEqual(keyHash(name, publicKey, algorithm), expected))
    fail('BAD_KEY', 'the key hash does not match the key');
  return { name, keyHash: expected, publicKey, algorithm };
}

function checkNoteText(text: string): void {
  if (text.length === 0 || !text.endsWith('\n')) fail('BAD_NOTE', 'note text must end with a newline');
  if (CONTROL.test(text)) fail('BAD_NOTE', 'note text holds control characters');
  if (/[\uD800-\uDFFF]/u.test(text)) fail('BAD_NOTE', 'note text is not valid Unicode');
}

/** Splits a signed note into its text (ending in a newline) and its signatures (also read by cosignature.ts). */
export function openNote(note: string): { text: string; signatures: NoteSignature[] } {
  if (typeof note !== 'string') fail('BAD_NOTE', 'a note is a string');
  if (note.length > MAX_NOTE_BYTES) fail('BAD_NOTE', 'note too large');
  const split = note.lastIndexOf('\n\n');
  if (split < 0) fail('BAD_NOTE', 'no signature block');
  const text = note.slice(0, split + 1);
  checkNoteText(text);
  const block = note.slice(split + 2);
  if (!block.endsWith('\n')) fail('BAD_NOTE', 'signature block must end with a newline');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) fail('BAD_NOTE', 'too many signatures');
  const signatures = lines.map((line): NoteSignature => {
    if (!line.startsWith(SIG_PREFIX)) fail('BAD_NOTE', 'a signature line starts with an em dash');
    const rest = line.slice(SIG_PREFIX.length);
    const space = rest.indexOf(' ');
    if (space <= 0) fail('BAD_NOTE', 'a signature line is "— name signature"');
    const name = rest.slice(0, space);
    if (BAD_NAME.test(name)) fail('BAD_NOTE', 'bad key name in a signature line');
    let raw: Uint8Array;
    try {
      raw = fromBase64(rest.slice(space + 1));
    } catch {
      fail('BAD_NOTE', 'a signature is not base64');
    }
    if (raw.length < 5) fail('BAD_NOTE', 'a signature is too short');
    return { name, keyHash: raw.subarray(0, 4), signature: raw.subarray(4) };
  });
  return { text, signatures };
}

/** The checkpoint note body. */
export function formatCheckpoint(checkpoint: Checkpoint): string {
  const { origin, size, rootHash, extensions = [] } = checkpoint;
  if (typeof origin !== 'string' || origin.length === 0 || origin.includes('\n')) {
    fail('BAD_CHECKPOINT', 'origin is one non-empty line');
  }
  if (!Number.isSafeInteger(size) || size < 0) fail('BAD_CHECKPOINT', 'size is a non-negative safe integer');
  if (!(rootHash instanceof Uint8Array) || rootHash.length !== 32)
    fail('BAD_LENGTH', 'root hash is 32 bytes');
  for (const ext of extensions) {
    if (typeof ext !== 'string' || ext.length === 0 || ext.includes('\n')) {
      fail('BAD_CHECKPOINT', 'an extension is one non-empty line');
    }
  }
  const body = [origin, String(size), toBase64(rootHash), ...extensions].join('\n') + '\n';
  checkNoteText(body);
  return body;
}

function parseBody(body: string): Checkpoint {
  const lines = body.slice(0, -1).split('\n');
  if (lines.length < 3) fail('BAD_CHECKPOINT', 'a checkpoint has origin, size and root lines');
  const [origin, sizeText, rootText, ...extensions] = lines as [string, string, string, ...string[]];
  if (origin.length === 0) fail('BAD_CHECKPOINT', 'empty origin');
  if (!DECIMAL.test(sizeText)) fail('BAD_CHECKPOINT', 'size is a decimal number without leading zeros');
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) fail('BAD_CHECKPOINT', 'size is too large');
  let rootHash: Uint8Array;
  try {
    rootHash = fromBase64(rootText);
  } catch {
    fail('BAD_CHECKPOINT', 'root hash is not base64');
  }
  if (rootHash.length !== 32) fail('BAD_CHECKPOINT', 'root hash is 32 bytes');
  if (extensions.some((e) => e.length === 0)) fail('BAD_CHECKPOINT', 'empty extension line');
  return extensions.length > 0 ? { origin, size, rootHash, extensions } : { origin, size, rootHash };
}

/** Reads a checkpoint from a signed note or a bare body, without checking any signature. */
export function parseCheckpoint(note: string): Checkpoint {
  if (typeof note !== 'string') fail('BAD_NOTE', 'a note is a string');
  if (note.includes('\n\n')) return parseBody(openNote(note).text);
  checkNoteText(note);
  return parseBody(note);
}

/**
 * Signs a note's text, or adds one more signature to an already signed note (a cosigner).
 * Generic signed-note layer; `signCheckpoint` is what the log uses.
 */
export function signNote(note: string, signer: CheckpointSigner): string {
  checkKeyName(signer.name);
  checkEd25519Key(signer.privateKey, 'private key');
  const algorithm = signer.algorithm ?? 'ed25519';
  let text: string;
  let existing = '';
  if (typeof note === 'string' && note.includes('\n\n')) {
    text = openNote(note).text;
    existing = note.slice(text.length + 1);
  } else {
    text = note;
    checkNoteText(text);
  }
  const publicKey = deriveNotePublicKey(signer.privateKey, algorithm);
  const signature =
    algorithm === 'sm2' ? sm2Sign(signer.privateKey, utf8(text)) : signMessage(signer.privateKey, utf8(text));
  const line = `${SIG_PREFIX}${signer.name} ${toBase64(concatBytes(keyHash(signer.name, publicKey, algorithm), signature))}\n`;
  return `${text}\n${existing}${line}`;
}

/**
 * Signs a checkpoint body, or adds one more signature to an already signed checkpoint (a
 * cosigner). Returns the signed note.
 */
export async function signCheckpoint(body: string, signer: CheckpointSigner): Promise<string> {
  parseCheckpoint(body);
  return signNote(body, signer);
}

/**
 * Verifies a signed note against verifier keys: at least one signature by a known key is needed,
 * any signature by a known key that fails is an error, unknown signers are ignored.
 */
export function verifyNote(
  note: string,
  verifierKeys: string[],
): { text: string; verifiedBy: string[]; algorithms: NoteAlgorithm[] } {
  if (!Array.isArray(verifierKeys)) fail('BAD_KEY', 'verifier keys are a list');
  const keys = verifierKeys.map(parseVerifierKey);
  const { text, signatures } = openNote(note);
  const message = utf8(text);
  const verifiedBy: string[] = [];
  const algorithms: NoteAlgorithm[] = [];
  for (const sig of signatures) {
    const key = keys.find((k) => k.name === sig.name && bytesEqual(k.keyHash, sig.keyHash));
    if (key === undefined) continue;
    const ok =
      key.algorithm === 'sm2'
        ? sm2Verify(key.publicKey, message, sig.signature)
        : verifyMessage(key.publicKey, message, sig.signature);
    if (!ok) fail('BAD_SIGNATURE', `the ${key.algorithm} signature by ${key.name} does not verify`);
    if (!verifiedBy.includes(key.name)) verifiedBy.push(key.name);
    if (!algorithms.includes(key.algorithm)) algorithms.push(key.algorithm);
  }
  if (verifiedBy.length === 0) fail('UNKNOWN_KEY', 'no signature by a known key');
  return { text, verifiedBy, algorithms };
}

/**
 * Verifies a signed checkpoint against verifier keys (see `verifyNote`) and reads it.
 * Throws `BAD_KEY`, `BAD_NOTE`, `BAD_SIGNATURE`, `UNKNOWN_KEY` or `BAD_CHECKPOINT`.
 */
export async function verifyCheckpoint(
  note: string,
  verifierKeys: string[],
): Promise<{ checkpoint: Checkpoint; verifiedBy: string[]; algorithms: NoteAlgorithm[] }> {
  const { text, verifiedBy, algorithms } = verifyNote(note, verifierKeys);
  return { checkpoint: parseBody(text), verifiedBy, algorithms };
}
