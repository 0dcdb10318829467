import { describe, expect, it } from 'vitest';
import { chaincodeErrorCode } from './errors.ts';
import type { RecordEntry } from './model.ts';
import { buildEntry, ContractDriver, testRecordId, villageRoadProject } from './testing/index.ts';
import {
  checkEntry,
  type EntryView,
  kindProblems,
  type RecordFacts,
  referencedIds,
  targetOf,
  validateEntry,
} from './validation.ts';

const P = 'XC-2025-ROAD-001';
const OTHER = 'XC-2025-ROAD-002';
const id = testRecordId;

/** A view over plain facts, as the gateway builds one from its tables. */
function viewOf(records: RecordFacts[], milestones: string[] | null = ['M1', 'M2', 'M3']): EntryView {
  const byId = new Map(records.map((r) => [r.id, r]));
  return {
    project: (pid) =>
      pid === P
        ? { id: P, ...(milestones ? { milestones } : {}) }
        : pid === OTHER
          ? { id: OTHER }
          : undefined,
    record: (rid) => byId.get(rid),
  };
}

const facts: RecordFacts[] = [
  { id: id(1), projectId: P, kind: 'contract' },
  { id: id(2), projectId: P, kind: 'notice' },
  { id: id(3), projectId: OTHER, kind: 'contract' },
  { id: id(4), projectId: P, kind: 'contract', supersededBy: id(1) },
  { id: id(5), projectId: P, kind: 'notice', withdrawnBy: id(6) },
  { id: id(6), projectId: P, kind: 'withdrawal' },
];

describe('kindProblems', () => {
  it('asks each kind for what the ledger needs', () => {
    const codes = (kind: string, details: object, links: object = {}) =>
      kindProblems({ projectId: P, kind, ...links }, details).map((p) => [p.code, p.field]);
    expect(codes('contract', {})).toEqual([['BAD_DETAILS', 'amount']]);
    expect(codes('contract', { amount: '-1' })).toEqual([['BAD_DETAILS', 'amount']]);
    expect(codes('contract', { amount: '0' })).toEqual([]);
    expect(codes('payment_approval', { amount: '0' })).toEqual([['BAD_DETAILS', 'amount']]);
    expect(codes('payment_approval', { amount: '1' })).toEqual([]);
    expect(codes('change_order', { amount: '-5' })).toEqual([]);
    expect(codes('change_order', {})).toEqual([['BAD_DETAILS', 'amount']]);
    expect(codes('acceptance', {})).toEqual([['BAD_DETAILS', 'result']]);
    expect(codes('withdrawal', {}, { refs: [], supersedes: id(1) })).toEqual([
      ['BAD_DETAILS', 'reason'],
      ['BAD_REFERENCE', 'refs'],
      ['BAD_SUPERSEDE', 'supersedes'],
    ]);
    expect(codes('notice', {})).toEqual([]);
  });
});

