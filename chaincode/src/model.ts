// The domain model the contract stores: projects, stored records, flags, checkpoints and the
// per-project summary the rules read. Parsers here turn untrusted JSON into these types or throw a
// coded error; nothing in this file touches the ledger.

import { hash } from 'node:crypto';
import {
  canonicalJson,
  DETAILS_FIELDS,
  DOCUMENT_KINDS,
  type EvidenceRecord,
  isSha256Hex,
  RECORD_FIELDS,
  type RecordDetails,
} from '@lianzheng/proof';
import { fail } from './errors.ts';
import { detailsJsonFast } from './record-json.ts';
import { requireKindDetails } from './validation.ts';

export type ProjectLevel = 'A' | 'B' | 'C';

export interface Milestone {
  id: string;
  name: string;
  /** YYYY-MM-DD, a calendar day in China Standard Time. */
  dueDate: string;
}

/** A registered project (立项), as submitted; `level` is derived from the budget. */
export interface Project {
  id: string;
  name: string;
  /** 6-digit administrative division code. */
  regionCode: string;
  ownerOrg: string;
  /** Integer fen, decimal string. */
  budget: string;
  level: ProjectLevel;
  milestones: Milestone[];
}

/** Who submitted a transaction, from the caller's certificate (never part of the hashed record). */
export interface Submitter {
  msp: string;
  /** The certificate subject DN, from `clientIdentity.getID()`. */
  subject: string;
}

export interface StoredProject {
  project: Project;
  registeredAt: string;
  txId: string;
  by: Submitter;
}

/** A record as kept in world state: the record exactly as hashed, its details and the ledger's facts. */
export interface StoredRecord {
  record: EvidenceRecord;
  details: RecordDetails;
  /** Leaf index in the log. */
  index: number;
  txId: string;
  /** Transaction time (RFC 3339, ms). */
  recordedAt: string;
  by: Submitter;
  supersededBy?: string;
  withdrawnBy?: string;
  /** The contract chain (id of the chain's first contract) this record counts against. */
  contractChain?: string;
  /** A payment made before any passed acceptance of its contract. */
  advance?: boolean;
}

export const FLAG_CODES = [
  'PAYMENT_WITHOUT_CONTRACT',
  'ADVANCE_OVER_LIMIT',
  'PAYMENT_BEFORE_ACCEPTANCE',
  'OVERPAYMENT',
  'CHANGE_OVER_15_PERCENT',
  'MILESTONE_OVERDUE_30_DAYS',
  'SUPERSEDED_AFTER_RELIANCE',
  'MULTIPLE_LIVE_CONTRACTS',
] as const;

export type FlagCode = (typeof FLAG_CODES)[number];

/**
 * The version of each rule: a flag names `CODE@version`, so a reader knows which wording of the
 * rule raised it when a rule changes later.
 */
export const RULE_VERSIONS: Readonly<Record<FlagCode, number>> = {
  PAYMENT_WITHOUT_CONTRACT: 1,
  ADVANCE_OVER_LIMIT: 1,
  PAYMENT_BEFORE_ACCEPTANCE: 1,
  OVERPAYMENT: 1,
  CHANGE_OVER_15_PERCENT: 1,
  MILESTONE_OVERDUE_30_DAYS: 1,
  SUPERSEDED_AFTER_RELIANCE: 1,
  MULTIPLE_LIVE_CONTRACTS: 1,
};

export interface Flag {
  code: FlagCode;
  /** The rule and its version, `CODE@version` (RULE_VERSIONS). */
  rule: string;
  recordId: string;
  projectId: string;
  /** Machine-readable facts behind the flag (amounts as fen strings). */
  detail: Record<string, string | number | boolean>;
  /** The other records the flag rests on (the contract it counts against, the live contracts). */
  refs: string[];
  /** Transaction time at which the rule fired. */
  raisedAt: string;
  /**
   * Queries only (never stored with the flag): the record that has since answered it and when —
   * a passed acceptance of an overdue milestone.
   */
  resolvedBy?: string;
  resolvedAt?: string;
}

