import type { Queryable } from '../storage/queryable.ts';

// The one owner of `anchors` (the anchorer's outbox: every step is written before it is taken)
// and `log_anchored` (how many leaves a confirmed anchor covers; a record's `anchored` status is
// derived from it, migration 0700). Every statement on them is here. Each function takes a
// Queryable first: the pool, or the client of the caller's transaction (the anchorer's, which
// also holds the anchoring lock).

export type AnchorStatus = 'pending' | 'sent' | 'confirmed' | 'failed';

export interface AnchorRow {
  id: string;
  size: string;
  root: string;
  status: AnchorStatus;
  nonce: string | null;
  tx_hash: string | null;
  tx_hashes: string[];
  raw_tx: string | null;
  gas_limit: string | null;
  max_fee_per_gas: string | null;
  max_priority_fee_per_gas: string | null;
  sent_at: Date | null;
  /** Milliseconds since sent_at (only on rows read by inFlightAnchor). */
  age_ms?: number | null;
}

/** Where anchors are made: one chain, contract and log origin have one anchor in flight at a time. */
export interface AnchorSite {
  chainId: number;
  /** Lowercase 0x address. */
  contract: string;
  origin: string;
}

/** The anchor in flight (created or sent, not yet confirmed or failed) at `site`, if any. */
export async function inFlightAnchor(db: Queryable, site: AnchorSite): Promise<AnchorRow | null> {
  const { rows } = await db.query<AnchorRow>(
    // The age is the database's view, the same clock that stamped sent_at.
    `select *, (extract(epoch from now() - sent_at) * 1000)::float8 as age_ms
       from anchors where chain_id = $1 and contract = $2 and origin = $3 and status in ('pending', 'sent')
      order by id limit 1`,
    [site.chainId, site.contract, site.origin],
  );
  return rows[0] ?? null;
}

/** What a step may change on an anchor besides signing and confirming it. */
export interface AnchorChange {
  status?: AnchorStatus;
  tx_hash?: string;
  block?: number;
  last_error?: string | null;
}

/** Records a step's outcome on anchor `id`. */
export async function updateAnchor(db: Queryable, id: string, change: AnchorChange): Promise<void> {
  // The column names come from AnchorChange's keys, never from input.
  const names = Object.keys(change);
  const sets = names.map((n, i) => `${n} = $${i + 2}`).join(', ');
  await db.query(`update anchors set ${sets}, updated_at = now() where id = $1`, [
    id,
    ...Object.values(change),
  ]);
}

/** A signed transaction of an anchor, kept before it is broadcast. */
export interface SignedAnchorTx {
  nonce: number;
  /** The signed transaction, hex. */
  raw: string;
  hash: string;
  gasLimit: bigint;
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
}

/**
 * Stores a newly signed transaction of anchor `id` (the first, or a replacement with the same
 * nonce) before it is broadcast, so after a crash the very same transaction is sent again.
 */
export async function storeSignedTx(db: Queryable, id: string, tx: SignedAnchorTx): Promise<AnchorRow> {
  const { rows } = await db.query<AnchorRow>(
    `update anchors set nonce = $2, raw_tx = $3, tx_hash = $4, tx_hashes = array_append(tx_hashes, $4),
            gas_limit = $5, max_fee_per_gas = $6, max_priority_fee_per_gas = $7, attempts = attempts + 1,
            sent_at = now(), last_error = null, updated_at = now()
      where id = $1 returning *`,
    [
      id,
      tx.nonce,
      tx.raw,
      tx.hash,
      String(tx.gasLimit),
      String(tx.maxFeePerGas),
      String(tx.maxPriorityFeePerGas),
    ],
  );
  return rows[0] as AnchorRow;
}

/** The mined transaction that confirms an anchor. */
export interface AnchorReceipt {
  hash: string;
  blockNumber: number;
  blockHash: string;
  gasUsed: bigint;
}

/** Anchor `id` is confirmed by `receipt` (unless it was confirmed or failed already). */
export async function confirmAnchor(db: Queryable, id: string, receipt: AnchorReceipt): Promise<void> {
  await db.query(
    `update anchors set status = 'confirmed', tx_hash = $2, block = $3, block_hash = $4, gas_used = $5,
            confirmed_at = now(), last_error = null, updated_at = now()
      where id = $1 and status in ('pending', 'sent')`,
    [id, receipt.hash, receipt.blockNumber, receipt.blockHash, String(receipt.gasUsed)],
  );
}

/** A confirmed anchor still shallow enough that a reorganisation may move or drop it. */
export interface RecentConfirmedAnchor {
  id: string;
  size: string;
  tx_hash: string;
  block: string;
  block_hash: string | null;
  /** The signed transaction that confirmed it (the last one signed), hex. */
  raw_tx: string | null;
}

/** The confirmed anchors at `site` mined in block `fromBlock` or later, newest first, at most `limit`. */
export async function recentConfirmedAnchors(
  db: Queryable,
  site: AnchorSite,
  fromBlock: number,
  limit: number,
): Promise<RecentConfirmedAnchor[]> {
  const { rows } = await db.query<RecentConfirmedAnchor>(
    `select id, size, tx_hash, block, block_hash, raw_tx from anchors
      where chain_id = $1 and contract = $2 and origin = $3 and status = 'confirmed' and block >= $4
      order by block desc, id desc limit $5`,
    [site.chainId, site.contract, site.origin, Math.max(0, fromBlock), limit],
  );
  return rows;
}

