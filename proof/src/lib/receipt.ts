import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyResult, jwtVerify } from 'jose';
import { base64urlDecode, base64urlEncode, utf8Encode } from '#codec-impl';
import { receiptGroupImpl } from '#receipt-group-impl';
import { canonicalJson } from './canonical-json.ts';
import { concatBytes, hashFromHex, isSha256Hex } from './encoding.ts';
import { ProofError } from './errors.ts';
import { HASH_SIZE, leafHash } from './merkle.ts';
import { assertInclusion } from './merkle-proof.ts';
import { type DocumentKind, isDocumentKind } from './record.ts';
import { assertSm2PublicKey, sm2Sign, sm2SignAsync, sm2Verify } from './sm2.ts';

export type { JSONWebKeySet } from 'jose';

/** The JWS `typ` header of a receipt. */
export const RECEIPT_TYPE = 'lianzheng-receipt+jwt';
/** The JWS `typ` header of a group receipt's signed part. */
export const RECEIPT_GROUP_TYPE = 'lianzheng-receipt-group+jwt';
/** The algorithm receipts are signed with. */
export const RECEIPT_ALG = 'ES256';
/**
 * The JWS `alg` of SM2 receipts (CRYPTO_SUITE dual and gm): SM2 (GB/T 32918.2) with SM3 and Z over
 * the default ID `1234567812345678`, signature r ‖ s (64 bytes), key a JWK `{kty: 'EC', crv: 'SM2'}`.
 * JOSE registers no SM2 algorithm; this is OpenSSL's name for OID 1.2.156.10197.1.501 (SM2
 * signature with SM3), specific enough not to collide with a later registration (docs/gm-crypto.md).
 */
export const RECEIPT_SM2_ALG = 'SM2-with-SM3';

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

/** A record's own claims in a group receipt; the rest (`iss`, `iat`, `ledger`) the group shares. */
export type ReceiptItemClaims = Pick<ReceiptClaims, 'sub' | 'sha256' | 'cid' | 'projectId' | 'kind' | 'leaf'>;

const ITEM_CLAIMS = ['cid', 'kind', 'leaf', 'projectId', 'sha256', 'sub'] as const;

/** What the JWS of a group receipt signs: the shared claims and the root of the group's tree. */
export interface ReceiptGroupClaims {
  iss: string;
  iat: number;
  ledger: ReceiptClaims['ledger'];
  /** Number of records in the group. */
  size: number;
  /** Hex Merkle tree hash (RFC 9162) over the leaf hashes of the items' canonical JSON. */
  root: string;
}

/**
 * A group receipt: one signature for many records accepted together (one group commit). Each
 * record's receipt is `<JWS>~<item>`: the JWS (typ `lianzheng-receipt-group+jwt`) signs
 * `ReceiptGroupClaims`; the item is `<claims>.<index>.<path>` — base64url of the record's
 * canonical `ReceiptItemClaims`, its decimal index in the group, and base64url of its inclusion
 * path's hashes, concatenated. The leaf is SHA-256(0x00 ‖ claims bytes), so an item cannot be
 * passed off as an inner node, and the path reveals only hashes of the other items, whose claims
 * each hold a random record id and a salted leaf.
 */
export interface ReceiptGroup {
  /** Sign this (with `typ: RECEIPT_GROUP_TYPE`) … */
  claims: (shared: Pick<ReceiptGroupClaims, 'iss' | 'iat' | 'ledger'>) => ReceiptGroupClaims;
  /** … then append `~item` to the JWS, for each record in order. */
  items: string[];
}

const SURROGATE = /[\ud800-\udfff]/;

const plainClaim = (v: unknown): boolean => typeof v === 'string' && !SURROGATE.test(v);

/**
 * Canonical JSON (RFC 8785) of the six item claims. They are all strings, and RFC 8785 writes a
 * string as JSON.stringify does, so with the keys in their sorted order (an object literal keeps
 * its keys in the order written) this is canonicalJson's output without its generic walk — except
 * for surrogates, which canonicalJson judges itself. One JSON.stringify of the object gives one
 * flat string, where a template of six makes a rope of a dozen pieces (flattened again to encode).
 */
