// Group receipts are built in Node from one flat buffer (receipt-group-node.ts) and in the
// browser from treeWithPaths (receipt-group-browser.ts). Both must give exactly the bytes of the
// format: checked here against a reference written out plainly from RFC 9162 (§2.1.1 MTH,
// §2.1.3.1 PATH) and the item layout, on random groups — sizes around every power of two, claims
// with escapes, non-ASCII and lone surrogates (refused alike).
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from './canonical-json.ts';
import { ProofError } from './errors.ts';
import { buildReceiptGroup, type ReceiptItemClaims } from './receipt.ts';
import { receiptGroupImpl as portableImpl } from './receipt-group-browser.ts';
import { receiptGroupImpl as nodeImpl } from './receipt-group-node.ts';

const sha256 = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** MTH(D[from:to]) and PATH(m, D[from:to]), over ranges; `memo` keeps each range's MTH. */
function mth(leaves: Buffer[], from: number, to: number, memo: Map<string, Buffer>): Buffer {
  if (to - from === 1) return leaves[from]!;
  const key = `${from}:${to}`;
  let h = memo.get(key);
  if (h === undefined) {
    const k = from + largestPowerOfTwoBelow(to - from);
    h = sha256(Buffer.from([1]), mth(leaves, from, k, memo), mth(leaves, k, to, memo));
    memo.set(key, h);
  }
  return h;
}

function auditPath(
  m: number,
  leaves: Buffer[],
  from: number,
  to: number,
  memo: Map<string, Buffer>,
): Buffer[] {
  if (to - from === 1) return [];
  const k = from + largestPowerOfTwoBelow(to - from);
  return m < k
    ? [...auditPath(m, leaves, from, k, memo), mth(leaves, k, to, memo)]
    : [...auditPath(m, leaves, k, to, memo), mth(leaves, from, k, memo)];
}

/** The format written out plainly: what buildReceiptGroup made before its fast path. */
function referenceGroup(items: readonly ReceiptItemClaims[]): { root: string; items: string[] } {
  const claims = items.map(({ cid, kind, leaf, projectId, sha256, sub }) =>
    Buffer.from(canonicalJson({ cid, kind, leaf, projectId, sha256, sub }), 'utf8'),
  );
  const leaves = claims.map((c) => sha256(Buffer.from([0]), c));
  const memo = new Map<string, Buffer>();
  const n = leaves.length;
  return {
    root: mth(leaves, 0, n, memo).toString('hex'),
    items: claims.map(
      (c, i) =>
        `${c.toString('base64url')}.${i}.${Buffer.concat(auditPath(i, leaves, 0, n, memo)).toString('base64url')}`,
    ),
  };
}

function outcome(f: () => { root: string; items: string[] }): unknown {
  try {
    return f();
  } catch (err) {
    return err instanceof ProofError ? `ProofError ${err.code}` : `untyped ${String(err)}`;
  }
}

const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);
const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const claimString = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.constantFrom('"', '\\', '\n', '\u0000', '\u2028', '</script>', '村', '😀', '') },
);
const realistic = fc.record({
  sub: fc.uuid({ version: 7 }),
  sha256: hex64,
  cid: fc.constant('bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku'),
  projectId: fc.integer({ min: 1, max: 9999 }).map((n) => `P-2026-${String(n).padStart(4, '0')}`),
  kind: fc.constantFrom('contract', 'construction_log', 'acceptance'),
  leaf: hex64,
}) as fc.Arbitrary<ReceiptItemClaims>;
const anyClaims = fc.record({
  sub: claimString,
  sha256: claimString,
  cid: claimString,
  projectId: claimString,
  kind: claimString,
  leaf: claimString,
}) as fc.Arbitrary<ReceiptItemClaims>;
const edgeSizes = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257];
const size = fc.oneof(fc.constantFrom(...edgeSizes), fc.integer({ min: 1, max: 300 }));

/** A group of `n` items, each realistic (mostly) or with arbitrary claim strings. */
const group = size.chain((n) =>
  fc.array(fc.oneof({ weight: 5, arbitrary: realistic }, { weight: 1, arbitrary: anyClaims }), {
    minLength: n,
    maxLength: n,
  }),
);

