import {
  type EvidenceRecord,
  formatCheckpoint,
  frontierRoot,
  leafHash,
  type NoteAlgorithm,
  type RecordDetails,
  signCheckpoint,
  toHex,
} from '@lianzheng/proof';
import type pg from 'pg';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import {
  applyFlagResolution,
  dequeueAsLeaves,
  insertRecordFlags,
  insertRecordLinks,
  queueDepth,
  queuedForSeal,
  queuedSeqs,
  recordsOfSeqs,
  rejectQueued,
  type SubmissionRecordRow,
  vacuumQueue,
} from '../intake/submission-store.ts';
import {
  type Ledger,
  type LedgerBatch,
  type LedgerBatchRecord,
  LedgerError,
  type RecordBatchResult,
  type StoredEntryJson,
} from '../ledger/ledger.ts';
import type { LogStore } from '../log/log-store.ts';
import type { Queryable } from '../storage/queryable.ts';
import {
  deleteSealedBatch,
  hasSealedBatch,
  insertSealedBatch,
  markRecorded,
  sealedBatch,
  stampCheckpoint,
} from './batch-store.ts';

// The batcher turns accepted submissions into leaves of the log and records each batch on the
// ledger. It is an outbox: every step is a committed row in PostgreSQL, so a crash resumes where
// it stopped and a retry never records twice.
//
//   seal    (one DB transaction)  the next queued submissions (`seal_queue`) in seq order become
//                                 the next leaves: subtrees, frontier and a `ledger_batches` row
//                                 (status 'sealed', with the rows' seqs in leaf order) are written
//   record  (outside any DB tx)   ledger.recordBatch({fromSize, records}); one in flight at a time
//   confirm (one DB transaction)  the ledger's root equals ours → sign the checkpoint, store the
//                                 ledger reference and flags; the submissions leave the queue and
//                                 their leaves are written to `log_leaves` in one statement
//
// Pipelined (`pipeline`, the service's default): after a full batch N is recorded, its confirm runs
// while batch N+1 is sealed and sent to the ledger, so the outbox then holds two sealed batches,
// N (recorded on the ledger, confirm in flight) and N+1. Order is kept where it matters: N+1's
// seal follows N's (the frontier), N+1 reaches the ledger after N was recorded there, and N+1 is
// confirmed — or undone, or the sealing halted — only after N's confirm committed, so checkpoints
// are signed in order. After a crash the outbox's lowest sealed batch is sent again first: the
// ledger answers a batch it already has with its stored result, so N and then N+1 are confirmed
// with the ledger's own answers.
//
// A submission's own row is never updated (migration 0700): its status is derived from those
// narrow tables (`submission_states`).
//
// One sealer at a time, across processes: each step holds a PostgreSQL session advisory lock
// (SEAL_LOCK) from before it looks at the outbox until the batch is confirmed, so two gateways
// (two `sealer`s, or an `all` beside a `sealer`) can never record or undo the same batch at once;
// the other one's step answers 'busy' and tries again at its next interval. If the lock's
// connection dies its session ends and the lock with it; every write below still re-checks the
// state it changes under the log's row lock, so a step that lost its lock mid-way cannot undo
// another's work. (The lock's connection is held for the step: the pool needs at least two.)
//
// A batch the ledger refused (a record the intake's checks let through) was never recorded, so
// its seal is undone: the faulty record becomes 'rejected', the others are sealed again. A
// checkpoint is signed only for a size the ledger confirmed, so no two signed checkpoints can
// ever disagree about one size.

export interface CheckpointSigner {
  name: string;
  privateKey: Uint8Array;
  /** `ed25519` (default) or `sm2`. */
  algorithm?: NoteAlgorithm;
}

export interface BatcherLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface BatcherOptions {
  intervalMs: number;
  maxItems: number;
  /** The checkpoint origin line; also the note key name in the usual setup. */
  origin: string;
  /** One signer, or several (CRYPTO_SUITE dual: Ed25519 then SM2), each adding its line. */
  signer: CheckpointSigner | readonly CheckpointSigner[];
  logger?: BatcherLogger;
  registry?: Registry;
  /** An RFC 3161 token over each checkpoint root, stored with the checkpoint (optional). */
  timestamp?: (rootHash: Uint8Array) => Promise<Uint8Array>;
  /** Called when sealing halts (root mismatch, log gap): readiness must turn false. */
  onHalt?: (reason: BatcherHalt) => void;
  /** Vacuum `seal_queue` after taking this many rows out of it (default QUEUE_VACUUM_ROWS). */
  queueVacuumRows?: number;
  /**
   * Confirm each full batch while the next one is sealed and recorded (above). Off, a step seals,
   * records and confirms one batch before the next step begins.
   */
  pipeline?: boolean;
}

