// Builders for well-formed records, for tests and benchmarks: ids, digests, CIDs, salts and the
// details commitment are derived deterministically from a counter, so runs are repeatable.

import {
  cidFromSha256,
  type DocumentKind,
  detailsDigest,
  type EvidenceRecord,
  type RecordDetails,
  sha256,
  toHex,
} from '@lianzheng/proof';
import type { Project, RecordEntry } from '../model.ts';

const encoder = new TextEncoder();

/** A UUIDv7-shaped id from a number. */
export function testRecordId(n: number): string {
  const hex = n.toString(16).padStart(12, '0');
  return `0190a000-0000-7000-8000-${hex}`;
}

export interface EntryOptions {
  id: string;
  projectId: string;
  kind: DocumentKind;
  /** Hashed to make the document digest; defaults to the id. */
  content?: string;
  acceptedAt?: string;
  visibility?: 'public' | 'restricted';
  org?: string;
  supersedes?: string;
  refs?: string[];
  details?: Omit<RecordDetails, 'salt'>;
}

export function buildEntry(options: EntryOptions): RecordEntry {
  const digest = sha256(encoder.encode(options.content ?? options.id));
  const details: RecordDetails = {
    salt: toHex(sha256(encoder.encode(`salt:${options.id}`))).slice(0, 32),
    ...options.details,
  };
  const record: EvidenceRecord = {
    v: 1,
    id: options.id,
    projectId: options.projectId,
    kind: options.kind,
    digests: { sha256: toHex(digest) },
    cid: cidFromSha256(digest),
    visibility: options.visibility ?? 'restricted',
    submitter: { org: options.org ?? 'village-committee' },
    acceptedAt: options.acceptedAt ?? '2025-03-01T08:00:00.000Z',
    detailsDigest: detailsDigest(details),
  };
  if (options.supersedes !== undefined) record.supersedes = options.supersedes;
  if (options.refs !== undefined) record.refs = options.refs;
  return { record, details };
}

/** A C-level village road project with three milestones. */
export function villageRoadProject(id = 'XC-2025-ROAD-001'): Omit<Project, 'level'> {
  return {
    id,
    name: '南岭村村道硬化工程',
    regionCode: '430521',
    ownerOrg: '南岭村村民委员会',
    budget: '120000000',
    milestones: [
      { id: 'M1', name: '路基完成', dueDate: '2025-04-30' },
      { id: 'M2', name: '路面浇筑', dueDate: '2025-06-30' },
      { id: 'M3', name: '竣工验收', dueDate: '2025-08-31' },
    ],
  };
}
