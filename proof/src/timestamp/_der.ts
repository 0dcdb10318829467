// A minimal DER reader: just enough to walk CMS SignedData, TSTInfo and X.509 certificates in a
// browser without an ASN.1 library. Definite lengths only (DER), tag numbers below 31 (all that
// these structures use). Every malformation throws DerError, which callers turn into a code.

export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DerError';
  }
}

/** One TLV inside `buf`: [start, contentStart) is the header, [contentStart, end) the content. */
export interface Tlv {
  buf: Uint8Array;
  /** The identifier octet: class (0xc0), constructed (0x20), number (0x1f). */
  tag: number;
  start: number;
  contentStart: number;
  end: number;
}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8: 0x0c,
  PRINTABLE: 0x13,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** [n] constructed context tag (EXPLICIT, or IMPLICIT over a SEQUENCE/SET). */
export const ctx = (n: number): number => 0xa0 | n;
/** [n] primitive context tag (IMPLICIT over a primitive). */
export const ctxPrim = (n: number): number => 0x80 | n;

export function readTlv(buf: Uint8Array, pos: number, limit: number = buf.length): Tlv {
  if (pos + 2 > limit) throw new DerError('truncated header');
  const tag = buf[pos]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('high tag numbers are not used');
  let len = buf[pos + 1]!;
  let p = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) throw new DerError('indefinite length is not DER');
    if (n > 4) throw new DerError('length too large');
    if (p + n > limit) throw new DerError('truncated length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
    if (buf[p] === 0 || (n === 1 && len < 0x80)) throw new DerError('non-minimal length');
    p += n;
  }
  if (p + len > limit) throw new DerError('truncated content');
  return { buf, tag, start: pos, contentStart: p, end: p + len };
}

/** Parse a whole buffer as exactly one TLV. */
export function parseDer(buf: Uint8Array): Tlv {
  const t = readTlv(buf, 0);
  if (t.end !== buf.length) throw new DerError('trailing bytes');
  return t;
}

export function children(t: Tlv): Tlv[] {
  if (!(t.tag & 0x20)) throw new DerError('not constructed');
  const out: Tlv[] = [];
  let p = t.contentStart;
  while (p < t.end) {
    const c = readTlv(t.buf, p, t.end);
    out.push(c);
    p = c.end;
  }
  return out;
}

export const content = (t: Tlv): Uint8Array => t.buf.subarray(t.contentStart, t.end);
export const raw = (t: Tlv): Uint8Array => t.buf.subarray(t.start, t.end);

export function expect(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (!t || t.tag !== tag) throw new DerError(`expected ${what}`);
  return t;
}

/** The children of a SEQUENCE (or other constructed tag), checked. */
export const seqOf = (t: Tlv | undefined, what: string, tag: number = TAG.SEQUENCE): Tlv[] =>
  children(expect(t, tag, what));

export function readOid(t: Tlv | undefined): string {
  const c = content(expect(t, TAG.OID, 'OID'));
  if (c.length === 0) throw new DerError('empty OID');
  const parts: number[] = [];
  let v = 0;
  for (let i = 0; i < c.length; i++) {
    const b = c[i]!;
    if (v === 0 && b === 0x80) throw new DerError('non-minimal OID');
    v = v * 128 + (b & 0x7f);
    if (v > Number.MAX_SAFE_INTEGER / 128) throw new DerError('OID arc too large');
    if (!(b & 0x80)) {
      if (parts.length === 0) {
        const first = v < 80 ? Math.floor(v / 40) : 2;
        parts.push(first, v - first * 40);
      } else parts.push(v);
      v = 0;
    } else if (i === c.length - 1) throw new DerError('truncated OID');
  }
  return parts.join('.');
}

/** A non-negative INTEGER as a bigint. */
export function readUint(t: Tlv | undefined): bigint {
  const c = content(expect(t, TAG.INTEGER, 'INTEGER'));
  if (c.length === 0) throw new DerError('empty INTEGER');
  if (c[0]! & 0x80) throw new DerError('negative INTEGER');
  let v = 0n;
  for (const b of c) v = (v << 8n) | BigInt(b);
  return v;
}

const text = (c: Uint8Array): string => String.fromCharCode(...c);

/** UTCTime (YYMMDDhhmmssZ) or GeneralizedTime (YYYYMMDDhhmmss[.f+]Z) → Date. */
export function readTime(t: Tlv | undefined): Date {
  if (!t) throw new DerError('expected time');
  const s = text(content(t));
  const utc = t.tag === TAG.UTC_TIME ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s) : null;
  if (utc) {
    const yy = Number(utc[1]);
    const year = yy < 50 ? 2000 + yy : 1900 + yy;
    return new Date(Date.UTC(year, Number(utc[2]) - 1, +utc[3]!, +utc[4]!, +utc[5]!, +utc[6]!));
  }
  const gen =
    t.tag === TAG.GENERALIZED_TIME
      ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d*[1-9]))?Z$/.exec(s)
      : null;
  if (gen) {
    const ms = gen[7] ? Number(gen[7].padEnd(3, '0').slice(0, 3)) : 0; // sub-ms digits dropped
    return new Date(Date.UTC(+gen[1]!, Number(gen[2]) - 1, +gen[3]!, +gen[4]!, +gen[5]!, +gen[6]!, ms));
  }
  throw new DerError('bad time');
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Every CERTIFICATE block of a PEM text, as DER. */
export function pemCertificates(pem: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const m of pem.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)) {
    const b64 = m[1]!.replace(/\s+/g, '');
    const bin = atob(b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    out.push(bytes);
  }
  return out;
}
