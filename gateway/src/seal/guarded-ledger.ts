import { ForwardingLedger, type Ledger, LedgerError } from '../ledger/ledger.ts';
import type { BatcherHealth } from './batcher.ts';

/**
 * The ledger as the rest of the gateway sees it. `ready()` — what /readyz asks — also fails while
 * the batcher is halted (the ledger's root disagreed with the log) or cannot reach the ledger, so
 * readiness says why instead of looking healthy while nothing gets recorded.
 */
export class GuardedLedger extends ForwardingLedger {
  constructor(
    inner: Ledger,
    private readonly health: () => BatcherHealth,
  ) {
    super(inner);
  }

  override async ready(): Promise<void> {
    const health = this.health();
    if (!health.ok)
      throw new LedgerError(health.reason ?? 'LEDGER_FAILED', health.detail ?? 'sealing stopped');
    await this.inner.ready();
  }
}
