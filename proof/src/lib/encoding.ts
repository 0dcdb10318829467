import { utf8Encode } from '#codec-impl';
import { ProofError } from './errors.ts';

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Lowercase hex of the bytes. */
export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]!];
  return out;
}

function nibble(code: number): number {
  if (code >= 48 && code <= 57) return code - 48; // 0-9
  if (code >= 97 && code <= 102) return code - 87; // a-f
  if (code >= 65 && code <= 70) return code - 55; // A-F
  return -1;
}

/** Bytes of a hex string (either case); throws `BAD_HEX` for odd length or non-hex characters. */
export function fromHex(hex: string): Uint8Array {
  if (typeof hex !== 'string' || hex.length % 2 !== 0) {
    throw new ProofError('BAD_HEX', 'hex must be a string of even length');
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = nibble(hex.charCodeAt(2 * i));
    const lo = nibble(hex.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) throw new ProofError('BAD_HEX', `not a hex digit at ${2 * i}`);
    out[i] = (hi << 4) | lo;
  }
  return out;
}

/** True for exactly 64 lowercase hex digits: the form records carry SHA-256 digests in. */
export function isSha256Hex(value: unknown): value is string {
  return typeof value === 'string' && SHA256_HEX.test(value);
}

/** Hex → 32 bytes, refusing anything but 64 lowercase hex digits. */
export function hashFromHex(hex: string): Uint8Array {
  if (!isSha256Hex(hex)) throw new ProofError('BAD_HEX', 'expected 64 lowercase hex digits');
  return fromHex(hex);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** UTF-8 bytes of `text` (Buffer's encoder in Node, several times faster on short strings). */
export function utf8(text: string): Uint8Array {
  return utf8Encode(text);
}

// Standard base64 with padding, as signed notes and checkpoints use. atob/btoa exist in Node 20 and
// every browser; atob is forgiving (whitespace, missing padding), so decoding re-encodes and
// compares to accept only the one canonical spelling of each byte string.
export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]!);
  return btoa(binary);
}

export function fromBase64(text: string): Uint8Array {
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    throw new ProofError('BAD_BASE64', 'not base64');
  }
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  if (toBase64(out) !== text) throw new ProofError('BAD_BASE64', 'not canonical padded base64');
  return out;
}
