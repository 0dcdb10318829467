import { latestRecordedCheckpoint } from '../seal/batch-store.ts';
import type { Queryable } from '../storage/queryable.ts';
import type { RecordedCheckpoint } from './anchorer.ts';

// What anchoring reads of the pipeline, through the pipeline's own store (seal/batch-store.ts owns
// `checkpoints` and `ledger_batches`). The anchorer takes this as an injected function, so tests
// and benches can hand it checkpoints of their own.

/** The newest checkpoint the ledger has recorded. */
export function pgLatestRecordedCheckpoint(db: Queryable): () => Promise<RecordedCheckpoint | null> {
  return () => latestRecordedCheckpoint(db);
}
