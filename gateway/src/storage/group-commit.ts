/**
 * Group commit: callers enqueue rows; one flush at a time writes everything queued so far with
 * one statement in one transaction (one WAL fsync) and then resolves every caller. While a flush
 * runs, new rows gather for the next one, so the batch size grows by itself under load and stays
 * at one row when the service is idle — no timer, no added latency.
 *
 * Only one flush is ever in flight, so the order of commits is the order of `seq` values: a
 * reader that sees row N committed has also seen every row before it.
 */
export interface GroupCommitOptions<Row, Result> {
  /** Writes `rows` in one transaction and returns one result per row, in order. */
  flush(rows: Row[]): Promise<Result[]>;
  /** Upper bound of rows per flush; a caller's rows are never split across flushes. */
  maxRows?: number;
  /** A caller still waiting after this long is answered with `onTimeout()`'s error. */
  timeoutMs?: number;
  onTimeout?: () => Error;
  /** Observability hooks (metrics). */
  onFlush?: (rows: number, ms: number) => void;
  onQueueDepth?: (rows: number) => void;
}

interface Waiter<Row, Result> {
  rows: Row[];
  resolve(results: Result[]): void;
  reject(error: unknown): void;
  settled: boolean;
  timer?: NodeJS.Timeout;
}

export class GroupCommitter<Row, Result> {
  private queue: Waiter<Row, Result>[] = [];
  private queuedRows = 0;
  private flushing: Promise<void> | undefined;
  private closed = false;
  private readonly maxRows: number;

  constructor(private readonly options: GroupCommitOptions<Row, Result>) {
    this.maxRows = options.maxRows ?? 5000;
  }

  /** Rows waiting for the next flush. */
  get depth(): number {
    return this.queuedRows;
  }

  /** Resolves with the rows' results once they are committed. */
  submit(rows: Row[]): Promise<Result[]> {
    if (this.closed) return Promise.reject(new Error('group committer is closed'));
    if (rows.length === 0) return Promise.resolve([]);
    return new Promise<Result[]>((resolve, reject) => {
      const waiter: Waiter<Row, Result> = { rows, resolve, reject, settled: false };
      if (this.options.timeoutMs) {
        waiter.timer = setTimeout(() => {
          if (waiter.settled) return;
          waiter.settled = true;
          // The rows may still commit later; an Idempotency-Key retry then replays them.
          reject(this.options.onTimeout?.() ?? new Error('group commit timed out'));
        }, this.options.timeoutMs);
      }
      this.queue.push(waiter);
      this.queuedRows += rows.length;
      this.options.onQueueDepth?.(this.queuedRows);
      if (!this.flushing) this.flushing = this.drain();
    });
  }

  /** Waits for everything queued to be flushed, then refuses new rows. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.flushing) await this.flushing;
  }

  private async drain(): Promise<void> {
    // Let the current tick's requests join the first batch.
    await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      while (this.queue.length > 0) {
        const batch: Waiter<Row, Result>[] = [];
        let count = 0;
        while (this.queue.length > 0) {
          const next = this.queue[0]!;
          if (batch.length > 0 && count + next.rows.length > this.maxRows) break;
          this.queue.shift();
          batch.push(next);
          count += next.rows.length;
        }
        this.queuedRows -= count;
        this.options.onQueueDepth?.(this.queuedRows);
        const rows = batch.length === 1 ? batch[0]!.rows : batch.flatMap((w) => w.rows);
        const started = performance.now();
        try {
          const results = await this.options.flush(rows);
          this.options.onFlush?.(rows.length, performance.now() - started);
          let offset = 0;
          for (const w of batch) {
            const slice = results.slice(offset, offset + w.rows.length);
            offset += w.rows.length;
            settle(w, () => w.resolve(slice));
          }
        } catch (error) {
          for (const w of batch) settle(w, () => w.reject(error));
        }
      }
    } finally {
      this.flushing = undefined;
    }
  }
}

function settle<Row, Result>(w: Waiter<Row, Result>, fn: () => void): void {
  if (w.timer) clearTimeout(w.timer);
  if (w.settled) return;
  w.settled = true;
  fn();
}
