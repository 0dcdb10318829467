// Pinned keys. A verifier that fetches the gateway's keys from the gateway itself believes whatever
// the gateway says today; a trust file, downloaded once (GET /v1/trust.json) and kept, pins the
// keys that may sign: each receipt key by its RFC 7638 thumbprint, each checkpoint verifier key,
// each TSA root by the SHA-256 of its DER, the operator's anchoring identity. `checkTrust` compares
// the keys a gateway publishes now with the pinned ones, and names every difference. The page and
// the certificate print the same short fingerprints (`keyFingerprints`), so a printed certificate
// can be compared with a trust file by eye.

import { certificateInfo } from '../timestamp/certificate-info.ts';
import type { AnchorSite } from './bundle.ts';
import { sha256 } from './digest.ts';
import { toBase64, toHex, utf8 } from './encoding.ts';
import type { JSONWebKeySet } from './receipt.ts';

export const TRUST_FORMAT = 'lianzheng-trust/1';

/**
 * A published key rotation (key-rotation.ts): the same payload signed twice, as compact JWSs (typ
 * `lianzheng-key-rotation+jwt`, `kid` of the signer): by the previous key and by the next one.
 * Declared here, with the published keys that carry it, so that trust.ts needs nothing of
 * key-rotation.ts (which checks rotations with trust.ts's functions).
 */
export interface KeyRotation {
  byPrevious: string;
  byNext: string;
}

export interface TrustFile {
  format: typeof TRUST_FORMAT;
  /** Receipt signing keys: RFC 7638 SHA-256 thumbprints (base64url), with their kid. */
  receiptKeys: { kid?: string; thumbprint: string }[];
  /** C2SP note verifier keys of the log's checkpoints, as published. */
  checkpointKeys: string[];
  /** SHA-256 (hex, of the DER) of each TSA root. */
  tsaRoots: string[];
  /** The operator's anchoring site, when it anchors. */
  anchor?: AnchorSite;
  /**
   * The receipt key rotations published so far, oldest first (key-rotation.ts): kept so the file
   * itself shows how its keys came to be; a verifier follows the ones the gateway publishes later.
   */
  rotations?: KeyRotation[];
  /** The checkpoint key rotations so far, oldest first (checkpoint-key-rotation.ts), likewise. */
  checkpointRotations?: string[];
  /**
   * Witness verifier keys (cosignature/v1) and the quorum: the witnesses this verifier counts.
   * Not compared by `checkTrust` — a witness the operator adds or drops changes no pinned key;
   * verifiers count the cosignatures of the witnesses pinned here (docs/witnesses.md).
   */
  witnesses?: string[];
  witnessQuorum?: number;
}

/** What the functions read of GET /v1/keys. */
export interface PublishedKeys {
  jwks: JSONWebKeySet | { keys: object[] };
  checkpointKeys: string[];
  tsaRoots?: string[];
  anchor?: AnchorSite | null;
  /** Receipt key rotation statements, oldest first (`followRotations`). */
  rotations?: KeyRotation[];
  /** Checkpoint key rotation statements (signed notes), oldest first (`followCheckpointRotations`). */
  checkpointRotations?: string[];
  /** Anchoring identity changes (compact JWSs by a receipt key, key-rotation.ts). */
  anchorChanges?: string[];
  /** The witnesses the operator asks to cosign its checkpoints, and the quorum. */
  witnesses?: { vkey: string }[];
  witnessQuorum?: number;
}

/** The members RFC 7638 hashes, by key type, in their lexicographic order. */
const THUMBPRINT_MEMBERS: Record<string, readonly string[]> = {
  EC: ['crv', 'kty', 'x', 'y'],
  OKP: ['crv', 'kty', 'x'],
  RSA: ['e', 'kty', 'n'],
  oct: ['k', 'kty'],
};

/** The RFC 7638 JWK thumbprint (SHA-256, base64url); throws on a key type it does not know. */
export function jwkThumbprint(jwk: Record<string, unknown>): string {
  const members = THUMBPRINT_MEMBERS[String(jwk.kty)];
  if (!members) throw new Error(`no thumbprint for key type ${String(jwk.kty)}`);
  const json = `{${members.map((m) => `${JSON.stringify(m)}:${JSON.stringify(String(jwk[m] ?? ''))}`).join(',')}}`;
  return toBase64(sha256(utf8(json)))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}

/** A checkpoint verifier key's fingerprint: SHA-256 (hex) of the key as published. */
export function checkpointKeyFingerprint(vkey: string): string {
  return toHex(sha256(utf8(vkey)));
}

function receiptKeysOf(keys: PublishedKeys): TrustFile['receiptKeys'] {
  return (keys.jwks.keys as Record<string, unknown>[]).flatMap((jwk) => {
    try {
      const thumbprint = jwkThumbprint(jwk);
      return [typeof jwk.kid === 'string' ? { kid: jwk.kid, thumbprint } : { thumbprint }];
    } catch {
      return [];
    }
  });
}