/**
 * What a later record did to an earlier flag: a passed acceptance resolves an overdue
 * milestone's flag (`by` its id); withdrawing or superseding that acceptance reopens it
 * (`by: null`). Flags live in batch values written once, so a resolution is data of its own.
 */
export interface FlagResolution {
  code: 'MILESTONE_OVERDUE_30_DAYS';
  projectId: string;
  milestone: string;
  by: string | null;
  at: string;
  /**
   * The resolving (or formerly resolving) acceptance is restricted: only in the private
   * collection and the full answers, never in public state or the block.
   */
  restricted?: true;
}

/** A resolution as the project keeps it: by which record, when (restricted: private only). */
export interface Resolved {
  by: string;
  at: string;
  /** The resolving record is restricted: its milestone and result are not public. */
  restricted?: true;
}

/** Running totals of one contract and the versions that superseded it. Amounts in fen. */
export interface ContractTally {
  /** The live version's record id. */
  current: string;
  amount: string;
  paid: string;
  /** Paid before the first passed acceptance. */
  advance: string;
  /** Net sum of change orders. */
  changes: string;
  payments: number;
  passedAcceptances: number;
  /** False once the chain's current version is withdrawn. */
  live: boolean;
}

/** Per-project aggregates, so a rule never rescans a project's history. */
export interface ProjectSummary {
  records: number;
  contracts: Record<string, ContractTally>;
  /** milestone id → the passed acceptance record that covers it. */
  passed: Record<string, string>;
  /** Milestones already flagged as overdue (flag once). */
  overdue: string[];
  /** Overdue milestones since accepted: milestone id → the resolving acceptance. */
  resolved?: Record<string, Resolved>;
}

export interface Checkpoint {
  size: number;
  /** Lowercase hex. */
  root: string;
}

export interface BatchResult {
  toSize: number;
  root: string;
  flags: Flag[];
  /** Earlier flags this batch resolved or reopened (only when there are any). */
  resolutions?: FlagResolution[];
}

export interface LedgerConfig {
  adminMsp: string;
  writers: string[];
  /** ADVANCE_OVER_LIMIT threshold, percent of the contract amount. */
  advanceLimitPercent: number;
}

export const DEFAULT_ADVANCE_LIMIT_PERCENT = 30;

export interface RecordEntry {
  record: EvidenceRecord;
  details: RecordDetails;
}

/** An entry of RecordBatch's argument: a restricted record's details travel as transient data. */
export interface RecordBatchEntry {
  record: EvidenceRecord;
  details?: RecordDetails;
}

export interface RecordBatchArgs {
  fromSize: number;
  records: RecordBatchEntry[];
}

// ---------------------------------------------------------------------------------------------
// Parsing untrusted input.

// The alphabets of a record's fields, as JSON Schema `pattern` strings too, so the gateway's
// request schemas accept exactly what the contract does.
export const RECORD_ID_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
// Ids become composite-key attributes: no U+0000 or U+10FFFF, and a bounded, readable alphabet.
export const PROJECT_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$';
export const MILESTONE_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';
/** Integer fen as a decimal string: no leading zeros, no `-0`. */
export const FEN_PATTERN = '^(0|-?[1-9][0-9]{0,29})$';
/** At most this many refs per record. */
export const MAX_REFS = 32;
/** Longest title or reason, in UTF-16 code units (JSON Schema's maxLength counts the same way). */
export const MAX_TEXT = 2000;

const UUID = new RegExp(RECORD_ID_PATTERN);
const PROJECT_ID = new RegExp(PROJECT_ID_PATTERN);
const MILESTONE_ID = new RegExp(MILESTONE_ID_PATTERN);
const REGION_CODE = /^[1-9]\d{5}$/;
const MSP_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const FEN = new RegExp(FEN_PATTERN);
const SALT = /^[0-9a-f]{32}$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const ACCEPTED_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const MAX_MILESTONES = 200;

