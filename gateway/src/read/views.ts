import type { EvidenceRecord, RecordDetails } from '@lianzheng/proof';
import type { Principal } from '../auth/principal.ts';
import type { LedgerFlagJson, SubmissionRow } from '../intake/submission-store.ts';
import { mayReadRestricted } from './bundle.ts';
import type { FlagJson } from './schemas.ts';

// What a principal sees of a submission: the record (which holds no secrets — only digests and
// metadata the submitter chose), its status, links and flags; restricted details and the facts
// behind a flag only for the owning organisation, inspectors of the region and admins.

export function projectScope(row: Pick<SubmissionRow, 'owner_org' | 'region_code'>) {
  return { ownerOrg: row.owner_org, regionCode: row.region_code };
}

export function mayReadRow(principal: Principal, row: SubmissionRow, record: EvidenceRecord): boolean {
  return mayReadRestricted(principal, projectScope(row), record.submitter.org);
}

/**
 * Facts behind a flag that everyone may see, by flag code. An overdue milestone is judged from
 * the project's plan (public on its notice page: milestone ids and due dates) and the ledger's
 * clock, so naming it hides nothing — and without it two overdue milestones read as the same
 * flag twice. Every other flag's facts (amounts, shares, contracts) stay restricted.
 */
const PUBLIC_FLAG_DETAIL: Readonly<Record<string, readonly string[]>> = {
  MILESTONE_OVERDUE_30_DAYS: ['milestone', 'dueDate', 'daysOverdue'],
  // Which contracts are live follows from records' kinds and supersede/withdraw links (public).
  MULTIPLE_LIVE_CONTRACTS: ['liveContracts'],
};

export function flagView(flag: LedgerFlagJson, withDetail: boolean): FlagJson {
  const out: FlagJson = { code: flag.code, recordId: flag.recordId };
  if (typeof flag.rule === 'string') out.rule = flag.rule;
  if (typeof flag.projectId === 'string') out.projectId = flag.projectId;
  if (typeof flag.raisedAt === 'string') out.raisedAt = flag.raisedAt;
  // The records a flag rests on are facts too (the contract a payment counts against): public
  // only for the codes whose facts are.
  if (Array.isArray(flag.refs) && (withDetail || PUBLIC_FLAG_DETAIL[flag.code]))
    out.refs = flag.refs.filter((r): r is string => typeof r === 'string');
  // Resolved since (flag_resolutions): by a restricted acceptance only for those who may read it.
  if (typeof flag.resolvedBy === 'string' && (withDetail || flag.resolvedRestricted !== true)) {
    out.resolvedBy = flag.resolvedBy;
    if (typeof flag.resolvedAt === 'string') out.resolvedAt = flag.resolvedAt;
  }
  if (!flag.detail || typeof flag.detail !== 'object') return out;
  const detail = flag.detail as Record<string, string | number | boolean>;
  if (withDetail) {
    out.detail = detail;
    return out;
  }
  const publicFields = PUBLIC_FLAG_DETAIL[flag.code];
  if (publicFields) {
    const shown: Record<string, string | number | boolean> = {};
    for (const field of publicFields) if (detail[field] !== undefined) shown[field] = detail[field];
    if (Object.keys(shown).length > 0) out.detail = shown;
  }
  return out;
}

export interface RecordEntry {
  id: string;
  status: SubmissionRow['status'];
  projectId: string;
  kind: EvidenceRecord['kind'];
  sha256: string;
  cid: string;
  visibility: EvidenceRecord['visibility'];
  acceptedAt: string;
  submitter: { org: string };
  leafIndex?: number;
  rejectCode?: string;
  supersedes?: string;
  refs?: string[];
  supersededBy?: string;
  withdrawnBy?: string;
  flags: FlagJson[];
  details?: RecordDetails;
}

export function recordEntry(
  row: SubmissionRow,
  principal: Principal,
): { entry: RecordEntry; record: EvidenceRecord; privileged: boolean } {
  const record = JSON.parse(row.record_json) as EvidenceRecord;
  const privileged = mayReadRow(principal, row, record);
  const entry: RecordEntry = {
    id: row.id,
    status: row.status,
    projectId: row.project_id,
    kind: record.kind,
    sha256: row.sha256,
    cid: record.cid,
    visibility: record.visibility,
    acceptedAt: record.acceptedAt,
    submitter: record.submitter,
    flags: row.flags.map((f) => flagView(f, privileged)),
  };
  if (row.leaf_index !== null) entry.leafIndex = Number(row.leaf_index);
  if (row.reject_code) entry.rejectCode = row.reject_code;
  if (record.supersedes) entry.supersedes = record.supersedes;
  if (record.refs) entry.refs = record.refs;
  if (row.superseded_by) entry.supersededBy = row.superseded_by;
  if (row.withdrawn_by) entry.withdrawnBy = row.withdrawn_by;
  if (record.visibility === 'public' || privileged)
    entry.details = JSON.parse(row.details_json) as RecordDetails;
  return { entry, record, privileged };
}
