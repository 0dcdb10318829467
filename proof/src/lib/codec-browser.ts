// Browser implementation behind `#codec-impl`: TextEncoder and jose's portable base64url.
import { base64url } from 'jose';

const encoder = new TextEncoder();

export function utf8Encode(text: string): Uint8Array {
  return encoder.encode(text);
}

export function base64urlEncode(bytes: Uint8Array): string {
  return base64url.encode(bytes);
}

/** Lenient, like every base64url decoder: callers that need one spelling re-encode and compare. */
export function base64urlDecode(text: string): Uint8Array {
  return base64url.decode(text);
}