export interface BatcherHalt {
  code: 'LEDGER_ROOT_MISMATCH' | 'LEDGER_LOG_MISMATCH';
  detail: string;
}

/** A batch just recorded: leaves `fromSize` … `toSize - 1`, the submissions `seqs` in leaf order. */
export interface RecordedBatch {
  fromSize: number;
  toSize: number;
  seqs: readonly string[];
}

/**
 * Told of each recorded batch inside the transaction that confirms it (`tx`), so what it writes
 * commits with the batch or not at all: webhooks/plugin.ts registers one that writes the
 * `records.recorded` notices. The batcher itself knows nothing of who listens.
 */
export type RecordedHook = (tx: Queryable, recorded: RecordedBatch) => Promise<void>;

export interface BatcherHealth {
  ok: boolean;
  /** Why sealing stopped or the ledger is unreachable. */
  reason?: string;
  detail?: string;
}

export interface SealOutcome {
  /** What happened in this step ('busy': another process holds the seal lock). */
  action: 'idle' | 'busy' | 'recorded' | 'rejected' | 'retry' | 'halted';
  fromSize?: number;
  toSize?: number;
  records?: number;
  rejectedId?: string;
  rejectCode?: string;
}

export interface SealedBatch {
  fromSize: number;
  toSize: number;
  root: Uint8Array;
  /** The submissions' seq, in leaf order. */
  seqs: string[];
  /**
   * The submissions as `seal` read them, in leaf order, when this process sealed the batch just
   * now: `record` then need not read them again (issue #26). A batch found sealed in the outbox
   * (after a crash, or sealed by another process) has none and is read from `submissions`.
   */
  rows?: SubmissionRecordRow[];
}

/** The session advisory lock one sealing step holds ('LZSL'); distinct from the ledger's and the anchorer's. */
export const SEAL_LOCK = 0x4c5a534c;

/**
 * Rows taken out of `seal_queue` between two vacuums of it. Each seal reads the queue from its
 * lowest key, through every entry deleted since the last vacuum (PostgreSQL keeps them until
 * vacuum, and autovacuum looks at a table at most once a minute): after 15 s of batches that was
 * about 270,000 dead entries per seal, and PostgreSQL's CPU per accepted POST doubled (80 → 170 µs,
 * docs/benchmarks.md). Vacuuming a queue this small takes milliseconds.
 */
export const QUEUE_VACUUM_ROWS = 10_000;

/**
 * Batches one pipelined step records at most before it hands back to the loop (which then waits
 * for nothing, as the last batch was full): a bound on how long one step holds the seal lock.
 */
export const PIPELINE_MAX_BATCHES = 32;

/** A batch the ledger recorded with the root we sealed: what its confirm needs. */
interface LedgerRecorded {
  batch: SealedBatch;
  ledgerBatch: LedgerBatch;
  result: RecordBatchResult;
  ledgerMs: number;
}