/**
 * Confirmed anchor `id`'s transaction is now in another block (the chain reorganised and re-mined
 * it): bundles name the block they can find it in.
 */
export async function moveConfirmedAnchor(
  db: Queryable,
  id: string,
  at: { blockNumber: number; blockHash: string },
): Promise<void> {
  await db.query(
    `update anchors set block = $2, block_hash = $3, updated_at = now() where id = $1 and status = 'confirmed'`,
    [id, at.blockNumber, at.blockHash],
  );
}

/** Where anchoring at a site stands: what the anchorer decides from whether to start another. */
export interface AnchorProgress {
  /** The largest size of an anchor not failed (0: none). */
  size: number;
  /** When the newest anchor was created (ms since epoch; 0: never). */
  createdAt: number;
  /** The largest confirmed size (0: none). */
  confirmed: number;
}

export async function anchorProgress(db: Queryable, site: AnchorSite): Promise<AnchorProgress> {
  const { rows } = await db.query<{ size: string | null; created_at: Date | null; confirmed: string | null }>(
    `select max(size) filter (where status <> 'failed') as size, max(created_at) as created_at,
            max(size) filter (where status = 'confirmed') as confirmed
       from anchors where chain_id = $1 and contract = $2 and origin = $3`,
    [site.chainId, site.contract, site.origin],
  );
  return {
    size: Number(rows[0]?.size ?? 0),
    createdAt: rows[0]?.created_at?.getTime() ?? 0,
    confirmed: Number(rows[0]?.confirmed ?? 0),
  };
}

/** A new anchor of the checkpoint `size`/`root` by `sender`; null if one of that size exists. */
export async function insertAnchor(
  db: Queryable,
  site: AnchorSite,
  sender: string,
  checkpoint: { size: number; root: string },
): Promise<AnchorRow | null> {
  const { rows } = await db.query<AnchorRow>(
    `insert into anchors (chain_id, contract, sender, origin, size, root)
     values ($1, $2, $3, $4, $5, $6)
     on conflict do nothing returning *`,
    [site.chainId, site.contract, sender, site.origin, String(checkpoint.size), checkpoint.root],
  );
  return rows[0] ?? null;
}

/**
 * Raises the anchored size to `size` — one row, `log_anchored`, never lowered — and returns the
 * size it had, or null when it was already at least `size` (nothing newly anchored).
 */
export async function raiseAnchoredSize(db: Queryable, size: number): Promise<number | null> {
  const { rows } = await db.query<{ old: string }>(
    `update log_anchored a set size = $1 from (select size as old from log_anchored) o
      where a.size < $1
     returning o.old`,
    [String(size)],
  );
  return rows[0] ? Number(rows[0].old) : null;
}

/** A confirmed anchor as a bundle refers to it. */
export interface ConfirmedAnchorRow {
  chain_id: string;
  contract: string;
  tx_hash: string;
  block: string;
  size: string;
  root: string;
}

/** The earliest confirmed anchor of a tree of at least `size` leaves (of `origin`, if given). */
export async function earliestAnchorCovering(
  db: Queryable,
  size: number,
  origin?: string,
): Promise<ConfirmedAnchorRow | null> {
  const params: unknown[] = [String(size)];
  let originFilter = '';
  if (origin !== undefined) {
    params.push(origin);
    originFilter = 'and origin = $2';
  }
  const { rows } = await db.query<ConfirmedAnchorRow>(
    `select chain_id, contract, tx_hash, block, size, root from anchors
      where status = 'confirmed' and size >= $1 ${originFilter}
      order by size, id limit 1`,
    params,
  );
  return rows[0] ?? null;
}

/** The anchoring's own side of its health (anchor/health.ts adds the recorded log's). */
export interface AnchorStanding {
  /** The largest size confirmed on the chain for the origin (any of the operator's contracts). */
  lastSize: number;
  /** When that anchor was confirmed, in Unix seconds; null before the first one. */
  lastAnchoredAt: number | null;
  /** Seconds since the anchor in flight on the current contract was created; null: none. */
  pendingSeconds: number | null;
}

export async function anchorStanding(db: Queryable, site: AnchorSite): Promise<AnchorStanding> {
  const { rows } = await db.query<{ last_size: string; last_at: number | null; pending_s: number | null }>(
    `select coalesce((select size from anchors
                       where status = 'confirmed' and chain_id = $1 and origin = $2
                       order by size desc limit 1), 0) as last_size,
            (select extract(epoch from confirmed_at)::float8 from anchors
              where status = 'confirmed' and chain_id = $1 and origin = $2
              order by size desc limit 1) as last_at,
            (select extract(epoch from now() - created_at)::float8 from anchors
              where status in ('pending', 'sent') and chain_id = $1 and contract = $3 and origin = $2
              order by id limit 1) as pending_s`,
    [site.chainId, site.origin, site.contract],
  );
  const row = rows[0];
  return {
    lastSize: Number(row?.last_size ?? 0),
    lastAnchoredAt: row?.last_at ?? null,
    pendingSeconds: row?.pending_s ?? null,
  };
}
