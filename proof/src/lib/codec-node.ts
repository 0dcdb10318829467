// Node implementation behind `#codec-impl`: Buffer's native UTF-8 and base64url, several times
// faster than portable code for the short strings of group receipts (two encodings per record,
// thousands of records per group commit), and with less garbage.
export function utf8Encode(text: string): Uint8Array {
  const buf = Buffer.from(text, 'utf8');
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

export function base64urlEncode(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

/** Lenient, like every base64url decoder: callers that need one spelling re-encode and compare. */
export function base64urlDecode(text: string): Uint8Array {
  const buf = Buffer.from(text, 'base64url');
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}
