// Marking records anchored writes one row (`log_anchored`), not the records: their status is
// derived from it (migration 0700), so an anchor covering 50,000 records costs the same as one
// covering 100 and leaves no dead row versions behind.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { markAnchored } from '../../gateway/src/anchor/anchorer.ts';
import { startTestDatabase, type TestDatabase } from './pipeline-support.ts';

let db: TestDatabase;
const ANCHORED = 50_000;
const RECORDED = 300;
const QUEUED = 7;

beforeAll(async () => {
  db = await startTestDatabase();
  // A log of 50,300 leaves whose first 50,000 were anchored long ago, then 300 recorded since,
  // and 7 submissions still queued.
  await db.pool.query(
    `with s as (
       insert into submissions (id, project_id, sha256, kind, record_json, details_json, receipt, accepted_at)
       select gen_random_uuid(), 'p', md5(g::text) || md5(g::text), 'notice', '{}', '{}', '', now()
         from generate_series(0, $1::int + $2::int + $3::int - 1) g
       returning seq)
     insert into log_leaves (leaf_index, seq)
     select seq - (select min(seq) from s), seq from s where seq - (select min(seq) from s) < $1::int + $2::int`,
    [ANCHORED, RECORDED, QUEUED],
  );
  await db.pool.query(
    `insert into seal_queue (seq)
     select s.seq from submissions s where not exists (select 1 from log_leaves l where l.seq = s.seq)`,
  );
  await db.pool.query('update log_anchored set size = $1', [ANCHORED]);
  await db.pool.query('analyze submissions, log_leaves, seal_queue');
});

afterAll(async () => {
  await db?.stop();
});

async function statusCounts(): Promise<Record<string, number>> {
  const { rows } = await db.pool.query<{ status: string; n: number }>(
    'select status, count(*)::int as n from submission_states group by status',
  );
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

/** Every submission row's version (an UPDATE writes a new one, with a new xmin and place). */
async function rowVersions(): Promise<string> {
  const { rows } = await db.pool.query<{ v: string }>(
    "select md5(string_agg(xmin::text || ctid::text, ',' order by seq)) as v from submissions",
  );
  return rows[0]!.v;
}

describe('marking records anchored', () => {
  it('derives every status from the leaves, the queue and the anchored size', async () => {
    expect(await statusCounts()).toEqual({ anchored: ANCHORED, recorded: RECORDED, accepted: QUEUED });
  });

  it('anchors exactly the recorded rows below the size, never lowers it, and rewrites no record', async () => {
    const versions = await rowVersions();
    const client = await db.pool.connect();
    try {
      await markAnchored(client, ANCHORED + 100);
      expect(await statusCounts()).toEqual({
        anchored: ANCHORED + 100,
        recorded: RECORDED - 100,
        accepted: QUEUED,
      });
      await markAnchored(client, ANCHORED + 100);
      await markAnchored(client, ANCHORED); // an older anchor confirmed late
      expect(await statusCounts()).toEqual({
        anchored: ANCHORED + 100,
        recorded: RECORDED - 100,
        accepted: QUEUED,
      });
      // A size beyond the log anchors what is recorded, not what is queued.
      await markAnchored(client, ANCHORED + RECORDED + QUEUED);
      expect(await statusCounts()).toEqual({ anchored: ANCHORED + RECORDED, accepted: QUEUED });
    } finally {
      client.release();
    }
    expect(await rowVersions()).toBe(versions);
  });
});
