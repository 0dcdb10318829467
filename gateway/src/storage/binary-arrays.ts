/**
 * Array parameters in PostgreSQL's binary format, for the multi-row statements of the hot paths
 * (`insert … select * from unnest($1::text[], …)`).
 *
 * Given a JavaScript array, pg writes the array's text literal: every element escaped by a regular
 * expression, the literal built by concatenation, measured and copied again into the message, and
 * PostgreSQL parses it back character by character (bytea elements even go as hex). For a group
 * commit of receipts and records that was an eighth of the gateway's CPU. pg sends a Buffer
 * parameter in binary instead, so these encoders write `array_recv`'s input directly: a header,
 * then each element's length and bytes. The element type must be the one the statement casts
 * the parameter to (`$1::uuid[]` wants `uuidArray`), or PostgreSQL refuses it with "wrong element
 * type" — it never reinterprets the bytes.
 *
 * Layout (PostgreSQL's src/backend/utils/adt/arrayfuncs.c, array_recv): int32 dimensions (0 for
 * an empty array, else 1), int32 has-nulls flag, int32 element type OID, then per dimension int32
 * length and int32 lower bound (1), then per element int32 byte length (-1 for NULL) and bytes.
 * Integers are big-endian.
 */

const OID = { bytea: 17, int8: 20, int2: 21, text: 25, timestamptz: 1184, uuid: 2950, jsonb: 3802 } as const;

/** Milliseconds from the Unix epoch to PostgreSQL's (2000-01-01T00:00:00Z). */
const PG_EPOCH_MS = 946_684_800_000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function header(
  oid: number,
  count: number,
  hasNulls: boolean,
  bodyBytes: number,
): { buf: Buffer; at: number } {
  const headerBytes = count === 0 ? 12 : 20;
  const buf = Buffer.allocUnsafe(headerBytes + bodyBytes);
  buf.writeInt32BE(count === 0 ? 0 : 1, 0);
  buf.writeInt32BE(hasNulls ? 1 : 0, 4);
  buf.writeInt32BE(oid, 8);
  if (count > 0) {
    buf.writeInt32BE(count, 12);
    buf.writeInt32BE(1, 16);
  }
  return { buf, at: headerBytes };
}

/** Elements of variable length, written as UTF-8 after an optional prefix byte (jsonb's version). */
function utf8Array(oid: number, values: readonly (string | null)[], prefix?: number): Buffer {
  const extra = prefix === undefined ? 0 : 1;
  let body = 0;
  let hasNulls = false;
  for (const v of values) {
    if (v === null) hasNulls = true;
    else if (typeof v !== 'string') throw new TypeError(`not a string: ${typeof v}`);
    else body += Buffer.byteLength(v, 'utf8') + extra;
    body += 4;
  }
  const { buf, at } = header(oid, values.length, hasNulls, body);
  let o = at;
  for (const v of values) {
    if (v === null) {
      buf.writeInt32BE(-1, o);
      o += 4;
      continue;
    }
    const start = o + 4;
    let w = start;
    if (prefix !== undefined) buf[w++] = prefix;
    w += buf.write(v, w, 'utf8');
    buf.writeInt32BE(w - start, o);
    o = w;
  }
  return buf;
}

/** `text[]`; null elements are SQL NULLs. */
export function textArray(values: readonly (string | null)[]): Buffer {
  return utf8Array(OID.text, values);
}

/** `jsonb[]` from JSON texts (binary jsonb is a version byte, 1, and the text). */
export function jsonbArray(values: readonly (string | null)[]): Buffer {
  return utf8Array(OID.jsonb, values, 1);
}

/** `bytea[]`. */
export function byteaArray(values: readonly Uint8Array[]): Buffer {
  let body = 0;
  for (const v of values) body += 4 + v.byteLength;
  const { buf, at } = header(OID.bytea, values.length, false, body);
  let o = at;
  for (const v of values) {
    buf.writeInt32BE(v.byteLength, o);
    buf.set(v, o + 4);
    o += 4 + v.byteLength;
  }
  return buf;
}

