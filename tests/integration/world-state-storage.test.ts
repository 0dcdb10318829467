// Migration 0985 (issue #26): world-state values (a batch's records, ~5 MB for 10,000 of them, and
// its pages of facts) are stored as they are instead of pglz-compressed on every write, which
// cost the sealer's PostgreSQL a third of its CPU. Values written before stay compressed and read
// the same.

import { describe, expect, it } from 'vitest';
import { EmbeddedLedger } from '../../gateway/src/ledger/ledger-embedded.ts';
import { LogStore } from '../../gateway/src/log/log-store.ts';
import { Batcher } from '../../gateway/src/seal/batcher.ts';
import {
  demoProject,
  insertSubmissions,
  loadKeys,
  makeEntry,
  type TestDatabase,
} from './pipeline-support.ts';
import { useTestDatabase } from './test-database.ts';

let db: TestDatabase;

useTestDatabase((started) => ({ db } = started));

describe('world_state storage (0985)', () => {
  it('stores a recorded batch uncompressed, and still reads values compressed before', async () => {
    const keys = await loadKeys(db.dir);
    const ledger = new EmbeddedLedger(db.pool, { mspId: 'StorageMSP' });
    await ledger.ready();
    const project = demoProject();
    await ledger.registerProject(project);
    const batcher = new Batcher(db.pool, new LogStore(db.pool), ledger, {
      intervalMs: 500,
      maxItems: 500,
      origin: 'lianzheng.test/log',
      signer: keys.checkpointSigner,
    });
    const entries = Array.from({ length: 300 }, (_, i) =>
      makeEntry({
        projectId: project.id,
        kind: 'notice',
        visibility: 'public',
        details: { title: `公告 ${i}` },
      }),
    );
    await insertSubmissions(db.pool, keys, entries);
    expect(await batcher.step()).toMatchObject({ action: 'recorded', records: 300 });

    // The batch's value (~150 KB of JSON, very compressible) went out of line as it is.
    const { rows } = await db.pool.query<{ len: number; stored: number; compression: string | null }>(
      `select octet_length(value) as len, pg_column_size(value) as stored,
              pg_column_compression(value) as compression
         from world_state order by octet_length(value) desc limit 1`,
    );
    expect(rows[0]!.len).toBeGreaterThan(100_000);
    expect(rows[0]!).toMatchObject({ compression: null, stored: rows[0]!.len });
    const record = await ledger.getRecord(entries[299]!.record.id);
    expect(record).toMatchObject({ record: { id: entries[299]!.record.id } });

    // A value written with the earlier (default) storage stays compressed and reads back intact.
    const earlier = Buffer.from(JSON.stringify({ records: Array.from({ length: 2000 }, (_, i) => ({ i })) }));
    await db.pool.query('alter table world_state alter column value set storage extended');
    await db.pool.query('insert into world_state (key, value) values ($1, $2)', [
      Buffer.from('\u0000test\u0000'),
      earlier,
    ]);
    await db.pool.query('alter table world_state alter column value set storage external');
    const { rows: back } = await db.pool.query<{ value: Buffer; compression: string | null }>(
      'select value, pg_column_compression(value) as compression from world_state where key = $1',
      [Buffer.from('\u0000test\u0000')],
    );
    expect(back[0]!.compression).toBe('pglz');
    expect(back[0]!.value.equals(earlier)).toBe(true);
  });
});
