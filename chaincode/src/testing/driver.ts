// A thin driver over EvidenceContract on a MemoryLedger: JSON in, parsed JSON out, the way a Fabric
// client would call it. For tests and benchmarks only.

import { EvidenceContract } from '../evidence-contract.ts';
import type { LedgerContext } from '../ledger.ts';
import type { BatchResult, RecordEntry } from '../model.ts';
import { encodeRecordBatch } from '../protocol.ts';
import {
  type MemoryIdentity,
  MemoryLedger,
  type MemoryTxOptions,
  type MemoryTxResult,
} from './memory-stub.ts';

export const WRITER: MemoryIdentity = {
  mspId: 'FinanceBureauMSP',
  subject: '/C=CN/O=FinanceBureau/CN=gateway',
};
export const INSPECTOR: MemoryIdentity = {
  mspId: 'InspectionMSP',
  subject: '/C=CN/O=Inspection/CN=inspector',
};

type TxName = 'InitLedger' | 'SetWriters' | 'SetConfig' | 'RegisterProject' | 'RecordBatch';
type QueryName =
  | 'GetConfig'
  | 'GetBatch'
  | 'GetBatchRecords'
  | 'GetRecord'
  | 'FindByDigest'
  | 'ProjectTrail'
  | 'GetCheckpoint'
  | 'GetFlags'
  | 'GetProject';

export class ContractDriver {
  readonly ledger: MemoryLedger;
  readonly contract = new EvidenceContract();
  /** Next log size, as the gateway would track it. */
  size = 0;

  constructor(ledger = new MemoryLedger()) {
    this.ledger = ledger;
  }

  async submit(
    name: TxName,
    args: string[],
    options: MemoryTxOptions = {},
  ): Promise<MemoryTxResult<unknown>> {
    const fn = this.contract[name] as (ctx: LedgerContext, ...a: string[]) => Promise<string>;
    const out = await this.ledger.invoke((ctx) => fn.call(this.contract, ctx, ...args), {
      identity: WRITER,
      ...options,
    });
    return { ...out, result: JSON.parse(out.result) };
  }

  async query<T = unknown>(name: QueryName, args: string[] = [], options: MemoryTxOptions = {}): Promise<T> {
    const fn = this.contract[name] as (ctx: LedgerContext, ...a: string[]) => Promise<string>;
    const raw = await this.ledger.query((ctx) => fn.call(this.contract, ctx, ...args), {
      identity: INSPECTOR,
      ...options,
    });
    return JSON.parse(raw) as T;
  }

  /** InitLedger with the writer as admin and writer. */
  async init(extra: Record<string, unknown> = {}): Promise<void> {
    await this.submit('InitLedger', [JSON.stringify({ writers: [WRITER.mspId], ...extra })]);
  }

  async register(project: object, options: MemoryTxOptions = {}): Promise<void> {
    await this.submit('RegisterProject', [JSON.stringify(project)], options);
  }

  /** RecordBatch as a client sends it: restricted details as transient data (`encodeRecordBatch`). */
  async submitBatch(
    fromSize: number,
    entries: RecordEntry[],
    options: MemoryTxOptions = {},
  ): Promise<MemoryTxResult<unknown>> {
    const { args, transient } = encodeRecordBatch({ fromSize, records: entries });
    return this.submit('RecordBatch', [args], { transient, ...options });
  }

  /**
   * Records `entries` from the current size and advances it. `flags` carry their facts and
   * `resolutions` include restricted ones (read back with GetBatch, as the gateway does);
   * `tx.result` is RecordBatch's own answer.
   */
  async record(
    entries: RecordEntry[],
    options: MemoryTxOptions = {},
  ): Promise<BatchResult & { tx: MemoryTxResult<unknown> }> {
    const fromSize = this.size;
    const out = await this.submitBatch(fromSize, entries, options);
    const result = out.result as BatchResult;
    this.size = result.toSize;
    const { flags, resolutions } = await this.query<Pick<BatchResult, 'flags' | 'resolutions'>>(
      'GetBatch',
      [String(fromSize)],
      { identity: WRITER },
    );
    return { ...result, flags, ...(resolutions ? { resolutions } : {}), tx: out };
  }
}
