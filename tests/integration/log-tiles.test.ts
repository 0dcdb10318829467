// The log's subtrees in tiles (migrations 0990 and 0992, gateway/src/log/subtree-store.ts), on real
// PostgreSQL: the upgrade converts a log_subtrees table in place (into 0990's eight-level tiles,
// then 0992's six-level ones) and every subtree reads back the
// same; seals appended in batches of any size, truncations and re-appends leave exactly the
// subtrees inside the log's size, with the hashes proof/ computes; the JS and SQL layouts agree.
import { randomInt } from 'node:crypto';
import {
  appendLeavesWithSubtrees,
  emptyFrontier,
  type Frontier,
  leafHash,
  type SubtreeHash,
  toHex,
} from '@lianzheng/proof';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storedLeafHash } from '../../gateway/src/log/log-store.ts';
import {
  readSubtreeMap,
  tileSlot,
  truncateSubtrees,
  writeSubtrees,
} from '../../gateway/src/log/subtree-store.ts';
import { byteaArray, int2Array, int8Array } from '../../gateway/src/storage/binary-arrays.ts';
import { readMigrations, runMigrations } from '../../gateway/src/storage/migrate.ts';
import { startTestDatabase, type TestDatabase } from './pipeline-support.ts';

let db: TestDatabase;
let versions: number[];

beforeAll(async () => {
  db = await startTestDatabase({ migrate: false });
  versions = (await readMigrations()).map((m) => m.version);
});

afterAll(async () => {
  await db?.stop();
});

/** A log of `size` leaves: every subtree it completes, and its frontier after each size. */
function referenceLog(size: number): { subtrees: SubtreeHash[]; frontiers: Frontier[] } {
  let frontier = emptyFrontier();
  const frontiers = [frontier];
  const subtrees: SubtreeHash[] = [];
  for (let i = 0; i < size; i++) {
    const step = appendLeavesWithSubtrees(frontier, [leafHash(new Uint8Array([i & 255, i >> 8, i >> 16]))]);
    subtrees.push(...step.subtrees);
    frontier = step.frontier;
    frontiers.push(frontier);
  }
  return { subtrees, frontiers };
}

// 1,300 leaves reach tile level 1 (the tree's levels 6–10); 4,096 would fill a level-1 tile.
const LEAVES = 1300;
const log = referenceLog(LEAVES);
const within = (s: SubtreeHash, size: number) => (s.index + 1) * 2 ** s.level <= size;

/** Every subtree of the reference log, read back: found ones by hex, and the count not found. */
async function readAll(): Promise<{ hashes: Map<string, string>; missing: number }> {
  const found = await readSubtreeMap(db.pool, log.subtrees);
  const hashes = new Map<string, string>();
  for (const [key, hash] of found) hashes.set(key, toHex(hash));
  return { hashes, missing: log.subtrees.length - found.size };
}

function expected(size: number): Map<string, string> {
  return new Map(
    log.subtrees.filter((s) => within(s, size)).map((s) => [`${s.level}:${s.index}`, toHex(s.hash)]),
  );
}

describe('migrations 0990 and 0992', () => {
  it('converts log_subtrees into tiles in place, every subtree answering as before', async () => {
    await runMigrations(db.pool, { only: new Set(versions.filter((v) => v < 990)) });
    const stored = log.subtrees.filter((s) => within(s, 1234));
    await db.pool.query(
      `insert into log_subtrees (level, idx, hash) select * from unnest($1::smallint[], $2::bigint[], $3::bytea[])`,
      [
        int2Array(stored.map((s) => s.level)),
        int8Array(stored.map((s) => s.index)),
        byteaArray(stored.map((s) => s.hash)),
      ],
    );
    await runMigrations(db.pool);
    const { hashes, missing } = await readAll();
    expect(hashes).toEqual(expected(1234));
    expect(missing).toBe(log.subtrees.length - stored.length);
    const { rows } = await db.pool.query<{ level: number; n: string }>(
      'select level, count(*) as n from log_tiles group by level order by level',
    );
    // 1,234 leaves: tiles 0–19 of level 0 (the last partial), one of level 1 holding levels 6–10.
    expect(rows).toEqual([
      { level: 0, n: '20' },
      { level: 1, n: '1' },
    ]);
    expect(await db.pool.query('select to_regclass($1) as t', ['log_subtrees'])).toMatchObject({
      rows: [{ t: null }],
    });
  });
});

