// Migrations that move data, run on rows written the way older gateways wrote them: each version
// applied in turn, as an upgrade applies them to a database that already holds records.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readMigrations, runMigrations } from '../../gateway/src/storage/migrate.ts';
import { startTestDatabase, type TestDatabase } from './pipeline-support.ts';

let db: TestDatabase;
let versions: number[];

const below = (limit: number) => new Set(versions.filter((v) => v < limit));

beforeAll(async () => {
  db = await startTestDatabase({ migrate: false });
  versions = (await readMigrations()).map((m) => m.version);
});

afterAll(async () => {
  await db?.stop();
});

interface OldRow {
  id: string;
  kind: string;
  record: string;
  status: 'accepted' | 'recorded' | 'anchored' | 'rejected';
  leaf: number | null;
  rejectCode?: string;
}

describe('upgrading a database that holds records', () => {
  const ids = Array.from({ length: 7 }, () => randomUUID());
  const rows: OldRow[] = [
    { id: ids[0]!, kind: 'notice', record: `{"id":"${ids[0]}"}`, status: 'anchored', leaf: 0 },
    { id: ids[1]!, kind: 'contract', record: `{"id":"${ids[1]}"}`, status: 'anchored', leaf: 1 },
    { id: ids[2]!, kind: 'notice', record: `{"id":"${ids[2]}"}`, status: 'recorded', leaf: 2 },
    {
      id: ids[3]!,
      kind: 'payment_approval',
      record: `{"id":"${ids[3]}"}`,
      status: 'rejected',
      leaf: null,
      rejectCode: 'PAYMENT_WITHOUT_CONTRACT',
    },
    {
      id: ids[4]!,
      kind: 'notice',
      record: `{"id":"${ids[4]}","supersedes":"${ids[2]}"}`,
      status: 'accepted',
      leaf: null,
    },
    {
      id: ids[5]!,
      kind: 'withdrawal',
      record: `{"id":"${ids[5]}","refs":["${ids[1]}"]}`,
      status: 'accepted',
      leaf: null,
    },
    { id: ids[6]!, kind: 'notice', record: `{"id":"${ids[6]}"}`, status: 'recorded', leaf: 3 },
  ];

  it('0400 gives queued supersedes and withdrawals their link_target', async () => {
    await runMigrations(db.pool, { only: below(400) });
    for (const r of rows) {
      await db.pool.query(
        `insert into submissions (id, project_id, sha256, kind, record_json, details_json, receipt, status, leaf_index,
                                  reject_code, accepted_at)
         values ($1::uuid, 'p', md5($1::text) || md5($1::text), $2, $3, '{}', '', $4, $5, $6, now())`,
        [r.id, r.kind, r.record, r.status, r.leaf, r.rejectCode ?? null],
      );
    }
    await db.pool.query(
      `insert into anchors (chain_id, contract, sender, origin, size, root, status)
       values (1337, '0x0', '0x0', 'o', 2, repeat('0', 64), 'confirmed')`,
    );
    await runMigrations(db.pool, { only: new Set(versions.filter((v) => v >= 400 && v < 700)) });
    const { rows: targets } = await db.pool.query<{ id: string; link_target: string | null }>(
      'select id::text, link_target::text from submissions where link_target is not null order by seq',
    );
    expect(targets).toEqual([
      { id: ids[4], link_target: ids[2] },
      { id: ids[5], link_target: ids[1] },
    ]);
  });

  it('0700 moves the pipeline state out of the rows and derives the same statuses', async () => {
    await runMigrations(db.pool);
    const { rows: states } = await db.pool.query<{
      id: string;
      status: string;
      leaf_index: string | null;
      reject_code: string | null;
    }>('select id::text, status, leaf_index, reject_code from submission_states order by seq');
    expect(states).toEqual(
      rows.map((r) => ({
        id: r.id,
        status: r.status,
        leaf_index: r.leaf === null ? null : String(r.leaf),
        reject_code: r.rejectCode ?? null,
      })),
    );
    const { rows: queue } = await db.pool.query<{ id: string }>(
      'select s.id::text from seal_queue q join submissions s on s.seq = q.seq order by q.seq',
    );
    expect(queue.map((q) => q.id)).toEqual([ids[4], ids[5]]);
    const { rows: anchored } = await db.pool.query<{ size: string }>('select size from log_anchored');
    expect(anchored).toEqual([{ size: '2' }]);
    // The write-once row has no pipeline columns left to update.
    const { rows: columns } = await db.pool.query<{ column_name: string }>(
      `select column_name from information_schema.columns
        where table_name = 'submissions' and column_name in ('status', 'leaf_index', 'reject_code')`,
    );
    expect(columns).toEqual([]);
  });
});
