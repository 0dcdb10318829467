// Key rotations a verifier can follow. A trust file pins the receipt keys of the day it was
// downloaded; after a rotation the gateway signs with a key the file does not name. Each rotation
// is therefore published as a statement — "key P hands over to key N at time T" — signed by the
// previous key P (only its holder could have written it) and by the new key N (whoever holds N
// agreed to be P's successor, so a statement cannot name somebody else's key). A verifier holding
// an old trust file accepts a newer key only through an unbroken chain of such statements starting
// at a key it pinned, and refuses the whole set when any statement is forged or when one key hands
// over to two different successors (a fork: one of them was not the operator's doing).

import { base64urlDecode } from '#codec-impl';
import type { AnchorSite } from './bundle.ts';
import { canonicalJson } from './canonical-json.ts';
import { followCheckpointRotations } from './checkpoint-key-rotation.ts';
import { isProofError } from './errors.ts';
import { type JSONWebKeySet, verifyJws } from './receipt.ts';
import { checkTrust, jwkThumbprint, type KeyRotation, type PublishedKeys } from './trust.ts';

export type { KeyRotation };

/** The `type` claim of a rotation statement. */
export const KEY_ROTATION_TYPE = 'lianzheng-key-rotation/v1';
/** The JWS `typ` of both signatures of a rotation statement. */
export const KEY_ROTATION_JWS_TYPE = 'lianzheng-key-rotation+jwt';

/** The `type` claim of an anchoring identity change (a contract move, a new anchoring address). */
export const ANCHOR_CHANGE_TYPE = 'lianzheng-anchor-change/v1';
/** The JWS `typ` of an anchoring identity change, signed by a receipt key of the operator. */
export const ANCHOR_CHANGE_JWS_TYPE = 'lianzheng-anchor-change+jwt';

/** What an anchoring identity change says: anchors from `retired` are followed by ones from `next`. */
export interface AnchorChangeClaims {
  type: typeof ANCHOR_CHANGE_TYPE;
  retired: AnchorSite;
  next: AnchorSite;
}

const siteOf = (a: AnchorSite): AnchorSite => ({
  chainId: a.chainId,
  contract: a.contract.toLowerCase(),
  anchorer: a.anchorer.toLowerCase(),
});
const isSite = (a: unknown): a is AnchorSite =>
  typeof a === 'object' &&
  a !== null &&
  ['chainId', 'contract', 'anchorer'].every((m) => typeof (a as Record<string, unknown>)[m] === 'string');
const sameSite = (a: AnchorSite, b: AnchorSite) =>
  isSite(a) &&
  isSite(b) &&
  a.chainId === b.chainId &&
  a.contract.toLowerCase() === b.contract.toLowerCase() &&
  a.anchorer.toLowerCase() === b.anchorer.toLowerCase();

/** The canonical JSON an anchoring identity change is signed over (addresses lowercase). */
export function anchorChangePayload(retired: AnchorSite, next: AnchorSite): string {
  return canonicalJson({ type: ANCHOR_CHANGE_TYPE, retired: siteOf(retired), next: siteOf(next) });
}

/** The most rotation statements a verifier follows. */
export const MAX_ROTATIONS = 10_000;

/** One end of a rotation: the key's id, RFC 7638 thumbprint and public JWK. */
export interface RotationKey {
  kid: string;
  thumbprint: string;
  jwk: Record<string, unknown>;
}

/** What a rotation statement says (the JWS payload, canonical JSON). */
export interface KeyRotationClaims {
  type: typeof KEY_ROTATION_TYPE;
  previous: RotationKey;
  next: RotationKey;
  /** When the new key became current (ISO 8601). */
  at: string;
}

/** The canonical claims of a rotation from `previous` to `next` (what both keys sign). */
export function keyRotationClaims(
  previous: { kid: string; jwk: Record<string, unknown> },
  next: { kid: string; jwk: Record<string, unknown> },
  at: string,
): KeyRotationClaims {
  const end = (k: { kid: string; jwk: Record<string, unknown> }): RotationKey => {
    const jwk = publicMembers(k.jwk);
    return { kid: k.kid, thumbprint: jwkThumbprint(jwk), jwk: { ...jwk, kid: k.kid } };
  };
  return { type: KEY_ROTATION_TYPE, previous: end(previous), next: end(next), at };
}

/** The JSON both signatures are made over: canonical, so one statement has one spelling. */
export function keyRotationPayload(claims: KeyRotationClaims): string {
  return canonicalJson(claims);
}

