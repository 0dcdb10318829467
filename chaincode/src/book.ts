// A project's key: its registration and the small facts of each of its records that a later record
// may name. Refs and supersedes can only name records of the same project (the checks refuse any
// other), so this one value answers every ref, every supersede and RECORD_EXISTS within the
// project: a RecordBatch reads it once and writes it once per project it touches, however many
// records it carries. What the rules add that is not public — the running totals (amounts) and
// the amount, result and milestone of the records a later record may undo — is the project's
// private value, under the same key in the private collection.

import { canonicalJson, TrustedCanonicalFragment } from '@lianzheng/proof';
import type { ProjectSummary, Resolved, StoredProject } from './model.ts';
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
  /** Without `d`: that is private. */
  records?: Record<string, RecordFact>;
  /** fromSize of each batch that holds records of the project, ascending. */
  batches?: number[];
  /**
   * Overdue milestones a public acceptance has since resolved: milestone id → {by, at}. Flags
   * are in batch values written once; queries attach `resolvedBy`/`resolvedAt` from here (a
   * restricted acceptance's resolution is only in the private summary).
   */
  resolved?: Record<string, Resolved>;
}

/** The value under `project · projectId` in the private collection. */
export interface PrivateProjectValue {
  summary: ProjectSummary;
  /** Record id → the details the rules read of it again. */
  details: Record<string, RuleDetails>;
}

/** A project's key in memory, for one transaction. */
export interface ProjectBook {
  stored: StoredProject;
  summary: ProjectSummary;
  records: Record<string, RecordFact>;
  batches: number[];
  /** The public resolutions (the private summary's `resolved` has restricted ones too). */
  resolved: Record<string, Resolved>;
}

export function storedProjectOf(value: StoredProject): StoredProject {
  return { project: value.project, registeredAt: value.registeredAt, txId: value.txId, by: value.by };
}

/** The public key only: `summary` is empty and no fact has `d` (what queries need). */
export async function readBook(view: StateView, projectId: string): Promise<ProjectBook | undefined> {
  const value = await view.get<ProjectBookValue>(view.key(KEY.project, projectId));
  return value && bookOf(value);
}

/** The public key and the private value: what the rules need. Throws where the peer may not read it. */
export async function readRuleBook(view: StateView, projectId: string): Promise<ProjectBook | undefined> {
  const key = view.key(KEY.project, projectId);
  const value = await view.get<ProjectBookValue>(key);
  if (!value) return undefined;
  const book = bookOf(value);
  const secret = await view.getPrivate<PrivateProjectValue>(key);
  if (secret) {
    book.summary = secret.summary;
    for (const [id, d] of Object.entries(secret.details)) {
      const fact = book.records[id];
      if (fact) book.records[id] = { ...fact, d };
    }
  }
  return book;
}

export function bookOf(value: ProjectBookValue): ProjectBook {
  return {
    stored: storedProjectOf(value),
    summary: emptySummary(),
    records: value.records ?? {},
    batches: value.batches ?? [],
    resolved: value.resolved ?? {},
  };
}

/** Writes both halves: the public key, and the summary and rule details privately. */
export function writeBook(view: StateView, book: ProjectBook): void {
  const records: Record<string, RecordFact> = {};
  const details: Record<string, RuleDetails> = {};
  // The map holds every record of the project and is rewritten by every batch that touches it:
  // a fact without rule details is written as it is rather than copied (issue #26, GC churn).
  for (const id in book.records) {
    const fact = book.records[id]!;
    if (fact.d === undefined) {
      records[id] = fact;
      continue;
    }
    const { d, ...open } = fact;
    records[id] = open;
    details[id] = d;
  }
  const resolved: Record<string, Resolved> = {};
  for (const [m, r] of Object.entries(book.summary.resolved ?? {})) if (!r.restricted) resolved[m] = r;
  const key = view.key(KEY.project, book.stored.project.id);
  view.set(key, {
    ...book.stored,
    // Read back by no one in this transaction (RecordBatch writes books last); see factsJson.
    records: new TrustedCanonicalFragment(factsJson(records)) as unknown as Record<string, RecordFact>,
    batches: book.batches,
    ...(Object.keys(resolved).length > 0 ? { resolved } : {}),
  } satisfies ProjectBookValue);
  view.setPrivate(key, { summary: book.summary, details } satisfies PrivateProjectValue);
}

/**
 * canonicalJson(records), written by hand for the facts' fixed fields (issue #26): the map holds a
 * fact of every record of the project and is serialised by every batch that touches it, and the
 * generic serialiser (a key sort and a type switch per field) was most of that cost. Strings go
 * through JSON.stringify, which is canonicalJson's own string form; ids and kinds are checked
 * ASCII before a fact is made. A fact with any other field or type goes through canonicalJson
 * (which refuses what it cannot spell, as before). Same bytes: book.test.ts compares the two on
 * random facts, and write-bytes.test.ts the whole write set.
 */
export function factsJson(records: Record<string, RecordFact>): string {
  const ids = Object.keys(records).sort();
  let out = '{';
  for (let n = 0; n < ids.length; n++) {
    const id = ids[n]!;
    const fact = records[id]!;
    if (n > 0) out += ',';
    out += `${canonicalJson(id)}:${factJson(fact) ?? canonicalJson(fact)}`;
  }
  return `${out}}`;
}

/** A string canonicalJson would spell the same way (it refuses lone surrogates). */
function plain(s: unknown): s is string {
  return typeof s === 'string' && (s as unknown as { isWellFormed(): boolean }).isWellFormed();
}

/** One fact's canonical JSON (keys a, c, i, k, s, w in that order), or undefined if it is unusual. */
function factJson(f: RecordFact): string | undefined {
  let fields = 0;
  for (const _ in f) fields++;
  let seen = 2;
  let out = '{';
  if (f.a !== undefined) {
    if (f.a !== true) return undefined;
    out += '"a":true,';
    seen++;
  }
  if (f.c !== undefined) {
    if (!plain(f.c)) return undefined;
    out += `"c":${JSON.stringify(f.c)},`;
    seen++;
  }
  if (!Number.isSafeInteger(f.i) || !plain(f.k)) return undefined;
  out += `"i":${Object.is(f.i, -0) ? 0 : f.i},"k":${JSON.stringify(f.k)}`;
  if (f.s !== undefined) {
    if (!plain(f.s)) return undefined;
    out += `,"s":${JSON.stringify(f.s)}`;
    seen++;
  }
  if (f.w !== undefined) {
    if (!plain(f.w)) return undefined;
    out += `,"w":${JSON.stringify(f.w)}`;
    seen++;
  }
  if (seen !== fields) return undefined;
  return `${out}}`;
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
