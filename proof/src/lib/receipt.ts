import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import { isSha256Hex } from './encoding.ts';
import { ProofError } from './errors.ts';
import { type DocumentKind, isDocumentKind } from './record.ts';

export type { JSONWebKeySet } from 'jose';

/** The JWS `typ` header of a receipt. */
export const RECEIPT_TYPE = 'lianzheng-receipt+jwt';
/** The algorithm receipts are signed with. */
export const RECEIPT_ALG = 'ES256';

/** What the gateway signs when it accepts a submission (JWS, ES256, `kid` in the header). */
export interface ReceiptClaims {
  iss: string;
  /** The record id. */
  sub: string;
  iat: number;
  sha256: string;
  cid: string;
  projectId: string;
  kind: DocumentKind;
  /** Hex leaf hash of the record. */
  leaf: string;
  ledger: 'embedded' | 'fabric';
}

// createLocalJWKSet imports keys lazily and caches them inside the set, so one set per JWKS
// object saves a key import on every verification.
const keySets = new WeakMap<JSONWebKeySet, ReturnType<typeof createLocalJWKSet>>();

function keySetFor(jwks: JSONWebKeySet): ReturnType<typeof createLocalJWKSet> {
  let set = keySets.get(jwks);
  if (set === undefined) {
    set = createLocalJWKSet(jwks);
    keySets.set(jwks, set);
  }
  return set;
}

function checkClaims(payload: Record<string, unknown>): ReceiptClaims {
  const strings = ['iss', 'sub', 'cid', 'projectId'] as const;
  for (const name of strings) {
    if (typeof payload[name] !== 'string' || payload[name] === '') {
      throw new ProofError('BAD_RECEIPT', `claim ${name} is missing`);
    }
  }
  if (typeof payload.iat !== 'number') throw new ProofError('BAD_RECEIPT', 'claim iat is missing');
  if (!isSha256Hex(payload.sha256)) throw new ProofError('BAD_RECEIPT', 'claim sha256 is not a digest');
  if (!isSha256Hex(payload.leaf)) throw new ProofError('BAD_RECEIPT', 'claim leaf is not a hash');
  if (!isDocumentKind(payload.kind)) throw new ProofError('BAD_RECEIPT', 'claim kind is unknown');
  if (payload.ledger !== 'embedded' && payload.ledger !== 'fabric') {
    throw new ProofError('BAD_RECEIPT', 'claim ledger is unknown');
  }
  return payload as unknown as ReceiptClaims;
}

/**
 * Verifies a receipt against the gateway's JWKS and returns its claims. Throws `UNKNOWN_KEY` (no
 * key with its `kid`), `BAD_SIGNATURE`, or `BAD_RECEIPT` (wrong `typ`/`alg`, no `kid`, bad claims).
 */
export async function verifyReceipt(jws: string, jwks: JSONWebKeySet): Promise<ReceiptClaims> {
  if (typeof jws !== 'string') throw new ProofError('BAD_RECEIPT', 'a receipt is a compact JWS string');
  if (typeof jwks !== 'object' || jwks === null || !Array.isArray(jwks.keys)) {
    throw new ProofError('BAD_KEY', 'not a JWKS');
  }
  let result: Awaited<ReturnType<typeof jwtVerify>>;
  try {
    result = await jwtVerify(jws, keySetFor(jwks), { algorithms: [RECEIPT_ALG], typ: RECEIPT_TYPE });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'ERR_JWKS_NO_MATCHING_KEY')
      throw new ProofError('UNKNOWN_KEY', 'no key matches the receipt');
    if (code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') {
      throw new ProofError('BAD_SIGNATURE', 'the receipt signature does not verify');
    }
    throw new ProofError('BAD_RECEIPT', typeof code === 'string' ? code : 'not a valid receipt');
  }
  if (typeof result.protectedHeader.kid !== 'string')
    throw new ProofError('BAD_RECEIPT', 'no kid in the header');
  return checkClaims(result.payload);
}
