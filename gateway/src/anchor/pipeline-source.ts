import type { RecordedCheckpoint } from './anchorer.ts';

interface Queryable {
  query<R extends object = object>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
}

/**
 * The newest checkpoint the ledger has recorded, read from the pipeline's tables (`checkpoints`,
 * `ledger_batches`, migration 0100). The anchorer takes this as an injected function, so a
 * change in the pipeline's schema touches only this adapter.
 */
export function pgLatestRecordedCheckpoint(db: Queryable): () => Promise<RecordedCheckpoint | null> {
  return async () => {
    const { rows } = await db.query<{ size: string; root: string }>(
      `select c.size, encode(c.root, 'hex') as root from checkpoints c
        where exists (select 1 from ledger_batches b where b.to_size = c.size and b.status = 'recorded')
        order by c.size desc limit 1`,
    );
    const row = rows[0];
    return row ? { size: Number(row.size), root: row.root } : null;
  };
}
