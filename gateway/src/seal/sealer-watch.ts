import type pg from 'pg';
import { type Ledger, LedgerError } from '../ledger/ledger.ts';
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
    private readonly db: pg.Pool,
    private readonly stallMs: number,
  ) {
    super(inner, () => ({ ok: true }));
  }

  override async ready(): Promise<void> {
    await super.ready();
    const { rows } = await this.db.query<{ sealed: string | null; accepted: string | null }>(
      `select (select extract(epoch from now() - min(sealed_at)) * 1000
                 from ledger_batches where status = 'sealed') as sealed,
              (select extract(epoch from now() - accepted_at) * 1000
                 from seal_queue q join submissions s on s.seq = q.seq
                order by q.seq limit 1) as accepted`,
    );
    const sealed = Number(rows[0]?.sealed ?? 0);
    const accepted = Number(rows[0]?.accepted ?? 0);
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
