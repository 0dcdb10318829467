// Keys pinned in the page's address: `/r/{id}?pin=<print>[,<print>…]` — the RFC 7638 thumbprints
// of receipt keys (43 characters, as a trust file lists them as receiptKeys and the certificate
// prints them) and the SHA-256 of checkpoint verifier keys (64 hex digits, as `lianzheng verify
// --trust` and the certificate print them). Without a pin the page believes the keys the gateway
// serves today. With a receipt pin, the key that signed the receipt must be pinned or reached from
// a pinned key through the published rotation statements, each signed by the key before it
// (proof's followRotations). With a checkpoint pin, the checks believe only the pinned checkpoint
// keys and those reached from them through published checkpoint key rotations, so a checkpoint
// signed by any other key fails its step. Otherwise the page says so loudly. TSA roots and
// witnesses are pinned with the CLI's `--trust`.
import {
  checkpointKeyFingerprint,
  followCheckpointRotations,
  followRotations,
  jwkThumbprint,
} from '@lianzheng/proof';
import type { KeysAnswer } from './api.ts';

/** At most this many pins are read from an address. */
const MAX_PINS = 16;
const THUMBPRINT = /^[A-Za-z0-9_-]{43}$/;
const CHECKPOINT_PRINT = /^[0-9a-f]{64}$/;

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

/** The pins by kind; undefined when one is neither a receipt thumbprint nor a checkpoint print. */
export function pinKinds(pins: string[]): { receipt: string[]; checkpoint: string[] } | undefined {
  const receipt = pins.filter((p) => THUMBPRINT.test(p));
  const checkpoint = pins.filter((p) => CHECKPOINT_PRINT.test(p.toLowerCase())).map((p) => p.toLowerCase());
  if (pins.length === 0 || receipt.length + checkpoint.length !== pins.length) return undefined;
  return { receipt, checkpoint };
}

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

export type CheckpointPinCheck =
  /** `keys`: the served checkpoint keys the reader pinned, and those reached from them. */
  | { state: 'pinned'; keys: string[] }
  | { state: 'followed'; keys: string[]; steps: number }
  /** No checkpoint key the gateway serves has a pinned fingerprint. */
  | { state: 'unknown' }
  | { state: 'refused'; reason: string };

/**
 * The checkpoint keys the reader pinned (`prints`: SHA-256 of verifier keys, lower-case hex) among
 * those the gateway serves, and the keys reached from them through the published checkpoint key
 * rotations (proof's followCheckpointRotations: a bad statement or a fork refuses them all).
 */
export function checkCheckpointPins(prints: string[], keys: KeysAnswer): CheckpointPinCheck {
  const pinned = keys.checkpointKeys.filter((k) => prints.includes(checkpointKeyFingerprint(k)));
  if (pinned.length === 0) return { state: 'unknown' };
  const chain = followCheckpointRotations(pinned, keys.checkpointRotations ?? []);
  if (!chain.ok) return { state: 'refused', reason: chain.reason };
  return chain.keys.length > 0
    ? { state: 'followed', keys: [...pinned, ...chain.keys], steps: chain.keys.length }
    : { state: 'pinned', keys: pinned };
}

/**
 * The keys the checks believe: with checkpoint pins, only the pinned checkpoint keys and those
 * reached from them (none when the pins matched nothing or the rotations were refused), so a
 * checkpoint signed by another key fails the checkpoint step instead of passing on the gateway's word.
 */
export function withPinnedCheckpointKeys(
  keys: KeysAnswer,
  check: CheckpointPinCheck | undefined,
): KeysAnswer {
  if (!check) return keys;
  const believed = check.state === 'pinned' || check.state === 'followed' ? check.keys : [];
  return { ...keys, checkpointKeys: keys.checkpointKeys.filter((k) => believed.includes(k)) };
}

/**
 * The address's pins (`?pin=`) read against the keys the gateway serves: `bad` when a pin is
 * neither kind; the receipt pins, for `checkReceiptPin` per record; the checkpoint pins' outcome;
 * and the keys the checks are to believe (`withPinnedCheckpointKeys`). Undefined: no pins.
 */
export function readPins(
  search: string,
  keys: KeysAnswer,
): { bad: boolean; receipt: string[]; checkpoint?: CheckpointPinCheck; keys: KeysAnswer } | undefined {
  const pins = pinsOf(search);
  if (!pins) return undefined;
  const kinds = pinKinds(pins);
  if (!kinds) return { bad: true, receipt: [], keys };
  const checkpoint = kinds.checkpoint.length ? checkCheckpointPins(kinds.checkpoint, keys) : undefined;
  return {
    bad: false,
    receipt: kinds.receipt,
    ...(checkpoint ? { checkpoint } : {}),
    keys: withPinnedCheckpointKeys(keys, checkpoint),
  };
}