export class Batcher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  /** `stop` was called: a pipelined step seals nothing more (`stopped` is also true before `start`). */
  private stopping = false;
  private halt: BatcherHalt | undefined;
  private transient: string | undefined;
  private backoffMs = 0;
  private lastSealAt = 0;
  private pendingHint = 0;
  private wake: (() => void) | undefined;
  private readonly metrics: BatcherMetrics;
  private readonly waiters: { size: number; resolve: () => void }[] = [];
  private recordedSize = -1;
  /** When this process took the seal lock for the step in progress (ms since epoch), for the logs. */
  private lockedAt = 0;
  /** Whether the last batch a step recorded was full (more are likely waiting). */
  private lastBatchFull = false;
  /** Rows this process took out of the queue since it last vacuumed it. */
  private dequeued = 0;
  /**
   * The next batch's submissions and leaf hashes, read while the ledger recorded the batch before
   * them (`readAhead`); the next seal takes those still first in the queue from here.
   */
  private ahead: Promise<ReadAhead | undefined> | undefined;

  constructor(
    private readonly db: pg.Pool,
    private readonly log: LogStore,
    private readonly ledger: Ledger,
    private readonly options: BatcherOptions,
  ) {
    this.metrics = createMetrics(options.registry, db);
  }

  /** Starts the seal loop (it first resumes any batch sealed before a crash). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.stopping = false;
    this.running = this.loop();
  }

  /** Stops after the step in progress; a sealed batch stays in the outbox for the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.wake?.();
    await this.running;
    this.running = undefined;
  }

  private readonly recordedHooks: RecordedHook[] = [];

  /** Adds a hook told of each batch recorded, inside its confirming transaction. */
  onRecorded(hook: RecordedHook): void {
    this.recordedHooks.push(hook);
  }

  /** Intake calls this after a group commit, so a full batch is sealed without waiting. */
  notifyAccepted(count: number): void {
    this.pendingHint += count;
    if (this.pendingHint >= this.options.maxItems) this.wake?.();
  }

  health(): BatcherHealth {
    if (this.halt) return { ok: false, reason: this.halt.code, detail: this.halt.detail };
    if (this.transient) return { ok: false, reason: 'LEDGER_UNAVAILABLE', detail: this.transient };
    return { ok: true };
  }

  /**
   * Resolves once the log is recorded up to at least `size` leaves (tests and the CLI). Another
   * process may be the one recording (roles), so the signed size is also re-read every interval.
   */
  async waitForRecorded(size: number): Promise<void> {
    for (;;) {
      this.recordedSize = Math.max(this.recordedSize, await this.log.signedSize());
      if (this.recordedSize >= size) return;
      let waiter: { size: number; resolve: () => void } | undefined;
      await new Promise<void>((resolve) => {
        waiter = { size, resolve };
        this.waiters.push(waiter);
        setTimeout(resolve, Math.max(50, this.options.intervalMs)).unref();
      });
      const i = this.waiters.indexOf(waiter!);
      if (i >= 0) this.waiters.splice(i, 1);
    }
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const wait =
        this.backoffMs > 0 ? this.backoffMs : this.lastSealAt + this.options.intervalMs - Date.now();
      if (wait > 0 && this.pendingHint < this.options.maxItems) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          this.timer = setTimeout(resolve, wait);
        });
        this.wake = undefined;
        if (this.timer) clearTimeout(this.timer);
      }
      if (this.stopped) break;
      this.lastSealAt = Date.now();
      this.pendingHint = 0;
      try {
        const outcome = await this.step();
        if (outcome.action === 'halted') break;
        // (Confirms count what they took out of the queue themselves.)
        if (outcome.action === 'rejected') this.dequeued += 1;
        if (this.vacuumDue()) await this.vacuumQueue();
        // A full batch means more are waiting; a rejection means its batch must be sealed again.
        // (A pipelined step's records are several batches': what counts is whether its last was full.)
        const full =
          outcome.action === 'recorded'
            ? this.lastBatchFull
            : (outcome.records ?? 0) >= this.options.maxItems;
        if (full || outcome.action === 'rejected') {
          this.lastSealAt = 0;
        }
      } catch (error) {
        this.options.logger?.error({ err: error }, 'batcher step failed');
        this.backoffMs = Math.min(Math.max(this.backoffMs * 2, 200), 5000);
      }
    }
  }

  private vacuumDue(): boolean {
    return this.dequeued >= (this.options.queueVacuumRows ?? QUEUE_VACUUM_ROWS);
  }

  /**
   * Vacuums the queue (outside any transaction and any lock of ours). `skip_locked`: when
   * autovacuum or another sealer is at it, this one is not needed.
   */
  async vacuumQueue(): Promise<void> {
    this.dequeued = 0;
    try {
      await vacuumQueue(this.db);
    } catch (error) {
      this.options.logger?.warn({ err: error }, 'could not vacuum the seal queue');
    }
  }

  /**
   * One step of the outbox: record the pending sealed batch if there is one, otherwise seal the
   * next batch and record it. Public so tests can drive the batcher without timers.
   */
  async step(): Promise<SealOutcome> {
    if (this.halt) return { action: 'halted' };
    const lock = await this.db.connect();
    let held = false;
    let broken: Error | undefined;
    // A pool client's socket error while it is checked out is emitted here, not thrown.
    const onError = (error: Error) => {
      broken = error;
    };
    lock.on('error', onError);
    try {
      const { rows } = await lock.query<{ ok: boolean }>('select pg_try_advisory_lock($1) as ok', [
        SEAL_LOCK,
      ]);
      held = rows[0]?.ok === true;
      if (!held) return { action: 'busy' };
      this.lockedAt = Date.now();
      return await this.stepLocked();
    } finally {
      if (held) {
        await lock.query('select pg_advisory_unlock($1)', [SEAL_LOCK]).catch((error: Error) => {
          broken ??= error;
        });
      }
      lock.off('error', onError);
      // A broken connection is destroyed, not returned: its session (and any lock) ends with it.
      lock.release(broken);
    }
  }

  private async stepLocked(): Promise<SealOutcome> {
    const pending = await this.pendingBatch();
    const first = pending ?? (await this.seal());
    if (!first) {
      this.backoffMs = 0;
      this.transient = undefined;
      return { action: 'idle' };
    }
    let batch: SealedBatch = first;
    const fromSize = batch.fromSize;
    let records = 0;
    // The confirm of the batch before `batch`, running while `batch` is sealed and recorded.
    let confirming: Promise<void> | undefined;
    for (let n = 1; ; n++) {
      const recording = this.recordOnLedger(batch);
      if (confirming) {
        // Awaited below; until then a failure must not count as an unhandled rejection.
        recording.catch(() => {});
        try {
          await confirming;
        } catch (error) {
          // Both batches stay sealed; the next step sends the lower one again (the ledger answers
          // it with its stored result). The call in flight is let finish before the lock goes.
          await recording.catch(() => {});
          throw error;
        }
        confirming = undefined;
        if (this.vacuumDue()) await this.vacuumQueue();
      }
      const recorded = await recording;
      // Refused, unreachable or disagreeing: the batches before it are confirmed; this one is not.
      if (!('result' in recorded)) return recorded;
      const count = recorded.ledgerBatch.records.length;
      records += count;
      const confirm = this.confirm(recorded);
      const full = count >= this.options.maxItems;
      const next: SealedBatch | undefined =
        this.options.pipeline === true && full && !this.stopping && n < PIPELINE_MAX_BATCHES
          ? await this.sealBehind(batch, confirm)
          : undefined;
      if (!next) {
        await confirm;
        this.lastBatchFull = full;
        return { action: 'recorded', fromSize, toSize: batch.toSize, records };
      }
      confirming = confirm;
      batch = next;
    }
  }

  /**
   * Seals the batch after `behind` while `behind`'s confirm (`confirm`) runs. Whatever the seal
   * does, the confirm is waited for before an error leaves the step.
   */
  private async sealBehind(behind: SealedBatch, confirm: Promise<void>): Promise<SealedBatch | undefined> {
    // Handled below or by the caller; without this a confirm failing during the seal would be an
    // unhandled rejection.
    confirm.catch(() => {});
    try {
      return await this.seal(behind);
    } catch (error) {
      await confirm;
      throw error;
    }
  }

  private async pendingBatch(): Promise<SealedBatch | undefined> {
    const row = await sealedBatch(this.db);
    return row
      ? {
          fromSize: Number(row.from_size),
          toSize: Number(row.to_size),
          root: new Uint8Array(row.root),
          seqs: row.seqs,
        }
      : undefined;
  }

  /**
   * Makes the next accepted submissions the next leaves of the log, atomically. `behind`: the
   * sealed batch whose confirm is in flight (pipelined); its submissions are still in the queue.
   */
  async seal(behind?: SealedBatch): Promise<SealedBatch | undefined> {
    const client = await this.db.connect();
    try {
      await client.query('begin');
      const frontier = await this.log.frontier(client, true);
      // Under the log lock: another process may have sealed meanwhile; record that one first.
      if (
        (await hasSealedBatch(client, behind?.fromSize)) ||
        (behind !== undefined && frontier.size !== behind.toSize)
      ) {
        await client.query('rollback');
        return undefined;
      }
      // Everything `record` sends to the ledger, read once (a submission's row is never updated).
      const ahead = await this.takeAhead();
      const { rows, hashes } =
        ahead || behind
          ? await this.queuedWith(client, ahead ?? { rows: [], hashes: [] }, behind)
          : withLeafHashes(await queuedForSeal(client, this.options.maxItems));
      if (rows.length === 0) {
        await client.query('rollback');
        return undefined;
      }
      const fromSize = frontier.size;
      const seqs = rows.map((r) => r.seq);
      const next = await this.log.append(client, frontier, hashes);
      const root = frontierRoot(next);
      await insertSealedBatch(client, fromSize, next.size, root, seqs);
      await client.query('commit');
      this.metrics.batchSize.observe(rows.length);
      return { fromSize, toSize: next.size, root, seqs, rows };
    } catch (error) {
      await client.query('rollback').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  /**
   * Starts reading the submissions queued after `batch` and hashing their leaves, while the
   * ledger records `batch`: on the embedded ledger's thread or a Fabric peer the contract's work
   * is not this thread's, so the next seal's reading and hashing (about a fifth of a step) overlap
   * it instead of following it. It only reads: the seal still decides, under the log's lock,
   * which submissions come next (queuedWith).
   */
  private readAhead(batch: SealedBatch): void {
    const last = batch.seqs[batch.seqs.length - 1];
    if (last === undefined) return;
    this.ahead = queuedForSeal(this.db, this.options.maxItems, last).then(
      (rows) => (rows.length === 0 ? undefined : withLeafHashes(rows)),
      () => undefined,
    );
  }

  /** What was read ahead (once: the seal after it reads afresh). */
  private takeAhead(): Promise<ReadAhead | undefined> | undefined {
    const ahead = this.ahead;
    this.ahead = undefined;
    return ahead;
  }

  /**
   * The next queued submissions, as `queuedForSeal` reads them, from what was read ahead: the
   * queue's first seqs are read again, and those read ahead are taken from it (a submission's row
   * never changes), the others — an intake transaction that committed a lower seq late, or more
   * than was queued then — from the database. The submissions of `behind` (sealed, their confirm
   * in flight) are left out: they leave the queue when that confirm commits.
   */
  private async queuedWith(
    client: pg.PoolClient,
    ahead: ReadAhead,
    behind?: SealedBatch,
  ): Promise<ReadAhead> {
    const max = this.options.maxItems;
    const sealed = new Set(behind?.seqs);
    const seqs = (await queuedSeqs(client, max + sealed.size))
      .filter((seq) => !sealed.has(seq))
      .slice(0, max);
    const known = new Map<string, { row: QueuedRow; hash: Uint8Array }>();
    const keep = ({ rows, hashes }: ReadAhead) => {
      for (let i = 0; i < rows.length; i++) known.set(rows[i]!.seq, { row: rows[i]!, hash: hashes[i]! });
    };
    keep(ahead);
    const missing = seqs.filter((seq) => !known.has(seq));
    if (missing.length > 0) {
      const rows = await recordsOfSeqs(client, missing);
      if (rows.length !== missing.length) throw new Error('a queued submission has no row');
      keep(withLeafHashes(rows.map((r, i) => ({ ...r, seq: missing[i]! }))));
    }
    const taken = seqs.map((seq) => known.get(seq)!);
    this.metrics.readAhead.inc({ rows: 'reused' }, seqs.length - missing.length);
    this.metrics.readAhead.inc({ rows: 'read' }, missing.length);
    return { rows: taken.map((t) => t.row), hashes: taken.map((t) => t.hash) };
  }

  private async batchRecords(batch: SealedBatch): Promise<SubmissionRecordRow[]> {
    const rows = await recordsOfSeqs(this.db, batch.seqs);
    if (rows.length !== batch.toSize - batch.fromSize) {
      throw new Error(`sealed batch ${batch.fromSize}..${batch.toSize} has ${rows.length} submissions`);
    }
    return rows;
  }

  /**
   * Sends `batch` to the ledger. Answers what its confirm needs, or the step's outcome when the
   * ledger refused it (undone), was not reached (retried later) or disagrees (halted).
   */
  private async recordOnLedger(batch: SealedBatch): Promise<LedgerRecorded | SealOutcome> {
    const rows = batch.rows ?? (await this.batchRecords(batch));
    const ledgerBatch: LedgerBatch = { fromSize: batch.fromSize, records: rows.map(storedEntry) };
    const started = performance.now();
    let result: RecordBatchResult;
    try {
      const recording = this.ledger.recordBatch(ledgerBatch);
      this.readAhead(batch);
      result = await recording;
    } catch (error) {
      this.metrics.ledgerErrors.inc();
      if (error instanceof LedgerError && error.refusesRecord)
        return this.rejectFaulty(batch, ledgerBatch, rows);
      if (error instanceof LedgerError && (error.code === 'LOG_GAP' || error.code === 'LOG_CONFLICT')) {
        return this.stopSealing({
          code: 'LEDGER_LOG_MISMATCH',
          detail: `ledger refused batch ${batch.fromSize}..${batch.toSize} with ${error.code}`,
        });
      }
      // Unreachable, timed out, or an unexpected refusal: the batch stays sealed and is re-sent
      // with the same fromSize; the contract answers a repeat with its stored result.
      this.transient = error instanceof LedgerError ? error.code : 'LEDGER_FAILED';
      this.backoffMs = Math.min(Math.max(this.backoffMs * 2, 200), 5000);
      this.options.logger?.warn({ err: error, fromSize: batch.fromSize }, 'ledger did not record the batch');
      return { action: 'retry', fromSize: batch.fromSize, toSize: batch.toSize, records: rows.length };
    }
    const elapsedMs = performance.now() - started;
    this.metrics.ledgerLatency.observe(elapsedMs / 1000);
    this.transient = undefined;
    this.backoffMs = 0;

    const ours = toHex(batch.root);
    if (result.toSize !== batch.toSize || result.root !== ours) {
      return this.stopSealing({
        code: 'LEDGER_ROOT_MISMATCH',
        detail: `gateway ${batch.toSize}/${ours}, ledger ${result.toSize}/${result.root} (tx ${result.txId})`,
      });
    }
    return { batch, ledgerBatch, result, ledgerMs: Math.round(elapsedMs) };
  }

  private async confirm({ batch, ledgerBatch, result, ledgerMs }: LedgerRecorded): Promise<void> {
    const body = formatCheckpoint({ origin: this.options.origin, size: batch.toSize, rootHash: batch.root });
    let note = body;
    for (const signer of [this.options.signer].flat()) note = await signCheckpoint(note, signer);
    // Trusted time is an extra: a TSA failure never holds back a recorded batch (no token, logged).
    let token: Uint8Array | undefined;
    try {
      token = this.options.timestamp ? await this.options.timestamp(batch.root) : undefined;
    } catch (error) {
      this.options.logger?.warn({ err: error, size: batch.toSize }, 'no time-stamp token for the checkpoint');
    }
    const client = await this.db.connect();
    try {
      await client.query('begin');
      await this.log.putCheckpoint(client, batch.toSize, batch.root, note);
      if (token) await stampCheckpoint(client, batch.toSize, token);
      await markRecorded(client, batch.fromSize, {
        network: this.ledger.kind,
        txId: result.txId,
        block: result.block,
        validation: result.validation,
        ledgerMs,
        endorsers: result.endorsers ?? null,
      });
      // The submissions leave the queue and become leaves, in one statement.
      await dequeueAsLeaves(client, batch.fromSize, batch.seqs);
      const links = linksOf(ledgerBatch);
      if (links.target.length > 0) await insertRecordLinks(client, links);
      if (result.flags.length > 0) await insertRecordFlags(client, result.flags);
      // Earlier flags this batch resolved or reopened, in the ledger's order (a reopening deletes).
      for (const r of result.resolutions ?? []) await applyFlagResolution(client, r);
      // Those told of recorded batches (partners' webhook notices), committed with the batch.
      const recorded = { fromSize: batch.fromSize, toSize: batch.toSize, seqs: batch.seqs };
      for (const hook of this.recordedHooks) await hook(client, recorded);
      await client.query('commit');
    } catch (error) {
      await client.query('rollback').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
    this.metrics.recorded.inc(ledgerBatch.records.length);
    this.dequeued += ledgerBatch.records.length;
    this.recordedSize = Math.max(this.recordedSize, batch.toSize);
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (w.size <= this.recordedSize) {
        this.waiters.splice(i, 1);
        w.resolve();
      }
    }
    this.options.logger?.info(
      {
        fromSize: batch.fromSize,
        toSize: batch.toSize,
        txId: result.txId,
        block: result.block,
        ledgerMs,
        lockedAt: this.lockedAt,
        confirmedAt: Date.now(),
      },
      'batch recorded',
    );
  }

  /**
   * The ledger refused the batch because of one record. Find the first faulty record by
   * simulating ever shorter prefixes (validation is sequential, so a prefix that fails contains
   * it), then undo the seal and reject that record; the rest is sealed again on the next step.
   */
  private async rejectFaulty(
    batch: SealedBatch,
    ledgerBatch: LedgerBatch,
    rows: SubmissionRecordRow[],
  ): Promise<SealOutcome> {
    let lo = 1;
    let hi = ledgerBatch.records.length;
    let code: string | undefined;
    const fails = async (n: number): Promise<LedgerError | undefined> => {
      try {
        await this.ledger.simulateBatch({
          fromSize: ledgerBatch.fromSize,
          records: ledgerBatch.records.slice(0, n),
        });
        return undefined;
      } catch (error) {
        if (error instanceof LedgerError && error.refusesRecord) return error;
        throw error;
      }
    };
    const whole = await fails(hi);
    if (!whole) {
      // The refusal did not repeat (state moved on): send the batch again as it is.
      return { action: 'retry', fromSize: batch.fromSize, toSize: batch.toSize, records: rows.length };
    }
    code = whole.code;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const refusal = await fails(mid);
      if (refusal) {
        hi = mid;
        code = refusal.code;
      } else {
        lo = mid + 1;
      }
    }
    const faulty = rows[lo - 1]!;
    const client = await this.db.connect();
    try {
      await client.query('begin');
      await this.log.frontier(client, true);
      // Only the very batch that was bisected: if it is no longer the sealed one (another step
      // already undid it and sealed anew), undoing now would throw away someone else's seal.
      if (!(await deleteSealedBatch(client, batch.fromSize, batch.toSize))) {
        await client.query('rollback');
        return { action: 'retry', fromSize: batch.fromSize, toSize: batch.toSize, records: rows.length };
      }
      await rejectQueued(client, faulty.id, code);
      await this.log.truncate(client, batch.fromSize);
      await client.query('commit');
    } catch (error) {
      await client.query('rollback').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
    this.metrics.rejected.inc();
    this.options.logger?.warn(
      { submissionId: faulty.id, code, fromSize: batch.fromSize },
      'ledger refused a record; it is rejected and the batch is sealed again',
    );
    return {
      action: 'rejected',
      fromSize: batch.fromSize,
      toSize: batch.toSize,
      records: rows.length,
      rejectedId: faulty.id,
      rejectCode: code,
    };
  }

  private stopSealing(halt: BatcherHalt): SealOutcome {
    this.halt = halt;
    this.stopped = true;
    // An alarm, not a warning: the log and its witness disagree, which needs a human.
    this.options.logger?.error(
      { alarm: true, ...halt },
      'sealing stopped: the ledger disagrees with the log',
    );
    this.options.onHalt?.(halt);
    return { action: 'halted' };
  }
}

type QueuedRow = SubmissionRecordRow & { seq: string };

/** Queued submissions in seq order and their leaf hashes, index for index. */
interface ReadAhead {
  rows: QueuedRow[];
  hashes: Uint8Array[];
}

function withLeafHashes(rows: QueuedRow[]): ReadAhead {
  const hashes = new Array<Uint8Array>(rows.length);
  // record_json is canonicalJson(record), byte-exact: its bytes are the leaf's input. Encoded into
  // one reused buffer rather than a new Buffer per record (issue #26).
  for (let i = 0; i < rows.length; i++) hashes[i] = leafHash(utf8Scratch(rows[i]!.record_json));
  return { rows, hashes };
}

let scratch = Buffer.allocUnsafe(4096);

/**
 * `s` as UTF-8 in a buffer that the next call overwrites: for bytes that are used at once (hashed)
 * and not kept.
 */
function utf8Scratch(s: string): Uint8Array {
  // At most 3 bytes per UTF-16 code unit.
  if (scratch.length < 3 * s.length) scratch = Buffer.allocUnsafe(Math.max(3 * s.length, 2 * scratch.length));
  return scratch.subarray(0, scratch.write(s, 0, 'utf8'));
}

/**
 * A queued submission as the ledger is sent it. The record is parsed (its project, links and
 * visibility are read here and by the ledgers); the details only if something asks for them:
 * RecordBatch's argument is built from the stored canonical strings (`json`), so a batch's
 * details are neither parsed nor serialised again on their way to the contract (issue #26).
 */
class StoredEntry implements LedgerBatchRecord {
  readonly record: EvidenceRecord;
  readonly json: StoredEntryJson;
  #details: RecordDetails | undefined;

  constructor(row: SubmissionRecordRow) {
    this.record = JSON.parse(row.record_json) as EvidenceRecord;
    this.json = { record: row.record_json, details: row.details_json };
  }

  get details(): RecordDetails {
    this.#details ??= JSON.parse(this.json.details) as RecordDetails;
    return this.#details;
  }
}

const storedEntry = (row: SubmissionRecordRow): LedgerBatchRecord => new StoredEntry(row);

/** Supersede and withdraw links of a batch's records, for `record_links`. */
function linksOf(batch: LedgerBatch): { target: string[]; link: string[]; by: string[] } {
  const out = { target: [] as string[], link: [] as string[], by: [] as string[] };
  for (const { record } of batch.records) {
    if (record.supersedes !== undefined) {
      out.target.push(record.supersedes);
      out.link.push('superseded');
      out.by.push(record.id);
    } else if (record.kind === 'withdrawal' && record.refs?.[0] !== undefined) {
      out.target.push(record.refs[0]);
      out.link.push('withdrawn');
      out.by.push(record.id);
    }
  }
  return out;
}

interface BatcherMetrics {
  batchSize: Histogram;
  ledgerLatency: Histogram;
  recorded: Counter;
  rejected: Counter;
  ledgerErrors: Counter;
  readAhead: Counter<'rows'>;
}

function createMetrics(registry: Registry | undefined, db: pg.Pool): BatcherMetrics {
  const registers = registry ? [registry] : [];
  const existing = (name: string) => registry?.getSingleMetric(name);
  const batchSize =
    (existing('lianzheng_batch_size') as Histogram | undefined) ??
    new Histogram({
      name: 'lianzheng_batch_size',
      help: 'Records per sealed batch',
      buckets: [1, 10, 100, 500, 1000, 2500, 5000, 10000, 25000],
      registers,
    });
  const ledgerLatency =
    (existing('lianzheng_ledger_latency_seconds') as Histogram | undefined) ??
    new Histogram({
      name: 'lianzheng_ledger_latency_seconds',
      help: 'Time for the ledger to record one batch (RecordBatch)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
  const recorded =
    (existing('lianzheng_records_recorded_total') as Counter | undefined) ??
    new Counter({
      name: 'lianzheng_records_recorded_total',
      help: 'Records recorded on the ledger',
      registers,
    });
  const rejected =
    (existing('lianzheng_records_rejected_total') as Counter | undefined) ??
    new Counter({ name: 'lianzheng_records_rejected_total', help: 'Records the ledger refused', registers });
  const ledgerErrors =
    (existing('lianzheng_ledger_errors_total') as Counter | undefined) ??
    new Counter({ name: 'lianzheng_ledger_errors_total', help: 'RecordBatch calls that failed', registers });
  if (registry && !existing('lianzheng_queue_depth')) {
    new Gauge({
      name: 'lianzheng_queue_depth',
      help: 'Accepted submissions not yet sealed into the log',
      registers,
      async collect() {
        this.set(await queueDepth(db));
      },
    });
  }
  const readAhead =
    (existing('lianzheng_seal_read_ahead_rows_total') as Counter<'rows'> | undefined) ??
    new Counter({
      name: 'lianzheng_seal_read_ahead_rows_total',
      help: 'Submissions sealed after a read ahead: taken from it (reused) or read at the seal (read)',
      labelNames: ['rows'] as const,
      registers,
    });
  return { batchSize, ledgerLatency, recorded, rejected, ledgerErrors, readAhead };
}