// Only public members travel in a statement; a private one would be a leak, and is refused.
const PUBLIC_MEMBERS = ['kty', 'crv', 'x', 'y', 'n', 'e', 'alg', 'use', 'kid'] as const;
function publicMembers(jwk: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const m of PUBLIC_MEMBERS) if (jwk[m] !== undefined) out[m] = jwk[m];
  return out;
}

/** A key reached through rotation statements, and how. */
export interface FollowedKey {
  kid: string;
  thumbprint: string;
  jwk: Record<string, unknown>;
  /** Statements followed from a pinned key to this one. */
  steps: number;
}

export type FollowFailure = 'BAD_STATEMENT' | 'BAD_SIGNATURE' | 'FORK';

export type FollowResult =
  | {
      ok: true;
      /** Keys not pinned that the chain reaches, in the order they were reached. */
      keys: FollowedKey[];
      /** How many statements handed over to a key not pinned (what was followed). */
      followed: number;
      /** Statements whose previous key is neither pinned nor reached: a gap before them. */
      unreached: { index: number; previous: string; next: string }[];
    }
  | { ok: false; code: FollowFailure; index: number; reason: string };

const fail = (code: FollowFailure, index: number, reason: string): FollowResult => ({
  ok: false,
  code,
  index,
  reason: `rotation statement ${index + 1}: ${reason}`,
});

function decodeSegment(segment: string): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(base64urlDecode(segment)));
  } catch {
    return undefined;
  }
}

function isRotationKey(v: unknown): v is RotationKey {
  const k = v as RotationKey;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof k.kid === 'string' &&
    typeof k.thumbprint === 'string' &&
    typeof k.jwk === 'object' &&
    k.jwk !== null &&
    !Array.isArray(k.jwk)
  );
}

/** Checks one statement completely (shape, both thumbprints, both signatures): its claims. */
async function checkStatement(statement: unknown, index: number): Promise<KeyRotationClaims | FollowResult> {
  const s = statement as KeyRotation;
  if (typeof statement !== 'object' || statement === null)
    return fail('BAD_STATEMENT', index, 'not an object {byPrevious, byNext}');
  if (typeof s.byPrevious !== 'string' || typeof s.byNext !== 'string')
    return fail('BAD_STATEMENT', index, 'byPrevious and byNext must both be compact JWSs');
  const a = s.byPrevious.split('.');
  const b = s.byNext.split('.');
  if (a.length !== 3 || b.length !== 3) return fail('BAD_STATEMENT', index, 'a JWS has three parts');
  // Both keys sign the very same bytes, or they did not agree to the same hand-over.
  if (a[1] !== b[1]) return fail('BAD_STATEMENT', index, 'the two signatures are over different statements');
  const claims = decodeSegment(a[1]!) as KeyRotationClaims | undefined;
  if (
    typeof claims !== 'object' ||
    claims === null ||
    claims.type !== KEY_ROTATION_TYPE ||
    !isRotationKey(claims.previous) ||
    !isRotationKey(claims.next) ||
    typeof claims.at !== 'string' ||
    Number.isNaN(Date.parse(claims.at))
  )
    return fail('BAD_STATEMENT', index, `not a ${KEY_ROTATION_TYPE} statement`);
  for (const [end, k] of [
    ['previous', claims.previous],
    ['next', claims.next],
  ] as const) {
    if (Object.keys(k.jwk).some((m) => !(PUBLIC_MEMBERS as readonly string[]).includes(m)))
      return fail('BAD_STATEMENT', index, `the ${end} key holds members other than public ones`);
    let thumbprint: string;
    try {
      thumbprint = jwkThumbprint(k.jwk);
    } catch (e) {
      return fail('BAD_STATEMENT', index, `the ${end} key: ${(e as Error).message}`);
    }
    if (thumbprint !== k.thumbprint)
      return fail('BAD_STATEMENT', index, `the ${end} key's thumbprint is not that of its JWK`);
  }
  if (claims.previous.thumbprint === claims.next.thumbprint)
    return fail('BAD_STATEMENT', index, 'a key cannot hand over to itself');
  for (const [end, jws, k] of [
    ['previous', s.byPrevious, claims.previous],
    ['next', s.byNext, claims.next],
  ] as const) {
    const jwks = { keys: [{ ...k.jwk, kid: k.kid }] } as JSONWebKeySet;
    try {
      await verifyJws(jws, jwks, KEY_ROTATION_JWS_TYPE);
    } catch (e) {
      if (!isProofError(e)) throw e;
      const code = e.code === 'BAD_SIGNATURE' || e.code === 'UNKNOWN_KEY' ? 'BAD_SIGNATURE' : 'BAD_STATEMENT';
      return fail(code, index, `the signature by the ${end} key ${k.kid} does not verify (${e.message})`);
    }
  }
  return claims;
}

