// Receipt keys pinned in the page's address: `/r/{id}?pin=<thumbprint>[,<thumbprint>…]` (the RFC
// 7638 thumbprints a trust file lists as receiptKeys, or that the certificate prints). Without a
// pin the page believes the keys the gateway serves today; with one, the key that signed the
// receipt must be a pinned key or one reached from a pinned key through the published rotation
// statements, each signed by the key before it (proof's followRotations) — otherwise the page says
// so loudly. Only receipt keys are pinned this way (checkpoint keys and TSA roots: the CLI's
// `--trust`).
import { followRotations, jwkThumbprint } from '@lianzheng/proof';
import type { KeysAnswer } from './api.ts';

/** At most this many pins are read from an address. */
const MAX_PINS = 16;
const THUMBPRINT = /^[A-Za-z0-9_-]{43}$/;

/** The pinned thumbprints of a query string (`?pin=a,b`, or `pin` repeated); undefined: none given. */
export function pinsOf(search: string): string[] | undefined {
  const values = new URLSearchParams(search).getAll('pin');
  if (values.length === 0) return undefined;
  return values
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean)
    .slice(0, MAX_PINS);
}

export type PinCheck =
  | { state: 'pinned' }
  | { state: 'followed'; steps: number }
  | { state: 'mismatch'; kid: string }
  | { state: 'refused'; reason: string }
  | { state: 'bad-pin' };

/** Whether the receipt key `kid` is one of `pins`, or reached from them by published rotations. */
export async function checkReceiptPin(pins: string[], keys: KeysAnswer, kid: string): Promise<PinCheck> {
  if (pins.length === 0 || !pins.every((p) => THUMBPRINT.test(p))) return { state: 'bad-pin' };
  const jwk = (keys.jwks.keys as Record<string, unknown>[]).find((k) => k.kid === kid);
  let print: string | undefined;
  try {
    print = jwk ? jwkThumbprint(jwk) : undefined;
  } catch {
    print = undefined;
  }
  if (print === undefined) return { state: 'mismatch', kid };
  if (pins.includes(print)) return { state: 'pinned' };
  const chain = await followRotations(pins, keys.rotations ?? []);
  if (!chain.ok) return { state: 'refused', reason: chain.reason };
  const reached = chain.keys.find((k) => k.thumbprint === print);
  return reached ? { state: 'followed', steps: reached.steps } : { state: 'mismatch', kid };
}
