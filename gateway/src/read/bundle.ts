import {
  BUNDLE_VERSION,
  type EvidenceRecord,
  generateInclusionProof,
  MemorySubtreeStore,
  type ProofBundle,
  ProofError,
  type RecordDetails,
  toHex,
  wholeReceipt,
} from '@lianzheng/proof';
import type { Principal } from '../auth/principal.ts';
import { setBounded } from '../bounded-map.ts';
import type { SubmissionRow } from '../intake/submission-store.ts';
import type { LedgerInfo } from '../ledger/ledger.ts';
import type { LogStore } from '../log/log-store.ts';

// Proof bundles for submissions. A bundle without details is immutable once its batch is
// recorded (anchoring adds to it later and changes the status), so it is cached by id and status;
// the details are added per request, for principals allowed to see them. The rows come from
// intake/submission-store.ts (SubmissionRow, loadSubmissions, digestLookups).

/** Whether `principal` may read the restricted details of a record in this project. */
export function maySeeDetails(
  principal: Principal,
  visibility: EvidenceRecord['visibility'],
  project: { ownerOrg: string | null; regionCode: string | null },
  submitterOrg?: string,
): boolean {
  if (visibility === 'public') return true;
  return mayReadRestricted(principal, project, submitterOrg);
}

/**
 * Restricted parts of a project: the owning organisation's units and partners (and the
 * submitting organisation), inspectors of the project's region, and admins.
 */
export function mayReadRestricted(
  principal: Principal,
  project: { ownerOrg: string | null; regionCode: string | null },
  submitterOrg?: string,
): boolean {
  switch (principal.role) {
    case 'admin':
      return true;
    case 'unit':
    case 'partner':
      return (
        principal.org !== undefined && (principal.org === project.ownerOrg || principal.org === submitterOrg)
      );
    case 'inspector':
      return regionCovers(principal.region, project.regionCode);
    default:
      return false;
  }
}

/**
 * Administrative division codes nest: 620000 (a province) covers 6201xx (its prefectures), which
 * cover 620102 (a district). Trailing "00" pairs of the inspector's code widen the scope.
 */
export function regionCovers(inspectorRegion: string | undefined, projectRegion: string | null): boolean {
  if (!inspectorRegion || !projectRegion || !/^\d{6}$/.test(inspectorRegion)) return false;
  let prefix = inspectorRegion;
  while (prefix.length > 2 && prefix.endsWith('00')) prefix = prefix.slice(0, -2);
  return projectRegion.startsWith(prefix);
}

/**
 * Adds a section to a bundle being built (the anchor reference, a time-stamp token), for the
 * parts of the gateway that own them. Runs once per (submission, status, batch) — the result is
 * cached with the bundle, so a section that changes must come with a status change.
 */
export type BundleEnricher = (row: SubmissionRow, bundle: ProofBundle) => Promise<void>;

/**
 * Adds a section that changes after a record is recorded without a status change (witnesses'
 * cosignatures arrive a moment after the checkpoint): run on every call, on a copy, never cached.
 */
export type BundleFinisher = (bundle: ProofBundle) => Promise<ProofBundle>;

export interface BundleCacheOptions {
  /** Most bundles kept (default 50,000). */
  cacheSize?: number;
  /**
   * Most memory the kept bundles may take, estimated from their text (default 32 MiB): a bundle
   * is 3–8 KB in V8 depending on its record and proof path, so 50,000 of them alone could reach
   * a few hundred MiB — the byte bound is the one that holds.
   */
  cacheBytes?: number;
  /**
   * Most checkpoints kept (default 4,000; each ~300 bytes of note, plus ~1–3 KB of time-stamp
   * token when the TSA is on). Records of one batch share their checkpoint, so a few thousand
   * cover the last half hour of batches.
   */
  noteCacheSize?: number;
  /**
   * Attach the RFC 3161 token of the record's checkpoint (`bundle.timestamp`). It is read with
   * the checkpoint's note, in the same query, and cached with it.
   */
  timestamps?: boolean;
}

/** What a bundle takes from its checkpoint: the signed note and, if any, the time-stamp token. */
interface CheckpointParts {
  note: string;
  token?: string;
}

/** A bundle's footprint in V8, roughly: its strings (two bytes a character at worst) and objects. */
function estimateBytes(bundle: ProofBundle, row: SubmissionRow): number {
  const path = bundle.inclusion?.path.length ?? 0;
  return (
    2 * (row.record_json.length + row.receipt.length + (row.receipt_sm2?.length ?? 0)) + path * 96 + 1024
  );
}

export class BundleBuilder {
  /** Least recently used first (a hit moves its entry to the end). */
  private readonly cache = new Map<string, { bundle: ProofBundle; bytes: number }>();
  private cachedBytes = 0;
  private readonly notes = new Map<number, CheckpointParts>();
  private readonly enrichers: BundleEnricher[] = [];
  private readonly finishers: BundleFinisher[] = [];

  constructor(
    private readonly log: LogStore,
    private readonly ledgerInfo: LedgerInfo,
    private readonly options: BundleCacheOptions = {},
  ) {}

  /** What the cache holds now (entries, estimated bytes): for tests and operators. */
  cacheStats(): { entries: number; bytes: number; notes: number } {
    return { entries: this.cache.size, bytes: this.cachedBytes, notes: this.notes.size };
  }

