// Intake's side of the ledger's record checks. The rules themselves are the chaincode's
// (`kindProblems`, `checkEntry` from @lianzheng/chaincode); this file only answers their questions
// from the gateway's tables — `submissions` (with the supersedes and withdrawals still waiting to
// be recorded), `record_links` (those already recorded) and the `projects` mirror — and turns their
// answers into problems a client can act on. A submission intake accepts is then one the ledger
// accepts; the batcher's rejection path is left for what intake cannot see (see `TargetClaims`).

import {
  type EntryProblem,
  type EntryView,
  kindProblems,
  type ProjectFacts,
  type RecordFacts,
  referencedIds,
  targetOf,
} from '@lianzheng/chaincode';
import type pg from 'pg';
import { AppError } from '../errors.ts';
import type { EvidenceSubmission } from '../routes/evidence-write/schemas.ts';
import { type RecordFactsRow, recordFacts } from './submission-store.ts';

/**
 * What the chaincode requires of a kind's details (an amount for contracts, payments and change
 * orders, a result for acceptances, a reason and exactly one ref for withdrawals): a 400
 * `VALIDATION_FAILED` naming every missing field, since the request itself is incomplete.
 */
export function kindRuleProblem(input: EvidenceSubmission): AppError | undefined {
  const problems = kindProblems(input, input);
  if (problems.length === 0) return undefined;
  const errors = problems.map((p) => ({ path: `/${p.field}`, message: p.detail }));
  return new AppError('VALIDATION_FAILED', errors.map((e) => e.message).join('; '), { errors });
}

/** A problem from `checkEntry` as the client sees it: the ledger's own code, with the field. */
export function entryError(problem: EntryProblem): AppError {
  const code = problem.code === 'BAD_DETAILS' ? 'VALIDATION_FAILED' : problem.code;
  return new AppError(code, problem.detail, {
    errors: [{ path: `/${problem.field}`, message: problem.detail }],
  });
}

/** The records a set of submissions names: every ref, and the targets whose liveness matters. */
export function namedRecords(inputs: Iterable<EvidenceSubmission>): { ids: string[]; targets: string[] } {
  const ids = new Set<string>();
  const targets = new Set<string>();
  for (const input of inputs) {
    if (input.refs === undefined && input.supersedes === undefined) continue;
    for (const id of referencedIds(input)) ids.add(id);
    const target = targetOf(input);
    if (target !== undefined) targets.add(target);
  }
  return { ids: [...ids], targets: [...targets] };
}

/**
 * Facts about named records. A recorded record's project and kind never change (and it can no
 * longer be rejected), so those are cached and a payment that refs a known contract costs no
 * query; liveness is always read fresh, and only for supersede and withdrawal targets.
 */
export class RecordDirectory {
  private cache = new Map<string, RecordFacts>();
  constructor(
    private readonly db: () => pg.Pool,
    private readonly maxEntries = 100_000,
  ) {}

  /** Facts for `ids` (targets ⊆ ids carry liveness); a missing id is not in the map. One query at most. */
  async load(ids: string[], targets: string[]): Promise<Map<string, RecordFacts>> {
    const out = new Map<string, RecordFacts>();
    const isTarget = new Set(targets);
    const ask: string[] = [];
    for (const id of ids) {
      const hit = isTarget.has(id) ? undefined : this.cache.get(id);
      if (hit) out.set(id, hit);
      else ask.push(id);
    }
    if (ask.length === 0) return out;
    let rows: RecordFactsRow[];
    try {
      // One statement for all of them (submission-store.ts's FACTS_SQL says how).
      rows = await recordFacts(this.db(), ask, targets);
    } catch (e) {
      throw new AppError('SERVICE_UNAVAILABLE', 'the database is not answering', {}, { cause: e });
    }
    for (const r of rows) {
      const facts: RecordFacts = { id: r.id, projectId: r.project_id, kind: r.kind };
      if (r.status === 'recorded' || r.status === 'anchored') {
        if (this.cache.size >= this.maxEntries) this.cache.clear();
        this.cache.set(r.id, { ...facts });
      }
      if (r.superseded_by !== null) facts.supersededBy = r.superseded_by;
      if (r.withdrawn_by !== null) facts.withdrawnBy = r.withdrawn_by;
      // A withdrawal cannot supersede, so a queued withdrawal that names the target withdraws it.
      if (r.pending_by && facts.supersededBy === undefined && facts.withdrawnBy === undefined) {
        if (r.pending_kind === 'withdrawal') facts.withdrawnBy = r.pending_by;
        else facts.supersededBy = r.pending_by;
      }
      out.set(r.id, facts);
    }
    return out;
  }

  forget(): void {
    this.cache.clear();
  }
}

/**
 * A view for `checkEntry` over loaded facts, plus what earlier items of the same request did:
 * `mark` records that an accepted item supersedes or withdraws a record, so a second item of the
 * same batch that names it again is refused, as the ledger would refuse it in the same batch.
 */
export class IntakeView implements EntryView {
  private readonly marked = new Map<string, RecordFacts>();
  constructor(
    private readonly projects: ReadonlyMap<string, ProjectFacts>,
    private readonly records: ReadonlyMap<string, RecordFacts>,
  ) {}

  project(id: string): ProjectFacts | undefined {
    return this.projects.get(id);
  }

  record(id: string): RecordFacts | undefined {
    return this.marked.get(id) ?? this.records.get(id);
  }

  mark(target: RecordFacts, how: 'supersededBy' | 'withdrawnBy', by: string): void {
    this.marked.set(target.id, { ...target, [how]: by });
  }
}

/**
 * Serialises, within this process, the submissions that supersede or withdraw the same record:
 * each waits until the earlier ones are committed (or refused) before it reads the target's
 * liveness, so of two concurrent supersedes of one record the second sees the first and is
 * refused with BAD_SUPERSEDE instead of getting a 202 that the ledger later rejects.
 * Across several gateway processes writing one database this does not hold: two processes can
 * both accept, the ledger records the first in log order and the batcher rejects the other
 * (status `rejected`, reject_code from the ledger) — the backstop.
 */
export class TargetClaims {
  private readonly tails = new Map<string, Promise<void>>();

  /** Waits for earlier claims on any of `ids`, then holds them until the returned release is called. */
  async claim(ids: string[]): Promise<() => void> {
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const before: Promise<void>[] = [];
    // Registered synchronously for every id at once: a claim only ever waits for older claims,
    // so claims on overlapping sets cannot deadlock.
    for (const id of ids) {
      const tail = this.tails.get(id);
      if (tail) before.push(tail);
      this.tails.set(id, mine);
    }
    await Promise.all(before);
    return () => {
      release();
      for (const id of ids) if (this.tails.get(id) === mine) this.tails.delete(id);
    };
  }

  get size(): number {
    return this.tails.size;
  }
}
