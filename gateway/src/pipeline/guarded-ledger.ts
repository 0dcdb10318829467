import { type Ledger, type LedgerBatch, LedgerError } from '../ledger/ledger.ts';
import type { BatcherHealth } from '../notary/batcher.ts';

/**
 * The ledger as the rest of the gateway sees it. `ready()` — what /readyz asks — also fails while
 * the batcher is halted (the ledger's root disagreed with the log) or cannot reach the ledger, so
 * readiness says why instead of looking healthy while nothing gets recorded.
 */
export class GuardedLedger implements Ledger {
  constructor(
    private readonly inner: Ledger,
    private readonly health: () => BatcherHealth,
  ) {}

  get kind() {
    return this.inner.kind;
  }

  get info() {
    return this.inner.info;
  }

  async ready(): Promise<void> {
    const health = this.health();
    if (!health.ok)
      throw new LedgerError(health.reason ?? 'LEDGER_FAILED', health.detail ?? 'sealing stopped');
    await this.inner.ready();
  }

  registerProject(project: Record<string, unknown>) {
    return this.inner.registerProject(project);
  }

  recordBatch(batch: LedgerBatch) {
    return this.inner.recordBatch(batch);
  }

  simulateBatch(batch: LedgerBatch) {
    return this.inner.simulateBatch(batch);
  }

  getTx(txId: string) {
    return this.inner.getTx(txId);
  }

  getRecord(id: string) {
    return this.inner.getRecord(id);
  }

  projectTrail(projectId: string) {
    return this.inner.projectTrail(projectId);
  }

  getFlags(projectId: string) {
    return this.inner.getFlags(projectId);
  }

  getProject(id: string) {
    return this.inner.getProject(id);
  }

  getCheckpoint(size?: number) {
    return this.inner.getCheckpoint(size);
  }

  close() {
    return this.inner.close();
  }
}
