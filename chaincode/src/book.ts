// A project's book: its registration, the rules' summary, and the small facts of each of its
// records that a later record may name. Refs and supersedes can only name records of the same
// project (the checks refuse any other), so the book answers every ref, every supersede and
// RECORD_EXISTS within the project.
//
// The project's key holds only what is bounded (registration, record count, public resolutions);
// the facts are in pages (issue #26: one value holding every fact was decoded, copied and
// rewritten by every batch, so a batch's cost grew with the project). Pages form a trie over the
// record id's hex digits: `facts · projectId · prefix` is either a leaf `{f: {id: fact}}` holding
// the facts of the ids that start with `prefix`, or a split `{split: n}` saying its ids are in the
// pages named by their first n digits. The root is `*` (the empty prefix). A leaf that passes
// PAGE_MAX facts splits at the first digit where its ids differ (at most SPLIT_STEP digits down),
// so ids that arrive together (UUIDv7: time first) share a page or two, and a batch reads and
// writes a bounded number of small pages however large the project is. Ids crowded on purpose only deepen their own
// project's trie. What the rules add that is not public (the running totals, and the amount,
// result and milestone of the records a later record may undo) is under the same keys in the
// private collection: the summary under the project's key, a page's rule details under its page.

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

/** What a page keeps of one record. Short field names: a page is rewritten whenever it changes. */
export interface RecordFact {
  /** Kind. */
  k: string;
  /** Leaf index. */
  i: number;
  /** fromSize of the batch that holds it (its position there is i − b). */
  b?: number;
  /** Superseded by. */
  s?: string;
  /** Withdrawn by. */
  w?: string;
  /** The contract chain the record counts against. */
  c?: string;
  /** A payment counted as an advance. */
  a?: true;
  /** What the rules read of its details, when it has any of those fields (private). */
  d?: RuleDetails;
}

/** Facts a leaf page holds before it splits. */
export const PAGE_MAX = 1024;
/**
 * The page size in force. Tests lower it to get deep tries from a few records; it decides the
 * write set, so every peer must run the same value, and nothing but a test may change it.
 */
export const paging = { max: PAGE_MAX };
/** Most digits a split adds to its page's prefix (see splitLarge). */
export const SPLIT_STEP = 3;
/** The attribute of the root page (the empty prefix). */
export const ROOT_PAGE = '*';

/** The value under `project · projectId`. RegisterProject writes only the StoredProject part. */
export interface ProjectBookValue extends StoredProject {
  /** How many records the project holds (in its pages). */
  facts?: number;
  /**
   * Overdue milestones a public acceptance has since resolved: milestone id → {by, at}. Flags
   * are in batch values written once; queries attach `resolvedBy`/`resolvedAt` from here (a
   * restricted acceptance's resolution is only in the private summary).
   */
  resolved?: Record<string, Resolved>;
  /** The layout before issue #26: every fact in this one value (read, and rewritten as pages). */
  records?: Record<string, RecordFact>;
  /** Before issue #26: fromSize of each batch holding records of the project. */
  batches?: number[];
}

/** The value under `project · projectId` in the private collection. */
export interface PrivateProjectValue {
  summary: ProjectSummary;
  /** Before issue #26: record id → rule details (now in the pages' private values). */
  details?: Record<string, RuleDetails>;
}

/** A page's public value: a leaf or a split. */
type PageValue = { f: Record<string, RecordFact> } | { split: number };

interface Leaf {
  prefix: string;
  facts: Record<string, RecordFact>;
  dirty: boolean;
  /** A private value exists under this page (rewritten even when it empties). */
  hadPrivate: boolean;
}

export function storedProjectOf(value: StoredProject): StoredProject {
  return { project: value.project, registeredAt: value.registeredAt, txId: value.txId, by: value.by };
}

/** The record id's hex digits (a UUID without its dashes). */
function hexOf(id: string): string {
  return id.length === 36
    ? id.slice(0, 8) + id.slice(9, 13) + id.slice(14, 18) + id.slice(19, 23) + id.slice(24)
    : id;
}

