import { describe, expect, it } from 'vitest';
import type { Project, StoredRecord } from './model.ts';
import {
  daysPastDue,
  emptySummary,
  evaluateRecord,
  isAdvanceOverLimit,
  isChangeOverLimit,
  isOverpaid,
  overdueMilestones,
  resolveContractChain,
} from './rules.ts';
import { buildEntry, testRecordId } from './testing/records.ts';

const project: Project = {
  id: 'P1',
  name: 'road',
  regionCode: '430521',
  ownerOrg: 'village',
  budget: '1000',
  level: 'C',
  milestones: [
    { id: 'M1', name: 'one', dueDate: '2025-04-30' },
    { id: 'M2', name: 'two', dueDate: '2025-06-30' },
  ],
};
const config = { advanceLimitPercent: 30 };

function stored(
  n: number,
  kind: Parameters<typeof buildEntry>[0]['kind'],
  extra: Partial<StoredRecord> = {},
  details = {},
): StoredRecord {
  const { record, details: d } = buildEntry({ id: testRecordId(n), projectId: 'P1', kind, details });
  return {
    record,
    details: d,
    index: n,
    txId: 't',
    recordedAt: '2025-03-01T00:00:00.000Z',
    by: { msp: 'M', subject: 'S' },
    ...extra,
  };
}

describe('thresholds', () => {
  it('compares money exactly with BigInt', () => {
    expect(isAdvanceOverLimit(30n, 100n, 30)).toBe(false);
    expect(isAdvanceOverLimit(31n, 100n, 30)).toBe(true);
    // Beyond 2^53: exact where floating point would not be.
    expect(isAdvanceOverLimit(3_000_000_000_000_000_001n, 10_000_000_000_000_000_000n, 30)).toBe(true);
    expect(isOverpaid(110n, 100n, 10n)).toBe(false);
    expect(isOverpaid(111n, 100n, 10n)).toBe(true);
    expect(isChangeOverLimit(15n, 100n)).toBe(false);
    expect(isChangeOverLimit(16n, 100n)).toBe(true);
    expect(isChangeOverLimit(-16n, 100n)).toBe(true);
    expect(isChangeOverLimit(1n, 0n)).toBe(true);
  });

  it('counts days past due in China Standard Time', () => {
    expect(daysPastDue('2025-04-30', '2025-05-30T15:59:59.999Z')).toBe(30); // 23:59 on 30 May in Beijing
    expect(daysPastDue('2025-04-30', '2025-05-30T16:00:00.000Z')).toBe(31); // 00:00 on 31 May in Beijing
    expect(daysPastDue('2025-04-30', '2025-04-01T00:00:00.000Z')).toBe(-29);
  });

  it('lists overdue milestones once, skipping passed ones', () => {
    const summary = emptySummary();
    expect(overdueMilestones(project, summary, '2025-05-30T00:00:00.000Z')).toEqual([]);
    expect(overdueMilestones(project, summary, '2025-08-01T00:00:00.000Z')).toEqual([
      { milestone: 'M1', dueDate: '2025-04-30', daysOverdue: 93 },
      { milestone: 'M2', dueDate: '2025-06-30', daysOverdue: 32 },
    ]);
    summary.passed.M1 = testRecordId(1);
    summary.overdue.push('M2');
    expect(overdueMilestones(project, summary, '2025-08-01T00:00:00.000Z')).toEqual([]);
  });
});

