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

  it('refuses what its type cannot hold, rather than writing something else', () => {
    expect(() => uuidArray(['0190c1f0-0000-7000-8000-00000000000'])).toThrow(TypeError);
    expect(() => textArray([42 as unknown as string])).toThrow(TypeError);
    expect(() => int8Array([0.5])).toThrow(RangeError);
    expect(() => int8Array([2n ** 63n])).toThrow(RangeError);
    expect(() => int2Array([40000])).toThrow(RangeError);
    expect(() => timestamptzArray(['2026-13-01T00:00:00Z'])).toThrow(RangeError);
  });
});