const site = (a: AnchorSite): AnchorSite => ({
  chainId: a.chainId,
  contract: a.contract.toLowerCase(),
  anchorer: a.anchorer.toLowerCase(),
});

/** The trust file of these keys (what GET /v1/trust.json answers). */
export function trustOf(keys: PublishedKeys): TrustFile {
  return {
    format: TRUST_FORMAT,
    receiptKeys: receiptKeysOf(keys),
    checkpointKeys: [...keys.checkpointKeys],
    tsaRoots: (keys.tsaRoots ?? []).flatMap((pem) => certificateInfo(pem).map((c) => c.sha256)),
    ...(keys.anchor ? { anchor: site(keys.anchor) } : {}),
    ...(keys.rotations?.length ? { rotations: [...keys.rotations] } : {}),
    ...(keys.checkpointRotations?.length ? { checkpointRotations: [...keys.checkpointRotations] } : {}),
    ...(keys.witnesses?.length
      ? {
          witnesses: keys.witnesses.map((w) => w.vkey),
          ...(keys.witnessQuorum ? { witnessQuorum: keys.witnessQuorum } : {}),
        }
      : {}),
  };
}

/** Short fingerprints to print: receipt keys (kid, thumbprint), checkpoint keys, TSA roots. */
export function keyFingerprints(keys: PublishedKeys): {
  receipt: { kid?: string; thumbprint: string }[];
  checkpoint: { name: string; sha256: string }[];
  tsaRoots: { name: string; sha256: string }[];
} {
  return {
    receipt: receiptKeysOf(keys),
    checkpoint: keys.checkpointKeys.map((vkey) => ({
      name: vkey.split('+')[0] ?? vkey,
      sha256: checkpointKeyFingerprint(vkey),
    })),
    tsaRoots: (keys.tsaRoots ?? []).flatMap((pem) => certificateInfo(pem)),
  };
}

function isTrustFile(value: unknown): value is TrustFile {
  if (typeof value !== 'object' || value === null) return false;
  const t = value as Record<string, unknown>;
  return (
    t.format === TRUST_FORMAT &&
    Array.isArray(t.receiptKeys) &&
    t.receiptKeys.every(
      (k) =>
        typeof k === 'object' && k !== null && typeof (k as { thumbprint?: unknown }).thumbprint === 'string',
    ) &&
    Array.isArray(t.checkpointKeys) &&
    t.checkpointKeys.every((k) => typeof k === 'string') &&
    Array.isArray(t.tsaRoots) &&
    t.tsaRoots.every((k) => typeof k === 'string')
  );
}

/**
 * Compares the keys a gateway publishes with a trust file. Every published key must be pinned: a
 * receipt key, checkpoint key or TSA root the file does not name is a difference, and so is an
 * anchoring identity other than the pinned one (or none where one is pinned). Keys the file pins
 * that are no longer published are not (rotated keys may be retired).
 */
export function checkTrust(trust: unknown, keys: PublishedKeys): { ok: boolean; differences: string[] } {
  if (!isTrustFile(trust)) {
    return { ok: false, differences: [`not a ${TRUST_FORMAT} file (GET /v1/trust.json gives one)`] };
  }
  const now = trustOf(keys);
  const differences: string[] = [];
  const pinnedReceipts = new Set(trust.receiptKeys.map((k) => k.thumbprint));
  for (const k of now.receiptKeys)
    if (!pinnedReceipts.has(k.thumbprint))
      differences.push(`receipt key ${k.kid ?? '(no kid)'} (thumbprint ${k.thumbprint}) is not pinned`);
  if ((keys.jwks.keys as unknown[]).length > now.receiptKeys.length)
    differences.push('a receipt key of an unknown type is published');
  const pinnedCheckpoints = new Set(trust.checkpointKeys);
  for (const k of now.checkpointKeys)
    if (!pinnedCheckpoints.has(k))
      differences.push(
        `checkpoint key ${k.split('+').slice(0, 2).join('+')} (SHA-256 ${checkpointKeyFingerprint(k)}) is not pinned`,
      );
  const pinnedRoots = new Set(trust.tsaRoots.map((r) => r.toLowerCase()));
  for (const r of now.tsaRoots)
    if (!pinnedRoots.has(r)) differences.push(`TSA root SHA-256 ${r} is not pinned`);
  if (trust.anchor) {
    const pinned = site(trust.anchor);
    const a = now.anchor;
    if (!a)
      differences.push(
        `no anchoring identity is published; ${pinned.anchorer} on ${pinned.chainId} is pinned`,
      );
    else if (a.chainId !== pinned.chainId || a.contract !== pinned.contract || a.anchorer !== pinned.anchorer)
      differences.push(
        `anchoring identity ${a.anchorer} / ${a.contract} on ${a.chainId} differs from the pinned ${pinned.anchorer} / ${pinned.contract} on ${pinned.chainId}`,
      );
  }
  return { ok: differences.length === 0, differences };
}
