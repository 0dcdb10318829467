// Read-only transactions. They assemble a record from two values: the batch that holds it (the
// record as hashed, its details, the transaction's facts and flags) and the page of its project's
// facts that holds it (what later records did to it: superseded, withdrawn, the contract it counts
// against; and which batch holds it). Queries are rare, so they may read more than a batch does;
// each says what it reads.
//
// What is private (restricted records' details, the facts behind flags, the rules' totals) comes
// from the private collection where this peer can read it; on a peer that is not a member
// `getPrivateData` throws, and the answer leaves it out: no `details` on a restricted record,
// flags in their public form, a summary with only the record count.

import type { RecordDetails } from '@lianzheng/proof';
import { emptyFrontier, frontierRoot, isSha256Hex, toHex } from '@lianzheng/proof';
import { type BatchRecord, type PrivateBatchValue, readLogHead, type StoredBatch } from './batch.ts';
import {
  bookOf,
  type PrivateProjectValue,
  type ProjectBook,
  type ProjectBookValue,
  type RecordFact,
  readBook,
} from './book.ts';
import { fail } from './errors.ts';
import {
  type Checkpoint,
  type Flag,
  type FlagResolution,
  isProjectId,
  isRecordId,
  type ProjectSummary,
  type Resolved,
  type StoredProject,
  type StoredRecord,
} from './model.ts';
import { emptySummary } from './rules.ts';
import { KEY, pad16, type StateView } from './state.ts';

export interface RecordView extends Omit<StoredRecord, 'details'> {
  /** Absent for a restricted record where this peer cannot read the private collection. */
  details?: RecordDetails;
  flags: Flag[];
}

export interface ProjectView extends StoredProject {
  summary: ProjectSummary;
}

/** A batch as this peer may see it: the public value, and the private one where readable. */
interface SeenBatch extends StoredBatch {
  secret?: PrivateBatchValue;
}

/** The flags of a batch with their facts where this peer may read them. */
function flagsOf(batch: SeenBatch): Flag[] {
  return batch.secret?.flags ?? batch.flags;
}

/**
 * An overdue milestone's flag as the facts stand now: with the acceptance that resolved it and
 * when, from the project's resolutions (the flag itself is in a batch value written once).
 */
function withResolution(flag: Flag, resolved: Record<string, Resolved>): Flag {
  if (flag.code !== 'MILESTONE_OVERDUE_30_DAYS') return flag;
  const milestone = flag.detail.milestone;
  const r = typeof milestone === 'string' ? resolved[milestone] : undefined;
  return r ? { ...flag, resolvedBy: r.by, resolvedAt: r.at } : flag;
}

/**
 * The book with the resolutions this peer may see: the private summary's (restricted
 * acceptances too) where it can read the collection, else the public ones.
 */
async function withReadableResolutions(view: StateView, book: ProjectBook): Promise<ProjectBook> {
  const secret = await view.tryPrivate<PrivateProjectValue>(view.key(KEY.project, book.stored.project.id));
  if (secret.value) book.resolved = secret.value.summary.resolved ?? {};
  return book;
}

async function seen(view: StateView, batch: StoredBatch): Promise<SeenBatch> {
  const secret = await view.tryPrivate<PrivateBatchValue>(view.key(KEY.batch, pad16(batch.fromSize)));
  return secret.value ? { ...batch, secret: secret.value } : batch;
}

/** Batches read by one query, each once (its public value, then its private one). */
class BatchReader {
  private readonly cache = new Map<number, SeenBatch | undefined>();
  constructor(private readonly view: StateView) {}

  async get(fromSize: number): Promise<SeenBatch | undefined> {
    if (!this.cache.has(fromSize)) {
      const batch = await this.view.get<StoredBatch>(this.view.key(KEY.batch, pad16(fromSize)));
      this.cache.set(fromSize, batch && (await seen(this.view, batch)));
    }
    return this.cache.get(fromSize);
  }
}

function recordView(batch: SeenBatch, position: number, entry: BatchRecord, book: ProjectBook): RecordView {
  const id = entry.record.id;
  const fact = book.fact(id);
  const out: RecordView = {
    record: entry.record,
    index: batch.fromSize + position,
    txId: batch.txId,
    recordedAt: batch.recordedAt,
    by: batch.by,
    flags: flagsOf(batch)
      .filter((f) => f.recordId === id)
      .map((f) => withResolution(f, book.resolved)),
  };
  const details = entry.details ?? batch.secret?.details[id];
  if (details) out.details = details;
  if (fact?.s !== undefined) out.supersededBy = fact.s;
  if (fact?.w !== undefined) out.withdrawnBy = fact.w;
  if (fact?.c !== undefined) out.contractChain = fact.c;
  if (fact?.a) out.advance = true;
  return out;
}

