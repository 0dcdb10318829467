import type { SubtreeHash, SubtreeRef, SubtreeSource } from '@lianzheng/proof';
import type DataLoader from 'dataloader';
import { byteaArray, int2Array, int8Array } from '../storage/binary-arrays.ts';
import { type CoalescedReadOptions, coalescedReads } from '../storage/coalesced-reads.ts';
import type { Queryable } from '../storage/queryable.ts';

/**
 * The log's subtrees for serving proofs: concurrent proofs' reads gathered into one query (many
 * verify lookups at once share most of their upper path, read once), and the upper levels' hashes
 * kept in memory. A subtree of level L is on the path of 2^L leaves' proofs, so levels from
 * `keepFromLevel` up (an eighth of the log's subtrees at level 4) serve most of every path; the
 * few lowest ones are read each time. A complete subtree inside a signed log size never changes —
 * proofs are served only up to signed sizes, and only subtrees beyond them are ever rewritten
 * (truncateSubtrees undoes an unrecorded seal) — so a kept hash needs no invalidation.
 */
export class CachedSubtreeStore implements SubtreeSource {
  private readonly kept = new Map<string, Uint8Array>();
  private readonly loader: DataLoader<string, Uint8Array>;

  constructor(
    db: Queryable,
    private readonly options: CoalescedReadOptions & {
      /** Most hashes kept (default 100,000, ~15 MB: the upper levels of a log of 800,000 leaves). */
      cacheSize?: number;
      /** Lowest level kept (default 4). */
      keepFromLevel?: number;
    } = {},
  ) {
    this.loader = coalescedReads<string, Uint8Array>(
      async (keys) => {
        // Proofs read together share subtrees: ask for each once.
        const found = await readSubtreeMap(db, [...new Set(keys)].map(parseRefKey));
        return keys.map((key) => {
          const hash = found.get(key);
          if (hash) return hash;
          const { level, index } = parseRefKey(key);
          return new MissingSubtreeError(level, index);
        });
      },
      { maxBatchSize: 4096, ...options },
    );
  }

  async getSubtrees(refs: SubtreeRef[]): Promise<Uint8Array[]> {
    const hashes = new Array<Uint8Array>(refs.length);
    const missing: number[] = [];
    for (let i = 0; i < refs.length; i++) {
      const key = refKey(refs[i]!);
      const hit = this.kept.get(key);
      if (hit) hashes[i] = hit;
      else missing.push(i);
    }
    if (missing.length === 0) return hashes;
    const keys = missing.map((i) => refKey(refs[i]!));
    const loaded = await this.loader.loadMany(keys);
    const max = this.options.cacheSize ?? 100_000;
    const lowest = this.options.keepFromLevel ?? 4;
    for (let j = 0; j < missing.length; j++) {
      const hash = loaded[j]!;
      if (hash instanceof Error) throw hash;
      const i = missing[j]!;
      hashes[i] = hash;
      if (refs[i]!.level < lowest) continue;
      // Oldest first out: the log's newest subtrees are the ones lookups ask for most.
      if (this.kept.size >= max) this.kept.delete(this.kept.keys().next().value!);
      this.kept.set(keys[j]!, hash);
    }
    return hashes;
  }
}

const refKey = (r: SubtreeRef): string => `${r.level}:${r.index}`;
function parseRefKey(key: string): SubtreeRef {
  const colon = key.indexOf(':');
  return { level: Number(key.slice(0, colon)), index: Number(key.slice(colon + 1)) };
}

export async function readSubtrees(
  db: Queryable,
  refs: { level: number; index: number }[],
): Promise<Uint8Array[]> {
  if (refs.length === 0) return [];
  const found = await readSubtreeMap(db, refs);
  return refs.map((r) => {
    const hash = found.get(refKey(r));
    if (!hash) throw new MissingSubtreeError(r.level, r.index);
    return hash;
  });
}

/** The hashes of those of `refs` that exist, by "level:index". */
export async function readSubtreeMap(
  db: Queryable,
  refs: readonly SubtreeRef[],
): Promise<Map<string, Uint8Array>> {
  const levels = refs.map((r) => r.level);
  const indexes = refs.map((r) => String(r.index));
  const { rows } = await db.query<{ level: number; idx: string; hash: Buffer }>({
    name: 'lz-read-subtrees',
    text: `select s.level, s.idx, s.hash
             from unnest($1::smallint[], $2::bigint[]) as r(level, idx)
             join log_subtrees s on s.level = r.level and s.idx = r.idx`,
    values: [int2Array(levels), int8Array(indexes)],
  });
  const found = new Map<string, Uint8Array>();
  for (const row of rows) found.set(`${row.level}:${row.idx}`, new Uint8Array(row.hash));
  return found;
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
    [int2Array(levels), int8Array(indexes), byteaArray(hashes)],
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