const KINDS: ReadonlySet<string> = new Set(DOCUMENT_KINDS);
const RECORD_KEYS: ReadonlySet<string> = new Set(RECORD_FIELDS);
const DETAILS_KEYS: ReadonlySet<string> = new Set(DETAILS_FIELDS);

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isRecordId(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

export function isProjectId(value: unknown): value is string {
  return typeof value === 'string' && PROJECT_ID.test(value);
}

export function isMspId(value: unknown): value is string {
  return typeof value === 'string' && MSP_ID.test(value);
}

export function isFen(value: unknown): value is string {
  return typeof value === 'string' && FEN.test(value);
}

export function isCalendarDate(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const m = DATE.exec(value);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = new Date(Date.UTC(y, mo - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d;
}

/**
 * RFC 3339 UTC with milliseconds, naming an instant that exists: what `Date.parse` and
 * `toISOString` giving back the same string accept (model.test.ts compares the two), without
 * making two Dates per record (issue #26). The shape is fixed, so each field is at a fixed place.
 */
export function isAcceptedAt(value: unknown): value is string {
  if (typeof value !== 'string' || !ACCEPTED_AT.test(value)) return false;
  const year = digits(value, 0, 4);
  const month = digits(value, 5, 2);
  const day = digits(value, 8, 2);
  return (
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysInMonth(year, month) &&
    digits(value, 11, 2) <= 23 &&
    digits(value, 14, 2) <= 59 &&
    digits(value, 17, 2) <= 59
  );
}

/** The decimal number of `length` ASCII digits at `at` (the caller has checked they are digits). */
function digits(s: string, at: number, length: number): number {
  let n = 0;
  for (let i = at; i < at + length; i++) n = n * 10 + (s.charCodeAt(i) - 48);
  return n;
}

/** Days of `month` (1–12) in the proleptic Gregorian calendar, as JavaScript's Date counts them. */
function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** RFC 4648 base32, lowercase, as character codes. */
const BASE32 = Array.from('abcdefghijklmnopqrstuvwxyz234567', (c) => c.charCodeAt(0));
/** CIDv1's header for a raw block hashed with SHA-256: version 1, codec raw (0x55), sha2-256, 32 bytes. */
const CID_RAW_SHA256_HEADER = [0x01, 0x55, 0x12, 0x20];
const cidChars = new Array<number>(59);

/**
 * `cidFromSha256(fromHex(hex))` — the CIDv1 (raw, sha2-256) in multibase base32 — for a digest
 * already checked to be 64 lowercase hex digits, written directly: the multiformats objects cost
 * ~1 µs and 1.6 KB of garbage per record in RecordBatch (issue #26). model.test.ts compares it with
 * proof's cidFromSha256.
 */
export function cidOfSha256Hex(hex: string): string {
  cidChars[0] = 0x62; // 'b', multibase base32
  let n = 1;
  let buffer = 0;
  let bits = 0;
  for (let i = 0; i < 36; i++) {
    let byte: number;
    if (i < 4) byte = CID_RAW_SHA256_HEADER[i]!;
    else {
      const hi = hex.charCodeAt(2 * i - 8);
      const lo = hex.charCodeAt(2 * i - 7);
      // '0'–'9' are 48–57, 'a'–'f' 97–102.
      byte = ((hi < 97 ? hi - 48 : hi - 87) << 4) | (lo < 97 ? lo - 48 : lo - 87);
    }
    buffer = ((buffer << 8) | byte) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      cidChars[n++] = BASE32[(buffer >>> bits) & 31]!;
    }
  }
  if (bits > 0) cidChars[n++] = BASE32[(buffer << (5 - bits)) & 31]!;
  return String.fromCharCode(...cidChars);
}

function isText(value: unknown, max = MAX_TEXT): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= max;
}

/** Level from the budget in fen: A above 100 million CNY, C below 5 million, B in between. */
export function projectLevel(budgetFen: string | bigint): ProjectLevel {
  const fen = typeof budgetFen === 'bigint' ? budgetFen : BigInt(budgetFen);
  if (fen > 10_000_000_000n) return 'A';
  if (fen >= 500_000_000n) return 'B';
  return 'C';
}

export function parseProject(value: unknown): Project {
  if (!isObject(value)) fail('BAD_PROJECT', 'project must be a JSON object');
  const allowed = new Set(['id', 'name', 'regionCode', 'ownerOrg', 'budget', 'level', 'milestones']);
  for (const key of Object.keys(value)) if (!allowed.has(key)) fail('BAD_PROJECT', `unknown field ${key}`);
  const { id, name, regionCode, ownerOrg, budget, level, milestones } = value;
  if (!isProjectId(id)) fail('BAD_PROJECT', 'id must match [A-Za-z0-9][A-Za-z0-9._:-]{0,127}');
  if (!isText(name, 500)) fail('BAD_PROJECT', 'name must be a non-empty string');
  if (typeof regionCode !== 'string' || !REGION_CODE.test(regionCode))
    fail('BAD_PROJECT', 'regionCode must be a 6-digit administrative division code');
  if (!isText(ownerOrg, 200)) fail('BAD_PROJECT', 'ownerOrg must be a non-empty string');
  if (!isFen(budget) || budget.startsWith('-'))
    fail('BAD_PROJECT', 'budget must be non-negative integer fen');
  const derived = projectLevel(budget);
  if (level !== undefined && level !== derived)
    fail('BAD_PROJECT', `level ${String(level)} does not match the budget (level ${derived})`);
  const plan = milestones ?? [];
  if (!Array.isArray(plan) || plan.length > MAX_MILESTONES)
    fail('BAD_PROJECT', `milestones must be an array of at most ${MAX_MILESTONES}`);
  const seen = new Set<string>();
  const parsed = plan.map((m: unknown): Milestone => {
    if (!isObject(m)) fail('BAD_PROJECT', 'milestone must be an object');
    for (const key of Object.keys(m))
      if (key !== 'id' && key !== 'name' && key !== 'dueDate')
        fail('BAD_PROJECT', `unknown milestone field ${key}`);
    if (typeof m.id !== 'string' || !MILESTONE_ID.test(m.id))
      fail('BAD_PROJECT', 'milestone id must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}');
    if (seen.has(m.id)) fail('BAD_PROJECT', `duplicate milestone ${m.id}`);
    seen.add(m.id);
    if (!isText(m.name, 500)) fail('BAD_PROJECT', `milestone ${m.id} needs a name`);
    if (!isCalendarDate(m.dueDate)) fail('BAD_PROJECT', `milestone ${m.id} dueDate must be YYYY-MM-DD`);
    return { id: m.id, name: m.name, dueDate: m.dueDate };
  });
  return { id, name, regionCode, ownerOrg, budget, level: derived, milestones: parsed };
}

/** Checks the record's own shape (not its references); returns it typed. */
export function parseRecord(value: unknown): EvidenceRecord {
  if (!isObject(value)) fail('BAD_RECORD', 'record must be a JSON object');
  for (const key of Object.keys(value)) if (!RECORD_KEYS.has(key)) fail('BAD_RECORD', `unknown field ${key}`);
  const r = value;
  if (r.v !== 1) fail('BAD_RECORD', 'v must be 1');
  if (!isRecordId(r.id)) fail('BAD_RECORD', 'id must be a lowercase UUID');
  if (!isProjectId(r.projectId)) fail('BAD_RECORD', `record ${r.id}: bad projectId`);
  if (typeof r.kind !== 'string' || !KINDS.has(r.kind))
    fail('UNKNOWN_KIND', `record ${r.id}: ${String(r.kind)}`);
  const digests = r.digests;
  if (!isObject(digests) || !isSha256Hex(digests.sha256))
    fail('BAD_DIGEST', `record ${r.id}: digests.sha256 must be 64 lowercase hex`);
  for (const key of Object.keys(digests))
    if (key !== 'sha256' && key !== 'sm3') fail('BAD_DIGEST', `record ${r.id}: unknown digest ${key}`);
  if (digests.sm3 !== undefined && !isSha256Hex(digests.sm3))
    fail('BAD_DIGEST', `record ${r.id}: digests.sm3 must be 64 lowercase hex`);
  if (typeof r.cid !== 'string' || r.cid !== cidOfSha256Hex(digests.sha256))
    fail('BAD_CID', `record ${r.id}: cid is not the CIDv1 of digests.sha256`);
  if (r.visibility !== 'public' && r.visibility !== 'restricted')
    fail('BAD_RECORD', `record ${r.id}: visibility must be public or restricted`);
  const submitter = r.submitter;
  if (!isObject(submitter) || Object.keys(submitter).length !== 1 || !isText(submitter.org, 200))
    fail('BAD_RECORD', `record ${r.id}: submitter must be {org}`);
  if (!isAcceptedAt(r.acceptedAt))
    fail('BAD_RECORD', `record ${r.id}: acceptedAt must be RFC 3339 UTC with ms`);
  if (r.supersedes !== undefined && !isRecordId(r.supersedes))
    fail('BAD_REFERENCE', `record ${r.id}: supersedes must be a record id`);
  if (r.supersedes === r.id) fail('BAD_SUPERSEDE', `record ${r.id} supersedes itself`);
  if (r.refs !== undefined) {
    if (!Array.isArray(r.refs) || r.refs.length > MAX_REFS || !r.refs.every(isRecordId))
      fail('BAD_REFERENCE', `record ${r.id}: refs must be at most ${MAX_REFS} record ids`);
    if (new Set(r.refs).size !== r.refs.length) fail('BAD_REFERENCE', `record ${r.id}: duplicate refs`);
    if (r.refs.includes(r.id)) fail('BAD_REFERENCE', `record ${r.id} refers to itself`);
  }
  if (!isSha256Hex(r.detailsDigest))
    fail('BAD_DIGEST', `record ${r.id}: detailsDigest must be 64 lowercase hex`);
  return r as unknown as EvidenceRecord;
}

/** Checks the details' shape and that the record commits to them; kind-specific requirements too. */
export function parseDetails(value: unknown, record: EvidenceRecord): RecordDetails {
  return parseDetailsCanonical(value, record).details;
}

/**
 * `parseDetails`, also answering the details' canonical JSON: it is computed anyway to check the
 * record's `detailsDigest` (`detailsDigest` is SHA-256 of exactly these bytes), and RecordBatch
 * writes it into the batch value rather than serialising the details again (issue #26).
 */
export function parseDetailsCanonical(
  value: unknown,
  record: EvidenceRecord,
): { details: RecordDetails; json: string } {
  const id = record.id;
  if (!isObject(value)) fail('BAD_DETAILS', `record ${id}: details must be a JSON object`);
  for (const key of Object.keys(value))
    if (!DETAILS_KEYS.has(key)) fail('BAD_DETAILS', `record ${id}: unknown details field ${key}`);
  const d = value;
  if (typeof d.salt !== 'string' || !SALT.test(d.salt))
    fail('BAD_DETAILS', `record ${id}: salt must be 32 hex`);
  if (d.title !== undefined && !isText(d.title)) fail('BAD_DETAILS', `record ${id}: bad title`);
  if (d.amount !== undefined && !isFen(d.amount))
    fail('BAD_DETAILS', `record ${id}: amount must be integer fen`);
  if (d.milestone !== undefined && (typeof d.milestone !== 'string' || !MILESTONE_ID.test(d.milestone)))
    fail('BAD_DETAILS', `record ${id}: bad milestone id`);
  if (d.result !== undefined && d.result !== 'passed' && d.result !== 'failed')
    fail('BAD_DETAILS', `record ${id}: result must be passed or failed`);
  if (d.reason !== undefined && !isText(d.reason)) fail('BAD_DETAILS', `record ${id}: bad reason`);
  const details = d as unknown as RecordDetails;
  // Spelled field by field for details of the plain shape (record-json.ts: same bytes).
  const json = detailsJsonFast(details) ?? canonicalJson(details);
  // = detailsDigest(details), from the string kept for the batch value: SHA-256 of its UTF-8, as
  // lowercase hex (node:crypto straight from the string: no Buffer and no toHex per record, which
  // cost ~1.3 µs of a record's ~60 in RecordBatch, issue #26; the chaincode runs on Node ≥ 24).
  if (hash('sha256', json, 'hex') !== record.detailsDigest)
    fail('DETAILS_MISMATCH', `record ${id}: detailsDigest does not match the details`);
  requireKindDetails(record, details);
  return { details, json };
}

/**
 * `{fromSize, records: [{record, details}]}`, a restricted record as `{record}` (its details are
 * transient data); record-level checks happen later, per record.
 */
export function parseBatchArgs(json: string): RecordBatchArgs {
  const value = parseJsonArgument(json);
  if (!isObject(value)) fail('BAD_ARGUMENT', 'batch must be a JSON object');
  const { fromSize, records } = value;
  if (typeof fromSize !== 'number' || !Number.isSafeInteger(fromSize) || fromSize < 0)
    fail('BAD_ARGUMENT', 'fromSize must be a non-negative integer');
  if (!Array.isArray(records) || records.length === 0)
    fail('BAD_ARGUMENT', 'records must be a non-empty array');
  for (const entry of records) {
    if (!isObject(entry) || !isObject(entry.record))
      fail('BAD_ARGUMENT', 'each entry must be {record, details}');
    const restricted = entry.record.visibility === 'restricted';
    if (!(isObject(entry.details) || (restricted && entry.details === undefined)))
      fail('BAD_ARGUMENT', 'each entry must be {record, details}, or {record} for a restricted record');
  }
  return { fromSize, records: records as RecordBatchEntry[] };
}

export function parseJsonArgument(json: unknown): unknown {
  if (typeof json !== 'string') fail('BAD_ARGUMENT', 'argument must be a JSON string');
  try {
    return JSON.parse(json);
  } catch {
    return fail('BAD_ARGUMENT', 'argument is not valid JSON');
  }
}

export function parseConfigPatch(value: unknown): Partial<LedgerConfig> {
  if (!isObject(value)) fail('BAD_CONFIG', 'config must be a JSON object');
  const patch: Partial<LedgerConfig> = {};
  for (const [key, v] of Object.entries(value)) {
    if (key === 'adminMsp') {
      if (!isMspId(v)) fail('BAD_CONFIG', 'adminMsp must be an MSP id');
      patch.adminMsp = v;
    } else if (key === 'writers') {
      patch.writers = parseWriters(v);
    } else if (key === 'advanceLimitPercent') {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 100)
        fail('BAD_CONFIG', 'advanceLimitPercent must be an integer 0..100');
      patch.advanceLimitPercent = v;
    } else {
      fail('BAD_CONFIG', `unknown setting ${key}`);
    }
  }
  return patch;
}

export function parseWriters(value: unknown): string[] {
  if (!Array.isArray(value) || value.length > 64 || !value.every(isMspId))
    fail('BAD_CONFIG', 'writers must be an array of at most 64 MSP ids');
  // Sorted and unique, so the same list always serialises to the same bytes.
  return [...new Set(value as string[])].sort();
}
