import { canonicalJson } from '@lianzheng/proof';
import { LedgerError } from '../ledger/ledger.ts';
import type { FabricLedger } from '../ledger/ledger-fabric.ts';
import type { LedgerAuditSource, LedgerRecordEntry } from './ledger-source.ts';

// What `lianzheng audit` reads of a Fabric channel, through the gateway's own organisation's peer:
// the contract's log head, and the log batch by batch (GetBatchRecords: a batch's records as
// hashed, with their indexes; its toSize is where the next one starts), and each batch's
// transaction through qscc. The chain of blocks itself is the peers' to check (every peer
// validates every block), so the audit says it did not.
//
// The walk is read once per audit and kept in memory (~0.6 KB per record): fine for the logs an
// audit of one gateway reads today; a log of tens of millions of records would want a paged
// lookup by leaf index instead.

interface BatchPage {
  fromSize: number;
  toSize: number;
  root: string;
  txId: string;
  records: { record: { id: string }; index: number }[];
}

interface Walk {
  byId: Map<string, LedgerRecordEntry>;
  order: { id: string; index: number }[];
  checkpoints: Map<number, string>;
  idsByTx: Map<string, string[]>;
}

export function fabricLedgerSource(ledger: FabricLedger): LedgerAuditSource {
  let walked: Promise<Walk> | undefined;

  const walk = async (): Promise<Walk> => {
    const w: Walk = { byId: new Map(), order: [], checkpoints: new Map(), idsByTx: new Map() };
    for (let from = 0; ; ) {
      let page: BatchPage;
      try {
        page = await ledger.evaluate<BatchPage>('GetBatchRecords', [String(from)]);
      } catch (error) {
        if (error instanceof LedgerError && error.code === 'NOT_FOUND') break;
        throw error;
      }
      w.checkpoints.set(page.toSize, page.root);
      const ids: string[] = [];
      for (const { record, index } of page.records) {
        w.byId.set(record.id, { recordJson: canonicalJson(record), index });
        w.order.push({ id: record.id, index });
        ids.push(record.id);
      }
      w.idsByTx.set(page.txId, ids);
      if (page.toSize <= from)
        throw new LedgerError('LEDGER_FAILED', `batch ${from} does not move the log forward`);
      from = page.toSize;
    }
    return w;
  };
  const data = () => {
    walked ??= walk();
    return walked;
  };

  return {
    kind: 'fabric',

    async head() {
      const head = await ledger.getCheckpoint();
      // The contract computes its root from its own frontier in the same transaction that stores
      // both; the frontier is not readable by query, so there is nothing more to recompute here.
      return head ? { size: head.size, root: head.root, consistent: true } : undefined;
    },

    async checkpoints() {
      return (await data()).checkpoints;
    },

    async records(ids) {
      const { byId } = await data();
      const out = new Map<string, LedgerRecordEntry>();
      for (const id of ids) {
        const entry = byId.get(id);
        if (entry) out.set(id, entry);
      }
      return out;
    },

    async *recordIds(pageSize) {
      const { order } = await data();
      for (let i = 0; i < order.length; i += pageSize) yield order.slice(i, i + pageSize);
    },

    async tx(txId) {
      const tx = await ledger.getTx(txId);
      if (!tx) return undefined;
      const recordIds = (await data()).idsByTx.get(txId);
      return {
        block: tx.block,
        ...(tx.size !== undefined ? { size: tx.size, root: tx.root } : {}),
        ...(recordIds ? { recordIds } : {}),
      };
    },
  };
}
