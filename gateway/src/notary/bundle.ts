import {
  BUNDLE_VERSION,
  type EvidenceRecord,
  type ProofBundle,
  type RecordDetails,
  toHex,
} from '@lianzheng/proof';
import type { Principal } from '../auth/principal.ts';
import type { LedgerInfo } from '../ledger/ledger.ts';
import type { LogStore } from '../log/log-store.ts';
import type { Queryable } from '../log/subtree-store.ts';

// Proof bundles for submissions. A bundle without details is immutable once its batch is
// recorded (anchoring adds to it later and changes the status), so it is cached by id and status;
// the details are added per request, for principals allowed to see them.

export type SubmissionStatus = 'accepted' | 'recorded' | 'anchored' | 'rejected';

/** One submission with what the bundle needs: one indexed query, see `SUBMISSION_SELECT`. */
export interface SubmissionRow {
  seq: string;
  id: string;
  project_id: string;
  sha256: string;
  kind: string;
  record_json: string;
  details_json: string;
  receipt: string;
  status: SubmissionStatus;
  leaf_index: string | null;
  reject_code: string | null;
  accepted_at: Date;
  /** The project's owner organisation and region (null if the project mirror lacks it). */
  owner_org: string | null;
  region_code: string | null;
  /** The recorded batch holding the leaf, if any. */
  batch_to_size: string | null;
  batch_tx_id: string | null;
  batch_block: string | null;
  batch_root: Buffer | null;
  /** The record's flags (jsonb array, [] when none). */
  flags: LedgerFlagJson[];
  superseded_by: string | null;
  withdrawn_by: string | null;
}

export type LedgerFlagJson = { code: string; recordId: string; [field: string]: unknown };

/**
 * The columns and joins behind every read route: the submission, its project's owner and region,
 * the recorded batch that holds its leaf (a lateral lookup on the batches' primary key), its
 * flags, and the records that supersede or withdraw it. Append a `where` on `s`.
 */
export const SUBMISSION_SELECT = `
  select s.seq, s.id, s.project_id, s.sha256, s.kind, s.record_json, s.details_json, s.receipt, s.status,
         s.leaf_index, s.reject_code, s.accepted_at,
         p.owner_org, p.region_code,
         b.to_size as batch_to_size, b.tx_id as batch_tx_id, b.block as batch_block, b.root as batch_root,
         coalesce((select jsonb_agg(f.flag order by f.ordinal) from record_flags f where f.submission_id = s.id),
                  '[]'::jsonb) as flags,
         (select l.by_id from record_links l where l.target_id = s.id and l.link = 'superseded') as superseded_by,
         (select l.by_id from record_links l where l.target_id = s.id and l.link = 'withdrawn') as withdrawn_by
    from submissions s
    left join projects p on p.id = s.project_id
    left join lateral (
      select bb.to_size, bb.tx_id, bb.block, bb.root from ledger_batches bb
       where bb.status = 'recorded' and s.leaf_index is not null and bb.from_size <= s.leaf_index
       order by bb.from_size desc limit 1
    ) b on s.leaf_index < b.to_size`;

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

export class BundleBuilder {
  private readonly cache = new Map<string, ProofBundle>();
  private readonly notes = new Map<number, string>();
  private readonly enrichers: BundleEnricher[] = [];

  constructor(
    private readonly log: LogStore,
    private readonly ledgerInfo: LedgerInfo,
    private readonly options: { cacheSize?: number } = {},
  ) {}

  /**
   * The bundle of one submission. Details are included only when `withDetails` is true (the
   * caller decides with `maySeeDetails`). An accepted, unsealed submission gets a bundle with
   * the record and receipt only: its inclusion and ledger steps report "skipped".
   */
  async bundle(row: SubmissionRow, withDetails: boolean): Promise<ProofBundle> {
    const key = `${row.id}:${row.status}:${row.batch_to_size ?? ''}`;
    let base = this.cache.get(key);
    if (!base) {
      base = await this.build(row);
      if (row.batch_to_size !== null) this.remember(key, base);
    }
    if (!withDetails) return base;
    return { ...base, details: JSON.parse(row.details_json) as RecordDetails };
  }

  /** Registers a section builder, e.g. the anchorer's `anchor` reference for anchored records. */
  addEnricher(enricher: BundleEnricher): void {
    this.enrichers.push(enricher);
    this.cache.clear();
  }

  private remember(key: string, bundle: ProofBundle): void {
    const max = this.options.cacheSize ?? 50_000;
    if (this.cache.size >= max) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(key, bundle);
  }

  private async build(row: SubmissionRow): Promise<ProofBundle> {
    const bundle: ProofBundle = {
      version: BUNDLE_VERSION,
      record: JSON.parse(row.record_json) as EvidenceRecord,
      receipt: row.receipt,
    };
    if (row.batch_to_size === null || row.leaf_index === null || row.batch_tx_id === null) return bundle;
    const size = Number(row.batch_to_size);
    const index = Number(row.leaf_index);
    const [path, note] = await Promise.all([this.log.inclusionProof(index, size), this.checkpointNote(size)]);
    bundle.inclusion = { index, size, path: path.map(toHex), checkpoint: note };
    bundle.ledger = {
      network: this.ledgerInfo.network,
      ...(this.ledgerInfo.channel ? { channel: this.ledgerInfo.channel } : {}),
      ...(this.ledgerInfo.chaincode ? { chaincode: this.ledgerInfo.chaincode } : {}),
      txId: row.batch_tx_id,
      block: Number(row.batch_block),
      size,
      root: toHex(row.batch_root!),
      ...(this.ledgerInfo.note ? { note: this.ledgerInfo.note } : {}),
    };
    for (const enrich of this.enrichers) await enrich(row, bundle);
    return bundle;
  }

  private async checkpointNote(size: number): Promise<string> {
    const cached = this.notes.get(size);
    if (cached) return cached;
    const checkpoint = await this.log.checkpoint(size);
    if (!checkpoint) throw new Error(`no signed checkpoint at recorded size ${size}`);
    if (this.notes.size > 10_000) this.notes.clear();
    this.notes.set(size, checkpoint.note);
    return checkpoint.note;
  }
}

/**
 * Loads submissions with everything a bundle needs. Give hot callers a statement `name`: the
 * statement is then prepared once per connection and its plan reused.
 */
export async function loadSubmissions(
  db: Queryable,
  where: string,
  params: unknown[],
  suffix = 'order by s.seq',
  name?: string,
): Promise<SubmissionRow[]> {
  const text = `${SUBMISSION_SELECT} where ${where} ${suffix}`;
  const { rows } = await db.query<SubmissionRow>(
    name ? { name, text, values: params } : { text, values: params },
  );
  return rows;
}
