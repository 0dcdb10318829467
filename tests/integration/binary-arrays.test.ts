// The binary array parameters (gateway/src/storage/binary-arrays.ts) against real PostgreSQL:
// each must arrive exactly as pg's own text literal of the same array does, for any values.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  byteaArray,
  int2Array,
  int8Array,
  jsonbArray,
  textArray,
  timestamptzArray,
  uuidArray,
} from '../../gateway/src/storage/binary-arrays.ts';
import { startTestDatabase, type TestDatabase } from './pipeline-support.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await startTestDatabase();
});

afterAll(async () => {
  await db?.stop();
});

/** The array as PostgreSQL received it, spelled out by PostgreSQL (element by element, in order). */
async function received(type: string, param: unknown): Promise<(string | null)[]> {
  const { rows } = await db.pool.query<{ v: string | null }>(
    `select v::text from unnest($1::${type}[]) with ordinality as u(v, n) order by n`,
    [param],
  );
  return rows.map((r) => r.v);
}

/** pg's text literal and the binary encoding of the same array must arrive as the same values. */
async function sameAsText(type: string, values: unknown[], binary: Buffer): Promise<(string | null)[]> {
  const viaText = await received(type, values);
  const viaBinary = await received(type, binary);
  expect(viaBinary).toEqual(viaText);
  expect(viaBinary).toHaveLength(values.length);
  return viaBinary;
}

describe('binary array parameters', () => {
  it('text[]: any strings, NULLs and the empty array arrive as pg would send them', async () => {
    // Arbitrary UTF-16 includes lone surrogates: both paths write them as U+FFFD. NUL is not
    // text in PostgreSQL at all (checked below).
    const element = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 40 }),
      fc.string({ unit: 'binary', maxLength: 40 }).map((s) => s.replaceAll('\0', '')),
      fc.constantFrom('', 'NULL', '"', '\\', '{}', ',', ' a ', '链证'),
      fc.constant(null),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(element, { maxLength: 30 }), async (values) => {
        await sameAsText('text', values, textArray(values));
      }),
      { numRuns: 60 },
    );
    expect(await received('text', textArray([]))).toEqual([]);
    expect(await received('text', textArray([null, 'x', null]))).toEqual([null, 'x', null]);
  });

  it('text[] with a NUL inside is refused by PostgreSQL, as the text path is', async () => {
    await expect(received('text', textArray(['a\0b']))).rejects.toMatchObject({ code: '22021' });
  });

  it('jsonb[] arrives as the same JSON values', async () => {
    const json = fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v));
    await fc.assert(
      fc.asyncProperty(fc.array(json, { maxLength: 10 }), async (values) => {
        await sameAsText('jsonb', values, jsonbArray(values));
      }),
      { numRuns: 30 },
    );
  });

  it('bytea[] carries bytes unchanged', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }), async (values) => {
        const got = await sameAsText(
          'bytea',
          values.map((v) => Buffer.from(v)),
          byteaArray(values),
        );
        expect(got).toEqual(values.map((v) => `\\x${Buffer.from(v).toString('hex')}`));
      }),
      { numRuns: 30 },
    );
  });

  it('uuid[] from any spelling case, with NULLs; a malformed id throws before anything is sent', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.option(fc.uuid(), { nil: null }), { maxLength: 20 }), async (ids) => {
        const mixed = ids.map((id, i) => (id !== null && i % 2 ? id.toUpperCase() : id));
        const got = await sameAsText('uuid', mixed, uuidArray(mixed));
        expect(got).toEqual(ids);
      }),
      { numRuns: 30 },
    );
    for (const bad of [
      '',
      'not-a-uuid',
      '0190c1f0-0000-7000-8000-00000000000g',
      '0190c1f000007000800000000000000a1234',
    ])
      expect(() => uuidArray([bad])).toThrow(TypeError);
  });

  it('bigint[] and smallint[] across their ranges', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), { maxLength: 20 }),
        async (v) => {
          const got = await sameAsText('bigint', v.map(String), int8Array(v));
          expect(got).toEqual(v.map(String));
        },
      ),
      { numRuns: 30 },
    );
    expect(await received('bigint', int8Array([0, '9007199254740993', Number.MAX_SAFE_INTEGER]))).toEqual([
      '0',
      '9007199254740993',
      String(Number.MAX_SAFE_INTEGER),
    ]);
    expect(() => int8Array([1.5])).toThrow(RangeError);
    expect(() => int8Array([2 ** 60])).toThrow(RangeError);
    const small = [-32768, -1, 0, 1, 32767];
    expect(await sameAsText('smallint', small, int2Array(small))).toEqual(small.map(String));
  });

  it('timestamptz[] keeps the instant to the millisecond, before and after 2000', async () => {
    const instants = fc
      .date({
        min: new Date('1900-01-01T00:00:00Z'),
        max: new Date('2200-01-01T00:00:00Z'),
        noInvalidDate: true,
      })
      .map((d) => d.toISOString());
    await fc.assert(
      fc.asyncProperty(fc.array(instants, { maxLength: 20 }), async (values) => {
        await sameAsText('timestamptz', values, timestamptzArray(values));
        const { rows } = await db.pool.query<{ ms: string }>(
          `select (extract(epoch from v) * 1000)::bigint::text as ms
             from unnest($1::timestamptz[]) with ordinality as u(v, n) order by n`,
          [timestamptzArray(values)],
        );
        expect(rows.map((r) => Number(r.ms))).toEqual(values.map((v) => Date.parse(v)));
      }),
      { numRuns: 30 },
    );
    expect(() => timestamptzArray(['yesterday'])).toThrow(RangeError);
  });

  it('an array of another element type than the statement casts to is refused, not reinterpreted', async () => {
    await expect(received('uuid', textArray(['0190c1f0-0000-7000-8000-000000000000']))).rejects.toMatchObject(
      {
        code: '42804',
      },
    );
  });
});
