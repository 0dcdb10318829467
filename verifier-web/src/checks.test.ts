import type { StepResult } from '@lianzheng/proof';
import { describe, expect, it } from 'vitest';
import { type CheckRun, verdictOf } from './checks.ts';

const pass = (step: StepResult['step']): StepResult => ({ step, status: 'pass' });
const base: StepResult[] = [
  pass('digest'),
  pass('details'),
  pass('leaf'),
  pass('inclusion'),
  pass('checkpoint'),
  pass('receipt'),
];
const run = (...extra: StepResult[]): CheckRun => ({ ok: true, steps: [...base, ...extra] });

describe('verdictOf', () => {
  it('is ok when every required step passed and only anchor/timestamp are not done', () => {
    expect(
      verdictOf([
        run(
          pass('ledger'),
          { step: 'anchor', status: 'skipped', code: 'NO_ANCHOR_REF' },
          { step: 'timestamp', status: 'skipped', code: 'NO_TIMESTAMP' },
        ),
      ]),
    ).toBe('ok');
  });

  it('is ok for a restricted record whose details are not disclosed', () => {
    const steps = [
      ...base.filter((s) => s.step !== 'details'),
      { step: 'details' as const, status: 'skipped' as const, code: 'NO_DETAILS' },
    ];
    expect(verdictOf([{ ok: true, steps: [...steps, pass('ledger')] }])).toBe('ok');
  });

  it('is pending when the record is not on the ledger yet', () => {
    expect(verdictOf([run({ step: 'ledger', status: 'skipped', code: 'NO_LEDGER_REF' })])).toBe('pending');
  });

  it('is a failure when any step of any record failed', () => {
    expect(
      verdictOf([run(pass('ledger')), run({ step: 'ledger', status: 'fail', code: 'LEDGER_MISMATCH' })]),
    ).toBe('fail');
    expect(verdictOf([{ ok: false, steps: [], errorCode: 'KEYS_UNAVAILABLE' }])).toBe('fail');
  });

  it('is unchecked, not failed, when only a look-up could not be made', () => {
    expect(verdictOf([run({ step: 'ledger', status: 'fail', code: 'LEDGER_LOOKUP_FAILED' })])).toBe(
      'unchecked',
    );
  });
});
