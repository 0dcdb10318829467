import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { textProblem, walk, wellFormed } from './unicode.ts';

// textProblem asks wellFormed first and walks only when it says no (issue #26): the two must agree
// on every value, or an ill-formed item would be accepted (or a good one refused).
describe("textProblem's cheap well-formedness pass", () => {
  const text = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 20 }),
    fc.string({ maxLength: 20 }),
    fc.constantFrom('', 'a', '\ud800', '\udfff', 'x\udc00y', '\ud83d\ude00', '\ud83d', '\u0000', '\u2028'),
  );
  const { value } = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      text,
      fc.integer(),
      fc.constant(null),
      fc.boolean(),
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(text, tie('value'), { maxKeys: 4 }),
    ),
  }));

  it('says yes exactly when the full walk finds nothing, and textProblem agrees', () => {
    fc.assert(
      fc.property(value, (v) => {
        // Against the full walk, not textProblem (which asks wellFormed first).
        expect(wellFormed(v)).toBe(walk(v, 'body', false, 0) === undefined);
        expect(wellFormed(v, true)).toBe(walk(v, 'body', true, 0) === undefined);
        expect(textProblem(v) === undefined).toBe(walk(v, 'body', false, 0) === undefined);
      }),
      { numRuns: 3000 },
    );
  });

  it('descends as deep as the full walk does, and no deeper', () => {
    const nest = (depth: number, leaf: unknown): unknown => {
      let v = leaf;
      for (let i = 0; i < depth; i++) v = i % 2 === 0 ? [v] : { k: v };
      return v;
    };
    for (let depth = 60; depth <= 70; depth++) {
      for (const leaf of ['\ud800', ['\ud800'], { '\ud800': 1 }, { k: '\ud800' }, 'ok']) {
        const v = nest(depth, leaf);
        // Against the full walk, not textProblem (which asks wellFormed first).
        expect(wellFormed(v)).toBe(walk(v, 'body', false, 0) === undefined);
        expect(wellFormed(v, true)).toBe(walk(v, 'body', true, 0) === undefined);
        expect(textProblem(v) === undefined).toBe(walk(v, 'body', false, 0) === undefined);
      }
    }
  });

  it('checks the keys too', () => {
    expect(wellFormed({ 'a\ud800': 'x' })).toBe(false);
    expect(
      wellFormed({ projectId: 'P-1', kind: 'contract', sha256: 'ab'.repeat(32), visibility: 'public' }),
    ).toBe(true);
  });
});