describe('log tiles', () => {
  it('places every subtree where SQL looks for it, beyond 32-bit indexes too', async () => {
    const refs = [
      ...log.subtrees.map((s) => ({ level: s.level, index: s.index })),
      ...Array.from({ length: 2000 }, () => {
        const level = randomInt(0, 53);
        return { level, index: randomInt(0, 2 ** Math.min(47, 52 - level) + 1) };
      }),
    ];
    const { rows } = await db.pool.query<{ tl: number; ti: string; off: number }>(
      `select r.level / 6 as tl, (r.idx >> (6 - r.level % 6))::text as ti, lz_tile_offset(r.level, r.idx) as off
         from unnest($1::smallint[], $2::bigint[]) with ordinality as r(level, idx, n) order by r.n`,
      [int2Array(refs.map((r) => r.level)), int8Array(refs.map((r) => r.index))],
    );
    const sql = rows.map((r) => `${r.tl}/${r.ti}/${r.off}`);
    const js = refs.map((r) => {
      const t = tileSlot(r.level, r.index);
      return `${t.tileLevel}/${t.tileIndex}/${t.offset}`;
    });
    expect(js).toEqual(sql);
    // Within a tile the completion order is a bijection onto 0 … 125.
    const inTile = log.subtrees.filter((s) => {
      const t = tileSlot(s.level, s.index);
      return t.tileLevel === 0 && t.tileIndex === 1;
    });
    expect(inTile.map((s) => tileSlot(s.level, s.index).offset)).toEqual(
      Array.from({ length: 126 }, (_, i) => 32 * i),
    );
  });

  it('appends seals of any size, truncates and appends again, holding exactly the log', async () => {
    for (let round = 0; round < 3; round++) {
      await db.pool.query('truncate log_tiles');
      let size = 0;
      const seal = async (to: number) => {
        const step = appendLeavesWithSubtrees(
          log.frontiers[size]!,
          log.subtrees.filter((s) => s.level === 0 && s.index >= size && s.index < to).map((s) => s.hash),
        );
        expect(step.frontier).toEqual(log.frontiers[to]);
        const client = await db.pool.connect();
        try {
          await client.query('begin');
          await writeSubtrees(client, step.subtrees);
          await client.query('commit');
        } finally {
          client.release();
        }
        size = to;
      };
      while (size < LEAVES) await seal(Math.min(LEAVES, size + randomInt(1, round === 0 ? 40 : 600)));
      expect((await readAll()).hashes).toEqual(expected(LEAVES));
      const cut = randomInt(0, LEAVES);
      await truncateSubtrees(db.pool, cut);
      const after = await readAll();
      expect(after.hashes).toEqual(expected(cut));
      size = cut;
      while (size < LEAVES) await seal(Math.min(LEAVES, size + randomInt(1, 300)));
      expect((await readAll()).hashes).toEqual(expected(LEAVES));
      expect(toHex(await storedLeafHash(db.pool, 777))).toBe(
        toHex(log.subtrees.find((s) => s.level === 0 && s.index === 777)!.hash),
      );
      expect(toHex(await storedLeafHash(db.pool, LEAVES))).toBe('00'.repeat(32));
    }
  });

  it('refuses a write that would leave a gap in a tile, and a repeat writes the same bytes', async () => {
    await db.pool.query('truncate log_tiles');
    const first = log.subtrees.filter((s) => within(s, 10));
    await writeSubtrees(db.pool, first);
    const next = log.subtrees.filter((s) => within(s, 20) && !within(s, 12));
    await expect(writeSubtrees(db.pool, next)).rejects.toThrow(/gap/);
    await expect(writeSubtrees(db.pool, [next[1]!, next[0]!])).rejects.toThrow(/not next/);
    await writeSubtrees(db.pool, first);
    expect((await readAll()).hashes).toEqual(expected(10));
  });
});
