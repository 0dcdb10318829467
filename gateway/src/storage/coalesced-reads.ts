import DataLoader from 'dataloader';

/**
 * Reads that many requests make at once — a verify lookup per digest, the subtree hashes of each
 * proof — gathered into few queries, the way intake's group commit gathers writes. A key waits
 * for a free slot (at most `maxInFlight` queries of this kind at a time); keys that arrive
 * meanwhile join the same query, up to `maxBatchSize`. Idle, a key costs one query as before;
 * busy, PostgreSQL parses, plans and answers one statement for dozens of keys, and the gateway
 * sends and parses one.
 *
 * A key always goes into a query sent after it was asked for, never into one already running,
 * so a read is as fresh as an uncoalesced one (a client polling for its record's status sees
 * every commit made before it asked).
 */
export interface CoalescedReadOptions {
  /** Most keys one query carries (default 128). */
  maxBatchSize?: number;
  /** Most queries of this loader running at once (default 2: PostgreSQL has the machine's cores). */
  maxInFlight?: number;
  /** Called with each query's key count, for metrics. */
  onBatch?: (keys: number) => void;
}

/**
 * A DataLoader without its cache (answers change as records are sealed) whose batches start when
 * a slot is free rather than at the end of the tick.
 */
export function coalescedReads<K, V>(
  read: (keys: readonly K[]) => Promise<ArrayLike<V | Error>>,
  options: CoalescedReadOptions = {},
): DataLoader<K, V> {
  const slots = new Slots(options.maxInFlight ?? 2);
  return new DataLoader<K, V>(
    async (keys) => {
      try {
        options.onBatch?.(keys.length);
        return await read(keys);
      } finally {
        slots.release();
      }
    },
    {
      cache: false,
      maxBatchSize: options.maxBatchSize ?? 128,
      // The batch collects keys until this calls back; setImmediate first lets the current
      // round of socket reads add theirs even when a slot is free.
      batchScheduleFn: (dispatch) => {
        setImmediate(() => slots.acquire(dispatch));
      },
    },
  );
}

/** A counting semaphore whose waiters run in arrival order. */
class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(count: number) {
    if (!Number.isSafeInteger(count) || count < 1) throw new RangeError('maxInFlight must be at least 1');
    this.free = count;
  }

  acquire(run: () => void): void {
    if (this.free > 0) {
      this.free--;
      run();
    } else {
      this.waiting.push(run);
    }
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}