function itemClaimsJson(item: ReceiptItemClaims): string {
  const { cid, kind, leaf, projectId, sha256, sub } = item;
  if (
    !plainClaim(cid) ||
    !plainClaim(kind) ||
    !plainClaim(leaf) ||
    !plainClaim(projectId) ||
    !plainClaim(sha256) ||
    !plainClaim(sub)
  ) {
    return canonicalJson({ cid, kind, leaf, projectId, sha256, sub });
  }
  return JSON.stringify({ cid, kind, leaf, projectId, sha256, sub });
}

/**
 * The tree over `items` (in order) and each one's `<claims>.<index>.<path>` item: built by
 * `#receipt-group-impl` (in Node with one flat buffer for the whole tree; in the browser from
 * treeWithPaths), the same bytes either way.
 */
export function buildReceiptGroup(items: readonly ReceiptItemClaims[]): ReceiptGroup {
  const texts = new Array<string>(items.length);
  for (let i = 0; i < items.length; i++) texts[i] = itemClaimsJson(items[i]!);
  const { root: rootHex, items: built } = receiptGroupImpl(texts);
  return {
    claims: (shared) => ({
      iss: shared.iss,
      iat: shared.iat,
      ledger: shared.ledger,
      size: items.length,
      root: rootHex,
    }),
    items: built,
  };
}

type JwsPayload = Record<string, unknown>;

/**
 * A compact JWS of type `typ` by a key of `jwks` (ES256 through jose, or SM2-with-SM3): its payload.
 * Internal to proof/ (receipts, key-rotation statements); the errors are receipts' ProofErrors.
 */
