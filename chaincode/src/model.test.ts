import { describe, expect, it } from 'vitest';
import { chaincodeErrorCode } from './errors.ts';
import { isCalendarDate, isFen, parseRecord, projectLevel } from './model.ts';
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
