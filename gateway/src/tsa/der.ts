// Small builders over node-forge's ASN.1 objects. forge represents bytes as "binary strings"
// (one char per byte); these helpers keep that detail out of the TSA and PKI code, which works in
// Uint8Array/Buffer.
import forge from 'node-forge';

const { asn1 } = forge;
export type Asn1 = forge.asn1.Asn1;

const U = asn1.Class.UNIVERSAL;
const C = asn1.Class.CONTEXT_SPECIFIC;
const T = asn1.Type;

export const toBinary = (bytes: Uint8Array): string => Buffer.from(bytes).toString('binary');
export const fromBinary = (s: string): Buffer => Buffer.from(s, 'binary');

export const seq = (items: (Asn1 | undefined)[]): Asn1 =>
  asn1.create(
    U,
    T.SEQUENCE,
    true,
    items.filter((x): x is Asn1 => x !== undefined),
  );

/** A DER SET OF: members sorted by their encodings (X.690 §11.6), which signed attributes need. */
export const setOf = (items: Asn1[]): Asn1 => {
  const sorted = items
    .map((item) => ({ item, der: asn1.toDer(item).getBytes() }))
    .sort((a, b) => compareBinary(a.der, b.der))
    .map((x) => x.item);
  return asn1.create(U, T.SET, true, sorted);
};

function compareBinary(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a.charCodeAt(i) - b.charCodeAt(i);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

const oidCache = new Map<string, string>();
/** OIDs repeat in every token; their encodings are cached (forge's oidToDer is not cheap). */
export function oid(dotted: string): Asn1 {
  let content = oidCache.get(dotted);
  if (content === undefined) {
    content = asn1.oidToDer(dotted).getBytes();
    if (oidCache.size < 1000) oidCache.set(dotted, content);
  }
  return asn1.create(U, T.OID, false, content);
}
export const nullValue = (): Asn1 => asn1.create(U, T.NULL, false, '');
export const bool = (v: boolean): Asn1 => asn1.create(U, T.BOOLEAN, false, v ? '\xff' : '\x00');
export const octets = (bytes: Uint8Array): Asn1 => asn1.create(U, T.OCTETSTRING, false, toBinary(bytes));
export const utf8 = (s: string): Asn1 => asn1.create(U, T.UTF8, false, forge.util.encodeUtf8(s));
export const printable = (s: string): Asn1 => asn1.create(U, T.PRINTABLESTRING, false, s);
export const bitString = (bytes: Uint8Array, unusedBits = 0): Asn1 =>
  asn1.create(U, T.BITSTRING, false, String.fromCharCode(unusedBits) + toBinary(bytes));
export const generalizedTime = (text: string): Asn1 => asn1.create(U, T.GENERALIZEDTIME, false, text);
export const utcTime = (text: string): Asn1 => asn1.create(U, T.UTCTIME, false, text);

/** [n] EXPLICIT: a constructed context tag wrapping the inner value. */
export const explicit = (n: number, inner: Asn1): Asn1 => asn1.create(C, n, true, [inner]);
/** [n] IMPLICIT over a constructed value (SEQUENCE/SET): same content, context tag. */
export const implicitConstructed = (n: number, items: Asn1[]): Asn1 => asn1.create(C, n, true, items);
/** [n] IMPLICIT over a primitive value. */
export const implicitPrimitive = (n: number, binaryContent: string): Asn1 =>
  asn1.create(C, n, false, binaryContent);

/** A DER INTEGER from a non-negative bigint (minimal two's-complement content). */
export function integer(value: bigint | number): Asn1 {
  return asn1.create(U, T.INTEGER, false, toBinary(integerContent(BigInt(value))));
}

export function integerContent(value: bigint): Uint8Array {
  if (value < 0n) throw new RangeError('negative integers are not used here');
  let hex = value.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let bytes = Buffer.from(hex, 'hex');
  if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return bytes;
}

/** An INTEGER whose content bytes are given as-is (e.g. a client's nonce, echoed exactly). */
export const integerRaw = (content: Uint8Array): Asn1 => asn1.create(U, T.INTEGER, false, toBinary(content));

// @types/node-forge only declares the old boolean `strict` argument; forge takes an options object.
const fromDerWithOptions = asn1.fromDer as unknown as (
  bytes: forge.util.ByteBuffer,
  options: { strict: boolean; parseAllBytes: boolean; decodeBitStrings: boolean },
) => Asn1;

/**
 * Parse DER strictly (all bytes consumed, BIT STRINGs left opaque), so already-encoded structures
 * (certificates, SPKIs) can be embedded unchanged and requests are not over-interpreted.
 */
export function fromDer(der: Uint8Array): Asn1 {
  return fromDerWithOptions(forge.util.createBuffer(toBinary(der)), {
    strict: true,
    parseAllBytes: true,
    decodeBitStrings: false,
  });
}

export const toDer = (obj: Asn1): Buffer => fromBinary(asn1.toDer(obj).getBytes());

/**
 * GeneralizedTime with milliseconds as RFC 3161 §2.4.2 wants it: UTC, 'Z', the fraction without
 * trailing zeros, and no decimal point at all when the milliseconds are zero.
 */
export function formatGeneralizedTimeMillis(date: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const base =
    p(date.getUTCFullYear(), 4) +
    p(date.getUTCMonth() + 1) +
    p(date.getUTCDate()) +
    p(date.getUTCHours()) +
    p(date.getUTCMinutes()) +
    p(date.getUTCSeconds());
  const ms = date.getUTCMilliseconds();
  const frac = ms === 0 ? '' : `.${p(ms, 3).replace(/0+$/, '')}`;
  return `${base}${frac}Z`;
}

/** X.509 validity: UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5). */
export function certificateTime(date: Date): Asn1 {
  return date.getUTCFullYear() < 2050
    ? utcTime(asn1.dateToUtcTime(date))
    : generalizedTime(asn1.dateToGeneralizedTime(date));
}

/**
 * A TLV from already-encoded contents. Used to assemble the outer layers of a token around
 * pre-encoded parts (certificates, constant attributes), which forge would re-encode every time.
 */
export function tlv(tag: number, ...contents: Uint8Array[]): Buffer {
  const length = contents.reduce((n, c) => n + c.length, 0);
  let header: number[];
  if (length < 0x80) header = [tag, length];
  else if (length < 0x100) header = [tag, 0x81, length];
  else if (length < 0x10000) header = [tag, 0x82, length >> 8, length & 0xff];
  else if (length < 0x1000000) header = [tag, 0x83, length >> 16, (length >> 8) & 0xff, length & 0xff];
  else throw new RangeError('DER value too long');
  return Buffer.concat([Buffer.from(header), ...contents]);
}
