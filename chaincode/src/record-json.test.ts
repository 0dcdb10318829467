// recordJsonFast and detailsJsonFast spell records and details by hand (issue #26): whatever they
// answer must be canonicalJson's bytes, and the records and details intake makes must take the
// fast path (otherwise it buys nothing).
import { canonicalJson, cidFromSha256, sha256 } from '@lianzheng/proof';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { detailsJsonFast, recordJsonFast } from './record-json.ts';
import { buildEntry, testRecordId } from './testing/records.ts';

function canonical(value: unknown): string | undefined {
  try {
    return canonicalJson(value);
  } catch {
    return undefined;
  }
}

const text = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.uuid(),
  fc.constantFrom('notice', '\ud800', 'a\udc00b', '"\\\n\u2028😀'),
);
const odd = fc.oneof(
  text,
  fc.integer(),
  fc.constant(-0),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.array(text),
  fc.dictionary(text, text),
);
const digests = fc.oneof(
  fc.record({ sha256: text, sm3: text }, { requiredKeys: ['sha256'] }),
  fc.dictionary(fc.constantFrom('sha256', 'sm3', 'md5'), odd),
  odd,
);
const record = fc.record(
  {
    v: fc.oneof(fc.constant(1), fc.integer(), fc.constant(-0), fc.double(), text),
    id: fc.oneof(fc.uuid(), odd),
    projectId: text,
    kind: text,
    digests,
    cid: text,
    visibility: fc.oneof(fc.constantFrom('public', 'restricted'), odd),
    submitter: fc.oneof(fc.record({ org: text }), fc.dictionary(fc.constantFrom('org', 'name'), odd), odd),
    acceptedAt: text,
    supersedes: fc.oneof(fc.uuid(), odd),
    refs: fc.oneof(fc.array(fc.oneof(fc.uuid(), text)), fc.array(odd), odd),
    detailsDigest: text,
  },
  { requiredKeys: [] },
);
const details = fc.oneof(
  fc.record(
    { salt: text, title: text, amount: text, milestone: text, result: text, reason: text },
    { requiredKeys: [] },
  ),
  fc.dictionary(fc.constantFrom('salt', 'title', 'amount', 'milestone', 'result', 'reason', 'other'), odd),
);

describe('recordJsonFast and detailsJsonFast', () => {
  it('answer canonicalJson or nothing, for records and details of any shape', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          record,
          odd,
          fc.tuple(record, text).map(([r, k]) => ({ ...r, [k]: 1 })),
        ),
        (r) => {
          const fast = recordJsonFast(r);
          if (fast !== undefined) expect(fast).toBe(canonical(r));
        },
      ),
      { numRuns: 5_000 },
    );
    fc.assert(
      fc.property(fc.oneof(details, odd), (d) => {
        const fast = detailsJsonFast(d);
        if (fast !== undefined) expect(fast).toBe(canonical(d));
      }),
      { numRuns: 5_000 },
    );
  });

  it('take the fast path for the records and details intake makes, parsed from JSON as RecordBatch gets them', () => {
    const entries = [
      buildEntry({
        id: testRecordId(1),
        projectId: 'P-1',
        kind: 'contract',
        details: { amount: '100', title: '合同 "甲"' },
      }),
      buildEntry({
        id: testRecordId(2),
        projectId: 'P-1',
        kind: 'acceptance',
        visibility: 'public',
        refs: [testRecordId(1)],
        supersedes: testRecordId(1),
        details: { milestone: 'M1', result: 'passed', reason: '😀\n' },
      }),
    ];
    const withSm3 = {
      ...entries[0]!.record,
      digests: { sm3: 'ab'.repeat(32), sha256: 'cd'.repeat(32) },
      cid: cidFromSha256(sha256(new Uint8Array(1))),
    };
    for (const value of [...entries.flatMap((e) => [e.record]), withSm3]) {
      const parsed = JSON.parse(JSON.stringify(value));
      expect(recordJsonFast(parsed)).toBe(canonicalJson(parsed));
      expect(recordJsonFast(JSON.parse(canonicalJson(value)))).toBe(canonicalJson(value));
    }
    for (const { details } of entries)
      expect(detailsJsonFast(JSON.parse(JSON.stringify(details)))).toBe(canonicalJson(details));
    // Not the plain shape: left to canonicalJson.
    expect(recordJsonFast({ ...entries[0]!.record, extra: 1 })).toBeUndefined();
    expect(recordJsonFast({ ...entries[0]!.record, v: 1.5 })).toBeUndefined();
    expect(detailsJsonFast({ salt: '\ud800' })).toBeUndefined();
    expect(detailsJsonFast({ salt: 1 })).toBeUndefined();
  });
});