describe('buildReceiptGroup (flat Node builder, portable builder, the format)', () => {
  it('makes the same root and items as the reference on random groups', () => {
    fc.assert(
      fc.property(group, (items) => {
        const expected = outcome(() => referenceGroup(items));
        expect(typeof expected).toBe('object'); // no lone surrogates here: every group is built
        const built = outcome(() => {
          const g = buildReceiptGroup(items);
          const claims = g.claims({ iss: 'i', iat: 1, ledger: 'embedded' });
          expect(claims).toEqual({
            iss: 'i',
            iat: 1,
            ledger: 'embedded',
            size: items.length,
            root: claims.root,
          });
          return { root: claims.root, items: g.items };
        });
        expect(built).toEqual(expected);
        const texts = typeof expected === 'string' ? undefined : items.map((it) => canonicalJson({ ...it }));
        if (texts) {
          expect(nodeImpl(texts)).toEqual(expected);
          expect(portableImpl(texts)).toEqual(expected);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('refuses a group with a lone surrogate in any claim, as canonicalJson does', () => {
    const withSurrogate = fc
      .tuple(
        fc.array(realistic, { minLength: 1, maxLength: 40 }),
        fc.nat(),
        fc.nat(5),
        fc.string(),
        loneSurrogate,
      )
      .map(([items, at, claim, text, lone]) => {
        const name = (['sub', 'sha256', 'cid', 'projectId', 'kind', 'leaf'] as const)[claim]!;
        const i = at % items.length;
        const copy = items.slice();
        copy[i] = { ...items[i]!, [name]: `${text}${lone}` };
        return copy;
      });
    fc.assert(
      fc.property(withSurrogate, (items) => {
        const expected = outcome(() => referenceGroup(items));
        expect(expected).toBe('ProofError NOT_CANONICALISABLE');
        expect(outcome(() => buildReceiptGroup(items) as never)).toBe(expected);
      }),
      { numRuns: 50 },
    );
  });

  it('builds a group with a non-string claim (through canonicalJson) and refuses a lone surrogate', () => {
    const items = [
      { sub: 'a', sha256: 'b', cid: 'c', projectId: 'd', kind: 'contract', leaf: 'e' },
      { sub: 'x\ud800', sha256: 'b', cid: 'c', projectId: 'd', kind: 'contract', leaf: 'e' },
    ] as ReceiptItemClaims[];
    expect(outcome(() => buildReceiptGroup(items) as never)).toMatch(/^ProofError /);
    expect(outcome(() => buildReceiptGroup(items) as never)).toBe(outcome(() => referenceGroup(items)));
    const numeric = [items[0]!, { ...items[0]!, sub: 7 as unknown as string }];
    const g = buildReceiptGroup(numeric);
    expect({ root: g.claims({ iss: 'i', iat: 1, ledger: 'fabric' }).root, items: g.items }).toEqual(
      referenceGroup(numeric),
    );
  });

  it('refuses an empty group with BAD_LENGTH, as before', () => {
    expect(outcome(() => buildReceiptGroup([]) as never)).toBe('ProofError BAD_LENGTH');
    expect(outcome(() => nodeImpl([]))).toBe('ProofError BAD_LENGTH');
    expect(outcome(() => portableImpl([]))).toBe('ProofError BAD_LENGTH');
  });

  it('builds groups larger than its kept scratch, and claims longer than it, then small ones again', () => {
    const base = { sha256: 'a'.repeat(64), cid: 'bafkrei', kind: 'contract', leaf: 'b'.repeat(64) };
    const big = Array.from({ length: 9_001 }, (_, i) => ({
      ...base,
      sub: `r${i}`,
      projectId: 'P-2026-0001',
    }));
    big[17] = { ...big[17]!, projectId: '村'.repeat(30_000) };
    for (const items of [big, big.slice(0, 3), big.slice(0, 5_000), big.slice(16, 19)]) {
      const texts = items.map((it) => canonicalJson({ ...it }));
      const expected = portableImpl(texts);
      expect(nodeImpl(texts)).toEqual(expected);
      if (items.length <= 5_000) expect(expected).toEqual(referenceGroup(items as ReceiptItemClaims[]));
    }
  });
});
