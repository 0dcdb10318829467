// RecordBatch: check each record, run the rules, store the batch, and extend the log the ledger
// keeps itself. On Fabric every state call is a round trip to the peer, so a batch costs a constant
// number of them plus a few per project and per page of facts it touches, never a number per
// record: the config and the log head are read, each project's key is read and written once, the
// pages holding the batch's ids and the ids it names are read (and written if changed), and the
// batch's records, the log head and the checkpoint are one write each (README: the count).

import {
  appendLeaves,
  canonicalBytes,
  canonicalJson,
  type EvidenceRecord,
  emptyFrontier,
  frontierFromJson,
  frontierRoot,
  frontierToJson,
  leafHash,
  type RecordDetails,
  sha256,
  TrustedCanonicalFragment,
  toHex,
} from '@lianzheng/proof';
import { requireWriter } from './access.ts';
import { type ProjectBook, type RecordFact, type RuleDetails, readRuleBook } from './book.ts';
import { submitterOf, txTime } from './context.ts';
import { fail } from './errors.ts';
import type { LedgerContext } from './ledger.ts';
import {
  type BatchResult,
  type Checkpoint,
  type Flag,
  type FlagCode,
  type FlagResolution,
  isObject,
  isProjectId,
  isRecordId,
  type LedgerConfig,
  MAX_REFS,
  parseBatchArgs,
  parseDetailsCanonical,
  parseRecord,
  type Submitter,
} from './model.ts';
import { TRANSIENT_DETAILS_KEY } from './protocol.ts';
import { recordJsonFast } from './record-json.ts';
import { evaluateRecord, type RuleRecord } from './rules.ts';
import { EncodedValue, KEY, pad16, type StateView } from './state.ts';
import { type RecordFacts, validateEntry } from './validation.ts';

export const BATCH_EVENT = 'BatchRecorded';

/** The log's right edge as kept in world state. */
export interface LogHead {
  size: number;
  root: string;
  /** Complete-subtree hashes, hex, left to right (proof's `frontierToJson`). */
  hashes: string[];
}

/**
 * A record as the batch value keeps it (index = the batch's fromSize + its position); a
 * restricted record's details are in the batch's private value instead.
 */
export interface BatchRecord {
  record: EvidenceRecord;
  details?: RecordDetails;
}

/** The batch's value in the private collection, under the same key as its public value. */
export interface PrivateBatchValue {
  /** The restricted records' details, by record id. */
  details: Record<string, RecordDetails>;
  /** Every flag of the batch with its facts, in the order of the public `flags`. */
  flags: Flag[];
  /** Every resolution of the batch, restricted ones included (only when there are restricted ones). */
  resolutions?: FlagResolution[];
}

/**
 * Facts behind a flag that may be public, by code: an overdue milestone follows from the
 * project's plan and the ledger's clock (SECURITY.md); the live contracts of a project follow from
 * its records' kinds and supersede/withdraw links, which are public. Every other flag's facts are
 * amounts, shares and the contract a record counts against, restricted ones included, so its
 * public form has `detail: {}` and `refs: []`, and the facts are in the batch's private value.
 */
const PUBLIC_FLAG_FACTS: ReadonlySet<FlagCode> = new Set<FlagCode>([
  'MILESTONE_OVERDUE_30_DAYS',
  'MULTIPLE_LIVE_CONTRACTS',
]);

export function publicFlag(flag: Flag): Flag {
  if (PUBLIC_FLAG_FACTS.has(flag.code)) return flag;
  if (Object.keys(flag.detail).length === 0 && (flag.refs ?? []).length === 0) return flag;
  return { ...flag, detail: {}, refs: [] };
}

/** A resolution by (or reopening of) a restricted acceptance is not public. */
export function publicResolutions(resolutions: FlagResolution[]): FlagResolution[] {
  return resolutions.filter((r) => !r.restricted);
}

/** What a batch left behind: its records, and its result so a repeat of it gets the same answer. */
export interface StoredBatch extends BatchResult {
  fromSize: number;
  /** sha256 over the batch's leaf hashes, concatenated. */
  leaves: string;
  txId: string;
  /** Transaction time, RFC 3339 (every record of the batch has it). */
  recordedAt: string;
  by: Submitter;
  records: BatchRecord[];
}

/**
 * A record of the batch value as the canonical JSON of its record and of its public details: the
 * strings the contract canonicalised to hash the leaf and check the details, so a batch's records
 * are serialised once, not twice (issue #26).
 */
