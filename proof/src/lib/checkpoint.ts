// C2SP tlog-checkpoint notes, signed as C2SP signed-note with Ed25519.
//   checkpoint body:  <origin>\n<size>\n<base64 root>\n[<extension>\n]*
//   signed note:      <body>\n— <key name> <base64(key hash ‖ signature)>\n ...
//   verifier key:     <key name>+<hex key hash>+<base64(0x01 ‖ public key)>
//   key hash:         first 4 bytes of SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ public key)
import { publicKey as edPublicKey, signMessage, verifyMessage } from '#ed25519-impl';
import { sha256 } from './digest.ts';
import { bytesEqual, concatBytes, fromBase64, fromHex, toBase64, toHex, utf8 } from './encoding.ts';
import { ProofError, type ProofErrorCode } from './errors.ts';

const ALG_ED25519 = 0x01;
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

export interface CheckpointSigner {
  name: string;
  /** The 32-byte Ed25519 seed. */
  privateKey: Uint8Array;
}

interface NoteSignature {
  name: string;
  keyHash: Uint8Array;
  signature: Uint8Array;
}

interface VerifierKey {
  name: string;
  keyHash: Uint8Array;
  publicKey: Uint8Array;
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

function keyHash(name: string, publicKey: Uint8Array): Uint8Array {
  return sha256(concatBytes(utf8(name), new Uint8Array([0x0a, ALG_ED25519]), publicKey)).subarray(0, 4);
}

/** The Ed25519 public key of a 32-byte seed. */
export function deriveNotePublicKey(privateKey: Uint8Array): Uint8Array {
  checkEd25519Key(privateKey, 'private key');
  return edPublicKey(privateKey);
}

/** The signed-note verifier key `name+hash+base64(0x01 ‖ public key)`. */
export function noteVerifierKey(name: string, publicKey: Uint8Array): string {
  checkKeyName(name);
  checkEd25519Key(publicKey, 'public key');
  const encoded = toBase64(concatBytes(new Uint8Array([ALG_ED25519]), publicKey));
  return `${name}+${toHex(keyHash(name, publicKey))}+${encoded}`;
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
  if (raw.length !== 33 || raw[0] !== ALG_ED25519)
    fail('BAD_KEY', 'only Ed25519 verifier keys are supported');
  const publicKey = raw.subarray(1);
  const expected = fromHex(hashHex);
  if (!bytesEqual(keyHash(name, publicKey), expected)) fail('BAD_KEY', 'the key hash does not match the key');
  return { name, keyHash: expected, publicKey };
}

function checkNoteText(text: string): void {
  if (text.length === 0 || !text.endsWith('\n')) fail('BAD_NOTE', 'note text must end with a newline');
  if (CONTROL.test(text)) fail('BAD_NOTE', 'note text holds control characters');
  if (/[\uD800-\uDFFF]/u.test(text)) fail('BAD_NOTE', 'note text is not valid Unicode');
}

/** Splits a signed note into its text (ending in a newline) and its signatures. */
function openNote(note: string): { text: string; signatures: NoteSignature[] } {
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
  let text: string;
  let existing = '';
  if (typeof note === 'string' && note.includes('\n\n')) {
    text = openNote(note).text;
    existing = note.slice(text.length + 1);
  } else {
    text = note;
    checkNoteText(text);
  }
  const publicKey = edPublicKey(signer.privateKey);
  const signature = signMessage(signer.privateKey, utf8(text));
  const line = `${SIG_PREFIX}${signer.name} ${toBase64(concatBytes(keyHash(signer.name, publicKey), signature))}\n`;
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
export function verifyNote(note: string, verifierKeys: string[]): { text: string; verifiedBy: string[] } {
  if (!Array.isArray(verifierKeys)) fail('BAD_KEY', 'verifier keys are a list');
  const keys = verifierKeys.map(parseVerifierKey);
  const { text, signatures } = openNote(note);
  const message = utf8(text);
  const verifiedBy: string[] = [];
  for (const sig of signatures) {
    const key = keys.find((k) => k.name === sig.name && bytesEqual(k.keyHash, sig.keyHash));
    if (key === undefined) continue;
    if (!verifyMessage(key.publicKey, message, sig.signature)) {
      fail('BAD_SIGNATURE', `the signature by ${key.name} does not verify`);
    }
    if (!verifiedBy.includes(key.name)) verifiedBy.push(key.name);
  }
  if (verifiedBy.length === 0) fail('UNKNOWN_KEY', 'no signature by a known key');
  return { text, verifiedBy };
}

/**
 * Verifies a signed checkpoint against verifier keys (see `verifyNote`) and reads it.
 * Throws `BAD_KEY`, `BAD_NOTE`, `BAD_SIGNATURE`, `UNKNOWN_KEY` or `BAD_CHECKPOINT`.
 */
export async function verifyCheckpoint(
  note: string,
  verifierKeys: string[],
): Promise<{ checkpoint: Checkpoint; verifiedBy: string[] }> {
  const { text, verifiedBy } = verifyNote(note, verifierKeys);
  return { checkpoint: parseBody(text), verifiedBy };
}