export async function verifyJws(jws: string, jwks: JSONWebKeySet, typ: string): Promise<JwsPayload> {
  // An SM2 receipt is checked here (jose knows no SM2); every other one by jose, as before.
  if (jwsAlg(jws) === RECEIPT_SM2_ALG) return verifySm2Jws(jws, jwks, typ);
  let result: JWTVerifyResult;
  try {
    result = await jwtVerify(jws, keySetFor(jwks), { algorithms: [RECEIPT_ALG], typ });
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
  return result.payload;
}

/** The `alg` of a compact JWS's protected header, without checking anything. */
function jwsAlg(jws: string): unknown {
  const dot = jws.indexOf('.');
  return dot > 0 ? decodeJson(jws.slice(0, dot))?.alg : undefined;
}

/** The 65-byte SM2 public key of a JWK `{kty: 'EC', crv: 'SM2', x, y}`. */
function sm2KeyOf(jwk: Record<string, unknown>): Uint8Array {
  const x = typeof jwk.x === 'string' ? decodeBase64url(jwk.x, 'the key x') : undefined;
  const y = typeof jwk.y === 'string' ? decodeBase64url(jwk.y, 'the key y') : undefined;
  if (x?.length !== 32 || y?.length !== 32)
    throw new ProofError('BAD_KEY', 'an SM2 JWK has x and y of 32 bytes');
  const publicKey = concatBytes(new Uint8Array([0x04]), x, y);
  assertSm2PublicKey(publicKey);
  return publicKey;
}

/**
 * A compact JWS with `alg: SM2-with-SM3` (RFC 7515 §5.2 with SM2 as the algorithm): the header
 * must name the `typ` expected, a `kid` of an SM2 key in the set and no `crit`; the signature is
 * SM2 over the ASCII of `header.payload`, r ‖ s.
 */
function verifySm2Jws(jws: string, jwks: JSONWebKeySet, typ: string): JwsPayload {
  const parts = jws.split('.');
  if (parts.length !== 3) throw new ProofError('BAD_RECEIPT', 'a JWS has three parts');
  const [headerB64, payloadB64, signatureB64] = parts as [string, string, string];
  const header = decodeJson(headerB64);
  if (header === undefined) throw new ProofError('BAD_RECEIPT', 'the JWS header is not JSON');
  decodeBase64url(headerB64, 'the JWS header');
  if (header.typ !== typ) throw new ProofError('BAD_RECEIPT', 'ERR_JWT_CLAIM_VALIDATION_FAILED');
  if (header.crit !== undefined) throw new ProofError('BAD_RECEIPT', 'ERR_JOSE_NOT_SUPPORTED');
  if (typeof header.kid !== 'string') throw new ProofError('BAD_RECEIPT', 'no kid in the header');
  const jwk = (jwks.keys as Record<string, unknown>[]).find(
    (k) => k.kid === header.kid && k.kty === 'EC' && k.crv === 'SM2',
  );
  if (jwk === undefined) throw new ProofError('UNKNOWN_KEY', 'no SM2 key matches the receipt');
  const signature = decodeBase64url(signatureB64, 'the JWS signature');
  if (!sm2Verify(sm2KeyOf(jwk), utf8Encode(`${headerB64}.${payloadB64}`), signature)) {
    throw new ProofError('BAD_SIGNATURE', 'the SM2 receipt signature does not verify');
  }
  decodeBase64url(payloadB64, 'the JWS payload');
  const payload = decodeJson(payloadB64);
  if (payload === undefined) throw new ProofError('BAD_RECEIPT', 'the JWS payload is not a JSON object');
  return payload;
}

/** The gateway's SM2 receipt key: its 32-byte private key and the `kid` its JWK is published with. */
export interface Sm2ReceiptKey {
  kid: string;
  privateKey: Uint8Array;
}

/**
 * A compact JWS `{alg: 'SM2-with-SM3', kid, typ}` over the JSON of `payload`: what the gateway
 * signs SM2 receipts with (`typ` RECEIPT_TYPE for a record's claims, RECEIPT_GROUP_TYPE for a
 * group's). `verifyReceipt` checks it.
 */
export function signSm2Jws(key: Sm2ReceiptKey, typ: string, payload: object): string {
  const header = base64urlEncode(utf8Encode(JSON.stringify({ alg: RECEIPT_SM2_ALG, kid: key.kid, typ })));
  const input = `${header}.${base64urlEncode(utf8Encode(JSON.stringify(payload)))}`;
  return `${input}.${base64urlEncode(sm2Sign(key.privateKey, utf8Encode(input)))}`;
}

/** `signSm2Jws`, with the SM2 nonce made off the calling thread where it can (Node). */
export async function signSm2JwsAsync(key: Sm2ReceiptKey, typ: string, payload: object): Promise<string> {
  const header = base64urlEncode(utf8Encode(JSON.stringify({ alg: RECEIPT_SM2_ALG, kid: key.kid, typ })));
  const input = `${header}.${base64urlEncode(utf8Encode(JSON.stringify(payload)))}`;
  return `${input}.${base64urlEncode(await sm2SignAsync(key.privateKey, utf8Encode(input)))}`;
}

/**
 * Receipts for records accepted together, signed with SM2: as the ES256 signer's group receipts
 * (a group receipt `<JWS>~<item>` each; a plain one for a group of one).
 */
export function signSm2ReceiptGroup(
  key: Sm2ReceiptKey,
  shared: Pick<ReceiptGroupClaims, 'iss' | 'iat' | 'ledger'>,
  items: readonly ReceiptItemClaims[],
): string[] {
  if (items.length === 0) return [];
  if (items.length === 1) {
    const { sub, sha256, cid, projectId, kind, leaf } = items[0]!;
    const { iss, iat, ledger } = shared;
    return [signSm2Jws(key, RECEIPT_TYPE, { iss, sub, iat, sha256, cid, projectId, kind, leaf, ledger })];
  }
  const group = buildReceiptGroup(items);
  const jws = signSm2Jws(key, RECEIPT_GROUP_TYPE, group.claims(shared));
  return group.items.map((item) => `${jws}~${item}`);
}

/**
 * A second receipt of a record (the SM2 one beside the ES256 one, CRYPTO_SUITE dual) that signs
 * the same payload and carries the same `~item` as `receipt`, written without them: only its
 * header and signature, `<header>..<signature>` — the detached form of RFC 7515 Appendix F, the
 * payload (and item) being `receipt`'s. A batch answer writes its items' SM2 receipts so (about
 * 190 bytes each instead of the whole receipt again). Undefined when the two do not share them.
 */
export function detachReceipt(second: string, receipt: string): string | undefined {
  // By offsets, not split(): a batch answer detaches a thousand receipts of ~1 KB each.
  const a1 = second.indexOf('.');
  const a2 = second.indexOf('.', a1 + 1);
  const b1 = receipt.indexOf('.');
  const b2 = receipt.indexOf('.', b1 + 1);
  if (a1 < 1 || a2 < a1 + 2 || b1 < 1 || b2 < b1 + 2) return undefined;
  const aTilde = second.indexOf('~', a2);
  const bTilde = receipt.indexOf('~', b2);
  const aEnd = aTilde === -1 ? second.length : aTilde;
  const bEnd = bTilde === -1 ? receipt.length : bTilde;
  const signature = second.slice(a2 + 1, aEnd);
  if (signature === '' || signature.includes('.') || second.slice(0, a1).includes('~')) return undefined;
  if (second.slice(aEnd) !== receipt.slice(bEnd) || second.indexOf('~', aEnd + 1) !== -1) return undefined;
  if (second.slice(a1, a2) !== receipt.slice(b1, b2) || receipt.slice(b2 + 1, bEnd).includes('.'))
    return undefined;
  return `${second.slice(0, a1)}..${signature}`;
}

/**
 * The whole receipt of a detached one (`detachReceipt`): its header and signature with the
 * payload and `~item` of `receipt`. Nothing is checked here: `verifyReceipt` the result.
 */
export function attachReceipt(detached: string, receipt: string): string {
  const parts = detached.split('.');
  if (parts.length !== 3 || parts[1] !== '' || detached.includes('~')) {
    throw new ProofError('BAD_RECEIPT', 'a detached receipt is <header>..<signature>');
  }
  const tilde = receipt.indexOf('~');
  const signed = tilde === -1 ? receipt : receipt.slice(0, tilde);
  const own = signed.split('.');
  if (own.length !== 3) throw new ProofError('BAD_RECEIPT', 'a receipt is a compact JWS');
  return `${parts[0]}.${own[1]}.${parts[2]}${tilde === -1 ? '' : receipt.slice(tilde)}`;
}

const DETACHED = /^[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+$/;

/**
 * A receipt as stored beside `receipt`: detached (`detachReceipt`), attached to it; any other
 * form (a whole receipt, as stored before 2026-12-07 or when not detachable) as it is.
 */
export function wholeReceipt(stored: string, receipt: string): string {
  return DETACHED.test(stored) ? attachReceipt(stored, receipt) : stored;
}

// Refuses malformed UTF-8 rather than replacing it, so a claim's text is exactly its bytes.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Strict base64url: only the one unpadded spelling of each byte string. */
function decodeBase64url(text: string, what: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = base64urlDecode(text);
  } catch {
    throw new ProofError('BAD_RECEIPT', `${what} is not base64url`);
  }
  if (base64urlEncode(bytes) !== text) throw new ProofError('BAD_RECEIPT', `${what} is not base64url`);
  return bytes;
}

const ITEM = /^([A-Za-z0-9_-]+)\.(0|[1-9][0-9]{0,14})\.([A-Za-z0-9_-]*)$/;

/** The claims a group item proves to be in the signed group. */
async function verifyGroupReceipt(signed: string, item: string, jwks: JSONWebKeySet): Promise<ReceiptClaims> {
  const payload = await verifyJws(signed, jwks, RECEIPT_GROUP_TYPE);
  const { size, root } = payload as Partial<ReceiptGroupClaims>;
  if (!Number.isSafeInteger(size) || (size as number) < 1)
    throw new ProofError('BAD_RECEIPT', 'claim size is not a group size');
  if (!isSha256Hex(root)) throw new ProofError('BAD_RECEIPT', 'claim root is not a hash');
  const parts = ITEM.exec(item);
  if (!parts) throw new ProofError('BAD_RECEIPT', 'the item is not <claims>.<index>.<path>');
  const bytes = decodeBase64url(parts[1]!, 'the item claims');
  const pathBytes = decodeBase64url(parts[3]!, 'the item path');
  if (pathBytes.length % HASH_SIZE !== 0)
    throw new ProofError('BAD_RECEIPT', 'the item path is not a list of hashes');
  let own: Record<string, unknown>;
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
    own = JSON.parse(text);
  } catch {
    throw new ProofError('BAD_RECEIPT', 'the item claims are not JSON');
  }
  if (typeof own !== 'object' || own === null || Array.isArray(own)) {
    throw new ProofError('BAD_RECEIPT', 'the item claims are not an object');
  }
  const names = Object.keys(own).sort();
  if (names.length !== ITEM_CLAIMS.length || names.some((n, i) => n !== ITEM_CLAIMS[i])) {
    throw new ProofError('BAD_RECEIPT', `the item claims are not exactly ${ITEM_CLAIMS.join(', ')}`);
  }
  // The leaf hashes these exact bytes; one spelling per claim set keeps receipts unambiguous.
  if (canonicalJson(own) !== text)
    throw new ProofError('BAD_RECEIPT', 'the item claims are not canonical JSON');
  const path: Uint8Array[] = [];
  for (let at = 0; at < pathBytes.length; at += HASH_SIZE) path.push(pathBytes.slice(at, at + HASH_SIZE));
  try {
    assertInclusion(leafHash(bytes), Number(parts[2]), size as number, path, hashFromHex(root));
  } catch (err) {
    if (!(err instanceof ProofError)) throw err;
    throw new ProofError('BAD_SIGNATURE', `the record is not in the signed group (${err.message})`);
  }
  return checkClaims({ ...own, iss: payload.iss, iat: payload.iat, ledger: payload.ledger });
}