interface StoredRecordJson {
  record: string;
  /** Undefined for a restricted record (its details are in the private value). */
  details: string | undefined;
}

const RECORD_OPEN = Buffer.from('{"record":');
const DETAILS_OPEN = Buffer.from('{"details":');
const RECORD_AFTER_DETAILS = Buffer.from(',"record":');

/**
 * `canonicalBytes` of the StoredBatch (`rest` with `records`, each record `{details?, record}`
 * with keys in canonical order), written straight into one buffer: each string encoded as UTF-8
 * where it goes, the records' ASCII apart from the details' Chinese text, rather than one ~6 MB
 * two-byte string joined from 10,000 pieces and encoded again (~20 → ~6 ms a batch, issue #26).
 * Same bytes: write-bytes.test.ts compares the write set with canonicalBytes of the StoredBatch;
 * readers decode a StoredBatch.
 */
function storedBatchBytes(
  rest: Omit<StoredBatch, 'records'>,
  records: readonly StoredRecordJson[],
): Uint8Array {
  // The rest in canonical JSON with a NUL where the records go: canonical JSON never holds a raw
  // NUL (JSON.stringify escapes one in a string or a key), so it splits there and only there.
  const parts = canonicalJson({ ...rest, records: new TrustedCanonicalFragment('\u0000') }).split('\u0000');
  if (parts.length !== 2) throw new Error('the batch value has no single place for its records');
  const head = Buffer.from(parts[0]!, 'utf8');
  const tail = Buffer.from(parts[1]!, 'utf8');
  // '[' + ']' + a comma between records + per record its braces, keys and strings.
  let size = head.length + tail.length + 2 + Math.max(records.length - 1, 0);
  for (const { record, details } of records) {
    size += RECORD_OPEN.length + Buffer.byteLength(record, 'utf8') + 1;
    if (details !== undefined)
      size +=
        DETAILS_OPEN.length -
        RECORD_OPEN.length +
        RECORD_AFTER_DETAILS.length +
        Buffer.byteLength(details, 'utf8');
  }
  const out = Buffer.allocUnsafe(size);
  let at = head.copy(out, 0);
  out[at++] = 0x5b; // [
  for (let i = 0; i < records.length; i++) {
    const { record, details } = records[i]!;
    if (i > 0) out[at++] = 0x2c; // ,
    if (details === undefined) at += RECORD_OPEN.copy(out, at);
    else {
      at += DETAILS_OPEN.copy(out, at);
      at += out.write(details, at, 'utf8');
      at += RECORD_AFTER_DETAILS.copy(out, at);
    }
    at += out.write(record, at, 'utf8');
    out[at++] = 0x7d; // }
  }
  out[at++] = 0x5d; // ]
  at += tail.copy(out, at);
  if (at !== size) throw new Error('the batch value was not written as sized');
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

export interface BatchEvent {
  fromSize: number;
  toSize: number;
  root: string;
}

export async function readLogHead(view: StateView): Promise<LogHead> {
  const head = await view.get<LogHead>(view.key(KEY.log));
  if (head) return head;
  const empty = emptyFrontier();
  return { size: 0, root: toHex(frontierRoot(empty)), hashes: frontierToJson(empty).hashes };
}

/**
 * The record's canonical JSON and its leaf hash. The contract hashes every record itself (it never
 * takes a leaf from the gateway); the JSON is kept to write the record into the batch value.
 */
function leafOf(record: unknown, position: number): { leaf: Uint8Array; json: string } {
  try {
    // Spelled field by field when the record has the plain shape (record-json.ts: same bytes).
    const json = recordJsonFast(record) ?? canonicalJson(record);
    return { leaf: leafHash(Buffer.from(json, 'utf8')), json };
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'error';
    return fail('BAD_RECORD', `record #${position} cannot be canonicalised (${code})`);
  }
}

function digestLeaves(leaves: Uint8Array[]): string {
  const all = new Uint8Array(leaves.length * 32);
  for (let i = 0; i < leaves.length; i++) all.set(leaves[i]!, i * 32);
  return toHex(sha256(all));
}

/** The batch's projects: each project's key, read once (null: not registered). */
class Books {
  private readonly books = new Map<string, ProjectBook | null>();
  /** The projects a record of this batch was added to, in first-touch order. */
  readonly touched = new Set<ProjectBook>();

  constructor(private readonly view: StateView) {}

  async get(projectId: string): Promise<ProjectBook | undefined> {
    let book = this.books.get(projectId);
    if (book === undefined) {
      book = (await readRuleBook(this.view, projectId)) ?? null;
      this.books.set(projectId, book);
    }
    return book ?? undefined;
  }

  /**
   * Reads, before the records are checked one by one, every project the batch names and the
   * pages of every id it adds or names, the reads of each step issued together (the embedded
   * ledger answers each step in one query; on a peer they are the same calls, only earlier).
   * Entries are not checked here: what is malformed is skipped and refused in order later.
   */
  async preload(entries: readonly { record: unknown }[]): Promise<void> {
    const ids = new Map<string, Set<string>>();
    for (const { record } of entries) {
      if (!isObject(record)) continue;
      const { projectId, id, refs, supersedes } = record as Record<string, unknown>;
      if (!isProjectId(projectId)) continue;
      const named = ids.get(projectId) ?? new Set<string>();
      ids.set(projectId, named);
      if (isRecordId(id)) named.add(id);
      if (isRecordId(supersedes)) named.add(supersedes);
      if (Array.isArray(refs)) for (const ref of refs.slice(0, MAX_REFS)) if (isRecordId(ref)) named.add(ref);
    }
    const books = await Promise.all([...ids.keys()].map((p) => this.get(p)));
    await Promise.all(books.map((book) => book?.load(ids.get(book.id)!)));
  }

  /**
   * A record of another project this batch has read, for a clearer refusal (only on the way to
   * refusing the record: it reads that id's page in those projects).
   */
  async elsewhere(id: string, projectId: string): Promise<RecordFacts | undefined> {
    for (const [other, book] of this.books) {
      if (other === projectId || !book) continue;
      await book.load([id]);
      const fact = book.fact(id);
      if (fact) return factsOf(id, other, fact);
    }
    return undefined;
  }
}

function factsOf(id: string, projectId: string, fact: RecordFact): RecordFacts {
  const facts: RecordFacts = { id, projectId, kind: fact.k };
  if (fact.s !== undefined) facts.supersededBy = fact.s;
  if (fact.w !== undefined) facts.withdrawnBy = fact.w;
  return facts;
}

function ruleRecordOf(id: string, fact: RecordFact): RuleRecord {
  const out: RuleRecord = { record: { id, kind: fact.k }, details: fact.d ?? {} };
  if (fact.c !== undefined) out.contractChain = fact.c;
  if (fact.a) out.advance = true;
  return out;
}

/** Kinds whose details the rules read again when a later record supersedes or withdraws them. */
const KINDS_WITH_RULE_DETAILS: ReadonlySet<string> = new Set([
  'payment_approval',
  'change_order',
  'acceptance',
]);

function ruleDetailsOf(kind: string, details: RecordDetails): RuleDetails | undefined {
  if (!KINDS_WITH_RULE_DETAILS.has(kind)) return undefined;
  const d: RuleDetails = {};
  if (details.amount !== undefined) d.amount = details.amount;
  if (details.result !== undefined) d.result = details.result;
  if (details.milestone !== undefined) d.milestone = details.milestone;
  return Object.keys(d).length > 0 ? d : undefined;
}

export async function recordBatch(
  view: StateView,
  ctx: LedgerContext,
  batchJson: string,
): Promise<BatchResult> {
  const config = await requireWriter(view, ctx);
  const args = parseBatchArgs(batchJson);
  const canonical = args.records.map((entry, i) => leafOf(entry.record, i));
  const leaves = canonical.map((c) => c.leaf);
  const leavesDigest = digestLeaves(leaves);
  const head = await readLogHead(view);

  if (args.fromSize !== head.size)
    return answerRepeat(view, args.fromSize, head, leaves.length, leavesDigest);

  const c: ApplyContext = {
    fromSize: args.fromSize,
    index: args.fromSize,
    at: txTime(ctx),
    config,
    books: new Books(view),
    inBatch: new Set(),
    transient: transientDetails(ctx),
    hidden: {},
  };
  const flags: Flag[] = [];
  const resolutions: FlagResolution[] = [];
  // Each record as the batch value keeps it, already canonical (see storedBatchBytes).
  const records: StoredRecordJson[] = [];
  await c.books.preload(args.records);

  for (let i = 0; i < args.records.length; i++) {
    const entry = args.records[i]!;
    c.index = args.fromSize + i;
    const applied = await checkAndApply(entry, canonical[i]!.json, c);
    records.push(applied.stored);
    flags.push(...applied.flags);
    resolutions.push(...applied.resolutions);
  }
  for (const id of c.transient.keys())
    if (!c.inBatch.has(id))
      fail('BAD_DETAILS', `transient details for ${id}, which is not a restricted record of the batch`);

  for (const book of c.books.touched) book.write();

  const frontier = appendLeaves(frontierFromJson({ size: head.size, hashes: head.hashes }), leaves);
  const root = toHex(frontierRoot(frontier));
  const toSize = frontier.size;
  const nextHead: LogHead = { size: toSize, root, hashes: frontierToJson(frontier).hashes };
  view.set(view.key(KEY.log), nextHead);
  view.set(view.key(KEY.checkpoint, pad16(toSize)), { size: toSize, root } satisfies Checkpoint);
  // The result is in the block (Fabric keeps the response): flags and resolutions in their
  // public form.
  const shown = flags.map(publicFlag);
  const shownResolutions = publicResolutions(resolutions);
  const result: BatchResult = { toSize, root, flags: shown };
  if (shownResolutions.length > 0) result.resolutions = shownResolutions;
  const batchKey = view.key(KEY.batch, pad16(args.fromSize));
  const hiddenResolutions = shownResolutions.length < resolutions.length;
  if (Object.keys(c.hidden).length > 0 || shown.some((f, i) => f !== flags[i]) || hiddenResolutions)
    view.setPrivate(batchKey, {
      details: c.hidden,
      flags,
      ...(hiddenResolutions ? { resolutions } : {}),
    } satisfies Omit<PrivateBatchValue, 'details'> & { details: Record<string, TrustedCanonicalFragment> });
  const stored: Omit<StoredBatch, 'records'> = {
    ...result,
    fromSize: args.fromSize,
    leaves: leavesDigest,
    txId: ctx.stub.getTxID(),
    recordedAt: c.at,
    by: submitterOf(ctx),
  };
  view.set(batchKey, new EncodedValue(storedBatchBytes(stored, records)));
  await view.flush();
  const event: BatchEvent = { fromSize: args.fromSize, toSize, root };
  ctx.stub.setEvent(BATCH_EVENT, canonicalBytes(event));
  return result;
}

/** A batch that does not start at the log's end: the same batch again, or a gap (or a fork). */
async function answerRepeat(
  view: StateView,
  fromSize: number,
  head: LogHead,
  count: number,
  leavesDigest: string,
): Promise<BatchResult> {
  if (fromSize < head.size) {
    const stored = await view.get<StoredBatch>(view.key(KEY.batch, pad16(fromSize)));
    if (stored) {
      if (stored.leaves === leavesDigest && stored.toSize - stored.fromSize === count)
        return {
          toSize: stored.toSize,
          root: stored.root,
          flags: stored.flags,
          ...(stored.resolutions ? { resolutions: stored.resolutions } : {}),
        };
      fail('LOG_CONFLICT', `a different batch was already recorded from size ${fromSize}`);
    }
  }
  return fail('LOG_GAP', `batch starts at ${fromSize} but the log has ${head.size} leaves`);
}

interface ApplyContext {
  /** Where the batch starts in the log. */
  fromSize: number;
  index: number;
  at: string;
  config: LedgerConfig;
  books: Books;
  /** Ids of this batch's records so far. */
  inBatch: Set<string>;
  /** Restricted records' details from the transient data. */
  transient: Map<string, unknown>;
  /** The restricted details this batch keeps privately, as their canonical JSON. */
  hidden: Record<string, TrustedCanonicalFragment>;
}

const decoder = new TextDecoder();

/** The transient `details` map: record id → details of a restricted record. */
function transientDetails(ctx: LedgerContext): Map<string, unknown> {
  const raw = ctx.stub.getTransient().get(TRANSIENT_DETAILS_KEY);
  if (!raw || raw.length === 0) return new Map();
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(raw));
  } catch {
    return fail('BAD_DETAILS', 'the transient details are not JSON');
  }
  if (!isObject(value))
    fail('BAD_DETAILS', 'the transient details must be a JSON object {recordId: details}');
  return new Map(Object.entries(value));
}

