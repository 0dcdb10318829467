import { OLDEST_QUEUED_MS } from '../intake/submission-store.ts';
import { int8Array } from '../storage/binary-arrays.ts';
import type { Queryable } from '../storage/queryable.ts';

// The one owner of `ledger_batches` (the batcher's outbox: a batch is 'sealed', then 'recorded')
// and `checkpoints` (signed only for sizes the ledger confirmed). Every other module calls these
// functions. Each takes a Queryable first: the pool, or the client of the caller's transaction.
// The statements' text and names are part of their performance (the seal and confirm steps, and
// the checkpoint lookup behind every bundle): change them only with the bench beside you.

/** A batch as the batcher's outbox holds it between seal and confirm. */
export interface SealedBatchRow {
  from_size: string;
  to_size: string;
  root: Buffer;
  /** The submissions' seq, in leaf order. */
  seqs: string[];
}

/** A batch as the audit reads it. */
export interface BatchRow extends SealedBatchRow {
  status: string;
  tx_id: string | null;
  block: string | null;
}

export interface StoredCheckpoint {
  size: number;
  root: Uint8Array;
  /** The C2SP signed note. */
  note: string;
  /** The RFC 3161 token over the root, when the TSA made one (DER). */
  tsaToken?: Uint8Array;
  createdAt: Date;
}

// ---------------------------------------------------------------------------------------------
// Batches.

/** The oldest batch sealed and not yet recorded (there is at most one), if any. */
export async function sealedBatch(db: Queryable): Promise<SealedBatchRow | undefined> {
  const { rows } = await db.query<SealedBatchRow>(
    "select from_size, to_size, root, seqs from ledger_batches where status = 'sealed' order by from_size limit 1",
  );
  return rows[0];
}

/**
 * Whether a batch is sealed and not yet recorded (asked under the log's row lock), other than the
 * one starting at `except` (the batch whose confirm runs beside the next seal, batcher.ts).
 */
export async function hasSealedBatch(db: Queryable, except?: number): Promise<boolean> {
  const pending = await db.query(
    "select 1 from ledger_batches where status = 'sealed' and from_size is distinct from $1 limit 1",
    [except === undefined ? null : String(except)],
  );
  return pending.rows.length > 0;
}

/** Writes a newly sealed batch of leaves `fromSize` … `toSize - 1` (the submissions `seqs`). */
export async function insertSealedBatch(
  db: Queryable,
  fromSize: number,
  toSize: number,
  root: Uint8Array,
  seqs: string[],
): Promise<void> {
  await db.query('insert into ledger_batches (from_size, to_size, root, seqs) values ($1, $2, $3, $4)', [
    String(fromSize),
    String(toSize),
    root,
    int8Array(seqs),
  ]);
}

/** What the ledger answered for a batch, stored when it is confirmed. */
export interface BatchRecording {
  network: string;
  txId: string;
  block: number;
  validation: string;
  ledgerMs: number;
  endorsers: string[] | null;
}

/** The sealed batch from `fromSize` is recorded on the ledger. */
export async function markRecorded(db: Queryable, fromSize: number, r: BatchRecording): Promise<void> {
  await db.query(
    `update ledger_batches set status = 'recorded', network = $2, tx_id = $3, block = $4,
                validation = $5, recorded_at = now(), ledger_ms = $6, endorsers = $7
          where from_size = $1 and status = 'sealed'`,
    [String(fromSize), r.network, r.txId, String(r.block), r.validation, r.ledgerMs, r.endorsers],
  );
}

/**
 * Undoes the sealed batch `fromSize`..`toSize` (the ledger refused it); false when that very batch
 * is no longer the sealed one.
 */
export async function deleteSealedBatch(db: Queryable, fromSize: number, toSize: number): Promise<boolean> {
  const undone = await db.query(
    "delete from ledger_batches where from_size = $1 and to_size = $2 and status = 'sealed'",
    [String(fromSize), String(toSize)],
  );
  return undone.rowCount === 1;
}

/** Every batch in log order (the audit). */
export async function allBatches(db: Queryable): Promise<BatchRow[]> {
  const { rows } = await db.query<BatchRow>(
    'select from_size, to_size, root, status, tx_id, block, seqs from ledger_batches order by from_size',
  );
  return rows;
}

/**
 * How long (ms) the oldest sealed batch has waited for the ledger and the oldest accepted
 * submission for a seal (0 when none waits): an `api` process's view of the sealer's progress.
 */
export async function sealerWaits(db: Queryable): Promise<{ sealed: number; accepted: number }> {
  const { rows } = await db.query<{ sealed: string | null; accepted: string | null }>(
    `select (select extract(epoch from now() - min(sealed_at)) * 1000
                 from ledger_batches where status = 'sealed') as sealed,
              ${OLDEST_QUEUED_MS} as accepted`,
  );
  return { sealed: Number(rows[0]?.sealed ?? 0), accepted: Number(rows[0]?.accepted ?? 0) };
}

