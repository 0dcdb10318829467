// How anchoring stands, read from the database so that every process (the sealer that anchors,
// API processes that do not) answers the same: the last confirmed anchor, how far the recorded log
// is ahead of it (entries and seconds), and how long the anchor in flight has been in flight.
// Feeds the Prometheus gauges and /readyz's `anchor` check (gateway/src/anchor/plugin.ts).

import { recordedAhead } from '../seal/batch-store.ts';
import type { Queryable } from '../storage/queryable.ts';
import { anchorStanding } from './anchor-store.ts';

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
  let cached: { at: number; value: Promise<AnchorHealth> } | null = null;

  async function read(): Promise<AnchorHealth> {
    const standing = await anchorStanding(db, {
      chainId: options.chainId,
      contract: options.contract,
      origin: options.origin,
    });
    const lastSize = standing.lastSize;
    const ahead = await recordedAhead(db, lastSize);
    return {
      lastSize,
      lastAnchoredAt: standing.lastAnchoredAt,
      recordedSize: ahead.recordedSize,
      lagEntries: Math.max(0, ahead.recordedSize - lastSize),
      lagSeconds: Math.max(0, ahead.oldestWaitingSeconds),
      pendingSeconds: Math.max(0, standing.pendingSeconds ?? 0),
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