/** The record of the project with this fact, from the batch that holds it. */
async function recordAt(
  batches: BatchReader,
  book: ProjectBook,
  id: string,
  fact: RecordFact,
): Promise<RecordView | undefined> {
  const from = fact.b;
  const batch = from === undefined ? undefined : await batches.get(from);
  const position = fact.i - (from ?? 0);
  const entry = batch?.records[position];
  if (!batch || !entry || entry.record.id !== id) return undefined;
  return recordView(batch, position, entry, book);
}

/**
 * One range scan over the project keys, the page that would hold the id in each project (the
 * projects' reads issued together, a level of their pages at a time), then the batch that holds
 * the record.
 */
export async function getRecord(view: StateView, id: string): Promise<RecordView> {
  if (!isRecordId(id)) fail('BAD_ARGUMENT', 'id must be a lowercase UUID');
  const books: ProjectBook[] = [];
  for await (const { value } of view.scan<ProjectBookValue>(KEY.project)) books.push(bookOf(view, value));
  await Promise.all(books.map((book) => book.load([id])));
  for (const book of books) {
    const fact = book.fact(id);
    if (!fact) continue;
    const found = await recordAt(new BatchReader(view), await withReadableResolutions(view, book), id, fact);
    if (!found) fail('NOT_FOUND', `record ${id} named by project ${book.id}`);
    return found;
  }
  return fail('NOT_FOUND', `record ${id}`);
}

/**
 * With `projectId`: that project's key and each of its batches. Without: a range scan over every
 * batch value (the whole ledger), then each hit's project key.
 */
export async function findByDigest(
  view: StateView,
  sha256: string,
  projectId = '',
): Promise<{ sha256: string; records: RecordView[] }> {
  if (!isSha256Hex(sha256)) fail('BAD_DIGEST', 'sha256 must be 64 lowercase hex');
  const records: RecordView[] = [];
  const books = new Map<string, ProjectBook>();
  const bookNamed = async (id: string) => {
    let book = books.get(id);
    if (!book) {
      const found = await readBook(view, id);
      if (!found) fail('NOT_FOUND', `project ${id}`);
      book = await withReadableResolutions(view, found);
      books.set(id, book);
    }
    return book;
  };
  const collect = async (batch: StoredBatch, only?: string) => {
    let shown: SeenBatch | undefined;
    for (const [position, entry] of batch.records.entries()) {
      if (entry.record.digests.sha256 !== sha256) continue;
      if (only !== undefined && entry.record.projectId !== only) continue;
      shown ??= await seen(view, batch);
      const book = await bookNamed(entry.record.projectId);
      await book.load([entry.record.id]);
      records.push(recordView(shown, position, entry, book));
    }
  };
  if (projectId !== '') {
    if (!isProjectId(projectId)) fail('BAD_ARGUMENT', 'bad project id');
    const book = await bookNamed(projectId);
    await book.loadAll();
    const batches = new BatchReader(view);
    for (const from of book.batches()) {
      const batch = await batches.get(from);
      if (batch) await collect(batch, projectId);
    }
  } else {
    for await (const { value } of view.scan<StoredBatch>(KEY.batch)) await collect(value);
  }
  return { sha256, records };
}

async function requireBook(view: StateView, id: string): Promise<ProjectBook> {
  if (!isProjectId(id)) fail('BAD_ARGUMENT', 'bad project id');
  const book = await readBook(view, id);
  if (!book) fail('NOT_FOUND', `project ${id}`);
  return book;
}

/**
 * The project's key and its private value. Where this peer cannot read the private collection
 * the summary holds only the record count (the totals are amounts).
 */
export async function getProject(view: StateView, id: string): Promise<ProjectView> {
  const book = await requireBook(view, id);
  const secret = await view.tryPrivate<PrivateProjectValue>(view.key(KEY.project, id));
  const summary = secret.value?.summary ?? { ...emptySummary(), records: book.count };
  return { ...book.stored, summary };
}

