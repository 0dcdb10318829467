// Marking records anchored touches only the records still 'recorded' (partial index
// submissions_recorded_leaf, migration 0201), not every record ever written: at a billion records
// the anchorer's update would otherwise read the whole leaf_index index every ten minutes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultMarkAnchored } from '../../gateway/src/anchor/anchorer.ts';
import { startTestDatabase, type TestDatabase } from './pipeline-support.ts';

let db: TestDatabase;
const ANCHORED = 50_000;
const RECORDED = 300;

beforeAll(async () => {
  db = await startTestDatabase();
  // A log of 50,300 leaves whose first 50,000 were anchored long ago, then 300 recorded since.
  await db.pool.query(
    `insert into submissions (id, project_id, sha256, kind, record_json, details_json, receipt, status, leaf_index, accepted_at)
     select gen_random_uuid(), 'p', md5(g::text) || md5(g::text), 'notice', '{}', '{}', '',
            case when g < $1::int then 'anchored' else 'recorded' end, g, now()
       from generate_series(0, $1::int + $2::int - 1) g`,
    [ANCHORED, RECORDED],
  );
  await db.pool.query('analyze submissions');
});

afterAll(async () => {
  await db?.stop();
});

async function statusCounts(): Promise<Record<string, number>> {
  const { rows } = await db.pool.query<{ status: string; n: number }>(
    'select status, count(*)::int as n from submissions group by status',
  );
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

describe('marking records anchored', () => {
  it('reads only the rows still recorded, through submissions_recorded_leaf', async () => {
    const client = await db.pool.connect();
    try {
      await client.query('begin');
      const { rows } = await client.query<{ 'QUERY PLAN': unknown }>(
        `explain (analyze, format json) update submissions set status = 'anchored'
          where status = 'recorded' and leaf_index is not null and leaf_index < $1`,
        [String(ANCHORED + 200)],
      );
      await client.query('rollback');
      const plan = JSON.stringify(rows[0]!['QUERY PLAN']);
      expect(plan).toContain('"Index Name":"submissions_recorded_leaf"');
      // The scan returned the 200 rows it changes, not the 50,000 anchored before them.
      const scan = JSON.stringify(rows[0]!['QUERY PLAN']).match(
        /"Index Name":"submissions_recorded_leaf"[^}]*"Actual Rows":(\d+)/,
      );
      expect(Number(scan?.[1])).toBe(200);
    } finally {
      client.release();
    }
  });

  it('anchors exactly the recorded rows below the size, and nothing twice', async () => {
    const client = await db.pool.connect();
    try {
      await defaultMarkAnchored(client, ANCHORED + 100);
      expect(await statusCounts()).toEqual({ anchored: ANCHORED + 100, recorded: RECORDED - 100 });
      await defaultMarkAnchored(client, ANCHORED + 100);
      expect(await statusCounts()).toEqual({ anchored: ANCHORED + 100, recorded: RECORDED - 100 });
      await defaultMarkAnchored(client, ANCHORED + RECORDED);
      expect(await statusCounts()).toEqual({ anchored: ANCHORED + RECORDED });
    } finally {
      client.release();
    }
  });
});
