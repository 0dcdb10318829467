import {
  RECORD_REFUSAL_CODES as CHAINCODE_RECORD_REFUSAL_CODES,
  type StoredEntryJson,
} from '@lianzheng/chaincode';
import type { EvidenceRecord, RecordDetails } from '@lianzheng/proof';

// The narrow ledger the gateway talks to. The rest of the gateway never sees chaincode or SDK
// types: an implementation turns whatever its network speaks into these shapes. Each method maps
// onto one contract transaction — `submit` for writes, `evaluate` for reads in fabric-network —
// so a Fabric implementation is one more file.

export type { StoredEntryJson };

export type LedgerKind = 'embedded' | 'fabric';

/** How a bundle names the ledger (the `ledger` member of a ProofBundle, without tx fields). */
export interface LedgerInfo {
  network: LedgerKind;
  channel?: string;
  chaincode?: string;
  note?: string;
}

export interface LedgerBatchRecord {
  record: EvidenceRecord;
  details: RecordDetails;
  /**
   * `canonicalJson(record)` and `canonicalJson(details)` as stored at intake, when the batcher has
   * them: the ledgers write these strings into RecordBatch's argument instead of serialising the
   * parsed values again (chaincode's encodeRecordBatch).
   */
  json?: StoredEntryJson;
}

export interface LedgerBatch {
  /** The log size this batch starts from; the contract refuses a gap and repeats a replay. */
  fromSize: number;
  records: LedgerBatchRecord[];
}

/** A rule flag as the contract raised it. `recordId` is the record it is about. */
export interface LedgerFlag {
  code: string;
  recordId: string;
  projectId?: string;
  [field: string]: unknown;
}

/**
 * What a batch did to an earlier flag (the contract's FlagResolution): a passed acceptance
 * resolved an overdue milestone's flag (`by` its id), or its withdrawal reopened it (`by: null`).
 * `restricted`: the acceptance is restricted, so only privileged readers see the resolution.
 */
export interface LedgerResolution {
  code: string;
  projectId: string;
  milestone: string;
  by: string | null;
  at: string;
  restricted?: boolean;
}

export interface RecordBatchResult {
  txId: string;
  block: number;
  toSize: number;
  /** Lowercase hex of the root the contract computed. */
  root: string;
  flags: LedgerFlag[];
  /** Earlier flags this batch resolved or reopened, in order (restricted ones included). */
  resolutions?: LedgerResolution[];
  /** Fabric's validation code name; `VALID` for a committed transaction. */
  validation: string;
  /** True when the ledger had already recorded this batch and returned the stored result. */
  repeated: boolean;
  /** The organisations (MSP ids) whose peers endorsed the transaction, where the ledger has them. */
  endorsers?: string[];
}

export interface LedgerTx {
  txId: string;
  block: number;
  valid: boolean;
  validation: string;
  fn: string;
  timestamp: string;
  /** For RecordBatch transactions: the log size and root hex the contract stored. */
  size?: number;
  root?: string;
  /** The organisations (MSP ids) whose peers endorsed it (Fabric). */
  endorsers?: string[];
}

export interface LedgerCheckpoint {
  size: number;
  root: string;
  txId?: string;
}

export interface RegisterProjectResult {
  txId: string;
  block: number;
  /** The project as the ledger stores it (with its derived level). */
  project: LedgerProject;
  /** True when an identical project was already registered. */
  repeated: boolean;
}

export interface LedgerProject {
  id: string;
  name: string;
  regionCode: string;
  ownerOrg: string;
  level: string;
  budget: string;
  [field: string]: unknown;
}

/** Values the contract returns from queries, passed through as plain JSON. */
export type LedgerJson = Record<string, unknown>;

export interface Ledger {
  readonly kind: LedgerKind;
  readonly info: LedgerInfo;
  /** Connects and, on first start, initialises the contract (writers' list). */
  ready(): Promise<void>;
  registerProject(project: Record<string, unknown>): Promise<RegisterProjectResult>;
  recordBatch(batch: LedgerBatch): Promise<RecordBatchResult>;
  /**
   * Runs RecordBatch without committing (fabric-network's `evaluateTransaction`): resolves when
   * the contract would accept the batch, throws its LedgerError otherwise. Used to find which
   * record of a refused batch is at fault.
   */
  simulateBatch(batch: LedgerBatch): Promise<void>;
  getTx(txId: string): Promise<LedgerTx | undefined>;
  /**
   * Fabric: qscc's raw answers for a transaction (GetBlockByTxID, GetTransactionByID), for the
   * evidence package (#24). Ledgers without blocks of their own (embedded) leave it out.
   */
  getTxEvidence?(txId: string): Promise<{ block: Uint8Array; processed: Uint8Array } | undefined>;
  getRecord(id: string): Promise<LedgerJson | undefined>;
  projectTrail(projectId: string): Promise<LedgerJson[]>;
  getFlags(projectId: string): Promise<LedgerFlag[]>;
  getProject(id: string): Promise<LedgerProject | undefined>;
  getCheckpoint(size?: number): Promise<LedgerCheckpoint | undefined>;
  close(): Promise<void>;
}

/**
 * A ledger in front of another that passes every call through: wrappers (readiness guards, test
 * doubles that fail on cue) override only what they change.
 */
export class ForwardingLedger implements Ledger {
  constructor(protected readonly inner: Ledger) {}
  get kind() {
    return this.inner.kind;
  }
  get info() {
    return this.inner.info;
  }
  ready() {
    return this.inner.ready();
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
  getTxEvidence(txId: string) {
    return this.inner.getTxEvidence ? this.inner.getTxEvidence(txId) : Promise.resolve(undefined);
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

/**
 * Codes a ledger refuses a single record with (the contract's own list): the batcher marks that
 * record `rejected` and re-seals the batch without it. Any other refusal stops the batch.
 */
export const RECORD_REFUSAL_CODES: ReadonlySet<string> = CHAINCODE_RECORD_REFUSAL_CODES;

export class LedgerError extends Error {
  constructor(
    /** The contract's code (`LOG_GAP`, `BAD_REFERENCE`, …) or `LEDGER_UNAVAILABLE`/`LEDGER_FAILED`. */
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${message}`, options);
    this.name = 'LedgerError';
  }

  get refusesRecord(): boolean {
    return RECORD_REFUSAL_CODES.has(this.code);
  }
}
