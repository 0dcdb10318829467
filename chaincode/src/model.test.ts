import { cidFromSha256, toHex } from '@lianzheng/proof';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chaincodeErrorCode } from './errors.ts';
import { cidOfSha256Hex, isAcceptedAt, isCalendarDate, isFen, parseRecord, projectLevel } from './model.ts';
import { buildEntry, testRecordId } from './testing/records.ts';

describe('projectLevel', () => {
  it('splits at 5 million and 100 million CNY (amounts in fen)', () => {
    expect(projectLevel('0')).toBe('C');
    expect(projectLevel('499999999')).toBe('C');
    expect(projectLevel('500000000')).toBe('B');
    expect(projectLevel('10000000000')).toBe('B');
    expect(projectLevel('10000000001')).toBe('A');
  });
});

describe('value checks', () => {
  it('accepts integer fen only', () => {
    expect(['0', '1', '-5', '123456789012345678901234567890'].every(isFen)).toBe(true);
    expect(['', '01', '-0', '1.0', '1e3', ' 1', '+1'].some(isFen)).toBe(false);
  });

  it('accepts real calendar dates only', () => {
    expect(isCalendarDate('2024-02-29')).toBe(true);
    expect(isCalendarDate('2025-02-29')).toBe(false);
    expect(isCalendarDate('2025-13-01')).toBe(false);
  });

  it('refuses a record with a field outside the v1 shape', () => {
    const { record } = buildEntry({ id: testRecordId(1), projectId: 'P1', kind: 'other' });
    expect(parseRecord(record)).toEqual(record);
    try {
      parseRecord({ ...record, note: 'x' });
      expect.unreachable();
    } catch (error) {
      expect(chaincodeErrorCode(error)).toBe('BAD_RECORD');
    }
  });

  it('reads the code from a message that crossed a process boundary', () => {
    expect(
      chaincodeErrorCode(new Error('transaction returned with failure: LOG_GAP: batch starts at 3')),
    ).toBe('LOG_GAP');
    expect(chaincodeErrorCode(new Error('SOMETHING: else'))).toBeUndefined();
  });
});

describe('fast checks of RecordBatch (issue #26) against their plain definitions', () => {
  // What isAcceptedAt replaced: Date.parse and toISOString giving back the same string.
  const roundTrips = (s: string) => {
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(s)) return false;
    const t = Date.parse(s);
    return Number.isFinite(t) && new Date(t).toISOString() === s;
  };
  const two = (n: number) => String(n).padStart(2, '0');

  it('isAcceptedAt accepts exactly the timestamps that round-trip through Date', () => {
    const stamp = fc
      .tuple(
        fc.oneof(fc.integer({ min: 0, max: 9999 }), fc.constantFrom(1900, 2000, 2024, 2025, 2100, 2400)),
        fc.integer({ min: 0, max: 19 }),
        fc.integer({ min: 0, max: 39 }),
        fc.integer({ min: 0, max: 29 }),
        fc.integer({ min: 0, max: 69 }),
        fc.integer({ min: 0, max: 69 }),
        fc.integer({ min: 0, max: 999 }),
      )
      .map(
        ([y, mo, d, h, mi, s, ms]) =>
          `${String(y).padStart(4, '0')}-${two(mo)}-${two(d)}T${two(h)}:${two(mi)}:${two(s)}.${String(ms).padStart(3, '0')}Z`,
      );
    fc.assert(
      fc.property(fc.oneof(stamp, fc.string()), (s) => {
        expect(isAcceptedAt(s)).toBe(roundTrips(s));
      }),
      { numRuns: 20_000 },
    );
    for (const s of [
      '2024-02-29T23:59:59.999Z',
      '2025-02-29T00:00:00.000Z',
      '2100-02-29T00:00:00.000Z',
      '2000-02-29T00:00:00.000Z',
      '2025-04-31T00:00:00.000Z',
      '2025-12-31T24:00:00.000Z',
      '2025-01-01T00:00:60.000Z',
      '0000-01-01T00:00:00.000Z',
      '2025-13-01T00:00:00.000Z',
      '2025-00-10T00:00:00.000Z',
      '2025-01-00T00:00:00.000Z',
    ])
      expect([s, isAcceptedAt(s)]).toEqual([s, roundTrips(s)]);
    expect(isAcceptedAt(20250101)).toBe(false);
  });

  it('cidOfSha256Hex is proof’s cidFromSha256 of the digest', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (digest) => {
        expect(cidOfSha256Hex(toHex(digest))).toBe(cidFromSha256(digest));
      }),
      { numRuns: 2_000 },
    );
    expect(cidOfSha256Hex('0'.repeat(64))).toBe(cidFromSha256(new Uint8Array(32)));
    expect(cidOfSha256Hex('f'.repeat(64))).toBe(cidFromSha256(new Uint8Array(32).fill(255)));
  });
});