/**
 * Follows published key rotations from pinned keys. Every statement is checked (both signatures,
 * both thumbprints); a statement that fails, or two statements handing one key over to two
 * different keys (a fork), refuses the whole set, naming the statement. A key not pinned is
 * accepted only when a statement from a pinned or already accepted key names it, in any number
 * of steps; statements from keys nobody reached are listed as `unreached` (a gap), and the keys
 * after them are not accepted. Pure: no clock, no network.
 */
export async function followRotations(
  pinned: readonly (string | { thumbprint: string })[],
  rotations: readonly unknown[],
): Promise<FollowResult> {
  if (!Array.isArray(rotations)) return fail('BAD_STATEMENT', 0, 'rotations is not a list');
  // Each statement costs two signature checks; a gateway rotating daily for decades stays far
  // below this, and a hostile one cannot make a verifier spin on millions.
  if (rotations.length > MAX_ROTATIONS)
    return fail('BAD_STATEMENT', MAX_ROTATIONS, `more than ${MAX_ROTATIONS} rotation statements`);
  const checked: KeyRotationClaims[] = [];
  const successor = new Map<string, { next: string; index: number }>();
  for (const [index, statement] of rotations.entries()) {
    const claims = await checkStatement(statement, index);
    if ('ok' in claims) return claims;
    const seen = successor.get(claims.previous.thumbprint);
    if (seen && seen.next !== claims.next.thumbprint)
      return fail(
        'FORK',
        index,
        `key ${claims.previous.kid} hands over to ${claims.next.kid} here and to another key in statement ${seen.index + 1}: a fork`,
      );
    successor.set(claims.previous.thumbprint, { next: claims.next.thumbprint, index });
    checked.push(claims);
  }
  const trusted = new Map<string, number>(
    pinned.map((p) => [typeof p === 'string' ? p : p.thumbprint, 0] as [string, number]),
  );
  const keys: FollowedKey[] = [];
  const used = new Set<number>();
  // Until nothing changes, so statements need not be in order (they are published oldest first).
  for (let changed = true; changed; ) {
    changed = false;
    for (const [index, c] of checked.entries()) {
      const steps = trusted.get(c.previous.thumbprint);
      if (used.has(index) || steps === undefined) continue;
      used.add(index);
      if (trusted.has(c.next.thumbprint)) continue;
      trusted.set(c.next.thumbprint, steps + 1);
      keys.push({ kid: c.next.kid, thumbprint: c.next.thumbprint, jwk: c.next.jwk, steps: steps + 1 });
      changed = true;
    }
  }
  const unreached = checked.flatMap((c, index) =>
    used.has(index) ? [] : [{ index, previous: c.previous.kid, next: c.next.kid }],
  );
  return { ok: true, keys, followed: keys.length, unreached };
}

/**
 * `checkTrust`, with the receipt keys reached from the pinned ones through the published rotation
 * statements (`keys.rotations`) counted as pinned, the checkpoint keys reached likewise through
 * `keys.checkpointRotations` too, and a pinned anchoring identity replaced by the
 * published one when a change statement (`keys.anchorChanges`) from the pinned site to it is signed
 * by a trusted receipt key. A forged statement or a fork is a difference of its own; a key no
 * chain reaches stays "not pinned", with the gap named.
 */
