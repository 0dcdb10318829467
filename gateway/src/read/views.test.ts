import { describe, expect, it } from 'vitest';
import type { LedgerFlagJson } from '../intake/submission-store.ts';
import { flagView } from './views.ts';

const base = { recordId: 'r1', projectId: 'p1', raisedAt: '2026-12-04T00:00:00.000Z' };

describe('flagView: what a flag shows to whom', () => {
  const overdue: LedgerFlagJson = {
    ...base,
    code: 'MILESTONE_OVERDUE_30_DAYS',
    detail: { milestone: 'm2-surface', dueDate: '2026-09-30', daysOverdue: 66 },
  };
  const overpayment: LedgerFlagJson = {
    ...base,
    code: 'OVERPAYMENT',
    detail: { paid: '130000000', limit: '118000000' },
  };

  it('shows an overdue milestone to everyone: the plan it is judged from is public', () => {
    expect(flagView(overdue, false).detail).toEqual({
      milestone: 'm2-surface',
      dueDate: '2026-09-30',
      daysOverdue: 66,
    });
  });

  it('shows only the public fields of a public flag, whatever else the ledger stored', () => {
    const extra: LedgerFlagJson = {
      ...overdue,
      detail: { milestone: 'm1', dueDate: '2026-06-30', daysOverdue: 31, amount: '999' },
    };
    expect(flagView(extra, false).detail).toEqual({
      milestone: 'm1',
      dueDate: '2026-06-30',
      daysOverdue: 31,
    });
    expect(flagView(extra, true).detail).toMatchObject({ amount: '999' });
  });

  it('keeps the facts of every other flag for the privileged', () => {
    expect(flagView(overpayment, false)).toEqual({ code: 'OVERPAYMENT', ...base });
    expect(flagView(overpayment, true).detail).toEqual({ paid: '130000000', limit: '118000000' });
  });
});