/** A project's book in memory, for one transaction: the pages it has read so far. */
export class ProjectBook {
  stored: StoredProject;
  summary: ProjectSummary = emptySummary();
  /** The public resolutions (the private summary's `resolved` has restricted ones too). */
  resolved: Record<string, Resolved>;
  /** Records in the project. */
  count: number;
  private readonly leaves = new Map<string, Leaf>();
  private readonly splits = new Map<string, number>();
  private readonly newSplits = new Set<string>();
  /** Ids already found in a loaded leaf (a leaf stays an id's leaf until a split, at write). */
  private readonly found = new Map<string, Leaf>();
  /** Every page is in memory (a scan, or a project of the old layout). */
  private complete = false;
  /** Read from the old one-value layout: written back as pages and a bounded key. */
  private legacy = false;

  constructor(
    private readonly view: StateView,
    value: ProjectBookValue,
    /** Read the pages' rule details too (the rules need them; queries do not). */
    private readonly withPrivate: boolean,
  ) {
    this.stored = storedProjectOf(value);
    this.resolved = value.resolved ?? {};
    this.count = value.facts ?? 0;
    if (value.records !== undefined) this.adoptLegacy(value.records, value.batches ?? []);
  }

  get id(): string {
    return this.stored.project.id;
  }

  private pageKey(prefix: string): string {
    return this.view.key(KEY.facts, this.id, prefix === '' ? ROOT_PAGE : prefix);
  }

  /** The old layout's facts, all in one root leaf; each gets the batch that holds it. */
  private adoptLegacy(records: Record<string, RecordFact>, batches: number[]): void {
    for (const id in records) {
      const fact = records[id]!;
      if (fact.b === undefined) {
        const b = batchOf(batches, fact.i);
        if (b !== undefined) fact.b = b;
      }
    }
    this.leaves.set('', { prefix: '', facts: records, dirty: true, hadPrivate: false });
    this.count = Object.keys(records).length;
    this.complete = true;
    this.legacy = true;
  }

  /** The old layout's private rule details, onto the facts. */
  adoptLegacyDetails(details: Record<string, RuleDetails>): void {
    const root = this.leaves.get('');
    if (!this.legacy || !root) return;
    for (const [id, d] of Object.entries(details)) {
      const fact = root.facts[id];
      if (fact) fact.d = d;
    }
  }

  /**
   * The loaded leaf for `id`, or the prefix of the page still to read; the walk down the splits
   * starts at `from` (a prefix of the id already reached).
   */
  private locate(id: string, from = ''): Leaf | string {
    const known = this.found.get(id);
    if (known) return known;
    let prefix = from;
    let hex: string | undefined;
    for (;;) {
      const split = this.splits.get(prefix);
      if (split === undefined) {
        const leaf = this.leaves.get(prefix);
        if (!leaf) return prefix;
        this.found.set(id, leaf);
        return leaf;
      }
      hex ??= hexOf(id);
      prefix = hex.slice(0, split);
    }
  }

  private async readPage(prefix: string): Promise<void> {
    if (this.leaves.has(prefix) || this.splits.has(prefix)) return;
    const key = this.pageKey(prefix);
    const value = await this.view.get<PageValue>(key);
    // Only a leaf that exists can have rule details: a split or a page not yet written has no
    // private value worth a round trip (the private reads of a level still go out together).
    const leaf = value !== undefined && !('split' in value);
    const secret =
      leaf && this.withPrivate ? await this.view.getPrivate<Record<string, RuleDetails>>(key) : undefined;
    this.adoptPage(prefix, value, secret);
  }

  private adoptPage(
    prefix: string,
    value: PageValue | undefined,
    secret?: Record<string, RuleDetails>,
  ): void {
    if (value && 'split' in value) {
      this.splits.set(prefix, value.split);
      return;
    }
    const facts = value?.f ?? {};
    if (secret) for (const [id, d] of Object.entries(secret)) if (facts[id]) facts[id]!.d = d;
    this.leaves.set(prefix, { prefix, facts, dirty: false, hadPrivate: secret !== undefined });
  }