/** `uuid[]` from canonical 36-character spellings; anything else throws (nothing half-written). */
export function uuidArray(values: readonly (string | null)[]): Buffer {
  let nulls = 0;
  for (const v of values) {
    if (v === null) nulls++;
    else if (typeof v !== 'string' || !UUID.test(v)) throw new TypeError(`not a UUID: ${String(v)}`);
  }
  const { buf, at } = header(
    OID.uuid,
    values.length,
    nulls > 0,
    values.length * 4 + (values.length - nulls) * 16,
  );
  let o = at;
  for (const v of values) {
    if (v === null) {
      buf.writeInt32BE(-1, o);
      o += 4;
      continue;
    }
    buf.writeInt32BE(16, o);
    buf.write(v.slice(0, 8), o + 4, 'hex');
    buf.write(v.slice(9, 13), o + 8, 'hex');
    buf.write(v.slice(14, 18), o + 10, 'hex');
    buf.write(v.slice(19, 23), o + 12, 'hex');
    buf.write(v.slice(24, 36), o + 14, 'hex');
    o += 20;
  }
  return buf;
}

function fixedArray(
  oid: number,
  size: number,
  values: ArrayLike<unknown>,
  write: (buf: Buffer, at: number, i: number) => void,
): Buffer {
  const { buf, at } = header(oid, values.length, false, values.length * (4 + size));
  let o = at;
  for (let i = 0; i < values.length; i++) {
    buf.writeInt32BE(size, o);
    write(buf, o + 4, i);
    o += 4 + size;
  }
  return buf;
}

function int64(v: number | bigint | string): bigint {
  if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new RangeError(`not a safe integer: ${v}`);
  return BigInt(v);
}

/** `bigint[]` from safe integers, bigints or decimal strings. */
export function int8Array(values: readonly (number | bigint | string)[]): Buffer {
  return fixedArray(OID.int8, 8, values, (buf, at, i) => buf.writeBigInt64BE(int64(values[i]!), at));
}

/** `smallint[]`. */
export function int2Array(values: readonly number[]): Buffer {
  return fixedArray(OID.int2, 2, values, (buf, at, i) => buf.writeInt16BE(values[i]!, at));
}

/**
 * `timestamptz[]` from ISO 8601 instants (millisecond precision, as `Date#toISOString` writes
 * them). The binary form is microseconds since 2000-01-01 UTC.
 */
export function timestamptzArray(values: readonly string[]): Buffer {
  return fixedArray(OID.timestamptz, 8, values, (buf, at, i) => {
    const ms = Date.parse(values[i]!);
    if (!Number.isFinite(ms)) throw new RangeError(`not an instant: ${values[i]}`);
    buf.writeBigInt64BE(BigInt(ms - PG_EPOCH_MS) * 1000n, at);
  });
}

export type ArrayElement = string | number | Uint8Array | null;

/**
 * Reads an array these encoders wrote, element by element, as the values they were given: text
 * and jsonb as strings, bigint as decimal strings, smallint as numbers, uuid lower-case,
 * timestamptz as ISO instants, bytea as bytes. For tests and for looking at a captured parameter.
 */
export function decodeArray(buf: Uint8Array): ArrayElement[] {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const dims = b.readInt32BE(0);
  const oid = b.readInt32BE(8);
  if (dims === 0) return [];
  if (dims !== 1) throw new RangeError(`${dims} dimensions`);
  const count = b.readInt32BE(12);
  const out: ArrayElement[] = [];
  let o = 20;
  for (let i = 0; i < count; i++) {
    const len = b.readInt32BE(o);
    o += 4;
    if (len < 0) {
      out.push(null);
      continue;
    }
    const v = b.subarray(o, o + len);
    o += len;
    switch (oid) {
      case OID.text:
        out.push(v.toString('utf8'));
        break;
      case OID.jsonb:
        out.push(v.subarray(1).toString('utf8'));
        break;
      case OID.bytea:
        out.push(new Uint8Array(v));
        break;
      case OID.int8:
        out.push(v.readBigInt64BE(0).toString());
        break;
      case OID.int2:
        out.push(v.readInt16BE(0));
        break;
      case OID.uuid: {
        const h = v.toString('hex');
        out.push(`${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`);
        break;
      }
      case OID.timestamptz:
        out.push(new Date(Number(v.readBigInt64BE(0) / 1000n) + PG_EPOCH_MS).toISOString());
        break;
      default:
        throw new RangeError(`element type ${oid}`);
    }
  }
  if (o !== b.length) throw new RangeError(`${b.length - o} bytes after the last element`);
  return out;
}
