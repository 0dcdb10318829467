// Read-only transactions. They assemble a record from two values: the batch that holds it (the
// record as hashed, its details, the transaction's facts and flags) and its project's key (what
// later records did to it: superseded, withdrawn, the contract it counts against). Queries are
// rare, so they may read more than a batch does; each says what it reads.

import { emptyFrontier, frontierRoot, isSha256Hex, toHex } from '@lianzheng/proof';
import { type BatchRecord, readLogHead, type StoredBatch } from './batch.ts';
import { batchOf, bookOf, type ProjectBook, type ProjectBookValue, readBook } from './book.ts';
import { fail } from './errors.ts';
import {
  type Checkpoint,
  type Flag,
  isProjectId,
  isRecordId,
  type ProjectSummary,
  type StoredProject,
  type StoredRecord,
} from './model.ts';
import { KEY, pad16, type StateView } from './state.ts';

export interface RecordView extends StoredRecord {
  flags: Flag[];
}

export interface ProjectView extends StoredProject {
  summary: ProjectSummary;
}

/** Batches read by one query, each once. */
class BatchReader {
  private readonly cache = new Map<number, StoredBatch | undefined>();
  constructor(private readonly view: StateView) {}

  async get(fromSize: number): Promise<StoredBatch | undefined> {
    if (!this.cache.has(fromSize))
      this.cache.set(fromSize, await this.view.get<StoredBatch>(this.view.key(KEY.batch, pad16(fromSize))));
    return this.cache.get(fromSize);
  }
}

function recordView(batch: StoredBatch, position: number, entry: BatchRecord, book: ProjectBook): RecordView {
  const id = entry.record.id;
  const fact = book.records[id];
  const out: RecordView = {
    record: entry.record,
    details: entry.details,
    index: batch.fromSize + position,
    txId: batch.txId,
    recordedAt: batch.recordedAt,
    by: batch.by,
    flags: batch.flags.filter((f) => f.recordId === id),
  };
  if (fact?.s !== undefined) out.supersededBy = fact.s;
  if (fact?.w !== undefined) out.withdrawnBy = fact.w;
  if (fact?.c !== undefined) out.contractChain = fact.c;
  if (fact?.a) out.advance = true;
  return out;
}

/** The record at `index` of the project, from the batch that holds it. */
async function recordAt(
  batches: BatchReader,
  book: ProjectBook,
  id: string,
  index: number,
): Promise<RecordView | undefined> {
  const from = batchOf(book, index);
  const batch = from === undefined ? undefined : await batches.get(from);
  const position = index - (from ?? 0);
  const entry = batch?.records[position];
  if (!batch || !entry || entry.record.id !== id) return undefined;
  return recordView(batch, position, entry, book);
}

/**
 * One range scan over the project keys (to find the project that holds the id), then one read of
 * the batch that holds the record.
 */
export async function getRecord(view: StateView, id: string): Promise<RecordView> {
  if (!isRecordId(id)) fail('BAD_ARGUMENT', 'id must be a lowercase UUID');
  for await (const { value } of view.scan<ProjectBookValue>(KEY.project)) {
    const fact = value.records?.[id];
    if (!fact) continue;
    const found = await recordAt(new BatchReader(view), bookOf(value), id, fact.i);
    if (!found) fail('NOT_FOUND', `record ${id} named by project ${value.project.id}`);
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
  const bookOf = async (id: string) => {
    let book = books.get(id);
    if (!book) {
      book = await readBook(view, id);
      if (!book) fail('NOT_FOUND', `project ${id}`);
      books.set(id, book);
    }
    return book;
  };
  const collect = async (batch: StoredBatch, only?: string) => {
    for (const [position, entry] of batch.records.entries()) {
      if (entry.record.digests.sha256 !== sha256) continue;
      if (only !== undefined && entry.record.projectId !== only) continue;
      records.push(recordView(batch, position, entry, await bookOf(entry.record.projectId)));
    }
  };
  if (projectId !== '') {
    if (!isProjectId(projectId)) fail('BAD_ARGUMENT', 'bad project id');
    const book = await bookOf(projectId);
    const batches = new BatchReader(view);
    for (const from of book.batches) {
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

/** One read: the project's key. */
export async function getProject(view: StateView, id: string): Promise<ProjectView> {
  const book = await requireBook(view, id);
  return { ...book.stored, summary: book.summary };
}

/** The project's key, then each batch that holds records of it. */
export async function getFlags(
  view: StateView,
  projectId: string,
): Promise<{ projectId: string; flags: Flag[] }> {
  const book = await requireBook(view, projectId);
  const flags: Flag[] = [];
  const batches = new BatchReader(view);
  for (const from of book.batches) {
    const batch = await batches.get(from);
    if (batch) flags.push(...batch.flags.filter((f) => f.projectId === projectId));
  }
  return { projectId, flags };
}

/**
 * Every record of a project in log order, each with its flags and supersede/withdraw state: the
 * project's key, then each batch that holds records of it.
 */
export async function projectTrail(
  view: StateView,
  projectId: string,
): Promise<{ projectId: string; records: RecordView[] }> {
  const book = await requireBook(view, projectId);
  const records: RecordView[] = [];
  const batches = new BatchReader(view);
  for (const from of book.batches) {
    const batch = await batches.get(from);
    if (!batch) fail('NOT_FOUND', `batch ${from} named by project ${projectId}`);
    for (const [position, entry] of batch.records.entries())
      if (entry.record.projectId === projectId) records.push(recordView(batch, position, entry, book));
  }
  return { projectId, records };
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
