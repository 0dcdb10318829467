// Round trips without a database (tests/integration/binary-arrays.test.ts checks the same
// encodings against PostgreSQL itself).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  byteaArray,
  decodeArray,
  int2Array,
  int8Array,
  jsonbArray,
  textArray,
  timestamptzArray,
  uuidArray,
} from './binary-arrays.ts';

describe('binary arrays', () => {
  it('decode to what was encoded', () => {
    fc.assert(
      fc.property(
        fc.array(fc.option(fc.string({ unit: 'grapheme' }), { nil: null })),
        fc.array(fc.option(fc.uuid(), { nil: null })),
        fc.array(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })),
        fc.array(fc.integer({ min: -32768, max: 32767 })),
        fc.array(fc.uint8Array()),
        fc.array(
          fc
            .date({ noInvalidDate: true, min: new Date(-8e15), max: new Date(8e15) })
            .map((d) => d.toISOString()),
        ),
        (texts, ids, bigs, smalls, bytes, instants) => {
          expect(decodeArray(textArray(texts))).toEqual(texts);
          expect(decodeArray(jsonbArray(texts))).toEqual(texts);
          expect(decodeArray(uuidArray(ids))).toEqual(ids);
          expect(decodeArray(int8Array(bigs))).toEqual(bigs.map(String));
          expect(decodeArray(int2Array(smalls))).toEqual(smalls);
          expect(decodeArray(byteaArray(bytes))).toEqual(bytes);
          expect(decodeArray(timestamptzArray(instants))).toEqual(instants);
        },
      ),
    );
  });

  it('writes the header array_recv reads: one dimension from 1, the has-nulls flag, the element type', () => {
    const buf = textArray(['a', null]);
    expect([...buf.subarray(0, 20)]).toEqual([0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 25, 0, 0, 0, 2, 0, 0, 0, 1]);
    expect([...buf.subarray(20)]).toEqual([0, 0, 0, 1, 97, 255, 255, 255, 255]);
    expect([...textArray([])]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 25]);
    expect(textArray(['a']).readInt32BE(4)).toBe(0);
  });

  // The bytes of text and jsonb arrays pinned against a plain reference (each string measured,
  // then copied), for any rewrite of utf8Array: non-ASCII, lone surrogates (U+FFFD's three bytes),
  // pairs, NULs, empty strings, nulls and the group commit's receipts (ropes `<JWS>~<item>`).
  // (Writing into a buffer sized for the worst case, 3 bytes per UTF-16 unit, instead of measuring
  // first was tried for issue #26: the larger Buffers cost V8's helper threads ~10 µs/record more
  // than the main thread saved.)
  it('writes text and jsonb as measuring each string and copying it does', () => {
    const measured = (oid: number, values: readonly (string | null)[], prefix?: number): Buffer => {
      const extra = prefix === undefined ? 0 : 1;
      let body = 0;
      for (const v of values) body += 4 + (v === null ? 0 : Buffer.byteLength(v, 'utf8') + extra);
      const headerBytes = values.length === 0 ? 12 : 20;
      const buf = Buffer.alloc(headerBytes + body);
      buf.writeInt32BE(values.length === 0 ? 0 : 1, 0);
      buf.writeInt32BE(values.includes(null) ? 1 : 0, 4);
      buf.writeInt32BE(oid, 8);
      if (values.length > 0) {
        buf.writeInt32BE(values.length, 12);
        buf.writeInt32BE(1, 16);
      }
      let o = headerBytes;
      for (const v of values) {
        if (v === null) {
          buf.writeInt32BE(-1, o);
          o += 4;
          continue;
        }
        const bytes = Buffer.concat([
          Buffer.from(prefix === undefined ? [] : [prefix]),
          Buffer.from(v, 'utf8'),
        ]);
        buf.writeInt32BE(bytes.length, o);
        bytes.copy(buf, o + 4);
        o += 4 + bytes.length;
      }
      return buf;
    };
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 50 }),
      fc.string({ unit: 'grapheme', maxLength: 50 }),
      fc.string({ maxLength: 2000 }),
      // Three bytes for one unit (the worst case), lone surrogates (U+FFFD's three), pairs.
      fc
        .array(fc.constantFrom('\u2028', '\uffff', '\ud800', '\udfff', '\ud83d\ude00', 'é', '\u0000', ''), {
          maxLength: 300,
        })
        .map((parts) => parts.join('')),
      // Receipts as the group commit has them: ropes `<JWS>~<item>`.
      fc
        .tuple(
          fc.stringMatching(/^[A-Za-z0-9_-]{1,400}\.[A-Za-z0-9_-]{1,400}$/),
          fc.string({ maxLength: 300 }),
        )
        .map(([jws, item]) => `${jws}~${item}`),
    );
    fc.assert(
      fc.property(fc.array(fc.option(text, { nil: null }), { maxLength: 20 }), (values) => {
        const t = textArray(values);
        const j = jsonbArray(values);
        expect(t.equals(measured(25, values))).toBe(true);
        expect(j.equals(measured(3802, values, 1))).toBe(true);
        expect(decodeArray(t)).toEqual(decodeArray(measured(25, values)));
      }),
      { numRuns: 500 },
    );
    for (const s of ['', '\u2028', '\ud800', '\ud83d\ude00', 'x'.repeat(5000), '\u2028'.repeat(5000)]) {
      expect(textArray([s, null, s]).equals(measured(25, [s, null, s]))).toBe(true);
      expect(jsonbArray([s]).equals(measured(3802, [s], 1))).toBe(true);
    }
  });

  it('refuses what its type cannot hold, rather than writing something else', () => {
    expect(() => uuidArray(['0190c1f0-0000-7000-8000-00000000000'])).toThrow(TypeError);
    expect(() => textArray([42 as unknown as string])).toThrow(TypeError);
    expect(() => int8Array([0.5])).toThrow(RangeError);
    expect(() => int8Array([2n ** 63n])).toThrow(RangeError);
    expect(() => int2Array([40000])).toThrow(RangeError);
    expect(() => timestamptzArray(['2026-13-01T00:00:00Z'])).toThrow(RangeError);
  });
});
