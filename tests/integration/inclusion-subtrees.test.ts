// lz_inclusion_subtrees (migration 0500) lets a verify lookup read a record and its inclusion
// proof's subtree hashes in one query. It must name exactly the subtrees proof/'s
// generateInclusionProof asks for: checked on real PostgreSQL for every leaf of every log size up
// to 160, and for sampled leaves of large sizes (up to 2^40 + 3, beyond 32-bit arithmetic).
import { randomInt } from 'node:crypto';
import { generateInclusionProof, type SubtreeRef } from '@lianzheng/proof';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUBMISSION_SELECT_WITH_INCLUSION } from '../../gateway/src/intake/submission-store.ts';
import { startTestDatabase, type TestDatabase } from './pipeline-support.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await startTestDatabase();
});

afterAll(async () => {
  await db?.stop();
});

/** The subtrees proof/ reads for the proof of leaf m in a log of n, as sorted "level/index". */
async function askedByProof(m: number, n: number): Promise<string[]> {
  let asked: SubtreeRef[] = [];
  await generateInclusionProof(
    {
      getSubtrees: async (refs) => {
        asked = refs;
        return refs.map(() => new Uint8Array(32));
      },
    },
    m,
    n,
  );
  return asked.map((r) => `${r.level}/${r.index}`).sort();
}

/** The same from PostgreSQL, for several leaves of one size at once. */
async function namedBySql(leaves: number[], n: number): Promise<Map<number, string[]>> {
  const { rows } = await db.pool.query<{ m: string; refs: string[] | null }>(
    `select l.m, (select array_agg(t.level || '/' || t.idx) from lz_inclusion_subtrees(l.m, $2) t) as refs
       from unnest($1::bigint[]) as l(m)`,
    [leaves.map(String), String(n)],
  );
  return new Map(rows.map((r) => [Number(r.m), (r.refs ?? []).sort()]));
}

describe('lz_inclusion_subtrees', () => {
  it('names the subtrees of proof/ for every leaf of every log of 1 to 160 leaves', async () => {
    let compared = 0;
    for (let n = 1; n <= 160; n++) {
      const leaves = Array.from({ length: n }, (_, m) => m);
      const sql = await namedBySql(leaves, n);
      for (const m of leaves) {
        expect(sql.get(m), `leaf ${m} of ${n}`).toEqual(await askedByProof(m, n));
        compared++;
      }
    }
    expect(compared).toBe((160 * 161) / 2);
  });

  it('agrees on sampled leaves of large logs', async () => {
    for (const n of [1_048_576, 1_048_577, 10_000_007, 123_456_789, 2 ** 40 + 3]) {
      const leaves = [
        0,
        1,
        n - 2,
        n - 1,
        Math.floor(n / 2),
        ...Array.from({ length: 40 }, () => randomInt(0, Math.min(n, 2 ** 48 - 1))),
      ];
      const sql = await namedBySql(leaves, n);
      for (const m of leaves) expect(sql.get(m), `leaf ${m} of ${n}`).toEqual(await askedByProof(m, n));
    }
  });

  it('names nothing for a leaf outside the log, or for a record in no batch (null size)', async () => {
    const { rows } = await db.pool.query(
      `select (select count(*) from lz_inclusion_subtrees(5, 5)) as at_size,
              (select count(*) from lz_inclusion_subtrees(-1, 5)) as negative,
              (select count(*) from lz_inclusion_subtrees(0, null)) as no_batch,
              (select count(*) from lz_inclusion_subtrees(0, 1)) as single`,
    );
    expect(rows[0]).toEqual({ at_size: '0', negative: '0', no_batch: '0', single: '0' });
  });

  it("is joined to log_tiles by primary key in the verify query's plan, not by reading the whole table", async () => {
    // As many tiles as a log of ~2.5 million leaves has (one hash each here: the plan depends on
    // the row count), with statistics. Before migration 0501 the planner took the function for
    // 1,000 rows and hash-joined a sequential scan of the subtrees into every verify lookup (5 ms
    // each at 20,000 leaves, growing with the log); 0990 put the subtrees in tiles, looked up by
    // (level / 6, idx >> (6 - level % 6), migration 0992). (A log of a few hundred tiles is read whole, which
    // costs a few pages.)
    await db.pool.query(
      `insert into log_tiles (level, idx, hashes)
       select 0, i, sha256(int8send(i)) from generate_series(0, 39999) i`,
    );
    try {
      await db.pool.query('analyze log_tiles');
      const { rows } = await db.pool.query<{ 'QUERY PLAN': string }>(
        `explain ${SUBMISSION_SELECT_WITH_INCLUSION} where s.sha256 = $1`,
        ['00'.repeat(32)],
      );
      const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
      expect(plan).toMatch(/Index Scan using log_tiles_pkey on log_tiles/);
      expect(plan).not.toMatch(/Seq Scan on log_tiles/);
    } finally {
      await db.pool.query('delete from log_tiles');
    }
  });
});
