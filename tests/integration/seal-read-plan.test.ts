// The seal's read (QUEUED_FOR_SEAL) must cost what the batch costs, not what the log holds: a
// plain join of seal_queue and submissions got, on the gateway's pool (no parallel workers) and
// with statistics that had not seen the burst, a merge join walking submissions from its first row
// every seal (196–318 ms for 10,000 queued at 200,000 records). Checked on real PostgreSQL with
// the plan it chooses, statistics stale and fresh.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUED_FOR_SEAL } from '../../gateway/src/intake/submission-store.ts';
import { startTestDatabase, type TestDatabase } from './pipeline-support.ts';

let db: TestDatabase;
const ROWS = 60_000;
const QUEUED = 2_000;

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  Plans?: PlanNode[];
}
const nodes = (p: PlanNode): PlanNode[] => [p, ...(p.Plans ?? []).flatMap(nodes)];

beforeAll(async () => {
  db = await startTestDatabase();
  // A log that has sealed most of what it accepted, no ANALYZE since the burst.
  await db.pool.query(
    `with s as (
       insert into submissions (id, project_id, sha256, kind, record_json, details_json, receipt, accepted_at)
       select gen_random_uuid(), 'p', encode(sha256(int8send(i)), 'hex'), 'notice', '{}', '{}', 'r', now()
         from generate_series(1, $1::int) as i
       returning seq)
     insert into seal_queue (seq) select seq from s where seq > $1::int - $2::int`,
    [ROWS, QUEUED],
  );
}, 120_000);

afterAll(async () => {
  await db?.stop();
});

async function planOf(limit: number, after = 0): Promise<PlanNode[]> {
  const client = await db.pool.connect();
  try {
    await client.query('set max_parallel_workers_per_gather = 0'); // as the gateway's pool
    const { rows } = await client.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
      `explain (analyze, format json) ${QUEUED_FOR_SEAL}`,
      [limit, String(after)],
    );
    return nodes(rows[0]!['QUERY PLAN'][0].Plan);
  } finally {
    client.release();
  }
}

describe("the seal's read", () => {
  for (const stats of ['stale', 'fresh'] as const) {
    it(`reads only the queued rows of submissions, each by its key (statistics ${stats})`, async () => {
      if (stats === 'fresh') await db.pool.query('analyze submissions, seal_queue');
      const plan = await planOf(1_000);
      const shown = plan
        .map((n) => `${n['Node Type']} ${n['Relation Name'] ?? ''} ${n['Index Name'] ?? ''}`)
        .join(' > ');
      const onSubmissions = plan.filter((n) => n['Relation Name'] === 'submissions');
      expect(onSubmissions, shown).toHaveLength(1);
      expect(onSubmissions[0]!['Index Name'], shown).toBe('submissions_pkey');
      // One probe per queued seq asked for, one row each: never a walk from the first row.
      expect(onSubmissions[0]!['Actual Loops'] * onSubmissions[0]!['Actual Rows'], shown).toBe(1_000);
      const { rows } = await db.pool.query<{ seq: string }>(QUEUED_FOR_SEAL, [5, '0']);
      expect(rows.map((r) => Number(r.seq))).toEqual([1, 2, 3, 4, 5].map((i) => ROWS - QUEUED + i));

      // The batcher's read ahead (the queue after a batch being recorded): the same plan.
      const after = ROWS - QUEUED + 500;
      const ahead = await planOf(1_000, after);
      const aheadOnSubmissions = ahead.filter((n) => n['Relation Name'] === 'submissions');
      expect(aheadOnSubmissions).toHaveLength(1);
      expect(aheadOnSubmissions[0]!['Index Name']).toBe('submissions_pkey');
      expect(aheadOnSubmissions[0]!['Actual Loops'] * aheadOnSubmissions[0]!['Actual Rows']).toBe(1_000);
      const { rows: next } = await db.pool.query<{ seq: string }>(QUEUED_FOR_SEAL, [2, String(after)]);
      expect(next.map((r) => Number(r.seq))).toEqual([after + 1, after + 2]);
    });
  }
});
