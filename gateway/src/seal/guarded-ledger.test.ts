import { describe, expect, it } from 'vitest';
import type { Ledger } from '../ledger/ledger.ts';
import type { BatcherHealth } from './batcher.ts';
import { GuardedLedger } from './guarded-ledger.ts';

function fakeLedger(): Ledger & { readyCalls: number } {
  const fake = {
    kind: 'embedded' as const,
    info: { network: 'embedded' as const, note: 'embedded single-node ledger' },
    readyCalls: 0,
    async ready() {
      fake.readyCalls++;
    },
  };
  return fake as unknown as Ledger & { readyCalls: number };
}

describe('GuardedLedger', () => {
  it('is not ready while the batcher is halted, and says why by code', async () => {
    const inner = fakeLedger();
    let health: BatcherHealth = { ok: true };
    const guarded = new GuardedLedger(inner, () => health);
    await guarded.ready();
    expect(inner.readyCalls).toBe(1);
    health = { ok: false, reason: 'LEDGER_ROOT_MISMATCH', detail: 'roots differ' };
    await expect(guarded.ready()).rejects.toMatchObject({ code: 'LEDGER_ROOT_MISMATCH' });
    expect(inner.readyCalls).toBe(1);
    expect(guarded.info.note).toBe('embedded single-node ledger');
    expect(guarded.kind).toBe('embedded');
  });
});