/**
 * What validateEntry may ask about a record's project and the ids it names: its project's pages,
 * else another project this batch has read. A class rather than an object of arrow functions made
 * per record: the gateway runs the contract through tsx, whose keepNames gives every such arrow
 * its name with a defineProperty each time it is made (~2% of a batch's CPU, issue #26).
 */
class BookView {
  constructor(
    private readonly book: ProjectBook | undefined,
    private readonly projectId: string,
    private readonly elsewhere: ReadonlyMap<string, RecordFacts>,
  ) {}

  project(id: string) {
    return this.book && id === this.projectId
      ? { id, milestones: this.book.stored.project.milestones.map(milestoneId) }
      : undefined;
  }

  record(id: string): RecordFacts | undefined {
    const fact = this.book?.fact(id);
    return fact ? factsOf(id, this.projectId, fact) : this.elsewhere.get(id);
  }
}

function milestoneId(m: { id: string }): string {
  return m.id;
}

/** The rules' view of a record this one names (`this`: its project's book). */
function namedIn(this: ProjectBook, named: { id: string }): RuleRecord {
  return ruleRecordOf(named.id, this.fact(named.id)!);
}

/** `recordJson`: canonicalJson(entry.record), computed for its leaf. */
async function checkAndApply(
  entry: { record: unknown; details?: unknown },
  recordJson: string,
  c: ApplyContext,
): Promise<{ stored: StoredRecordJson; flags: Flag[]; resolutions: FlagResolution[] }> {
  // parseRecord answers entry.record itself (checked, not copied), so recordJson is its JSON.
  const record = parseRecord(entry.record);
  // A restricted record's details come only as transient data, so that a client cannot put them
  // in the block by mistake; a public record's come in the argument.
  let rawDetails = entry.details;
  const restricted = record.visibility === 'restricted';
  if (restricted) {
    if (entry.details !== undefined)
      fail('BAD_DETAILS', `record ${record.id}: a restricted record's details go in the transient data`);
    if (!c.transient.has(record.id))
      fail('BAD_DETAILS', `record ${record.id}: no transient details for this restricted record`);
    rawDetails = c.transient.get(record.id);
  }
  const { details, json: detailsJson } = parseDetailsCanonical(rawDetails, record);
  const book = await c.books.get(record.projectId);
  // The pages of the record's id and of the ids it names (already read by preload, unless the
  // entry was malformed there).
  const namedIds = [...(record.refs ?? []), ...(record.supersedes === undefined ? [] : [record.supersedes])];
  await book?.load([record.id, ...namedIds]);
  // Ids are unique within a project (its pages know every record of it) and within the batch;
  // across projects the gateway's UUIDv7 ids are what keep them apart (README, "Record ids").
  if (c.inBatch.has(record.id) || book?.fact(record.id)) fail('RECORD_EXISTS', record.id);
  // An id not in this project: where else this batch has seen it, for a clearer refusal.
  const elsewhere = new Map<string, RecordFacts>();
  for (const id of namedIds) {
    if (book?.fact(id)) continue;
    const other = await c.books.elsewhere(id, record.projectId);
    if (other) elsewhere.set(id, other);
  }

  // Judge the record with the same pure checks the gateway's intake runs before it accepts a
  // submission. What it names is in its project's pages (earlier records of this batch included).
  const links = validateEntry(record, details, new BookView(book, record.projectId, elsewhere));
  const state = book!;
  const refs = links.refs.map(namedIn, state);
  const target = links.target && ruleRecordOf(links.target.id, state.fact(links.target.id)!);

  const outcome = evaluateRecord(
    { record, details, refs, target },
    { project: state.stored.project, summary: state.summary, config: c.config, at: c.at },
  );
  state.summary = outcome.summary;

  const fact: RecordFact = { k: record.kind, i: c.index, b: c.fromSize };
  if (outcome.contractChain !== undefined) fact.c = outcome.contractChain;
  if (outcome.advance) fact.a = true;
  const ruleDetails = ruleDetailsOf(record.kind, details);
  if (ruleDetails) fact.d = ruleDetails;
  state.add(record.id, fact);
  if (links.target && links.mark) {
    const marked = state.fact(links.target.id)!;
    if (links.mark === 'supersededBy') marked.s = record.id;
    else marked.w = record.id;
    state.touch(links.target.id);
  }
  c.inBatch.add(record.id);
  c.books.touched.add(state);
  const { flags, resolutions } = outcome;
  if (restricted) {
    c.hidden[record.id] = new TrustedCanonicalFragment(detailsJson);
    return { stored: { record: recordJson, details: undefined }, flags, resolutions };
  }
  return { stored: { record: recordJson, details: detailsJson }, flags, resolutions };
}

export function batchResultJson(result: BatchResult): string {
  return canonicalJson(result);
}
