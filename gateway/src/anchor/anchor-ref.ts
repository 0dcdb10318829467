import { generateConsistencyProof, type SubtreeSource, toHex } from '@lianzheng/proof';
import type { Queryable } from '../storage/queryable.ts';
import { caip2 } from './abi.ts';
import { earliestAnchorCovering } from './anchor-store.ts';

/** A bundle's anchor reference (docs/FORMATS.md §7 and §9, ProofBundle.anchor). */
export interface AnchorRef {
  chainId: string; // CAIP-2, eip155:<id>
  contract: string;
  txHash: string;
  block: number;
  size: number;
  root: string; // lowercase hex
  /** Hex consistency proof from the record's checkpoint size (`inclusionSize`) to `size`. */
  consistency: string[];
}

/**
 * The anchor reference for the record at `leafIndex` whose inclusion proof is against the tree of
 * `inclusionSize` leaves: the earliest confirmed anchor that covers that tree (so the proof is
 * short and the anchor's time is the earliest the chain vouches for), with the consistency proof
 * from `inclusionSize` to the anchored size over `subtrees` (the log's complete-subtree store).
 * Null when no confirmed anchor covers it yet — the bundle then has no `anchor` and the page
 * says "not anchored".
 */
export async function anchorRefFor(
  db: Queryable,
  leafIndex: number,
  inclusionSize: number,
  subtrees: SubtreeSource,
  options: { origin?: string } = {},
): Promise<AnchorRef | null> {
  if (!Number.isSafeInteger(leafIndex) || leafIndex < 0 || !(inclusionSize > leafIndex)) return null;
  const row = await earliestAnchorCovering(db, inclusionSize, options.origin);
  if (!row) return null;
  const size = Number(row.size);
  const proof = await generateConsistencyProof(subtrees, inclusionSize, size);
  return {
    chainId: caip2(Number(row.chain_id)),
    contract: row.contract,
    txHash: row.tx_hash,
    block: Number(row.block),
    size,
    root: row.root,
    consistency: proof.map((h) => toHex(h)),
  };
}
