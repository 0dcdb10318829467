// Migration 0970 (issue #26): a submission's row, ~2.3 KB, stays in the heap instead of having
// its receipt compressed (in vain) and moved to the TOAST table, which wrote a second heap insert
// and an index insert to the WAL per record. Rows above ~8 KB are still TOASTed.

import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { KeyRing } from '../../gateway/src/keys/key-ring.ts';
import { demoProject, insertSubmissions, makeEntry, type TestDatabase } from './pipeline-support.ts';
import { useTestDatabase } from './test-database.ts';

let db: TestDatabase;
let keys: KeyRing;

useTestDatabase((started) => ({ db, keys } = started));

async function toastRows(): Promise<number> {
  const { rows } = await db.pool.query<{ toast: string }>(
    "select reltoastrelid::regclass::text as toast from pg_class where relname = 'submissions'",
  );
  const count = await db.pool.query<{ n: string }>(`select count(*) as n from ${rows[0]!.toast}`);
  return Number(count.rows[0]!.n);
}

describe('submissions storage (0970)', () => {
  it('keeps rows of a few KB in the heap, and still TOASTs larger ones', async () => {
    const { rows: options } = await db.pool.query<{ reloptions: string[] }>(
      "select reloptions from pg_class where relname = 'submissions'",
    );
    expect(options[0]!.reloptions).toContain('toast_tuple_target=8160');

    const project = demoProject().id;
    // A title that takes the row past the default threshold (~2 KB), as receipts do in production.
    const typical = Array.from({ length: 20 }, () =>
      makeEntry({ projectId: project, kind: 'notice', details: { title: '村道硬化工程公告'.repeat(40) } }),
    );
    await insertSubmissions(db.pool, keys, typical);
    const { rows } = await db.pool.query<{ size: number }>(
      'select min(pg_column_size(s.*))::int as size from submissions s',
    );
    expect(rows[0]!.size).toBeGreaterThan(2100);
    expect(await toastRows()).toBe(0);

    // Random hex: pglz cannot bring it under 8 KB, so it must go out of line.
    const title = randomBytes(15_000).toString('hex');
    const large = makeEntry({ projectId: project, kind: 'notice', details: { title } });
    await insertSubmissions(db.pool, keys, [large]);
    expect(await toastRows()).toBeGreaterThan(0);
    const back = await db.pool.query<{ details_json: string }>(
      'select details_json from submissions where id = $1',
      [large.record.id],
    );
    expect(JSON.parse(back.rows[0]!.details_json).title).toBe(title);
  });
});