function decodeJson(b64: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(strictUtf8.decode(base64urlDecode(b64)));
    return value && typeof value === 'object' && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The claims a receipt states, of either form, without checking anything: for cross-checks and
 * display only — `verifyReceipt` is what says a receipt is genuine. Undefined if it cannot be read.
 */
export function decodeReceipt(receipt: string): Record<string, unknown> | undefined {
  if (typeof receipt !== 'string') return undefined;
  const [signed, item, ...rest] = receipt.split('~');
  const jws = signed!.split('.');
  if (jws.length !== 3 || rest.length > 0) return undefined;
  const payload = decodeJson(jws[1]!);
  if (item === undefined || payload === undefined) return payload;
  const own = decodeJson(item.split('.')[0]!);
  if (own === undefined) return undefined;
  const { size: _size, root: _root, ...shared } = payload;
  return { ...own, ...shared };
}

/**
 * Verifies a receipt against the gateway's JWKS and returns its claims: either a compact JWS
 * (typ `lianzheng-receipt+jwt`) over one record's claims, or a group receipt `<JWS>~<item>` (see
 * `ReceiptGroup`); signed ES256 (checked by jose) or SM2 (`RECEIPT_SM2_ALG`, checked here). Throws `UNKNOWN_KEY` (no key with its `kid`), `BAD_SIGNATURE` (the signature,
 * or the item's path to the signed root, does not verify), or `BAD_RECEIPT` (wrong `typ`/`alg`,
 * no `kid`, a malformed item, bad claims).
 */
export async function verifyReceipt(jws: string, jwks: JSONWebKeySet): Promise<ReceiptClaims> {
  if (typeof jws !== 'string') throw new ProofError('BAD_RECEIPT', 'a receipt is a compact JWS string');
  if (typeof jwks !== 'object' || jwks === null || !Array.isArray(jwks.keys)) {
    throw new ProofError('BAD_KEY', 'not a JWKS');
  }
  const tilde = jws.indexOf('~');
  if (tilde !== -1) return verifyGroupReceipt(jws.slice(0, tilde), jws.slice(tilde + 1), jwks);
  return checkClaims(await verifyJws(jws, jwks, RECEIPT_TYPE));
}