describe('checkEntry', () => {
  const view = viewOf(facts);
  const cases: [string, object, object, string | undefined, string?][] = [
    ['a plain notice', { kind: 'notice' }, {}, undefined],
    ['an unknown project', { kind: 'notice', projectId: 'NOPE' }, {}, 'NO_SUCH_PROJECT', 'projectId'],
    ['a planned milestone', { kind: 'acceptance' }, { milestone: 'M2', result: 'passed' }, undefined],
    [
      'an unplanned milestone',
      { kind: 'acceptance' },
      { milestone: 'M9', result: 'passed' },
      'BAD_MILESTONE',
    ],
    ['a missing ref', { kind: 'notice', refs: [id(99)] }, {}, 'BAD_REFERENCE', 'refs'],
    ['a ref to another project', { kind: 'notice', refs: [id(3)] }, {}, 'BAD_REFERENCE', 'refs'],
    ['a payment ref to a notice', { kind: 'payment_approval', refs: [id(2)] }, {}, 'BAD_REFERENCE', 'refs'],
    ['a payment ref to a contract', { kind: 'payment_approval', refs: [id(1)] }, {}, undefined],
    ['a payment ref to a superseded contract', { kind: 'payment_approval', refs: [id(4)] }, {}, undefined],
    ['a withdrawal of a withdrawal', { kind: 'withdrawal', refs: [id(6)] }, {}, 'BAD_REFERENCE', 'refs'],
    [
      'a withdrawal of a withdrawn record',
      { kind: 'withdrawal', refs: [id(5)] },
      {},
      'BAD_REFERENCE',
      'refs',
    ],
    ['a withdrawal of a superseded record', { kind: 'withdrawal', refs: [id(4)] }, {}, 'BAD_REFERENCE'],
    ['a withdrawal of a live record', { kind: 'withdrawal', refs: [id(2)] }, {}, undefined],
    ['a supersede of a missing record', { kind: 'notice', supersedes: id(99) }, {}, 'BAD_SUPERSEDE'],
    ['a supersede of another kind', { kind: 'notice', supersedes: id(1) }, {}, 'BAD_SUPERSEDE', 'supersedes'],
    ['a supersede across projects', { kind: 'contract', supersedes: id(3) }, {}, 'BAD_SUPERSEDE'],
    ['a supersede of a superseded record', { kind: 'contract', supersedes: id(4) }, {}, 'BAD_SUPERSEDE'],
    ['a supersede of a withdrawn record', { kind: 'notice', supersedes: id(5) }, {}, 'BAD_SUPERSEDE'],
    ['a supersede of a live record', { kind: 'contract', supersedes: id(1) }, {}, undefined],
  ];
  for (const [name, record, details, code, field] of cases) {
    it(`${code ?? 'accepts'}: ${name}`, () => {
      const checked = checkEntry({ projectId: P, ...(record as { kind: string }) }, details, view);
      if (code === undefined) expect(checked.ok).toBe(true);
      else {
        expect(checked.ok).toBe(false);
        if (!checked.ok) {
          expect(checked.problem.code).toBe(code);
          if (field) expect(checked.problem.field).toBe(field);
        }
      }
    });
  }

  it('leaves the milestone alone when the view does not know the plan', () => {
    const checked = checkEntry(
      { projectId: P, kind: 'acceptance' },
      { milestone: 'M9', result: 'passed' },
      viewOf(facts, null),
    );
    expect(checked.ok).toBe(true);
  });

  it('names the target and how it is marked', () => {
    expect(validateEntry({ projectId: P, kind: 'contract', supersedes: id(1) }, {}, view)).toMatchObject({
      target: { id: id(1) },
      mark: 'supersededBy',
    });
    expect(validateEntry({ projectId: P, kind: 'withdrawal', refs: [id(2)] }, {}, view)).toMatchObject({
      target: { id: id(2) },
      mark: 'withdrawnBy',
    });
    expect(() => validateEntry({ projectId: P, kind: 'notice', refs: [id(99)] }, {}, view)).toThrow(
      expect.objectContaining({ code: 'BAD_REFERENCE' }),
    );
  });

  it('lists the ids a view must answer', () => {
    expect(
      referencedIds({ projectId: P, kind: 'contract', refs: [id(1), id(2)], supersedes: id(1) }),
    ).toEqual([id(1), id(2)]);
    expect(targetOf({ projectId: P, kind: 'contract', refs: [id(2)], supersedes: id(1) })).toBe(id(1));
    expect(targetOf({ projectId: P, kind: 'withdrawal', refs: [id(2)] })).toBe(id(2));
    expect(targetOf({ projectId: P, kind: 'payment_approval', refs: [id(1)] })).toBeUndefined();
  });
});

describe('the contract refuses exactly what checkEntry refuses', () => {
  // The ledger's state for the cases above, built by recording real records.
  async function ledgerWithFacts(): Promise<ContractDriver> {
    const driver = new ContractDriver();
    await driver.init();
    await driver.register(villageRoadProject(P));
    await driver.register(villageRoadProject(OTHER));
    const e = (n: number, kind: Parameters<typeof buildEntry>[0]['kind'], extra = {}): RecordEntry =>
      buildEntry({ id: id(n), projectId: P, kind, ...extra });
    await driver.record([
      e(4, 'contract', { details: { amount: '100' } }),
      e(1, 'contract', { supersedes: id(4), details: { amount: '100' } }),
      e(2, 'notice'),
      buildEntry({ id: id(3), projectId: OTHER, kind: 'contract', details: { amount: '1' } }),
      e(5, 'notice'),
      e(6, 'withdrawal', { refs: [id(5)], details: { reason: 'wrong file' } }),
    ]);
    return driver;
  }

  const view = viewOf(facts);
  const attempts: { kind: Parameters<typeof buildEntry>[0]['kind']; refs?: string[]; supersedes?: string }[] =
    [
      { kind: 'notice', refs: [id(99)] },
      { kind: 'notice', refs: [id(3)] },
      { kind: 'payment_approval', refs: [id(2)] },
      { kind: 'payment_approval', refs: [id(1)] },
      { kind: 'payment_approval', refs: [id(4)] },
      { kind: 'withdrawal', refs: [id(6)] },
      { kind: 'withdrawal', refs: [id(5)] },
      { kind: 'withdrawal', refs: [id(4)] },
      { kind: 'withdrawal', refs: [id(2)] },
      { kind: 'notice', supersedes: id(99) },
      { kind: 'notice', supersedes: id(1) },
      { kind: 'contract', supersedes: id(3) },
      { kind: 'contract', supersedes: id(4) },
      { kind: 'notice', supersedes: id(5) },
      { kind: 'contract', supersedes: id(1) },
    ];
  for (const [n, attempt] of attempts.entries()) {
    it(`${attempt.kind} ${attempt.refs ? `refs ${attempt.refs}` : `supersedes ${attempt.supersedes}`}`, async () => {
      const driver = await ledgerWithFacts();
      const details =
        attempt.kind === 'withdrawal' ? { reason: 'x' } : attempt.kind === 'notice' ? {} : { amount: '10' };
      const entry = buildEntry({ id: id(100 + n), projectId: P, details, ...attempt });
      const checked = checkEntry(entry.record, entry.details, view);
      let ledgerCode: string | undefined;
      try {
        await driver.record([entry]);
      } catch (error) {
        ledgerCode = chaincodeErrorCode(error);
      }
      expect(ledgerCode).toBe(checked.ok ? undefined : checked.problem.code);
    });
  }
});