// ---------------------------------------------------------------------------------------------
// Checkpoints.

/** Stores a signed checkpoint; a size already signed keeps its note. */
export async function insertCheckpoint(
  db: Queryable,
  size: number,
  root: Uint8Array,
  note: string,
): Promise<void> {
  await db.query(
    'insert into checkpoints (size, root, note) values ($1, $2, $3) on conflict (size) do nothing',
    [String(size), root, note],
  );
}

/** Adds the RFC 3161 token over a checkpoint's root, unless it has one. */
export async function stampCheckpoint(db: Queryable, size: number, token: Uint8Array): Promise<void> {
  await db.query('update checkpoints set tsa_token = $2 where size = $1 and tsa_token is null', [
    String(size),
    token,
  ]);
}

interface CheckpointRow {
  size: string;
  root: Buffer;
  note: string;
  tsa_token: Buffer | null;
  created_at: Date;
}

/**
 * The checkpoint of exactly `size`, or the newest one when `size` is omitted. Its RFC 3161 token
 * (a few KB) is read only when asked for: bundles carry it, `/v1/log/checkpoint` does not.
 */
export async function readCheckpoint(
  db: Queryable,
  size?: number,
  { withToken = false }: { withToken?: boolean } = {},
): Promise<StoredCheckpoint | undefined> {
  const columns = `size, root, note, ${withToken ? 'tsa_token' : 'null::bytea as tsa_token'}, created_at`;
  const { rows } = await (size === undefined
    ? db.query<CheckpointRow>(`select ${columns} from checkpoints order by size desc limit 1`)
    : db.query<CheckpointRow>({
        name: withToken ? 'lz-checkpoint-at-with-token' : 'lz-checkpoint-at',
        text: `select ${columns} from checkpoints where size = $1`,
        values: [String(size)],
      }));
  const row = rows[0];
  if (!row) return undefined;
  return {
    size: Number(row.size),
    root: new Uint8Array(row.root),
    note: row.note,
    ...(row.tsa_token ? { tsaToken: new Uint8Array(row.tsa_token) } : {}),
    createdAt: row.created_at,
  };
}

/** The largest size whose checkpoint is signed (0 when none is). */
/**
 * Whether a checkpoint larger than `size` has existed for more than `seconds`: the witness sender
 * offers only the newest checkpoint, so after that no witness will cosign `size` any more.
 */
export async function supersededFor(db: Queryable, size: number, seconds: number): Promise<boolean> {
  const { rows } = await db.query<{ settled: boolean }>({
    name: 'lz-checkpoint-superseded',
    text: `select exists (select 1 from checkpoints where size > $1
             and created_at < now() - make_interval(secs => $2)) as settled`,
    values: [String(size), seconds],
  });
  return rows[0]?.settled === true;
}

export async function signedSize(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ size: string | null }>('select max(size) as size from checkpoints');
  return Number(rows[0]?.size ?? 0);
}

/** Every checkpoint in size order, without its token (the audit). */
export async function allCheckpoints(db: Queryable): Promise<{ size: string; root: Buffer; note: string }[]> {
  const { rows } = await db.query<{ size: string; root: Buffer; note: string }>(
    'select size, root, note from checkpoints order by size',
  );
  return rows;
}

// ---------------------------------------------------------------------------------------------
// What the anchorer reads (anchor/pipeline-source.ts).

/** The newest checkpoint whose batch is recorded on the ledger: its size and root (hex). */
export async function latestRecordedCheckpoint(
  db: Queryable,
): Promise<{ size: number; root: string } | null> {
  const { rows } = await db.query<{ size: string; root: string }>(
    `select c.size, encode(c.root, 'hex') as root from checkpoints c
      where exists (select 1 from ledger_batches b where b.to_size = c.size and b.status = 'recorded')
      order by c.size desc limit 1`,
  );
  const row = rows[0];
  return row ? { size: Number(row.size), root: row.root } : null;
}

/**
 * How far the recorded log is ahead of `size` leaves: the newest recorded size, and how long the
 * oldest recorded batch beyond `size` has waited (seconds since it was recorded; 0 when none).
 * The `to_size` index keeps both reads short.
 */
export async function recordedAhead(
  db: Queryable,
  size: number,
): Promise<{ recordedSize: number; oldestWaitingSeconds: number }> {
  const { rows } = await db.query<{ recorded_size: string | null; waiting_s: number | null }>(
    `select (select max(to_size) from ledger_batches where status = 'recorded') as recorded_size,
            (select extract(epoch from now() - min(recorded_at))::float8 from ledger_batches
              where status = 'recorded' and to_size > $1) as waiting_s`,
    [String(size)],
  );
  return {
    recordedSize: Number(rows[0]?.recorded_size ?? 0),
    oldestWaitingSeconds: rows[0]?.waiting_s ?? 0,
  };
}
