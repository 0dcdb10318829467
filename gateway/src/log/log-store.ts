import {
  appendLeavesWithSubtrees,
  type Frontier,
  frontierRoot,
  generateConsistencyProof,
  generateInclusionProof,
  type SubtreeSource,
} from '@lianzheng/proof';
import { setBounded } from '../bounded-map.ts';
import { insertCheckpoint, readCheckpoint, type StoredCheckpoint, signedSize } from '../seal/batch-store.ts';
import { byteaArray } from '../storage/binary-arrays.ts';
import type { Queryable } from '../storage/queryable.ts';
import {
  CachedSubtreeStore,
  frontierRefs,
  readSubtreeMap,
  readSubtrees,
  truncateSubtrees,
  writeSubtrees,
} from './subtree-store.ts';

export type { StoredCheckpoint };

export class LogError extends Error {
  constructor(
    readonly code: 'SIZE_OUT_OF_RANGE' | 'INDEX_OUT_OF_RANGE' | 'NO_CHECKPOINT',
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'LogError';
  }
}

/**
 * The gateway's append-only Merkle log in PostgreSQL: its frontier (`log_state`), its complete
 * subtrees (`log_tiles`, migration 0990) and its signed checkpoints (`checkpoints`, whose statements are
 * seal/batch-store.ts's). Writes take the caller's client so a seal is one database transaction;
 * reads use the pool.
 */
export class LogStore {
  readonly subtrees: SubtreeSource;
  /** Inclusion paths are immutable once their size is recorded, so cache them (index:size). */
  private readonly proofCache = new Map<string, Uint8Array[]>();
  private readonly proofCacheMax: number;
  /**
   * A size known to be signed. Checkpoints are signed only once their batch is recorded and are
   * never deleted, so the signed size only grows: proofs up to it need no query to check it.
   */
  private signedFloor = 0;

  constructor(
    private readonly db: Queryable,
    options: { proofCacheSize?: number; onSubtreeRead?: (keys: number) => void } = {},
  ) {
    this.subtrees = new CachedSubtreeStore(
      db,
      options.onSubtreeRead ? { onBatch: options.onSubtreeRead } : {},
    );
    this.proofCacheMax = options.proofCacheSize ?? 100_000;
  }

  /** The frontier as of the last seal. Pass a transaction's client to read it under its lock. */
  frontier(db: Queryable = this.db, lock = false): Promise<Frontier> {
    return readFrontier(db, lock);
  }

  /**
   * Appends leaves to `frontier` and stores the completed subtrees and the new frontier, on the
   * caller's client (inside its transaction). Returns the new frontier.
   */
  async append(db: Queryable, frontier: Frontier, leafHashes: Uint8Array[]): Promise<Frontier> {
    const { frontier: next, subtrees } = appendLeavesWithSubtrees(frontier, leafHashes);
    await writeSubtrees(db, subtrees);
    await this.saveFrontier(db, next);
    return next;
  }

  /** Undoes every append beyond `size` (only ever for a batch the ledger never recorded). */
  async truncate(db: Queryable, size: number): Promise<Frontier> {
    await truncateSubtrees(db, size);
    const hashes = await readSubtrees(db, frontierRefs(size));
    const frontier = { size, hashes };
    await this.saveFrontier(db, frontier);
    for (const key of this.proofCache.keys()) {
      if (Number(key.slice(key.indexOf(':') + 1)) > size) this.proofCache.delete(key);
    }
    return frontier;
  }

  private async saveFrontier(db: Queryable, frontier: Frontier): Promise<void> {
    await db.query('update log_state set size = $1, frontier = $2::bytea[], updated_at = now() where id', [
      String(frontier.size),
      byteaArray(frontier.hashes),
    ]);
  }

  /** The root of the first `size` leaves, from stored subtrees (any size up to the log's). */
  async rootAt(size: number, db: Queryable = this.db): Promise<Uint8Array> {
    const hashes = await readSubtrees(db, frontierRefs(size));
    return frontierRoot({ size, hashes });
  }

  /** Stores a signed checkpoint (seal/batch-store.ts owns the table), on the caller's client. */
  putCheckpoint(db: Queryable, size: number, root: Uint8Array, note: string): Promise<void> {
    return insertCheckpoint(db, size, root, note);
  }

  /**
   * The checkpoint of exactly `size`, or the newest one when `size` is omitted. Its RFC 3161 token
   * (a few KB) is read only when asked for: bundles carry it, `/v1/log/checkpoint` does not.
   */
  checkpoint(size?: number, options: { withToken?: boolean } = {}): Promise<StoredCheckpoint | undefined> {
    return readCheckpoint(this.db, size, options);
  }

  /** The largest size whose checkpoint is signed (0 when none is). */
  async signedSize(): Promise<number> {
    const size = await signedSize(this.db);
    this.signedFloor = Math.max(this.signedFloor, size);
    return size;
  }

  /**
   * The audit path of leaf `index` in the signed log of `size` leaves. `keep: false` for callers
   * that keep what they make of it themselves (proof bundles): a path kept twice is ~2 KB of
   * small arrays for nothing.
   */
  async inclusionProof(index: number, size: number, { keep = true } = {}): Promise<Uint8Array[]> {
    const key = `${index}:${size}`;
    const cached = this.proofCache.get(key);
    if (cached) return cached;
    await this.checkRange(size);
    if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
      throw new LogError('INDEX_OUT_OF_RANGE', `index ${index} is not below size ${size}`);
    }
    const path = await generateInclusionProof(this.subtrees, index, size);
    if (!keep) return path;
    setBounded(this.proofCache, key, path, this.proofCacheMax);
    return path;
  }

  async consistencyProof(from: number, to: number): Promise<Uint8Array[]> {
    await this.checkRange(to);
    if (!Number.isSafeInteger(from) || from < 0 || from > to) {
      throw new LogError('SIZE_OUT_OF_RANGE', `from ${from} must be between 0 and ${to}`);
    }
    return generateConsistencyProof(this.subtrees, from, to);
  }

  /** Proofs are served only up to the newest signed checkpoint: beyond it nothing is final. */
  private async checkRange(size: number): Promise<void> {
    const outOfRange = () => new LogError('SIZE_OUT_OF_RANGE', `size ${size} is not a signed log size`);
    if (!Number.isSafeInteger(size) || size < 1) throw outOfRange();
    if (size <= this.signedFloor) return;
    if (size > (await this.signedSize())) throw outOfRange();
  }
}

/** The log's frontier as of the last seal; `lock` takes the log's row lock (inside a transaction). */
export async function readFrontier(db: Queryable, lock = false): Promise<Frontier> {
  const { rows } = await db.query<{ size: string; frontier: Buffer[] }>(
    `select size, frontier from log_state where id${lock ? ' for update' : ''}`,
  );
  const row = rows[0];
  if (!row) return { size: 0, hashes: [] };
  return { size: Number(row.size), hashes: row.frontier.map((h) => new Uint8Array(h)) };
}

/** The stored hash of leaf `index` (its level-0 subtree), or 32 zero bytes when it is missing. */
export async function storedLeafHash(db: Queryable, index: number): Promise<Uint8Array> {
  return (await readSubtreeMap(db, [{ level: 0, index }])).get(`0:${index}`) ?? new Uint8Array(32);
}
