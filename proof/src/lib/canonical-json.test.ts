import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import vectors from '../../test-vectors/rfc8785.json' with { type: 'json' };
import { canonicalBytes, canonicalJson, TrustedCanonicalFragment } from './canonical-json.ts';
import { ProofError } from './errors.ts';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof ProofError ? err.code : `untyped ${String(err)}`;
  }
  return undefined;
}

function fromIeee(hex: string): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt(`0x${hex}`));
  return view.getFloat64(0);
}

describe('canonicalJson (RFC 8785)', () => {
  it.each(vectors.vectors)('$name', (v) => {
    const value = JSON.parse(v.input);
    if (v.refused) expect(codeOf(() => canonicalJson(value))).toBe('NOT_CANONICALISABLE');
    else expect(canonicalJson(value)).toBe(v.expected);
  });

  it.each(vectors.numbers)('IEEE-754 $ieee', (v) => {
    const n = fromIeee(v.ieee);
    if (v.refused) expect(codeOf(() => canonicalJson(n))).toBe('NOT_CANONICALISABLE');
    else expect(canonicalJson(n)).toBe(v.expected);
  });

  it('encodes as UTF-8', () => {
    expect(Array.from(canonicalBytes({ k: '链' }))).toEqual(Array.from(Buffer.from('{"k":"链"}', 'utf8')));
  });

  const refused: [string, unknown][] = [
    ['undefined', undefined],
    ['an undefined property', { a: undefined }],
    ['a function', () => 1],
    ['a symbol', Symbol('x')],
    ['a bigint', 1n],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['a Date', new Date(0)],
    ['a Map', new Map()],
    ['bytes', new Uint8Array(2)],
    ['a class instance', new (class Thing {})()],
    // biome-ignore lint/suspicious/noSparseArray: the hole is what is being tested
    ['a sparse array', [1, , 3]],
    ['an undefined array element', [undefined]],
    ['symbol keys', { [Symbol('k')]: 1 }],
  ];
  it.each(refused)('refuses %s', (_name, value) => {
    expect(codeOf(() => canonicalJson(value))).toBe('NOT_CANONICALISABLE');
  });

  it('names where the refused value sits', () => {
    const message = (value: unknown) => {
      try {
        canonicalJson(value);
      } catch (err) {
        return (err as Error).message;
      }
      return undefined;
    };
    expect(message({ details: { list: [1, 2, { x: 1.5 }] } })).toBe(
      'NOT_CANONICALISABLE: $.details.list[2].x: only safe integers are allowed as numbers',
    );
    expect(message(undefined)).toBe('NOT_CANONICALISABLE: $: a undefined has no JSON form');
    expect(message([0, 'ok', '\ud800'])).toBe('NOT_CANONICALISABLE: $[2]: string holds a lone surrogate');
  });

  it('checks strings without String.prototype.isWellFormed too (the older browsers the page serves)', async () => {
    const proto = String.prototype as { isWellFormed?: unknown };
    const native = proto.isWellFormed;
    const expected = canonicalJson({ a: 'é😀\u2028' });
    delete proto.isWellFormed;
    try {
      // A second instance of the module, evaluated without the method (the query makes it new).
      const path = './canonical-json.ts?without-is-well-formed';
      const fallback = (await import(/* @vite-ignore */ path)) as typeof import('./canonical-json.ts');
      expect(fallback.canonicalJson({ a: 'é😀\u2028' })).toBe(expected);
      // A fresh module graph has its own ProofError class: compare the code.
      expect(() => fallback.canonicalJson({ a: 'x\udc00' })).toThrow(
        /NOT_CANONICALISABLE: \$\.a: string holds a lone surrogate/,
      );
      expect(() => fallback.canonicalJson(['\ud83d'])).toThrow(/NOT_CANONICALISABLE: \$\[0\]/);
    } finally {
      proto.isWellFormed = native;
    }
  });

  it('refuses cycles but allows shared, non-cyclic references', () => {
    const a: Record<string, unknown> = {};
    a.self = a;
    expect(codeOf(() => canonicalJson(a))).toBe('NOT_CANONICALISABLE');
    const shared = { x: 1 };
    expect(canonicalJson({ a: shared, b: [shared] })).toBe('{"a":{"x":1},"b":[{"x":1}]}');
  });

  it('accepts objects without a prototype', () => {
    const o = Object.create(null) as Record<string, unknown>;
    o.b = 1;
    o.a = 2;
    expect(canonicalJson(o)).toBe('{"a":2,"b":1}');
  });

  it('agrees with JSON.parse and is idempotent on random JSON of the values records use', () => {
    const json = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.string({ unit: 'binary' }),
        fc.maxSafeInteger(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('value'), { maxLength: 4 }),
        fc.dictionary(fc.string({ unit: 'binary' }), tie('value'), { maxKeys: 4 }),
      ),
    })).value;
    fc.assert(
      fc.property(json, (value) => {
        const text = canonicalJson(value);
        const parsed = JSON.parse(text);
        expect(canonicalJson(parsed)).toBe(text);
        expect(parsed).toEqual(JSON.parse(JSON.stringify(value)));
      }),
    );
  });
});

describe('TrustedCanonicalFragment', () => {
  // The chaincode writes a record's canonical JSON, computed once for its leaf, inside the batch
  // value (issue #26): the bytes must be those of serialising the whole value in one go.
  it('writes the same bytes as canonicalising the value it stands for', () => {
    const safe = fc.jsonValue().filter((v) => {
      try {
        canonicalJson(v);
        return true;
      } catch {
        return false;
      }
    });
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.string(), safe), { maxLength: 6 }), fc.string(), (entries, key) => {
        const plain = { list: entries.map(([k, v]) => ({ [k]: v })), [key]: entries.map(([, v]) => v) };
        const fragments = {
          list: entries.map(([k, v]) => new TrustedCanonicalFragment(canonicalJson({ [k]: v }))),
          [key]: entries.map(([, v]) => new TrustedCanonicalFragment(canonicalJson(v))),
        };
        expect(canonicalJson(fragments)).toBe(canonicalJson(plain));
      }),
    );
  });

  it('is written as it is, unchecked (trusted: only the contract builds one from its own output)', () => {
    expect(canonicalJson({ b: 1, a: new TrustedCanonicalFragment('{"y":1,"x":2}') })).toBe(
      '{"a":{"y":1,"x":2},"b":1}',
    );
  });
});
