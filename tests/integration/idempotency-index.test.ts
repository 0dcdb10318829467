// The Idempotency-Key's uniqueness is kept by a unique index of the rows that have a key
// (migration 0994; issue #26): rows without one — most of them — add no entry, a repeated key is
// still refused, and the replay lookup (IDEMPOTENT_LOOKUP) can still probe that index. Checked on
// real PostgreSQL: the index's entries after VACUUM, the error of a repeated key, and the plan the
// lookup gets when a sequential scan is made as costly as it can be.
import { describe, expect, it } from 'vitest';
import { IDEMPOTENT_LOOKUP } from '../../gateway/src/intake/submission-store.ts';
import type { KeyRing } from '../../gateway/src/keys/key-ring.ts';
import { demoProject, insertSubmissions, makeEntry, type TestDatabase } from './pipeline-support.ts';
import { useTestDatabase } from './test-database.ts';

let db: TestDatabase;
let keys: KeyRing;
useTestDatabase((started) => ({ db, keys } = started));

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Relation Name'?: string;
  Plans?: PlanNode[];
}
const nodes = (plan: PlanNode): PlanNode[] => [plan, ...(plan.Plans ?? []).flatMap(nodes)];

describe('the Idempotency-Key index', () => {
  it('holds only the rows with a key, refuses a repeated key, and serves the replay lookup', async () => {
    const projectId = demoProject().id;
    const entries = Array.from({ length: 2_000 }, () => makeEntry({ projectId, kind: 'notice' }));
    await insertSubmissions(db.pool, keys, entries);
    // Three of them carry keys (as a partner's POST with an Idempotency-Key would).
    for (const [i, e] of entries.slice(0, 3).entries()) {
      await db.pool.query(
        "update submissions set idem_scope = 'partner-a', idempotency_key = $2, request_hash = 'h' where id = $1",
        [e.record.id, `key-${i}`],
      );
    }
    const repeated = await db.pool
      .query("update submissions set idem_scope = 'partner-a', idempotency_key = 'key-0' where id = $1", [
        entries[3]!.record.id,
      ])
      .catch((e: { code?: string; constraint?: string }) => e);
    expect(repeated).toMatchObject({ code: '23505', constraint: 'submissions_idempotency' });
    // The same key in another caller's scope is another key.
    await db.pool.query(
      "update submissions set idem_scope = 'partner-b', idempotency_key = 'key-0' where id = $1",
      [entries[4]!.record.id],
    );

    // VACUUM, made to scan the indexes, counts their entries: one per keyed row (a unique
    // constraint's index had one for each of the 2,000).
    await db.pool.query('vacuum (index_cleanup on) submissions');
    const { rows: index } = await db.pool.query<{ entries: number; unique: boolean; def: string }>(
      `select c.reltuples::int as entries, i.indisunique as unique, pg_get_indexdef(c.oid) as def
         from pg_class c join pg_index i on i.indexrelid = c.oid where c.relname = 'submissions_idempotency'`,
    );
    expect(index[0]).toMatchObject({ entries: 4, unique: true });
    expect(index[0]!.def).toMatch(/WHERE \(idempotency_key IS NOT NULL\)/);

    // The replay lookup finds its own scope's rows, and its plan probes the partial index even
    // when the planner is told a sequential scan is free (it could not, were the predicate not
    // implied by the query).
    const found = await db.pool.query<{ id: string; idempotency_key: string }>(IDEMPOTENT_LOOKUP, [
      'partner-a',
      '{key-0,key-2,key-9}',
    ]);
    expect(found.rows.map((r) => [r.id, r.idempotency_key]).sort()).toEqual(
      [
        [entries[0]!.record.id, 'key-0'],
        [entries[2]!.record.id, 'key-2'],
      ].sort(),
    );
    const client = await db.pool.connect();
    try {
      await client.query('set enable_seqscan = off');
      const { rows } = await client.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
        `explain (format json) ${IDEMPOTENT_LOOKUP}`,
        ['partner-a', '{key-0}'],
      );
      const plan = nodes(rows[0]!['QUERY PLAN'][0].Plan);
      expect(plan.map((n) => n['Index Name'])).toContain('submissions_idempotency');
      // (The view's one-row tables may be scanned; the submissions never.)
      expect(plan.filter((n) => n['Relation Name'] === 'submissions').map((n) => n['Node Type'])).toEqual([
        'Index Scan',
      ]);
    } finally {
      client.release();
    }
  });
});
