// A village road project walked through every stage on the in-memory ledger: once cleanly (no
// flags), then once per rule, each run raising exactly that rule's flag.

import { describe, expect, it } from 'vitest';
import type { Flag, FlagCode, RecordEntry } from './index.ts';
import { buildEntry, ContractDriver, testRecordId, villageRoadProject } from './testing/index.ts';

const P = 'XC-2025-ROAD-001';
let n = 0;
const id = () => testRecordId(++n);

type Step = { at: string; entries: RecordEntry[] };

function entry(
  kind: Parameters<typeof buildEntry>[0]['kind'],
  extra: Partial<Parameters<typeof buildEntry>[0]> = {},
) {
  return buildEntry({ id: id(), projectId: P, kind, ...extra });
}

async function run(steps: Step[]): Promise<{ driver: ContractDriver; flags: Flag[] }> {
  const driver = new ContractDriver();
  await driver.init();
  await driver.register(villageRoadProject(P), { time: '2025-02-01T02:00:00.000Z' });
  const flags: Flag[] = [];
  for (const step of steps) flags.push(...(await driver.record(step.entries, { time: step.at })).flags);
  return { driver, flags };
}

const codes = (flags: Flag[]) => flags.map((f) => f.code);

describe('a village road project, stage by stage', () => {
  it('records a clean run with no flags', async () => {
    const approval = entry('approval', { details: { title: '立项批复' } });
    const tender = entry('tender');
    const award = entry('award', { visibility: 'public' });
    const awardNotice = entry('notice', { visibility: 'public', refs: [award.record.id] });
    const contract = entry('contract', { details: { amount: '100000000' } });
    const c = contract.record.id;
    const advance = entry('payment_approval', { refs: [c], details: { amount: '30000000' } });
    const log = entry('construction_log', { details: { title: '路基施工日志' } });
    const m1 = entry('acceptance', { refs: [c], details: { milestone: 'M1', result: 'passed' } });
    const pay1 = entry('payment_approval', { refs: [c], details: { amount: '20000000', milestone: 'M1' } });
    const change = entry('change_order', { refs: [c], details: { amount: '10000000' } });
    const m2 = entry('acceptance', { refs: [c], details: { milestone: 'M2', result: 'passed' } });
    const pay2 = entry('payment_approval', { refs: [c], details: { amount: '30000000', milestone: 'M2' } });
    const m3 = entry('acceptance', { refs: [c], details: { milestone: 'M3', result: 'passed' } });
    const pay3 = entry('payment_approval', { refs: [c], details: { amount: '30000000', milestone: 'M3' } });
    const notice = entry('notice', { visibility: 'public', details: { title: '竣工公示' } });
    const corrected = entry('notice', { visibility: 'public', supersedes: notice.record.id });
    const stray = entry('other');
    const withdrawal = entry('withdrawal', { refs: [stray.record.id], details: { reason: '误传' } });

    const { driver, flags } = await run([
      { at: '2025-02-10T02:00:00.000Z', entries: [approval] },
      { at: '2025-03-01T02:00:00.000Z', entries: [tender, award, awardNotice] },
      // The payment sees its contract from earlier in the same batch.
      { at: '2025-03-10T02:00:00.000Z', entries: [contract, advance] },
      { at: '2025-04-10T02:00:00.000Z', entries: [log] },
      { at: '2025-04-28T02:00:00.000Z', entries: [m1] },
      { at: '2025-05-05T02:00:00.000Z', entries: [pay1, change] },
      { at: '2025-06-25T02:00:00.000Z', entries: [m2, pay2] },
      { at: '2025-08-30T02:00:00.000Z', entries: [m3] },
      { at: '2025-09-05T02:00:00.000Z', entries: [pay3, notice, corrected, stray, withdrawal] },
    ]);
    expect(flags).toEqual([]);

    const trail = await driver.query<{
      records: { record: { id: string }; flags: Flag[]; supersededBy?: string; withdrawnBy?: string }[];
    }>('ProjectTrail', [P]);
    expect(trail.records).toHaveLength(18);
    expect(trail.records.map((r) => r.record.id)).toEqual(
      [
        approval,
        tender,
        award,
        awardNotice,
        contract,
        advance,
        log,
        m1,
        pay1,
        change,
        m2,
        pay2,
        m3,
        pay3,
        notice,
        corrected,
        stray,
        withdrawal,
      ].map((e) => e.record.id),
    );
    expect(trail.records.every((r) => r.flags.length === 0)).toBe(true);
    expect(trail.records[14]!.supersededBy).toBe(corrected.record.id);
    expect(trail.records[16]!.withdrawnBy).toBe(withdrawal.record.id);

    const project = await driver.query<{
      project: { level: string };
      summary: {
        contracts: Record<string, { paid: string; changes: string; payments: number }>;
        passed: Record<string, string>;
      };
    }>('GetProject', [P]);
    expect(project.project.level).toBe('C');
    expect(project.summary.contracts[c]).toMatchObject({
      paid: '110000000',
      changes: '10000000',
      payments: 4,
    });
    expect(Object.keys(project.summary.passed)).toEqual(['M1', 'M2', 'M3']);
    expect((await driver.query<{ flags: Flag[] }>('GetFlags', [P])).flags).toEqual([]);
  });

  const cases: [FlagCode, () => Step[], string][] = [
    [
      'PAYMENT_WITHOUT_CONTRACT',
      () => [
        { at: '2025-02-10T02:00:00.000Z', entries: [entry('approval')] },
        {
          at: '2025-03-01T02:00:00.000Z',
          entries: [entry('payment_approval', { details: { amount: '5000000' } })],
        },
      ],
      'payment approval with no contract recorded',
    ],
    [
      'ADVANCE_OVER_LIMIT',
      () => {
        const contract = entry('contract', { details: { amount: '100000000' } });
        return [
          {
            at: '2025-03-10T02:00:00.000Z',
            entries: [
              contract,
              entry('payment_approval', { refs: [contract.record.id], details: { amount: '20000000' } }),
              entry('payment_approval', { refs: [contract.record.id], details: { amount: '15000000' } }),
            ],
          },
        ];
      },
      'advance payments reach 35% of the contract before any acceptance',
    ],
    [
      'PAYMENT_BEFORE_ACCEPTANCE',
      () => {
        const contract = entry('contract', { details: { amount: '100000000' } });
        const c = contract.record.id;
        return [
          { at: '2025-03-10T02:00:00.000Z', entries: [contract] },
          {
            at: '2025-04-28T02:00:00.000Z',
            entries: [entry('acceptance', { refs: [c], details: { milestone: 'M1', result: 'passed' } })],
          },
          {
            at: '2025-05-02T02:00:00.000Z',
            entries: [entry('acceptance', { refs: [c], details: { milestone: 'M2', result: 'failed' } })],
          },
          {
            at: '2025-05-05T02:00:00.000Z',
            entries: [
              entry('payment_approval', { refs: [c], details: { amount: '10000000', milestone: 'M2' } }),
            ],
          },
        ];
      },
      'payment for M2 whose acceptance failed',
    ],
    [
      'OVERPAYMENT',
      () => {
        const contract = entry('contract', { details: { amount: '100000000' } });
        const c = contract.record.id;
        return [
          { at: '2025-03-10T02:00:00.000Z', entries: [contract] },
          {
            at: '2025-04-28T02:00:00.000Z',
            entries: [
              entry('acceptance', { refs: [c], details: { milestone: 'M1', result: 'passed' } }),
              entry('payment_approval', { refs: [c], details: { amount: '60000000', milestone: 'M1' } }),
              entry('change_order', { refs: [c], details: { amount: '5000000' } }),
            ],
          },
          {
            at: '2025-06-25T02:00:00.000Z',
            entries: [
              entry('acceptance', { refs: [c], details: { milestone: 'M2', result: 'passed' } }),
              entry('payment_approval', { refs: [c], details: { amount: '50000000', milestone: 'M2' } }),
            ],
          },
        ];
      },
      'cumulative payments 110% above contract plus changes 105%',
    ],
    [
      'CHANGE_OVER_15_PERCENT',
      () => {
        const contract = entry('contract', { details: { amount: '100000000' } });
        const c = contract.record.id;
        return [
          { at: '2025-03-10T02:00:00.000Z', entries: [contract] },
          {
            at: '2025-03-20T02:00:00.000Z',
            entries: [entry('change_order', { refs: [c], details: { amount: '10000000' } })],
          },
          {
            at: '2025-04-01T02:00:00.000Z',
            entries: [entry('change_order', { refs: [c], details: { amount: '6000000' } })],
          },
        ];
      },
      'change orders reach 16% of the contract',
    ],
    [
      'MILESTONE_OVERDUE_30_DAYS',
      () => {
        const contract = entry('contract', { details: { amount: '100000000' } });
        return [
          { at: '2025-03-10T02:00:00.000Z', entries: [contract] },
          { at: '2025-05-30T02:00:00.000Z', entries: [entry('construction_log')] }, // 30 days: not yet
          { at: '2025-06-01T02:00:00.000Z', entries: [entry('construction_log')] }, // 32 days: flagged
          { at: '2025-06-05T02:00:00.000Z', entries: [entry('construction_log')] }, // flagged once only
        ];
      },
      'M1 (due 2025-04-30) has no passed acceptance on 2025-06-01',
    ],
    [
      'SUPERSEDED_AFTER_RELIANCE',
      () => {
        const contract = entry('contract', { details: { amount: '100000000' } });
        const c = contract.record.id;
        return [
          { at: '2025-03-10T02:00:00.000Z', entries: [contract] },
          {
            at: '2025-03-15T02:00:00.000Z',
            entries: [entry('payment_approval', { refs: [c], details: { amount: '10000000' } })],
          },
          {
            at: '2025-04-01T02:00:00.000Z',
            entries: [entry('contract', { supersedes: c, details: { amount: '120000000' } })],
          },
        ];
      },
      'the contract is replaced after a payment relied on it',
    ],
    [
      'MULTIPLE_LIVE_CONTRACTS',
      () => [
        {
          at: '2025-03-10T02:00:00.000Z',
          entries: [
            entry('contract', { details: { amount: '100000000' } }),
            entry('contract', { details: { amount: '100000000' } }),
          ],
        },
      ],
      'two contracts in force for one project',
    ],
  ];

  for (const [code, steps, story] of cases) {
    it(`raises exactly ${code}: ${story}`, async () => {
      const { driver, flags } = await run(steps());
      expect(codes(flags)).toEqual([code]);
      const stored = await driver.query<{ flags: Flag[] }>('GetFlags', [P]);
      expect(stored.flags).toEqual(flags);
      const record = await driver.query<{ flags: Flag[] }>('GetRecord', [flags[0]!.recordId]);
      expect(codes(record.flags)).toEqual([code]);
    });
  }

  it('flags with the facts behind them', async () => {
    const contract = entry('contract', { details: { amount: '100000000' } });
    const pay = entry('payment_approval', { refs: [contract.record.id], details: { amount: '40000000' } });
    const { flags } = await run([{ at: '2025-03-10T02:00:00.000Z', entries: [contract, pay] }]);
    expect(flags).toEqual([
      {
        code: 'ADVANCE_OVER_LIMIT',
        rule: 'ADVANCE_OVER_LIMIT@1',
        recordId: pay.record.id,
        projectId: P,
        detail: {
          contractId: contract.record.id,
          contractAmount: '100000000',
          advanceTotal: '40000000',
          limitPercent: 30,
        },
        refs: [contract.record.id],
        raisedAt: '2025-03-10T02:00:00.000Z',
      },
    ]);
  });

  describe('an overdue milestone, then its acceptance', () => {
    const late = () => {
      const contract = entry('contract', { details: { amount: '100000000' } });
      const log = entry('construction_log');
      return { contract, log, c: contract.record.id };
    };

    it('the flag stays as raised and is answered as resolved, with the acceptance and when', async () => {
      const { contract, log, c } = late();
      const acceptance = entry('acceptance', {
        visibility: 'public',
        refs: [c],
        details: { milestone: 'M1', result: 'passed' },
      });
      const { driver, flags } = await run([
        { at: '2025-03-10T02:00:00.000Z', entries: [contract] },
        { at: '2025-06-01T02:00:00.000Z', entries: [log] },
      ]);
      expect(flags).toEqual([
        expect.objectContaining({
          code: 'MILESTONE_OVERDUE_30_DAYS',
          rule: 'MILESTONE_OVERDUE_30_DAYS@1',
          recordId: log.record.id,
          detail: { milestone: 'M1', dueDate: '2025-04-30', daysOverdue: 32 },
          refs: [],
        }),
      ]);
      const accepted = await driver.record([acceptance], { time: '2025-06-10T02:00:00.000Z' });
      expect(accepted.flags).toEqual([]);
      const resolution = {
        code: 'MILESTONE_OVERDUE_30_DAYS',
        projectId: P,
        milestone: 'M1',
        by: acceptance.record.id,
        at: '2025-06-10T02:00:00.000Z',
      };
      expect(accepted.resolutions).toEqual([resolution]);
      // Public: the resolution is in the block's answer too (the acceptance is public).
      expect((accepted.tx.result as { resolutions?: unknown }).resolutions).toEqual([resolution]);
      const resolved = { resolvedBy: acceptance.record.id, resolvedAt: '2025-06-10T02:00:00.000Z' };
      const open = (await driver.query<{ flags: Flag[] }>('GetFlags', [P])).flags;
      expect(open).toEqual([{ ...flags[0], ...resolved }]);
      // Every query that shows the flag shows it resolved, on a member peer and on any other.
      const outsider = { privateMember: false };
      expect((await driver.query<{ flags: Flag[] }>('GetFlags', [P], outsider)).flags[0]).toMatchObject(
        resolved,
      );
      expect((await driver.query<{ flags: Flag[] }>('GetRecord', [log.record.id])).flags[0]).toMatchObject(
        resolved,
      );
      const trail = await driver.query<{ records: { flags: Flag[] }[] }>('ProjectTrail', [P]);
      expect(trail.records.flatMap((r) => r.flags)).toEqual([{ ...flags[0], ...resolved }]);

      // Withdrawing the acceptance reopens the flag.
      const withdrawal = entry('withdrawal', {
        visibility: 'public',
        refs: [acceptance.record.id],
        details: { reason: '验收资料不全' },
      });
      const withdrawn = await driver.record([withdrawal], { time: '2025-06-20T02:00:00.000Z' });
      expect(withdrawn.resolutions).toEqual([{ ...resolution, by: null, at: '2025-06-20T02:00:00.000Z' }]);
      expect((await driver.query<{ flags: Flag[] }>('GetFlags', [P])).flags).toEqual(flags);
    });

    it('a late acceptance both raises the flag and resolves it', async () => {
      const { contract, c } = late();
      const acceptance = entry('acceptance', {
        visibility: 'public',
        refs: [c],
        details: { milestone: 'M1', result: 'passed' },
      });
      const { driver, flags } = await run([
        { at: '2025-03-10T02:00:00.000Z', entries: [contract] },
        { at: '2025-06-01T02:00:00.000Z', entries: [acceptance] },
      ]);
      expect(codes(flags)).toEqual(['MILESTONE_OVERDUE_30_DAYS']);
      const [flag] = (await driver.query<{ flags: Flag[] }>('GetFlags', [P])).flags;
      expect(flag).toMatchObject({ recordId: acceptance.record.id, resolvedBy: acceptance.record.id });
    });

    it('a restricted acceptance resolves it for members only: its milestone and result are restricted', async () => {
      const { contract, log, c } = late();
      const acceptance = entry('acceptance', { refs: [c], details: { milestone: 'M1', result: 'passed' } });
      const { driver } = await run([
        { at: '2025-03-10T02:00:00.000Z', entries: [contract] },
        { at: '2025-06-01T02:00:00.000Z', entries: [log] },
      ]);
      const accepted = await driver.record([acceptance], { time: '2025-06-10T02:00:00.000Z' });
      expect(accepted.resolutions).toEqual([
        expect.objectContaining({ by: acceptance.record.id, restricted: true }),
      ]);
      expect((accepted.tx.result as { resolutions?: unknown }).resolutions).toBeUndefined();
      const member = (await driver.query<{ flags: Flag[] }>('GetFlags', [P])).flags;
      expect(member[0]).toMatchObject({ resolvedBy: acceptance.record.id });
      const outsider = { privateMember: false };
      const open = (await driver.query<{ flags: Flag[] }>('GetFlags', [P], outsider)).flags;
      expect(open[0]!.resolvedBy).toBeUndefined();
      const book = await driver.query<{ project: { id: string } }>('GetProject', [P], outsider);
      expect(JSON.stringify(book)).not.toContain(acceptance.record.id);
    });
  });

  it('flags a second and a third live contract, naming the others', async () => {
    const first = entry('contract', { details: { amount: '100000000' } });
    const second = entry('contract', { details: { amount: '90000000' } });
    const third = entry('contract', { details: { amount: '80000000' } });
    const replacement = entry('contract', { supersedes: first.record.id, details: { amount: '100000001' } });
    const { driver, flags } = await run([
      { at: '2025-03-10T02:00:00.000Z', entries: [first] },
      { at: '2025-03-11T02:00:00.000Z', entries: [second, third] },
      // A new version of a contract is not one more contract.
      { at: '2025-03-12T02:00:00.000Z', entries: [replacement] },
    ]);
    expect(flags).toEqual([
      {
        code: 'MULTIPLE_LIVE_CONTRACTS',
        rule: 'MULTIPLE_LIVE_CONTRACTS@1',
        recordId: second.record.id,
        projectId: P,
        detail: { liveContracts: 2 },
        refs: [first.record.id],
        raisedAt: '2025-03-11T02:00:00.000Z',
      },
      {
        code: 'MULTIPLE_LIVE_CONTRACTS',
        rule: 'MULTIPLE_LIVE_CONTRACTS@1',
        recordId: third.record.id,
        projectId: P,
        detail: { liveContracts: 3 },
        refs: [first.record.id, second.record.id].sort(),
        raisedAt: '2025-03-11T02:00:00.000Z',
      },
    ]);
    // Its facts are public (kinds and supersede/withdraw links are): the public form keeps them.
    const outsider = { privateMember: false };
    expect((await driver.query<{ flags: Flag[] }>('GetFlags', [P], outsider)).flags).toEqual(flags);
  });

  it('uses the advance limit set by the admin', async () => {
    const driver = new ContractDriver();
    await driver.init({ advanceLimitPercent: 50 });
    await driver.register(villageRoadProject(P), { time: '2025-02-01T02:00:00.000Z' });
    const contract = entry('contract', { details: { amount: '100000000' } });
    const pay = entry('payment_approval', { refs: [contract.record.id], details: { amount: '40000000' } });
    expect((await driver.record([contract, pay], { time: '2025-03-10T02:00:00.000Z' })).flags).toEqual([]);
    await driver.submit('SetConfig', [JSON.stringify({ advanceLimitPercent: 30 })]);
    const pay2 = entry('payment_approval', { refs: [contract.record.id], details: { amount: '1' } });
    expect(codes((await driver.record([pay2], { time: '2025-03-11T02:00:00.000Z' })).flags)).toEqual([
      'ADVANCE_OVER_LIMIT',
    ]);
  });
});