  /**
   * Reads the pages that hold (or would hold) these ids, a level of the trie at a time with the
   * reads of a level issued together (the embedded ledger answers them in one query).
   */
  async load(ids: Iterable<string>): Promise<void> {
    if (this.complete) return;
    let pending: [id: string, at: string][] = [];
    for (const id of ids) pending.push([id, '']);
    while (pending.length > 0) {
      const wanted = new Set<string>();
      const next: [string, string][] = [];
      for (const [id, from] of pending) {
        const at = this.locate(id, from);
        if (typeof at !== 'string') continue;
        wanted.add(at);
        next.push([id, at]);
      }
      await Promise.all([...wanted].map((prefix) => this.readPage(prefix)));
      pending = next;
    }
  }

  /** Every page, in one range scan (queries that walk the project). */
  async loadAll(): Promise<void> {
    if (this.complete) return;
    for await (const { key, value } of this.view.scan<PageValue>(KEY.facts, this.id)) {
      const attribute = key.slice(0, -1).split('\u0000').pop()!;
      const prefix = attribute === ROOT_PAGE ? '' : attribute;
      if (!this.leaves.has(prefix) && !this.splits.has(prefix)) this.adoptPage(prefix, value);
    }
    this.complete = true;
  }

  /** The fact of `id`; its page must have been loaded (`load`). */
  fact(id: string): RecordFact | undefined {
    const at = this.locate(id);
    if (typeof at === 'string') throw new Error(`book ${this.id}: page of ${id} not loaded`);
    return at.facts[id];
  }

  /** A new record's fact (its page must have been loaded). */
  add(id: string, fact: RecordFact): void {
    const leaf = this.locate(id);
    if (typeof leaf === 'string') throw new Error(`book ${this.id}: page of ${id} not loaded`);
    leaf.facts[id] = fact;
    leaf.dirty = true;
    this.count++;
  }

  /** Marks the page of `id` changed (a fact of it was updated in place). */
  touch(id: string): void {
    const leaf = this.locate(id);
    if (typeof leaf !== 'string') leaf.dirty = true;
  }

  /** Every loaded fact (after `loadAll`: the project's), in no particular order. */
  *facts(): Generator<[string, RecordFact]> {
    for (const leaf of this.leaves.values()) for (const id in leaf.facts) yield [id, leaf.facts[id]!];
  }

  /** fromSize of each batch that holds records of the project, ascending (after `loadAll`). */
  batches(): number[] {
    const from = new Set<number>();
    for (const [, fact] of this.facts()) if (fact.b !== undefined) from.add(fact.b);
    return [...from].sort((x, y) => x - y);
  }

  /** Splits each changed leaf that passed PAGE_MAX facts, until none does. */
  private splitLarge(): void {
    const max = paging.max;
    const queue = [...this.leaves.values()].filter((l) => l.dirty && Object.keys(l.facts).length > max);
    if (queue.length > 0) this.found.clear();
    while (queue.length > 0) {
      const leaf = queue.pop()!;
      const ids = Object.keys(leaf.facts).map((id) => [id, hexOf(id)] as const);
      // Children keyed by one digit more than the ids have in common (distinct ids always differ
      // before the end), but at most SPLIT_STEP digits below this page: a split also decides the
      // page of every later id under it, and a burst of ids a few ms apart would otherwise key
      // every later id by its 16 ms window — a page per record once traffic slows. Capped, a
      // burst leaves a short chain of splits and later ids land in pages as coarse as their
      // distance from it.
      let at = leaf.prefix.length;
      const first = ids[0]![1];
      while (at < first.length && ids.every(([, h]) => h[at] === first[at])) at++;
      const length = Math.min(at + 1, leaf.prefix.length + SPLIT_STEP);
      this.leaves.delete(leaf.prefix);
      this.splits.set(leaf.prefix, length);
      this.newSplits.add(leaf.prefix);
      if (leaf.hadPrivate) this.view.setPrivate(this.pageKey(leaf.prefix), {});
      const children = new Map<string, Leaf>();
      for (const [id, hex] of ids) {
        const prefix = hex.slice(0, length);
        let child = children.get(prefix);
        if (!child) {
          child = { prefix, facts: {}, dirty: true, hadPrivate: false };
          children.set(prefix, child);
          this.leaves.set(prefix, child);
        }
        child.facts[id] = leaf.facts[id]!;
      }
      for (const child of children.values()) if (Object.keys(child.facts).length > max) queue.push(child);
    }
  }

