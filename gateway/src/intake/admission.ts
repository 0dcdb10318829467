// Admission: intake holds new submissions while the log is too far behind (issue #26).
//
// Intake accepts faster than the sealer records (the batch route about twice as fast on two
// cores). Without a bound the difference piles up in `seal_queue`: accepted→recorded grows with
// the length of the burst, and intake keeps taking the cores the sealer needs to clear the pile.
// Tessera's storages answer the same situation with a pushback (ErrPushback: "return a 503 with a
// Retry-After header") once too many entries are sequenced but not yet integrated. Here intake
// first *waits* while `maxBacklog` or more submissions are queued for sealing — a client that
// sends its next request when the last one is answered (most partners, and any closed loop) is
// slowed to the log's pace instead of refused — and only after `maxWaitMs` refuses with
// 503 BACKLOG_FULL and Retry-After. The write routes wait here after authentication and before
// the body is read (routes/evidence-write), so a held request keeps its body in the socket, not in
// the heap (held after parsing, 1,000-item bodies outlived the young generation: docs/benchmarks.md).
//
// The backlog is read from PostgreSQL, because the sealer may be another process
// (GATEWAY_ROLE=sealer): the span of `seal_queue`'s seqs, two probes of its key, at most once per
// `pollMs`, plus what this process committed since the last reading (so that a burst between two
// readings is counted). Seqs of rolled-back inserts leave gaps, so the span can only overstate.
// A reading is taken after this process's own commits, and while a submission is held — never
// because a request arrived, so a refused or malformed request costs the database nothing. A
// process that starts on a full queue therefore learns of it from its first commit: what it
// accepts until that reading returns passes unchecked.

import { setTimeout as sleep } from 'node:timers/promises';
import { AppError } from '../errors.ts';

export interface AdmissionOptions {
  /** Hold new submissions while this many or more are queued for sealing; 0: never. */
  maxBacklog: number;
  /** How long one submission waits for the backlog to fall before 503 BACKLOG_FULL. */
  maxWaitMs: number;
  /** The least time between two readings of the backlog. */
  pollMs: number;
  /** Called when a held request is let in or refused, with how long it waited. */
  onHeld?: (outcome: 'admitted' | 'refused', waitedMs: number) => void;
}

export class Admission {
  private readBacklogValue = 0;
  private committedSinceReading = 0;
  private readAt = Number.NEGATIVE_INFINITY;
  private reading: Promise<void> | undefined;
  private readonly now = () => performance.now();

  constructor(
    /** Submissions queued for sealing now (`seal_queue`, intake/submission-store.ts queuedSpan). */
    private readonly readBacklog: () => Promise<number>,
    private readonly options: AdmissionOptions,
  ) {}

  /** The backlog as this process knows it: the last reading plus its own commits since. */
  get backlog(): number {
    return this.readBacklogValue + this.committedSinceReading;
  }

  /** Intake committed `rows` submissions (in the queue until the sealer takes them). */
  committed(rows: number): void {
    if (this.options.maxBacklog <= 0) return;
    this.committedSinceReading += rows;
    if (this.now() - this.readAt >= this.options.pollMs) void this.refresh();
  }

  /**
   * Resolves when a new submission may be read and accepted; throws BACKLOG_FULL after waiting
   * `maxWaitMs` for the backlog to fall under `maxBacklog`. Under the bound a request is let
   * through whole, at once (a batch larger than the room left is not split or refused).
   */
  async admit(): Promise<void> {
    const { maxBacklog, maxWaitMs, pollMs } = this.options;
    if (maxBacklog <= 0 || this.backlog < maxBacklog) return;
    const heldAt = this.now();
    const deadline = heldAt + maxWaitMs;
    await this.refresh();
    while (this.backlog >= maxBacklog) {
      const left = deadline - this.now();
      if (left <= 0) {
        this.options.onHeld?.('refused', this.now() - heldAt);
        const retryAfterSeconds = Math.max(1, Math.ceil(pollMs / 1000));
        throw new AppError(
          'BACKLOG_FULL',
          `${this.backlog} submissions are waiting to be recorded (at most ${maxBacklog}); try again shortly`,
          { retryAfterSeconds },
        );
      }
      await sleep(Math.min(pollMs, left));
      await this.refresh();
    }
    this.options.onHeld?.('admitted', this.now() - heldAt);
  }

  /** Reads the backlog, at most once per `pollMs`; concurrent callers share one reading. */
  private refresh(): Promise<void> {
    if (this.reading) return this.reading;
    if (this.now() - this.readAt < this.options.pollMs) return Promise.resolve();
    const committedBefore = this.committedSinceReading;
    this.readAt = this.now();
    this.reading = this.readBacklog()
      .then(
        (n) => {
          this.readBacklogValue = n;
          // Commits made while the query ran may or may not be in `n`: kept (over-counted at worst).
          this.committedSinceReading -= committedBefore;
        },
        // The database is not answering: intake will say so itself; admission keeps its last reading.
        () => {},
      )
      .finally(() => {
        this.reading = undefined;
      });
    return this.reading;
  }
}
