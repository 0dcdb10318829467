// How anchoring stands, read from the database so that every process (the sealer that anchors,
// API processes that do not) answers the same: the last confirmed anchor, how far the recorded log
// is ahead of it (entries and seconds), and how long the anchor in flight has been in flight.
// Feeds the Prometheus gauges and /readyz's `anchor` check (gateway/src/anchor/plugin.ts).

import type { Queryable } from '../storage/queryable.ts';
import { pgRecordedAhead } from './pipeline-source.ts';

export interface AnchorHealth {
  /** The largest size confirmed on this chain for this origin (any of the operator's contracts). */
  lastSize: number;
  /** When that anchor was confirmed, in Unix seconds; null before the first one. */
  lastAnchoredAt: number | null;
  /** The newest recorded checkpoint's size. */
  recordedSize: number;
  /** Recorded entries no confirmed anchor covers yet. */
  lagEntries: number;
  /** How long the oldest of them has waited since it was recorded, in seconds (0: none waits). */
  lagSeconds: number;
  /** Seconds since the anchor in flight on the current contract was created (0: none in flight). */
  pendingSeconds: number;
}

export interface AnchorHealthOptions {
  chainId: number;
  contract: string;
  origin: string;
  /** Answers younger than this are reused (the gauges of one scrape ask five times). */
  cacheMs?: number;
}

/** A probe of the anchoring's state; concurrent and back-to-back calls share one query. */
export function createAnchorHealthProbe(
  db: Queryable,
  options: AnchorHealthOptions,
): () => Promise<AnchorHealth> {
  const cacheMs = options.cacheMs ?? 1000;
  const recordedAhead = pgRecordedAhead(db);
  let cached: { at: number; value: Promise<AnchorHealth> } | null = null;

  async function read(): Promise<AnchorHealth> {
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
      [options.chainId, options.origin, options.contract],
    );
    const row = rows[0];
    const lastSize = Number(row?.last_size ?? 0);
    const ahead = await recordedAhead(lastSize);
    return {
      lastSize,
      lastAnchoredAt: row?.last_at ?? null,
      recordedSize: ahead.recordedSize,
      lagEntries: Math.max(0, ahead.recordedSize - lastSize),
      lagSeconds: Math.max(0, ahead.oldestWaitingSeconds),
      pendingSeconds: Math.max(0, row?.pending_s ?? 0),
    };
  }

  return () => {
    const now = Date.now();
    if (!cached || now - cached.at >= cacheMs) {
      const value = read();
      cached = { at: now, value };
      // A failed read is not kept: the next call asks again.
      value.catch(() => {
        if (cached?.value === value) cached = null;
      });
    }
    return cached.value;
  };
}