describe('evaluateRecord', () => {
  const at = '2025-03-10T00:00:00.000Z';
  const state = (summary = emptySummary()) => ({ project, summary, config, at });

  it('does not mutate the summary it is given', () => {
    const contract = stored(1, 'contract', {}, { amount: '100' });
    const before = emptySummary();
    const out = evaluateRecord(
      { record: contract.record, details: contract.details, refs: [] },
      state(before),
    );
    expect(before).toEqual(emptySummary());
    expect(out.summary.contracts[testRecordId(1)]).toMatchObject({ amount: '100', live: true });
    expect(out.contractChain).toBe(testRecordId(1));
  });

  it('attributes a payment without refs to the only live contract, and flags when there are several', () => {
    let summary = emptySummary();
    const c1 = stored(1, 'contract', { contractChain: testRecordId(1) }, { amount: '100' });
    summary = evaluateRecord({ record: c1.record, details: c1.details, refs: [] }, state(summary)).summary;
    const pay = stored(3, 'payment_approval', {}, { amount: '10' });
    expect(resolveContractChain(summary, { record: pay.record, details: pay.details, refs: [] })).toEqual({
      chain: testRecordId(1),
    });
    const c2 = stored(2, 'contract', {}, { amount: '100' });
    summary = evaluateRecord({ record: c2.record, details: c2.details, refs: [] }, state(summary)).summary;
    const out = evaluateRecord({ record: pay.record, details: pay.details, refs: [] }, state(summary));
    expect(out.flags.map((f) => [f.code, f.detail.reason])).toEqual([
      ['PAYMENT_WITHOUT_CONTRACT', 'ambiguous'],
    ]);
    // Naming the contract resolves it.
    const named = evaluateRecord({ record: pay.record, details: pay.details, refs: [c1] }, state(summary));
    expect(named.flags).toEqual([]);
    expect(named.contractChain).toBe(testRecordId(1));
  });

  it('flags a payment against a withdrawn contract and undoes the contract on withdrawal', () => {
    let summary = emptySummary();
    const c1 = stored(1, 'contract', {}, { amount: '100' });
    summary = evaluateRecord({ record: c1.record, details: c1.details, refs: [] }, state(summary)).summary;
    const c1Stored = { ...c1, contractChain: testRecordId(1) };
    const w = stored(2, 'withdrawal', {}, { reason: 'void' });
    const afterWithdrawal = evaluateRecord(
      { record: w.record, details: w.details, refs: [c1Stored], target: c1Stored },
      state(summary),
    );
    expect(afterWithdrawal.flags).toEqual([]); // nothing relied on it yet
    const pay = stored(3, 'payment_approval', {}, { amount: '10' });
    const out = evaluateRecord(
      { record: pay.record, details: pay.details, refs: [c1Stored] },
      state(afterWithdrawal.summary),
    );
    expect(out.flags.map((f) => [f.code, f.detail.reason])).toEqual([
      ['PAYMENT_WITHOUT_CONTRACT', 'contract_withdrawn'],
    ]);
    expect(out.contractChain).toBeUndefined();
    // Correcting that payment later does not take money off a total it never added to.
    const fix = stored(4, 'payment_approval', {}, { amount: '5' });
    const fixed = evaluateRecord(
      {
        record: fix.record,
        details: fix.details,
        refs: [],
        target: { ...pay, contractChain: out.contractChain },
      },
      state(out.summary),
    );
    expect(fixed.summary.contracts[testRecordId(1)]).toMatchObject({ paid: '0', payments: 0 });
  });

  it('replaces a corrected payment instead of counting it twice', () => {
    let summary = emptySummary();
    const c1 = stored(1, 'contract', {}, { amount: '100' });
    summary = evaluateRecord({ record: c1.record, details: c1.details, refs: [] }, state(summary)).summary;
    const chain = { ...c1, contractChain: testRecordId(1) };
    const pay = stored(2, 'payment_approval', {}, { amount: '25' });
    const first = evaluateRecord({ record: pay.record, details: pay.details, refs: [chain] }, state(summary));
    expect(first.advance).toBe(true);
    const payStored = { ...pay, contractChain: first.contractChain, advance: true };
    const fix = stored(3, 'payment_approval', {}, { amount: '20' });
    const second = evaluateRecord(
      { record: fix.record, details: fix.details, refs: [], target: payStored },
      state(first.summary),
    );
    expect(second.flags).toEqual([]);
    expect(second.summary.contracts[testRecordId(1)]).toMatchObject({
      paid: '20',
      advance: '20',
      payments: 1,
    });
  });

  it('drops a milestone from the passed set when its acceptance is withdrawn', () => {
    let summary = emptySummary();
    const acc = stored(1, 'acceptance', {}, { milestone: 'M1', result: 'passed' });
    summary = evaluateRecord({ record: acc.record, details: acc.details, refs: [] }, state(summary)).summary;
    expect(summary.passed).toEqual({ M1: testRecordId(1) });
    const w = stored(2, 'withdrawal', {}, { reason: 'forged' });
    summary = evaluateRecord(
      { record: w.record, details: w.details, refs: [acc], target: acc },
      state(summary),
    ).summary;
    expect(summary.passed).toEqual({});
  });

  it('names the rule and its version, and the records a flag rests on', () => {
    let summary = emptySummary();
    const c1 = stored(1, 'contract', {}, { amount: '100' });
    summary = evaluateRecord({ record: c1.record, details: c1.details, refs: [] }, state(summary)).summary;
    const chain = { ...c1, contractChain: testRecordId(1) };
    const pay = stored(2, 'payment_approval', {}, { amount: '50', milestone: 'M1' });
    const out = evaluateRecord({ record: pay.record, details: pay.details, refs: [chain] }, state(summary));
    expect(out.flags.map((f) => [f.rule, f.refs])).toEqual([
      ['ADVANCE_OVER_LIMIT@1', [testRecordId(1)]],
      ['PAYMENT_BEFORE_ACCEPTANCE@1', [testRecordId(1)]],
    ]);
    expect(out.resolutions).toEqual([]);
  });

  it('raises MULTIPLE_LIVE_CONTRACTS for a contract beside live ones, not for a new version', () => {
    let summary = emptySummary();
    const c1 = stored(1, 'contract', {}, { amount: '100' });
    summary = evaluateRecord({ record: c1.record, details: c1.details, refs: [] }, state(summary)).summary;
    const c2 = stored(2, 'contract', {}, { amount: '100' });
    const two = evaluateRecord({ record: c2.record, details: c2.details, refs: [] }, state(summary));
    expect(two.flags).toEqual([
      expect.objectContaining({
        code: 'MULTIPLE_LIVE_CONTRACTS',
        rule: 'MULTIPLE_LIVE_CONTRACTS@1',
        recordId: testRecordId(2),
        detail: { liveContracts: 2 },
        refs: [testRecordId(1)],
      }),
    ]);
    // A withdrawn contract is not live: a contract after it stands alone.
    const w = stored(3, 'withdrawal', {}, { reason: 'void' });
    const c1Stored = { ...c1, contractChain: testRecordId(1) };
    const afterWithdrawal = evaluateRecord(
      { record: w.record, details: w.details, refs: [c1Stored], target: c1Stored },
      state(summary),
    ).summary;
    const c4 = stored(4, 'contract', {}, { amount: '100' });
    expect(
      evaluateRecord({ record: c4.record, details: c4.details, refs: [] }, state(afterWithdrawal)).flags,
    ).toEqual([]);
    // A new version supersedes: the same chain, no flag.
    const v2 = stored(5, 'contract', {}, { amount: '120' });
    expect(
      evaluateRecord({ record: v2.record, details: v2.details, refs: [], target: c1Stored }, state(summary))
        .flags,
    ).toEqual([]);
  });

  it('resolves an overdue milestone with its passed acceptance, and reopens it when that is withdrawn', () => {
    const late = '2025-06-05T00:00:00.000Z';
    const log = stored(1, 'construction_log');
    const flagged = evaluateRecord(
      { record: log.record, details: log.details, refs: [] },
      { project, summary: emptySummary(), config, at: late },
    );
    expect(flagged.flags.map((f) => [f.code, f.detail.milestone, f.refs])).toEqual([
      ['MILESTONE_OVERDUE_30_DAYS', 'M1', []],
    ]);
    // A failed acceptance resolves nothing.
    const failed = stored(2, 'acceptance', {}, { milestone: 'M1', result: 'failed' });
    const after = evaluateRecord(
      { record: failed.record, details: failed.details, refs: [] },
      { project, summary: flagged.summary, config, at: late },
    );
    expect(after.resolutions).toEqual([]);
    const acc = stored(3, 'acceptance', {}, { milestone: 'M1', result: 'passed' });
    const at = '2025-06-10T00:00:00.000Z';
    const accepted = evaluateRecord(
      { record: acc.record, details: acc.details, refs: [] },
      { project, summary: after.summary, config, at },
    );
    // buildEntry's records are restricted by default: the resolution says so (private only).
    expect(accepted.resolutions).toEqual([
      {
        code: 'MILESTONE_OVERDUE_30_DAYS',
        projectId: 'P1',
        milestone: 'M1',
        by: testRecordId(3),
        at,
        restricted: true,
      },
    ]);
    expect(accepted.summary.resolved).toEqual({ M1: { by: testRecordId(3), at, restricted: true } });
    const w = stored(4, 'withdrawal', {}, { reason: 'forged' });
    const reopenedAt = '2025-06-11T00:00:00.000Z';
    const reopened = evaluateRecord(
      { record: w.record, details: w.details, refs: [acc], target: acc },
      { project, summary: accepted.summary, config, at: reopenedAt },
    );
    expect(reopened.resolutions).toEqual([
      {
        code: 'MILESTONE_OVERDUE_30_DAYS',
        projectId: 'P1',
        milestone: 'M1',
        by: null,
        at: reopenedAt,
        restricted: true,
      },
    ]);
    expect(reopened.summary.resolved).toBeUndefined();
    // Not flagged a second time: the first flag is open again.
    expect(reopened.flags).toEqual([]);
  });
});