  /**
   * The bundle of one submission. Details are included only when `withDetails` is true (the
   * caller decides with `maySeeDetails`). An accepted, unsealed submission gets a bundle with
   * the record and receipt only: its inclusion and ledger steps report "skipped".
   */
  async bundle(row: SubmissionRow, withDetails: boolean): Promise<ProofBundle> {
    const key = `${row.id}:${row.status}:${row.batch_to_size ?? ''}`;
    const hit = this.cache.get(key);
    let base: ProofBundle;
    if (hit) {
      base = hit.bundle;
      this.cache.delete(key);
      this.cache.set(key, hit);
    } else {
      base = await this.build(row);
      if (row.batch_to_size !== null) this.remember(key, base, estimateBytes(base, row));
    }
    for (const finish of this.finishers) base = await finish(base);
    if (!withDetails) return base;
    return { ...base, details: JSON.parse(row.details_json) as RecordDetails };
  }

  /** Registers a late section (see BundleFinisher), e.g. the witnesses' cosignatures. */
  addFinisher(finisher: BundleFinisher): void {
    this.finishers.push(finisher);
  }

  /** Registers a section builder, e.g. the anchorer's `anchor` reference for anchored records. */
  addEnricher(enricher: BundleEnricher): void {
    this.enrichers.push(enricher);
    this.forgetCached();
  }

  /**
   * Drops every cached bundle: for a section that changed without a status change (a confirmed
   * anchor the chain re-mined in another block), which a cached bundle would otherwise keep.
   */
  forgetCached(): void {
    this.cache.clear();
    this.cachedBytes = 0;
  }

  private remember(key: string, bundle: ProofBundle, bytes: number): void {
    const maxEntries = this.options.cacheSize ?? 50_000;
    const maxBytes = this.options.cacheBytes ?? 32 * 1024 * 1024;
    if (bytes > maxBytes) return;
    const previous = this.cache.get(key);
    if (previous) {
      this.cache.delete(key);
      this.cachedBytes -= previous.bytes;
    }
    while (this.cache.size > 0 && (this.cache.size >= maxEntries || this.cachedBytes + bytes > maxBytes)) {
      const [oldest, entry] = this.cache.entries().next().value!;
      this.cache.delete(oldest);
      this.cachedBytes -= entry.bytes;
    }
    this.cache.set(key, { bundle, bytes });
    this.cachedBytes += bytes;
  }

  private async build(row: SubmissionRow): Promise<ProofBundle> {
    const bundle: ProofBundle = {
      version: BUNDLE_VERSION,
      record: JSON.parse(row.record_json) as EvidenceRecord,
      receipt: row.receipt,
    };
    // Stored detached when it shares the ES256 receipt's payload and item (intake.ts): made whole.
    if (row.receipt_sm2 !== null) bundle.receiptSm2 = wholeReceipt(row.receipt_sm2, row.receipt);
    if (row.batch_to_size === null || row.leaf_index === null || row.batch_tx_id === null) return bundle;
    const size = Number(row.batch_to_size);
    const index = Number(row.leaf_index);
    const [path, checkpoint] = await Promise.all([
      this.inclusionProof(row, index, size),
      this.checkpointParts(size),
    ]);
    bundle.inclusion = { index, size, path: path.map(toHex), checkpoint: checkpoint.note };
    bundle.ledger = {
      network: this.ledgerInfo.network,
      ...(this.ledgerInfo.channel ? { channel: this.ledgerInfo.channel } : {}),
      ...(this.ledgerInfo.chaincode ? { chaincode: this.ledgerInfo.chaincode } : {}),
      txId: row.batch_tx_id,
      block: Number(row.batch_block),
      size,
      root: toHex(row.batch_root!),
      // Fabric's own facts of the transaction: its validation code and who endorsed it.
      ...(this.ledgerInfo.network === 'fabric' && row.batch_validation
        ? { validation: row.batch_validation }
        : {}),
      ...(row.batch_endorsers ? { endorsers: row.batch_endorsers } : {}),
      ...(this.ledgerInfo.note ? { note: this.ledgerInfo.note } : {}),
    };
    if (this.options.timestamps && checkpoint.token) bundle.timestamp = { token: checkpoint.token };
    for (const enrich of this.enrichers) await enrich(row, bundle);
    return bundle;
  }

  /**
   * The record's audit path: from the subtree hashes its row came with when the query read them,
   * otherwise (or if they do not cover the proof) from the log, whose reads are shared with the
   * other lookups of the moment (CachedSubtreeStore).
   */
  private async inclusionProof(row: SubmissionRow, index: number, size: number): Promise<Uint8Array[]> {
    if (row.inclusion_subtrees) {
      const prefetched = new MemorySubtreeStore();
      prefetched.add(
        row.inclusion_subtrees.split(',').map((entry) => {
          const [level, index, hex] = entry.split(':');
          return { level: Number(level), index: Number(index), hash: Buffer.from(hex!, 'hex') };
        }),
      );
      try {
        return await generateInclusionProof(prefetched, index, size);
      } catch (err) {
        if (!(err instanceof ProofError && err.code === 'MISSING_SUBTREE')) throw err;
      }
    }
    return this.log.inclusionProof(index, size, { keep: false });
  }

  private async checkpointParts(size: number): Promise<CheckpointParts> {
    const cached = this.notes.get(size);
    if (cached) return cached;
    const checkpoint = await this.log.checkpoint(size, { withToken: this.options.timestamps === true });
    if (!checkpoint) throw new Error(`no signed checkpoint at recorded size ${size}`);
    const parts: CheckpointParts = {
      note: checkpoint.note,
      ...(checkpoint.tsaToken ? { token: Buffer.from(checkpoint.tsaToken).toString('base64') } : {}),
    };
    // A checkpoint is signed and stamped in one transaction (the batcher's confirm), so a token
    // missing now stays missing: caching the parts as read is safe.
    setBounded(this.notes, size, parts, this.options.noteCacheSize ?? 4_000);
    return parts;
  }
}