/** The project's key, a range scan over its pages, then each batch that holds records of it. */
export async function getFlags(
  view: StateView,
  projectId: string,
): Promise<{ projectId: string; flags: Flag[] }> {
  const book = await withReadableResolutions(view, await requireBook(view, projectId));
  await book.loadAll();
  const flags: Flag[] = [];
  const batches = new BatchReader(view);
  for (const from of book.batches()) {
    const batch = await batches.get(from);
    if (batch)
      flags.push(
        ...flagsOf(batch)
          .filter((f) => f.projectId === projectId)
          .map((f) => withResolution(f, book.resolved)),
      );
  }
  return { projectId, flags };
}

/**
 * Every record of a project in log order, each with its flags and supersede/withdraw state: the
 * project's key, a range scan over its pages, then each batch that holds records of it.
 */
export async function projectTrail(
  view: StateView,
  projectId: string,
): Promise<{ projectId: string; records: RecordView[] }> {
  const book = await withReadableResolutions(view, await requireBook(view, projectId));
  await book.loadAll();
  const records: RecordView[] = [];
  const batches = new BatchReader(view);
  for (const from of book.batches()) {
    const batch = await batches.get(from);
    if (!batch) fail('NOT_FOUND', `batch ${from} named by project ${projectId}`);
    for (const [position, entry] of batch.records.entries())
      if (entry.record.projectId === projectId) records.push(recordView(batch, position, entry, book));
  }
  return { projectId, records };
}

/**
 * The batch recorded from `fromSize`: its result, with each flag's facts where this peer may read
 * them (RecordBatch's own answer carries flags in their public form), the earlier flags it
 * resolved or reopened (restricted ones too where readable), and its transaction.
 */
/** The batch recorded from `fromSize` (a decimal argument), or the contract's coded refusal. */
async function batchAt(view: StateView, fromSize: string): Promise<SeenBatch> {
  if (!/^(0|[1-9]\d{0,15})$/.test(fromSize) || !Number.isSafeInteger(Number(fromSize)))
    fail('BAD_ARGUMENT', 'fromSize must be a non-negative integer');
  const batch = await new BatchReader(view).get(Number(fromSize));
  if (!batch) fail('NOT_FOUND', `no batch from size ${fromSize}`);
  return batch;
}

export async function getBatch(
  view: StateView,
  fromSize: string,
): Promise<{
  fromSize: number;
  toSize: number;
  root: string;
  txId: string;
  flags: Flag[];
  resolutions?: FlagResolution[];
}> {
  const batch = await batchAt(view, fromSize);
  return {
    fromSize: batch.fromSize,
    toSize: batch.toSize,
    root: batch.root,
    txId: batch.txId,
    flags: flagsOf(batch),
    ...resolutionsOf(batch),
  };
}

function resolutionsOf(batch: SeenBatch): { resolutions?: FlagResolution[] } {
  const resolutions = batch.secret?.resolutions ?? batch.resolutions;
  return resolutions && resolutions.length > 0 ? { resolutions } : {};
}

/**
 * The records of the batch recorded from `fromSize`, exactly as hashed, with their leaf indexes:
 * one read. What an auditor holding only Fabric credentials walks, batch after batch (each
 * batch's `toSize` is the next one's `fromSize`), to reconcile the log record by record.
 */
export async function getBatchRecords(
  view: StateView,
  fromSize: string,
): Promise<{
  fromSize: number;
  toSize: number;
  root: string;
  txId: string;
  records: { record: unknown; index: number }[];
}> {
  const batch = await batchAt(view, fromSize);
  return {
    fromSize: batch.fromSize,
    toSize: batch.toSize,
    root: batch.root,
    txId: batch.txId,
    records: batch.records.map((entry, i) => ({ record: entry.record, index: batch.fromSize + i })),
  };
}

/** The checkpoint at `size`, or the latest when `size` is '' or absent. */
export async function getCheckpoint(view: StateView, size?: string): Promise<Checkpoint> {
  if (size === undefined || size === '') {
    const head = await readLogHead(view);
    return { size: head.size, root: head.root };
  }
  if (!/^(0|[1-9]\d{0,15})$/.test(size) || !Number.isSafeInteger(Number(size)))
    fail('BAD_ARGUMENT', 'size must be a non-negative integer');
  const n = Number(size);
  if (n === 0) return { size: 0, root: toHex(frontierRoot(emptyFrontier())) };
  const checkpoint = await view.get<Checkpoint>(view.key(KEY.checkpoint, pad16(n)));
  if (!checkpoint) fail('NOT_FOUND', `no checkpoint at size ${n}`);
  return checkpoint;
}