export async function checkTrustWithRotations(
  trust: unknown,
  keys: PublishedKeys,
): Promise<{ ok: boolean; differences: string[]; followed: number; anchorChange?: AnchorChangeClaims }> {
  const rotations = keys.rotations ?? [];
  const plain = checkTrust(trust, keys);
  if (plain.ok) return { ...plain, followed: 0 };
  const pinned = (trust as { receiptKeys?: unknown }).receiptKeys;
  if (!Array.isArray(pinned)) return { ...plain, followed: 0 };
  let followedKeys: FollowedKey[] = [];
  let followed = 0;
  let gap = '';
  if (rotations.length > 0) {
    const chain = await followRotations(pinned as { thumbprint: string }[], rotations);
    if (!chain.ok) return { ok: false, differences: [`key rotations refused: ${chain.reason}`], followed: 0 };
    followedKeys = chain.keys;
    followed = chain.followed;
    gap = chain.unreached.length
      ? ` (no chain of rotation statements reaches it from a pinned key; statement ${chain.unreached[0]!.index + 1} starts from ${chain.unreached[0]!.previous}, which is neither pinned nor reached)`
      : ' (no rotation statement hands over to it from a pinned key)';
  }
  // Checkpoint keys the same way, through their own statements (checkpoint-key-rotation.ts).
  const pinnedCheckpoints = (trust as { checkpointKeys?: unknown }).checkpointKeys;
  let followedCheckpoints: string[] = [];
  let checkpointGap = '';
  if (keys.checkpointRotations?.length && Array.isArray(pinnedCheckpoints)) {
    const chain = followCheckpointRotations(
      pinnedCheckpoints.filter((k): k is string => typeof k === 'string'),
      keys.checkpointRotations,
    );
    if (!chain.ok) return { ok: false, differences: [`key rotations refused: ${chain.reason}`], followed: 0 };
    followedCheckpoints = chain.keys;
    followed += chain.keys.length;
    checkpointGap = chain.unreached.length
      ? ` (no chain of checkpoint key rotations reaches it from a pinned key; statement ${chain.unreached[0]!.index + 1} starts from a key neither pinned nor reached)`
      : ' (no checkpoint key rotation hands over to it from a pinned key)';
  }
  const extended: Record<string, unknown> = {
    ...(trust as object),
    receiptKeys: [...pinned, ...followedKeys.map((k) => ({ kid: k.kid, thumbprint: k.thumbprint }))],
    ...(Array.isArray(pinnedCheckpoints)
      ? { checkpointKeys: [...pinnedCheckpoints, ...followedCheckpoints] }
      : {}),
  };
  const differences: string[] = [];
  let anchorChange: AnchorChangeClaims | undefined;
  const pinnedSite = (trust as { anchor?: AnchorSite }).anchor;
  if (pinnedSite && keys.anchor && !sameSite(pinnedSite, keys.anchor) && keys.anchorChanges?.length) {
    // Only keys already trusted may vouch for a new anchoring identity: the pinned ones and those
    // reached by rotation, with the public keys as published or as the statements carry them.
    const trustedPrints = new Set(
      (extended.receiptKeys as { thumbprint: string }[]).map((k) => k.thumbprint),
    );
    // One entry per key (a key both published and carried by a statement would match twice).
    const byPrint = new Map<string, Record<string, unknown>>();
    for (const k of followedKeys) byPrint.set(k.thumbprint, { ...k.jwk, kid: k.kid });
    for (const k of keys.jwks.keys as Record<string, unknown>[]) {
      try {
        const print = jwkThumbprint(k);
        if (trustedPrints.has(print)) byPrint.set(print, k);
      } catch {
        // A key type without a thumbprint vouches for nothing.
      }
    }
    const trustedJwks = { keys: [...byPrint.values()] } as JSONWebKeySet;
    for (const [index, jws] of keys.anchorChanges.entries()) {
      let claims: AnchorChangeClaims;
      try {
        claims = (await verifyJws(jws, trustedJwks, ANCHOR_CHANGE_JWS_TYPE)) as unknown as AnchorChangeClaims;
      } catch (e) {
        if (!isProofError(e)) throw e;
        differences.push(
          `anchoring identity change ${index + 1} refused: not signed by a pinned or rotated-to receipt key (${e.message})`,
        );
        continue;
      }
      if (
        claims.type === ANCHOR_CHANGE_TYPE &&
        sameSite(claims.retired, pinnedSite) &&
        sameSite(claims.next, keys.anchor)
      ) {
        anchorChange = claims;
        extended.anchor = siteOf(keys.anchor);
      }
    }
  }
  const result = checkTrust(extended, keys);
  differences.push(
    ...result.differences.map((d) =>
      d.startsWith('receipt key ')
        ? `${d}${gap}`
        : d.startsWith('checkpoint key ')
          ? `${d}${checkpointGap}`
          : d,
    ),
  );
  const ok = differences.length === 0;
  return {
    ok,
    differences,
    followed: ok ? followed : 0,
    ...(ok && anchorChange ? { anchorChange } : {}),
  };
}
