import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type BlockInput, blockPayload, hashData, jsonStringUtf8 } from './ledger-embedded.ts';

// commitBlock writes the block payload and hashes the arguments from their UTF-8 bytes (issue #26);
// the stored payload and the data hash must stay what JSON.stringify and the string hashing gave:
// audit/replay.ts parses the payload and recomputes the data hash from its strings.

/** Strings with what JSON escapes: quotes, backslashes, control characters, lone surrogates, U+FFFD. */
const text = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.string({ unit: 'grapheme' }),
  fc.string({
    unit: fc.constantFrom(
      '"',
      '\\',
      '\n',
      '\t',
      '\b',
      '\f',
      '\r',
      '\u0000',
      '\u001f',
      '\u007f',
      'a',
      '施',
      '\u2028',
      '\ud800',
      '\udfff',
      '\ufffd',
      '😀',
    ),
  }),
  fc.json(),
);

const result = fc.oneof(fc.constant(undefined), fc.constant(null), fc.jsonValue());

const input = fc.record({
  fn: text,
  args: fc.array(text, { maxLength: 4 }),
  creator: fc.record({ mspId: text, id: text }),
  timestamp: text,
  result,
});

const asBytes = (args: readonly string[]) => args.map((a) => Buffer.from(a, 'utf8'));

describe('block payload and data hash from the arguments UTF-8', () => {
  it('jsonStringUtf8 is the UTF-8 of JSON.stringify, or undefined where U+FFFD is', () => {
    fc.assert(
      fc.property(text, (s) => {
        const bytes = Buffer.from(s, 'utf8');
        const out = jsonStringUtf8(bytes);
        if (out === undefined) expect(bytes.includes(Buffer.from([0xef, 0xbf, 0xbd]))).toBe(true);
        else expect(out.equals(Buffer.from(JSON.stringify(s)))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('grows its buffer when more than a quarter of the bytes need escaping', () => {
    const before = Buffer.from('{"before":');
    const after = Buffer.from(`,"after":"${'x'.repeat(5000)}"}`);
    for (const s of ['"'.repeat(1000), '\u0001'.repeat(999), `${'a'.repeat(100)}${'\\'.repeat(300)}`, '']) {
      expect(jsonStringUtf8(Buffer.from(s))!.equals(Buffer.from(JSON.stringify(s)))).toBe(true);
      expect(
        jsonStringUtf8(Buffer.from(s), before, after)!.equals(
          Buffer.concat([before, Buffer.from(JSON.stringify(s)), after]),
        ),
      ).toBe(true);
    }
  });

  it('blockPayload is Buffer.from(JSON.stringify(input))', () => {
    fc.assert(
      fc.property(input, (i: BlockInput) => {
        expect(blockPayload(i, asBytes(i.args)).equals(Buffer.from(JSON.stringify(i)))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('a RecordBatch-like argument: the same payload', () => {
    const records = Array.from({ length: 200 }, (_, n) =>
      JSON.stringify({
        record: { id: `r${n}`, kind: 'notice' },
        details: { title: `施工日志 第 ${n} 条 "x" \\` },
      }),
    );
    const i: BlockInput = {
      fn: 'RecordBatch',
      args: [`{"fromSize":0,"records":[${records.join(',')}]}`],
      creator: { mspId: 'Org1MSP', id: 'x509::CN=gateway' },
      timestamp: '2026-12-07T09:00:00.000Z',
      result: { toSize: 200, root: 'ab', flags: [] },
    };
    expect(blockPayload(i, asBytes(i.args)).equals(Buffer.from(JSON.stringify(i)))).toBe(true);
  });

  it('hashData is the same for the arguments as strings and as their UTF-8', () => {
    fc.assert(
      fc.property(
        input,
        fc.array(fc.tuple(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 40 })), {
          maxLength: 4,
        }),
        (i, kv) => {
          const keys = kv.map(([k]) => k);
          const values = kv.map(([, v]) => v);
          const fromStrings = hashData(
            i.fn,
            i.args,
            i.creator.id,
            i.creator.mspId,
            'tx',
            i.timestamp,
            keys,
            values,
          );
          const fromBytes = hashData(
            i.fn,
            asBytes(i.args),
            i.creator.id,
            i.creator.mspId,
            'tx',
            i.timestamp,
            keys,
            values,
          );
          expect(Buffer.from(fromBytes).equals(Buffer.from(fromStrings))).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });
});
