import type { Queryable } from '../storage/queryable.ts';
import type { RecordedCheckpoint } from './anchorer.ts';

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

/**
 * How far the recorded log is ahead of an anchored size: the newest recorded size, and how long
 * the oldest recorded batch beyond that size has waited (seconds since it was recorded; 0 when
 * none). Read from `ledger_batches` (its `to_size` index keeps both reads short).
 */
export function pgRecordedAhead(
  db: Queryable,
): (anchoredSize: number) => Promise<{ recordedSize: number; oldestWaitingSeconds: number }> {
  return async (anchoredSize) => {
    const { rows } = await db.query<{ recorded_size: string | null; waiting_s: number | null }>(
      `select (select max(to_size) from ledger_batches where status = 'recorded') as recorded_size,
              (select extract(epoch from now() - min(recorded_at))::float8 from ledger_batches
                where status = 'recorded' and to_size > $1) as waiting_s`,
      [String(anchoredSize)],
    );
    return {
      recordedSize: Number(rows[0]?.recorded_size ?? 0),
      oldestWaitingSeconds: rows[0]?.waiting_s ?? 0,
    };
  };
}