  /**
   * Writes what changed: each changed page (public facts; rule details privately), new splits,
   * the project's key and the private summary.
   */
  write(): void {
    this.splitLarge();
    for (const leaf of this.leaves.values()) {
      if (!leaf.dirty) continue;
      const open: Record<string, RecordFact> = {};
      const details: Record<string, RuleDetails> = {};
      let secret = false;
      for (const id in leaf.facts) {
        const fact = leaf.facts[id]!;
        if (fact.d === undefined) {
          open[id] = fact;
          continue;
        }
        const { d, ...rest } = fact;
        open[id] = rest;
        details[id] = d;
        secret = true;
      }
      const key = this.pageKey(leaf.prefix);
      // Read back by no one in this transaction (RecordBatch writes books last); see factsJson.
      this.view.set(key, { f: new TrustedCanonicalFragment(factsJson(open)) });
      if (secret || leaf.hadPrivate) this.view.setPrivate(key, details);
    }
    for (const prefix of this.newSplits)
      this.view.set(this.pageKey(prefix), { split: this.splits.get(prefix)! } satisfies PageValue);
    const resolved: Record<string, Resolved> = {};
    for (const [m, r] of Object.entries(this.summary.resolved ?? {})) if (!r.restricted) resolved[m] = r;
    const key = this.view.key(KEY.project, this.id);
    this.view.set(key, {
      ...this.stored,
      facts: this.count,
      ...(Object.keys(resolved).length > 0 ? { resolved } : {}),
    } satisfies ProjectBookValue);
    this.view.setPrivate(key, { summary: this.summary } satisfies PrivateProjectValue);
  }
}

/** The public key only: `summary` is empty and no fact has `d` (what queries need). */
export async function readBook(view: StateView, projectId: string): Promise<ProjectBook | undefined> {
  const value = await view.get<ProjectBookValue>(view.key(KEY.project, projectId));
  return value && new ProjectBook(view, value, false);
}

/** The public key and the private value: what the rules need. Throws where the peer may not read it. */
export async function readRuleBook(view: StateView, projectId: string): Promise<ProjectBook | undefined> {
  const key = view.key(KEY.project, projectId);
  const [value, secret] = await Promise.all([
    view.get<ProjectBookValue>(key),
    view.getPrivate<PrivateProjectValue>(key),
  ]);
  if (!value) return undefined;
  const book = new ProjectBook(view, value, true);
  if (secret) {
    book.summary = secret.summary;
    if (secret.details) book.adoptLegacyDetails(secret.details);
  }
  return book;
}

/** A book from a project key's value already read (a scan); pages are read as needed. */
export function bookOf(view: StateView, value: ProjectBookValue): ProjectBook {
  return new ProjectBook(view, value, false);
}

/**
 * canonicalJson(records), written by hand for the facts' fixed fields (issue #26): the generic
 * serialiser (a key sort and a type switch per field) was most of the cost of writing facts.
 * Strings go through JSON.stringify, which is canonicalJson's own string form; ids and kinds are
 * checked ASCII before a fact is made. A fact with any other field or type goes through
 * canonicalJson (which refuses what it cannot spell, as before). Same bytes: book.test.ts
 * compares the two on random facts, and write-bytes.test.ts the whole write set.
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

/** A number canonicalJson spells as its integer digits. */
function integer(n: unknown): n is number {
  return Number.isSafeInteger(n);
}

/** One fact's canonical JSON (keys a, b, c, i, k, s, w in that order), or undefined if it is unusual. */
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
  if (f.b !== undefined) {
    if (!integer(f.b)) return undefined;
    out += `"b":${Object.is(f.b, -0) ? 0 : f.b},`;
    seen++;
  }
  if (f.c !== undefined) {
    if (!plain(f.c)) return undefined;
    out += `"c":${JSON.stringify(f.c)},`;
    seen++;
  }
  if (!integer(f.i) || !plain(f.k)) return undefined;
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

/** The fromSize of the batch that holds leaf `index`, from an ascending list of batch starts. */
export function batchOf(batches: number[], index: number): number | undefined {
  let lo = 0;
  let hi = batches.length - 1;
  let found: number | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const from = batches[mid]!;
    if (from <= index) {
      found = from;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}
