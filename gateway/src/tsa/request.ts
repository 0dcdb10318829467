// Parsing an RFC 3161 TimeStampReq. Every way a request can be wrong maps to one PKIFailureInfo
// bit, so the route can always answer with a rejection instead of an HTTP error.
import forge from 'node-forge';
import { fromBinary, fromDer } from './der.ts';
import { IMPRINT_ALGORITHMS, SHA2_IMPRINTS, type TsaHashAlgorithm } from './oids.ts';

const { asn1 } = forge;
type Asn1 = forge.asn1.Asn1;

/** PKIFailureInfo named bits (RFC 3161 §2.4.2), with their bit numbers. */
export const PKI_FAILURE_BITS = {
  badAlg: 0,
  badRequest: 2,
  badDataFormat: 5,
  timeNotAvailable: 14,
  unacceptedPolicy: 15,
  unacceptedExtension: 16,
  addInfoNotAvailable: 17,
  systemFailure: 25,
} as const;
export type PkiFailure = keyof typeof PKI_FAILURE_BITS;

export interface TimeStampRequest {
  hashAlgorithm: TsaHashAlgorithm;
  imprint: Uint8Array;
  /** The nonce's INTEGER content octets, echoed byte for byte. */
  nonce?: Uint8Array;
  certReq: boolean;
  reqPolicy?: string;
}

export type ParsedRequest =
  | { ok: true; request: TimeStampRequest }
  | { ok: false; failure: PkiFailure; detail: string };

const U = asn1.Class.UNIVERSAL;
const T = asn1.Type;
const is = (node: Asn1 | undefined, type: number, cls = U): node is Asn1 =>
  node !== undefined && node.tagClass === cls && node.type === type;

const fail = (failure: PkiFailure, detail: string): ParsedRequest => ({ ok: false, failure, detail });

/** Max request size we bother parsing; a real request is under 200 bytes. */
export const MAX_REQUEST_BYTES = 16 * 1024;

/**
 * The imprint algorithm a TimeStampReq names, without judging anything else (undefined if it
 * cannot be read): for a TSA with two keys to pick the one that answers (SM3 → SM2, GM/T 0033).
 */
export function imprintAlgorithmOf(der: Uint8Array): TsaHashAlgorithm | undefined {
  try {
    const items = fromDer(der).value as Asn1[];
    const algOid = ((items[1]!.value as Asn1[])[0]!.value as Asn1[])[0]!;
    return IMPRINT_ALGORITHMS[asn1.derToOid(algOid.value as string)]?.name;
  } catch {
    return undefined;
  }
}

export function parseTimeStampRequest(
  der: Uint8Array,
  acceptedPolicies: readonly string[],
  /** The imprint algorithms to grant; any other is badAlg. */
  imprintAlgorithms: readonly TsaHashAlgorithm[] = SHA2_IMPRINTS,
): ParsedRequest {
  if (der.length === 0) return fail('badDataFormat', 'empty request');
  if (der.length > MAX_REQUEST_BYTES) return fail('badDataFormat', 'request too large');
  let root: Asn1;
  try {
    root = fromDer(der);
  } catch {
    return fail('badDataFormat', 'not DER');
  }
  if (!is(root, T.SEQUENCE) || !Array.isArray(root.value)) return fail('badDataFormat', 'not a SEQUENCE');
  const items = root.value as Asn1[];
  let i = 0;

  const version = items[i++];
  if (!is(version, T.INTEGER) || typeof version.value !== 'string') return fail('badDataFormat', 'version');
  if (version.value !== '\x01') return fail('badDataFormat', 'unsupported version');

  const imprint = items[i++];
  if (!is(imprint, T.SEQUENCE) || !Array.isArray(imprint.value) || imprint.value.length !== 2) {
    return fail('badDataFormat', 'messageImprint');
  }
  const [algId, hashed] = imprint.value as Asn1[];
  if (!is(algId, T.SEQUENCE) || !Array.isArray(algId.value) || algId.value.length < 1) {
    return fail('badDataFormat', 'hashAlgorithm');
  }
  const [algOid, algParams, ...algRest] = algId.value as Asn1[];
  if (!is(algOid, T.OID) || typeof algOid.value !== 'string') return fail('badDataFormat', 'hashAlgorithm');
  const oid = asn1.derToOid(algOid.value);
  const alg = IMPRINT_ALGORITHMS[oid];
  if (!alg || !imprintAlgorithms.includes(alg.name))
    return fail('badAlg', `unsupported hash algorithm ${oid}`);
  // Parameters must be absent or NULL for the SHA-2 family.
  if (algRest.length > 0 || (algParams && !(is(algParams, T.NULL) && algParams.value === ''))) {
    return fail('badAlg', 'unexpected hash algorithm parameters');
  }
  if (!is(hashed, T.OCTETSTRING) || typeof hashed.value !== 'string')
    return fail('badDataFormat', 'hashedMessage');
  if (hashed.value.length !== alg.length)
    return fail('badDataFormat', 'imprint length does not match algorithm');

  const request: TimeStampRequest = {
    hashAlgorithm: alg.name,
    imprint: fromBinary(hashed.value),
    certReq: false,
  };

  let next = items[i];
  if (is(next, T.OID) && typeof next.value === 'string') {
    request.reqPolicy = asn1.derToOid(next.value);
    if (!acceptedPolicies.includes(request.reqPolicy)) {
      return fail('unacceptedPolicy', `policy ${request.reqPolicy} not offered`);
    }
    next = items[++i];
  }
  if (is(next, T.INTEGER) && typeof next.value === 'string') {
    if (next.value.length === 0 || next.value.length > 64) return fail('badDataFormat', 'nonce length');
    if (next.value.charCodeAt(0) & 0x80) return fail('badDataFormat', 'negative nonce');
    request.nonce = fromBinary(next.value);
    next = items[++i];
  }
  if (is(next, T.BOOLEAN) && typeof next.value === 'string') {
    // DER forbids encoding the DEFAULT (FALSE), but OpenSSL and others are lenient; so are we.
    request.certReq = next.value.length === 1 && next.value !== '\x00';
    next = items[++i];
  }
  if (next && next.tagClass === asn1.Class.CONTEXT_SPECIFIC && next.type === 0) {
    // We implement no request extensions; RFC 3161 says to reject ones we do not understand.
    return fail('unacceptedExtension', 'request extensions are not supported');
  }
  if (next !== undefined) return fail('badDataFormat', 'unexpected trailing field');
  return { ok: true, request };
}
