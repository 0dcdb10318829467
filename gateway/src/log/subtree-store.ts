import type { SubtreeHash, SubtreeSource } from '@lianzheng/proof';
import type pg from 'pg';

/** Anything that runs a query: the pool, or a client inside a transaction. */
export interface Queryable {
  query: pg.Pool['query'];
}

/**
 * The log's complete subtrees in PostgreSQL (`log_subtrees`). Reads are one indexed query per
 * proof, writes one `INSERT … SELECT unnest` per seal, so a seal of 10,000 leaves is a single
 * round trip however many subtrees it completes.
 */
export class PgSubtreeStore implements SubtreeSource {
  constructor(private readonly db: Queryable) {}

  async getSubtrees(refs: { level: number; index: number }[]): Promise<Uint8Array[]> {
    return readSubtrees(this.db, refs);
  }
}

export async function readSubtrees(
  db: Queryable,
  refs: { level: number; index: number }[],
): Promise<Uint8Array[]> {
  if (refs.length === 0) return [];
  const levels = refs.map((r) => r.level);
  const indexes = refs.map((r) => String(r.index));
  const { rows } = await db.query<{ level: number; idx: string; hash: Buffer }>(
    `select s.level, s.idx, s.hash
       from unnest($1::smallint[], $2::bigint[]) as r(level, idx)
       join log_subtrees s on s.level = r.level and s.idx = r.idx`,
    [levels, indexes],
  );
  const found = new Map<string, Uint8Array>();
  for (const row of rows) found.set(`${row.level}:${row.idx}`, new Uint8Array(row.hash));
  return refs.map((r) => {
    const hash = found.get(`${r.level}:${r.index}`);
    if (!hash) throw new MissingSubtreeError(r.level, r.index);
    return hash;
  });
}

/** Stores subtrees in one statement. A repeat of the same subtree is ignored (same hash). */
export async function writeSubtrees(db: Queryable, subtrees: readonly SubtreeHash[]): Promise<void> {
  if (subtrees.length === 0) return;
  const levels = new Array<number>(subtrees.length);
  const indexes = new Array<string>(subtrees.length);
  const hashes = new Array<Uint8Array>(subtrees.length);
  for (let i = 0; i < subtrees.length; i++) {
    const s = subtrees[i]!;
    levels[i] = s.level;
    indexes[i] = String(s.index);
    hashes[i] = s.hash;
  }
  await db.query(
    `insert into log_subtrees (level, idx, hash)
     select * from unnest($1::smallint[], $2::bigint[], $3::bytea[])
     on conflict (level, idx) do nothing`,
    [levels, indexes, hashes],
  );
}

/** Deletes every subtree that reaches beyond `size` leaves (used to undo an unrecorded seal). */
export async function truncateSubtrees(db: Queryable, size: number): Promise<void> {
  await db.query('delete from log_subtrees where (idx + 1) * (1::bigint << level) > $1', [String(size)]);
}

/** The complete subtrees a log of `size` leaves consists of, largest first (its frontier). */
export function frontierRefs(size: number): { level: number; index: number }[] {
  const refs: { level: number; index: number }[] = [];
  let offset = 0;
  for (let level = 52; level >= 0; level--) {
    const width = 2 ** level;
    if (Math.floor(size / width) % 2 === 1) {
      refs.push({ level, index: offset / width });
      offset += width;
    }
  }
  return refs;
}

export class MissingSubtreeError extends Error {
  readonly code = 'MISSING_SUBTREE';
  constructor(
    readonly level: number,
    readonly index: number,
  ) {
    super(`MISSING_SUBTREE: level ${level} index ${index}`);
    this.name = 'MissingSubtreeError';
  }
}
