import {
  canonicalJson,
  cidFromSha256,
  type EvidenceRecord,
  fromHex,
  leafHash,
  type RecordDetails,
  recordLeafHash,
  toHex,
} from '@lianzheng/proof';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cidOfSha256Hex, detailsJson, leafHexOfText, recordJson, saltHex } from './encode.ts';

const hex64 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));
// Plain ASCII most of the time (the fast path), anything at all sometimes (the fallback).
const text = fc.oneof(
  fc.string({ minLength: 1, maxLength: 20 }),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }),
  fc.constantFrom('a"b', 'a\\b', '村道', 'tab\there', '\u2028'),
);

const record: fc.Arbitrary<EvidenceRecord> = fc
  .record(
    {
      id: fc.uuid(),
      projectId: text,
      kind: fc.constantFrom('contract', 'payment_approval', 'notice'),
      sha256: hex64,
      cid: text,
      visibility: fc.constantFrom('public', 'restricted'),
      org: text,
      acceptedAt: fc.constant('2026-01-01T00:00:00.000Z'),
      supersedes: fc.option(fc.uuid(), { nil: undefined }),
      refs: fc.option(fc.array(fc.oneof(fc.uuid(), text), { maxLength: 3 }), { nil: undefined }),
      detailsDigest: hex64,
    },
    {
      requiredKeys: [
        'id',
        'projectId',
        'kind',
        'sha256',
        'cid',
        'visibility',
        'org',
        'acceptedAt',
        'detailsDigest',
      ],
    },
  )
  .map((r) => {
    const out: Record<string, unknown> = {
      v: 1,
      id: r.id,
      projectId: r.projectId,
      kind: r.kind,
      digests: { sha256: r.sha256 },
      cid: r.cid,
      visibility: r.visibility,
      submitter: { org: r.org },
      acceptedAt: r.acceptedAt,
      detailsDigest: r.detailsDigest,
    };
    if (r.supersedes !== undefined) out.supersedes = r.supersedes;
    if (r.refs !== undefined) out.refs = r.refs;
    return out as unknown as EvidenceRecord;
  });

const details: fc.Arbitrary<RecordDetails> = fc.record(
  {
    salt: fc.string({ minLength: 32, maxLength: 32 }),
    title: text,
    amount: fc.oneof(fc.constant('-15'), fc.bigInt({ min: 0n, max: 10n ** 20n }).map(String)),
    milestone: text,
    result: fc.constantFrom('passed', 'failed'),
    reason: text,
  },
  { requiredKeys: ['salt'] },
) as fc.Arbitrary<RecordDetails>;

function sameOrBothThrow(fast: () => string, reference: () => string): void {
  let expected: string | Error;
  try {
    expected = reference();
  } catch (e) {
    expected = e as Error;
  }
  if (expected instanceof Error) expect(fast).toThrow();
  else expect(fast()).toBe(expected);
}

describe('intake fast encodings equal proof/', () => {
  it('recordJson(record) === canonicalJson(record)', () => {
    fc.assert(
      fc.property(record, (r) =>
        sameOrBothThrow(
          () => recordJson(r),
          () => canonicalJson(r),
        ),
      ),
      { numRuns: 2000 },
    );
  });

  it('falls back for a record with an unexpected field', () => {
    const r = { ...fc.sample(record, 1)[0]!, extra: 'x' } as unknown as EvidenceRecord;
    expect(recordJson(r)).toBe(canonicalJson(r));
  });

  it('detailsJson(details) === canonicalJson(details)', () => {
    fc.assert(
      fc.property(details, (d) =>
        sameOrBothThrow(
          () => detailsJson(d),
          () => canonicalJson(d),
        ),
      ),
      { numRuns: 2000 },
    );
  });

  it("leafHexOfText(text) is proof's leafHash of its UTF-8 bytes, lone surrogates and NULs too", () => {
    fc.assert(
      fc.property(fc.oneof(text, fc.string({ unit: 'binary', maxLength: 3000 })), (t) => {
        expect(leafHexOfText(t)).toBe(toHex(leafHash(Buffer.from(t, 'utf8'))));
      }),
      { numRuns: 2000 },
    );
    expect(leafHexOfText('')).toBe(toHex(leafHash(new Uint8Array(0))));
  });

  it("leafHexOfText(recordJson(record)) is proof's recordLeafHash(record)", () => {
    fc.assert(
      fc.property(record, (r) => {
        expect(leafHexOfText(recordJson(r))).toBe(toHex(recordLeafHash(r)));
      }),
      { numRuns: 500 },
    );
  });

  it('cidOfSha256Hex(hex) === cidFromSha256(fromHex(hex))', () => {
    fc.assert(
      fc.property(hex64, (h) => {
        expect(cidOfSha256Hex(h)).toBe(cidFromSha256(fromHex(h)));
      }),
      {
        numRuns: 1000,
      },
    );
    const empty = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
    expect(cidOfSha256Hex(empty)).toBe('bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku');
  });

  it('saltHex gives 32 hex chars, different each time across pool refills', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const s = saltHex();
      expect(s).toMatch(/^[0-9a-f]{32}$/);
      seen.add(s);
    }
    expect(seen.size).toBe(1000);
  });
});
