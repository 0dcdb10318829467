import { Worker } from 'node:worker_threads';
import type pg from 'pg';
import {
  ForwardingLedger,
  type LedgerBatch,
  LedgerError,
  type RecordBatchResult,
  type RegisterProjectResult,
} from './ledger.ts';
import {
  EmbeddedLedger,
  type EmbeddedLedgerOptions,
  type EncodedLedgerBatch,
  encodeLedgerBatch,
} from './ledger-embedded.ts';

// The embedded ledger with its transactions on a thread of their own. The contract's work on a
// RecordBatch — parsing its argument, re-deriving every leaf and the root, the project book, the
// batch value, the block's data hash and payload — is ~35–40 µs of CPU per record, and in one
// process it ran on the event loop that also serves intake and reads and runs the batcher (issue
// #26: that thread, not the machine, was the limit: ~0.6 of the second core sat idle). Here the
// event loop only encodes the batch (string concatenation) and hands the argument over; a worker
// thread runs the same EmbeddedLedger over its own connections, with the same advisory lock, so
// the blocks and world state are byte for byte what the in-loop ledger writes.
//
// Queries (getTx, getRecord, …) stay on the calling thread: they are small read-only
// transactions, and a worker round trip would only add to them.

/** What the main thread asks the ledger's thread. */
export type ThreadRequest =
  | { id: number; op: 'ready' | 'close' }
  | { id: number; op: 'registerProject'; project: Record<string, unknown> }
  | { id: number; op: 'record' | 'simulate'; batch: EncodedLedgerBatch };

/** A request before its id is given (each kind of the union without `id`). */
type Unnumbered<T> = T extends unknown ? Omit<T, 'id'> : never;

/** Its answer: a value, or the LedgerError (code and message) to throw. */
export type ThreadAnswer =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; code: string; message: string };

/** How the thread connects: the pool's own settings, so it reaches the same database the same way. */
export interface ThreadData {
  pool: pg.PoolConfig;
  ledger: Pick<EmbeddedLedgerOptions, 'mspId' | 'subject' | 'sliceMs' | 'writeChunk'>;
}

const ENTRY = new URL('./ledger-thread-entry.mjs', import.meta.url);

/**
 * The embedded ledger whose submits run on the thread; every query is passed through to an
 * EmbeddedLedger on the caller's pool (ForwardingLedger).
 */
export class ThreadedEmbeddedLedger extends ForwardingLedger {
  private worker: Worker | undefined;
  private nextId = 1;
  /** Calls not answered yet, with the thread each was sent to. */
  private readonly pending = new Map<
    number,
    { worker: Worker; resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly data: ThreadData;

  constructor(db: pg.Pool, options: EmbeddedLedgerOptions) {
    super(new EmbeddedLedger(db, options));
    this.data = {
      pool: poolConfig(db),
      ledger: {
        mspId: options.mspId,
        ...(options.subject ? { subject: options.subject } : {}),
        ...(options.writeChunk ? { writeChunk: options.writeChunk } : {}),
      },
    };
  }

  override ready(): Promise<void> {
    return this.call({ op: 'ready' }) as Promise<void>;
  }

  override registerProject(project: Record<string, unknown>): Promise<RegisterProjectResult> {
    return this.call({ op: 'registerProject', project }) as Promise<RegisterProjectResult>;
  }

  override recordBatch(batch: LedgerBatch): Promise<RecordBatchResult> {
    return this.call({ op: 'record', batch: encodeLedgerBatch(batch) }) as Promise<RecordBatchResult>;
  }

  override async simulateBatch(batch: LedgerBatch): Promise<void> {
    await this.call({ op: 'simulate', batch: encodeLedgerBatch(batch) });
  }

  /** Waits for what was asked, then stops the thread (it ends its connections first). */
  override async close(): Promise<void> {
    await Promise.allSettled(this.inflight);
    const worker = this.worker;
    if (worker) {
      await this.call({ op: 'close' }).catch(() => {});
      this.worker = undefined;
      await worker.terminate();
    }
    await this.inner.close();
  }

  private call(request: Unnumbered<ThreadRequest>): Promise<unknown> {
    const worker = this.started();
    const id = this.nextId++;
    const answer = new Promise((resolve, reject) => {
      this.pending.set(id, { worker, resolve, reject });
      worker.postMessage({ ...request, id });
    });
    this.inflight.add(answer);
    const settled = () => this.inflight.delete(answer);
    answer.then(settled, settled);
    return answer;
  }

  /** The thread, started on first use and again after it stopped (its calls fail, not hang). */
  private started(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(ENTRY, { workerData: this.data, execArgv: [] });
    worker.on('message', (answer: ThreadAnswer) => {
      const p = this.pending.get(answer.id);
      if (!p) return;
      this.pending.delete(answer.id);
      if (answer.ok) p.resolve(answer.value);
      else p.reject(new LedgerError(answer.code, answer.message));
    });
    const fail = (why: string) => {
      if (this.worker === worker) this.worker = undefined;
      for (const [id, p] of this.pending) {
        if (p.worker !== worker) continue;
        this.pending.delete(id);
        p.reject(new LedgerError('LEDGER_UNAVAILABLE', `the ledger's thread ${why}`));
      }
    };
    worker.on('error', (err) => fail(`failed: ${err.message}`));
    worker.on('exit', (code) => fail(`stopped (exit ${code})`));
    // The thread must not keep a closing process alive on its own.
    worker.unref();
    this.worker = worker;
    return worker;
  }
}

/** The pool's connection settings (plain data: what a worker can be given). */
function poolConfig(db: pg.Pool): pg.PoolConfig {
  const o = (db as unknown as { options: pg.PoolConfig }).options;
  const keep: (keyof pg.PoolConfig)[] = [
    'connectionString',
    'host',
    'port',
    'user',
    'password',
    'database',
    'ssl',
    'application_name',
    'options',
    'connectionTimeoutMillis',
    'idleTimeoutMillis',
  ];
  const out: Record<string, unknown> = {};
  for (const k of keep) if (o[k] !== undefined && typeof o[k] !== 'function') out[k] = o[k];
  return out as pg.PoolConfig;
}
