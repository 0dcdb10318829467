import { canonicalBytes } from './canonical-json.ts';
import { cidFromSha256, sha256 } from './digest.ts';
import { fromHex, isSha256Hex, toHex } from './encoding.ts';
import { ProofError } from './errors.ts';
import { leafHash } from './merkle.ts';

export const DOCUMENT_KINDS = [
  'approval',
  'tender',
  'award',
  'contract',
  'construction_log',
  'change_order',
  'acceptance',
  'payment_approval',
  'notice',
  'withdrawal',
  'other',
] as const;
export type DocumentKind = (typeof DOCUMENT_KINDS)[number];

export function isDocumentKind(value: unknown): value is DocumentKind {
  return typeof value === 'string' && (DOCUMENT_KINDS as readonly string[]).includes(value);
}

/** The record as it becomes a leaf of the log: its canonical JSON is what is hashed. */
export interface EvidenceRecord {
  v: 1;
  id: string;
  projectId: string;
  kind: DocumentKind;
  digests: { sha256: string; sm3?: string };
  cid: string;
  visibility: 'public' | 'restricted';
  submitter: { org: string };
  acceptedAt: string;
  supersedes?: string;
  refs?: string[];
  detailsDigest: string;
}

/** Disclosed beside the record; the salt keeps restricted details from being guessed by hash. */
export interface RecordDetails {
  salt: string;
  title?: string;
  amount?: string;
  milestone?: string;
  result?: 'passed' | 'failed';
  reason?: string;
}

/** The log leaf of a record: H(0x00 ‖ canonicalJson(record)). */
export function recordLeafHash(record: EvidenceRecord): Uint8Array {
  return leafHash(canonicalBytes(record));
}

/** SHA-256 hex of canonicalJson(details): the commitment the record carries. */
export function detailsDigest(details: RecordDetails): string {
  return toHex(sha256(canonicalBytes(details)));
}

const RFC3339_UTC_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/** Every field an EvidenceRecord may have (the leaf's schema); nothing else is allowed. */
export const RECORD_FIELDS = [
  'v',
  'id',
  'projectId',
  'kind',
  'digests',
  'cid',
  'visibility',
  'submitter',
  'acceptedAt',
  'supersedes',
  'refs',
  'detailsDigest',
] as const;
/** Every field RecordDetails may have. */
export const DETAILS_FIELDS = ['salt', 'title', 'amount', 'milestone', 'result', 'reason'] as const;
const RECORD_KEYS: ReadonlySet<string> = new Set(RECORD_FIELDS);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function bad(why: string): never {
  throw new ProofError('BAD_RECORD', why);
}

function nonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

/**
 * Checks that a value has the exact shape of an EvidenceRecord (no unknown fields; the CID agrees
 * with the SHA-256) and returns it typed; throws `BAD_RECORD` otherwise.
 */
export function validateRecord(value: unknown): EvidenceRecord {
  if (!isObject(value)) bad('a record is an object');
  for (const key of Object.keys(value)) if (!RECORD_KEYS.has(key)) bad(`unknown field ${key}`);
  if (value.v !== 1) bad('v must be 1');
  if (!nonEmptyString(value.id)) bad('id');
  if (!nonEmptyString(value.projectId)) bad('projectId');
  if (!isDocumentKind(value.kind)) bad('kind');
  const digests = value.digests;
  if (!isObject(digests)) bad('digests');
  for (const key of Object.keys(digests)) if (key !== 'sha256' && key !== 'sm3') bad(`unknown digest ${key}`);
  if (!isSha256Hex(digests.sha256)) bad('digests.sha256 must be 64 lowercase hex digits');
  if (digests.sm3 !== undefined && !isSha256Hex(digests.sm3))
    bad('digests.sm3 must be 64 lowercase hex digits');
  if (typeof value.cid !== 'string' || value.cid !== cidFromSha256(fromHex(digests.sha256))) {
    bad('cid does not match digests.sha256');
  }
  if (value.visibility !== 'public' && value.visibility !== 'restricted') bad('visibility');
  const submitter = value.submitter;
  if (!isObject(submitter) || Object.keys(submitter).length !== 1 || !nonEmptyString(submitter.org)) {
    bad('submitter');
  }
  if (typeof value.acceptedAt !== 'string' || !RFC3339_UTC_MS.test(value.acceptedAt)) bad('acceptedAt');
  if (value.supersedes !== undefined && !nonEmptyString(value.supersedes)) bad('supersedes');
  if (value.refs !== undefined && (!Array.isArray(value.refs) || !value.refs.every(nonEmptyString)))
    bad('refs');
  if (!isSha256Hex(value.detailsDigest)) bad('detailsDigest');
  return value as unknown as EvidenceRecord;
}
