import { type Ledger, LedgerError } from '../ledger/ledger.ts';
import type { Queryable } from '../storage/queryable.ts';
import { sealerWaits } from './batch-store.ts';
import { GuardedLedger } from './guarded-ledger.ts';

/**
 * An `api` process's view of the ledger's health: it seals nothing itself, so it judges the
 * sealer by its traces in the database — a batch sealed but not recorded, or an accepted
 * submission not sealed, for longer than `stallMs`, means no sealer is getting anywhere (stopped,
 * halted on a root mismatch, or cut off from the ledger). The reason itself is on the sealer's
 * own /readyz.
 */
export class SealerWatchLedger extends GuardedLedger {
  constructor(
    inner: Ledger,
    private readonly db: Queryable,
    private readonly stallMs: number,
  ) {
    super(inner, () => ({ ok: true }));
  }

  override async ready(): Promise<void> {
    await super.ready();
    const { sealed, accepted } = await sealerWaits(this.db);
    if (sealed > this.stallMs) {
      throw new LedgerError(
        'SEALER_STALLED',
        `a sealed batch has waited ${Math.round(sealed / 1000)} s for the ledger (see the sealer's /readyz)`,
      );
    }
    if (accepted > this.stallMs) {
      throw new LedgerError(
        'SEALER_STALLED',
        `the oldest accepted submission has waited ${Math.round(accepted / 1000)} s to be sealed: is a sealer running?`,
      );
    }
  }
}
