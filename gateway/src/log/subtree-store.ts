import type { SubtreeHash, SubtreeRef, SubtreeSource } from '@lianzheng/proof';
import type DataLoader from 'dataloader';
import { setBounded } from '../bounded-map.ts';
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
      setBounded(this.kept, keys[j]!, hash, max);
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
  // Each subtree is a 32-byte slice of its tile (migrations 0990, 0992); a tile still filling is
  // a prefix, so a subtree exists when its tile reaches past its slice. A tile (≤ 4,032 bytes)
  // stays in its row, so the slice is read from the row the primary key found. The slots are
  // computed here: the SQL function costs microseconds a call where PostgreSQL does not inline it.
  const slots = refs.map((r) => tileSlot(r.level, r.index));
  const { rows } = await db.query<{ level: number; idx: string; hash: Buffer }>({
    name: 'lz-read-subtrees',
    text: `select r.level, r.idx, substring(t.hashes from r.off + 1 for 32) as hash
             from unnest($1::smallint[], $2::bigint[], $3::smallint[], $4::bigint[], $5::int8[]::int4[]) as r(level, idx, tl, ti, off)
             join log_tiles t on t.level = r.tl and t.idx = r.ti
            where octet_length(t.hashes) >= r.off + 32`,
    values: [
      int2Array(levels),
      int8Array(indexes),
      int2Array(slots.map((s) => s.tileLevel)),
      int8Array(slots.map((s) => s.tileIndex)),
      int8Array(slots.map((s) => s.offset)),
    ],
  });
  const found = new Map<string, Uint8Array>();
  for (const row of rows) found.set(`${row.level}:${row.idx}`, new Uint8Array(row.hash));
  return found;
}

/** Tree levels a tile holds (migration 0992): 64 hashes of its lowest level and the 5 above. */
const TILE_LEVELS = 6;

/**
 * Nodes of a tile's levels complete once `m` (< 64) of its 64 base hashes exist: m + m/2 + … +
 * m/32 (SQL lz_tile_nodes), small integers, so shifts.
 */
function tileNodes(m: number): number {
  let n = 0;
  for (let x = m; x > 0; x >>= 1) n += x;
  return n;
}

/**
 * Where subtree (level, index) lives: its tile's level and index and the byte offset of its hash
 * in the tile — the same as SQL's `level / 6`, `idx >> (6 - level % 6)` and lz_tile_offset
 * (tests/integration/log-tiles.test.ts compares them).
 */
export function tileSlot(
  level: number,
  index: number,
): { tileLevel: number; tileIndex: number; offset: number } {
  const r = level % TILE_LEVELS;
  const perTile = 2 ** (TILE_LEVELS - r);
  const j = index % perTile;
  return {
    tileLevel: (level - r) / TILE_LEVELS,
    tileIndex: Math.floor(index / perTile),
    offset: 32 * (tileNodes((j + 1) * 2 ** r - 1) + r),
  };
}

/**
 * Stores subtrees in one statement, appended to their tiles (migrations 0990, 0992). The log hands them
 * over in the order it completes them, which is each tile's order, so a tile's share is one run
 * of bytes from `start`; a tile that does not reach `start` would get a gap, and the statement
 * then fails rather than store it (the caller's transaction is rolled back). A repeat of subtrees
 * already stored writes the same bytes again.
 */
export async function writeSubtrees(db: Queryable, subtrees: readonly SubtreeHash[]): Promise<void> {
  if (subtrees.length === 0) return;
  const runs: { tileLevel: number; tileIndex: number; start: number; hashes: Uint8Array[] }[] = [];
  // Each tile level's tile being filled: in completion order a tile's subtrees come together
  // (interleaved only with other tile levels'), so no lookup by key is needed. A tile met again
  // after another of its level would be a second run for it, which the statement refuses.
  const filling: (typeof runs)[number][] = [];
  for (const s of subtrees) {
    const slot = tileSlot(s.level, s.index);
    const run = filling[slot.tileLevel];
    if (!run || run.tileIndex !== slot.tileIndex) {
      const fresh = {
        tileLevel: slot.tileLevel,
        tileIndex: slot.tileIndex,
        start: slot.offset,
        hashes: [s.hash],
      };
      filling[slot.tileLevel] = fresh;
      runs.push(fresh);
    } else if (slot.offset === run.start + 32 * run.hashes.length) run.hashes.push(s.hash);
    else throw new Error(`log tiles: subtree ${s.level}/${s.index} is not next in its tile`);
  }
  const { rows } = await db.query<{ n: number }>(
    `with u as (select * from unnest($1::smallint[], $2::bigint[], $3::bigint[], $4::bytea[]) as u(level, idx, start, bytes)),
     grown as (
       update log_tiles t set hashes = overlay(t.hashes placing u.bytes from (u.start + 1)::int)
         from u where t.level = u.level and t.idx = u.idx and octet_length(t.hashes) >= u.start
       returning 1),
     added as (
       insert into log_tiles (level, idx, hashes)
       select u.level, u.idx, u.bytes from u
        where u.start = 0 and not exists (select 1 from log_tiles t where t.level = u.level and t.idx = u.idx)
       returning 1)
     select ((select count(*) from grown) + (select count(*) from added))::int as n`,
    [
      int2Array(runs.map((r) => r.tileLevel)),
      int8Array(runs.map((r) => String(r.tileIndex))),
      int8Array(runs.map((r) => r.start)),
      byteaArray(runs.map((r) => Buffer.concat(r.hashes))),
    ],
  );
  if (rows[0]!.n !== runs.length)
    throw new Error(`log tiles: ${runs.length - rows[0]!.n} of ${runs.length} tiles would have a gap`);
}

/** Deletes every subtree that reaches beyond `size` leaves (used to undo an unrecorded seal). */
export async function truncateSubtrees(db: Queryable, size: number): Promise<void> {
  // Per tile level t, `base` = the tree's level-6t nodes inside `size`: tiles from base on go,
  // the one base falls in keeps the prefix its first base % 64 nodes complete.
  await db.query(
    `with t as (select l::smallint as level, $1::bigint >> (6 * l) as base from generate_series(0, 8) as l),
     gone as (delete from log_tiles x using t where x.level = t.level and x.idx * 64 >= t.base returning 1)
     update log_tiles x set hashes = substring(x.hashes for (32 * lz_tile_nodes(t.base % 64))::int)
       from t
      where x.level = t.level and x.idx = t.base / 64 and t.base % 64 > 0
        and octet_length(x.hashes) > 32 * lz_tile_nodes(t.base % 64)`,
    [String(size)],
  );
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
