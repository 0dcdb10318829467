// factsJson writes a project's facts by hand (issue #26); it must give canonicalJson's bytes for
// every map of facts, and refuse (through canonicalJson) what canonicalJson refuses.
import { canonicalJson } from '@lianzheng/proof';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { factsJson, type RecordFact } from './book.ts';

function outcome(f: () => string): string {
  try {
    return f();
  } catch (error) {
    // The same refusal; its path names the fact rather than the whole map.
    return `refused: ${(error as { code?: string }).code}`;
  }
}

const text = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.uuid(),
  fc.constantFrom('notice', '\ud800'),
);
const usual = fc.record(
  {
    k: text,
    i: fc.oneof(fc.nat(), fc.constant(-0), fc.maxSafeInteger()),
    c: text,
    s: text,
    w: text,
    a: fc.constant(true as const),
  },
  { requiredKeys: ['k', 'i'] },
);
// Facts the contract never writes: other fields and types, undefined values, numbers it refuses.
const unusual = fc.record(
  {
    k: fc.oneof(text, fc.integer(), fc.constant(undefined)),
    i: fc.oneof(fc.integer(), fc.double(), fc.string()),
    a: fc.oneof(fc.boolean(), fc.string()),
    d: fc.record({ amount: fc.string() }),
    x: fc.jsonValue(),
  },
  { requiredKeys: [] },
);

describe('factsJson', () => {
  it('is canonicalJson of the facts', () => {
    fc.assert(
      fc.property(fc.dictionary(text, fc.oneof(usual, usual, unusual)), (records) => {
        const map = records as Record<string, RecordFact>;
        expect(outcome(() => factsJson(map))).toBe(outcome(() => canonicalJson(map)));
      }),
      { numRuns: 500 },
    );
  });

  it('writes the usual fact', () => {
    const facts: Record<string, RecordFact> = {
      b: { k: 'payment_approval', i: 7, c: 'x', a: true, s: 'y' },
      a: { k: '施工', i: 0, w: 'z' },
    };
    expect(factsJson(facts)).toBe(
      '{"a":{"i":0,"k":"施工","w":"z"},"b":{"a":true,"c":"x","i":7,"k":"payment_approval","s":"y"}}',
    );
  });
});
