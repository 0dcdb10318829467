// A project's key: its registration, the rules' running summary and the small facts of each of its
// records that a later record may name. Refs and supersedes can only name records of the same
// project (the checks refuse any other), so this one value answers every ref, every supersede and
// RECORD_EXISTS within the project: a RecordBatch reads it once and writes it once per project it
// touches, however many records it carries.

import type { ProjectSummary, StoredProject } from './model.ts';
import { emptySummary } from './rules.ts';
import { KEY, type StateView } from './state.ts';

/** The details the rules read of a record another record names (amounts in fen). */
export interface RuleDetails {
  amount?: string;
  result?: string;
  milestone?: string;
}

/**
 * What the project's key keeps of one record. Short field names: the value is read and rewritten
 * by every batch that touches the project.
 */
export interface RecordFact {
  /** Kind. */
  k: string;
  /** Leaf index. */
  i: number;
  /** Superseded by. */
  s?: string;
  /** Withdrawn by. */
  w?: string;
  /** The contract chain the record counts against. */
  c?: string;
  /** A payment counted as an advance. */
  a?: true;
  /** What the rules read of its details, when it has any of those fields. */
  d?: RuleDetails;
}

/** The value under `project · projectId`. RegisterProject writes only the StoredProject part. */
export interface ProjectBookValue extends StoredProject {
  summary?: ProjectSummary;
  records?: Record<string, RecordFact>;
  /** fromSize of each batch that holds records of the project, ascending. */
  batches?: number[];
}

/** A project's key in memory, for one transaction. */
export interface ProjectBook {
  stored: StoredProject;
  summary: ProjectSummary;
  records: Record<string, RecordFact>;
  batches: number[];
}

export function storedProjectOf(value: StoredProject): StoredProject {
  return { project: value.project, registeredAt: value.registeredAt, txId: value.txId, by: value.by };
}

export async function readBook(view: StateView, projectId: string): Promise<ProjectBook | undefined> {
  const value = await view.get<ProjectBookValue>(view.key(KEY.project, projectId));
  return value && bookOf(value);
}

export function bookOf(value: ProjectBookValue): ProjectBook {
  return {
    stored: storedProjectOf(value),
    summary: value.summary ?? emptySummary(),
    records: value.records ?? {},
    batches: value.batches ?? [],
  };
}

export function writeBook(view: StateView, book: ProjectBook): void {
  const value: ProjectBookValue = {
    ...book.stored,
    summary: book.summary,
    records: book.records,
    batches: book.batches,
  };
  view.set(view.key(KEY.project, book.stored.project.id), value);
}

/** The fromSize of the batch that holds leaf `index` of this project (its batches are ascending). */
export function batchOf(book: ProjectBook, index: number): number | undefined {
  let lo = 0;
  let hi = book.batches.length - 1;
  let found: number | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const from = book.batches[mid]!;
    if (from <= index) {
      found = from;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}
