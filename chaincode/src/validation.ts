// The checks that decide whether a record may be stored at all, as pure functions over a small
// read-only view: what a kind's details must hold, that the project exists and plans the
// milestone, that refs point at records of the right kind in the same project, and that a
// supersede or withdrawal names a live record. The contract runs them over world state (plus the
// earlier records of its batch); the gateway's intake runs the very same functions over its own
// tables before it answers 202, so that the two can never disagree about a rule.
// Rule breaks are not here: those are flagged (rules.ts), never refused.

import { ChaincodeError, type ChaincodeErrorCode } from './errors.ts';

/** What the checks need to know about a record another record names. */
export interface RecordFacts {
  id: string;
  projectId: string;
  kind: string;
  /** The record that superseded it, if any (also one that is accepted but not yet recorded). */
  supersededBy?: string;
  /** The withdrawal that withdrew it, if any. */
  withdrawnBy?: string;
}

export interface ProjectFacts {
  id: string;
  /**
   * The ids of the project's planned milestones. Left out by a view that does not know the plan:
   * a milestone is then not judged (the ledger always knows it).
   */
  milestones?: readonly string[];
}

/** Answers "does project P exist" and "what is record X", synchronously: load what you need first. */
export interface EntryView {
  project(id: string): ProjectFacts | undefined;
  record(id: string): RecordFacts | undefined;
}

/**
 * The parts of a record the checks read: an `EvidenceRecord`, or a submission before intake has
 * turned it into one (then without an id).
 */
export interface EntrySubject {
  id?: string;
  projectId: string;
  kind: string;
  refs?: readonly string[];
  supersedes?: string;
}

/** The parts of the details the checks read (`RecordDetails`, or the submission itself). */
export interface EntryDetails {
  amount?: string;
  milestone?: string;
  result?: string;
  reason?: string;
}

export type EntryField = 'projectId' | 'refs' | 'supersedes' | 'amount' | 'milestone' | 'result' | 'reason';

/** Why a record is refused: the contract's error code, the field at fault, and a detail. */
export interface EntryProblem {
  code: Extract<
    ChaincodeErrorCode,
    'BAD_DETAILS' | 'BAD_REFERENCE' | 'BAD_SUPERSEDE' | 'NO_SUCH_PROJECT' | 'BAD_MILESTONE'
  >;
  field: EntryField;
  detail: string;
}

/** What a record that passed names: its refs, and the record it supersedes or withdraws. */
export interface EntryLinks {
  refs: RecordFacts[];
  target?: RecordFacts;
  /** How the target is marked once this record is stored. */
  mark?: 'supersededBy' | 'withdrawnBy';
}

export type EntryCheck = { ok: true; links: EntryLinks } | { ok: false; problem: EntryProblem };

const KINDS_THAT_REF_A_CONTRACT: ReadonlySet<string> = new Set([
  'payment_approval',
  'acceptance',
  'change_order',
]);

function who(record: EntrySubject): string {
  return record.id === undefined ? '' : `record ${record.id}: `;
}

/**
 * What the record's kind requires of its details and links (contract: amount ≥ 0; payment
 * approval: amount > 0; change order: an amount; acceptance: a result; withdrawal: a reason,
 * exactly one ref and no supersedes). Every problem, in that order; the contract refuses with the
 * first. Amounts are assumed to be integer fen already (a shape check).
 */
export function kindProblems(record: EntrySubject, details: EntryDetails): EntryProblem[] {
  const out: EntryProblem[] = [];
  const at = who(record);
  const amount = details.amount;
  switch (record.kind) {
    case 'contract':
      if (amount === undefined || amount.startsWith('-'))
        out.push({
          code: 'BAD_DETAILS',
          field: 'amount',
          detail: `${at}a contract needs a non-negative amount`,
        });
      break;
    case 'payment_approval':
      if (amount === undefined || amount.startsWith('-') || amount === '0')
        out.push({
          code: 'BAD_DETAILS',
          field: 'amount',
          detail: `${at}a payment approval needs a positive amount`,
        });
      break;
    case 'change_order':
      if (amount === undefined)
        out.push({
          code: 'BAD_DETAILS',
          field: 'amount',
          detail: `${at}a change order needs an amount delta`,
        });
      break;
    case 'acceptance':
      if (details.result === undefined)
        out.push({ code: 'BAD_DETAILS', field: 'result', detail: `${at}an acceptance needs a result` });
      break;
    case 'withdrawal':
      if (details.reason === undefined)
        out.push({ code: 'BAD_DETAILS', field: 'reason', detail: `${at}a withdrawal needs a reason` });
      if (record.refs?.length !== 1)
        out.push({
          code: 'BAD_REFERENCE',
          field: 'refs',
          detail: `${at}a withdrawal refs exactly one record`,
        });
      if (record.supersedes !== undefined)
        out.push({
          code: 'BAD_SUPERSEDE',
          field: 'supersedes',
          detail: `${at}a withdrawal cannot supersede`,
        });
      break;
    default:
      break;
  }
  return out;
}

/** The record whose liveness this record needs: the one it supersedes, or the one it withdraws. */
export function targetOf(record: EntrySubject): string | undefined {
  if (record.supersedes !== undefined) return record.supersedes;
  if (record.kind === 'withdrawal') return record.refs?.[0];
  return undefined;
}

/** Every record id the view must answer for this record (refs, then the target), without repeats. */
export function referencedIds(record: EntrySubject): string[] {
  const ids = record.refs ? [...record.refs] : [];
  if (record.supersedes !== undefined && !ids.includes(record.supersedes)) ids.push(record.supersedes);
  return ids;
}

function refKindProblem(record: EntrySubject, ref: RecordFacts): string | undefined {
  if (KINDS_THAT_REF_A_CONTRACT.has(record.kind) && ref.kind !== 'contract')
    return `${who(record)}a ${record.kind} may only ref a contract, not a ${ref.kind}`;
  if (record.kind === 'withdrawal' && ref.kind === 'withdrawal')
    return `${who(record)}a withdrawal cannot be withdrawn`;
  return undefined;
}

function notLive(record: EntrySubject, target: RecordFacts): string | undefined {
  if (target.supersededBy !== undefined)
    return `${who(record)}${target.id} is superseded by ${target.supersededBy}`;
  if (target.withdrawnBy !== undefined)
    return `${who(record)}${target.id} is withdrawn by ${target.withdrawnBy}`;
  return undefined;
}

/**
 * The referential checks, in the order the contract applies them: the project exists; the
 * milestone is in its plan; each ref exists, is in the same project and has a kind the record may
 * ref (payment approvals, acceptances and change orders ref contracts; a withdrawal anything but a
 * withdrawal); `supersedes` names a live record of the same kind and project; a withdrawal's ref
 * is live. Kind requirements (`kindProblems`) are checked before, with the details' shape.
 */
export function checkEntry(record: EntrySubject, details: EntryDetails, view: EntryView): EntryCheck {
  const at = who(record);
  const project = view.project(record.projectId);
  if (!project) return refuse('NO_SUCH_PROJECT', 'projectId', `${at}${record.projectId}`);
  const milestone = details.milestone;
  if (milestone !== undefined && project.milestones && !project.milestones.includes(milestone))
    return refuse('BAD_MILESTONE', 'milestone', `${at}${milestone} is not in the project's plan`);

  const refs: RecordFacts[] = [];
  for (const refId of record.refs ?? []) {
    const ref = view.record(refId);
    if (!ref) return refuse('BAD_REFERENCE', 'refs', `${at}ref ${refId} does not exist`);
    if (ref.projectId !== record.projectId)
      return refuse('BAD_REFERENCE', 'refs', `${at}ref ${refId} belongs to another project`);
    const wrongKind = refKindProblem(record, ref);
    if (wrongKind) return refuse('BAD_REFERENCE', 'refs', wrongKind);
    refs.push(ref);
  }

  if (record.supersedes !== undefined) {
    const target = view.record(record.supersedes);
    if (!target) return refuse('BAD_SUPERSEDE', 'supersedes', `${at}${record.supersedes} does not exist`);
    if (target.projectId !== record.projectId)
      return refuse('BAD_SUPERSEDE', 'supersedes', `${at}${record.supersedes} belongs to another project`);
    if (target.kind !== record.kind)
      return refuse('BAD_SUPERSEDE', 'supersedes', `${at}${record.supersedes} is a ${target.kind}`);
    const dead = notLive(record, target);
    if (dead) return refuse('BAD_SUPERSEDE', 'supersedes', dead);
    return { ok: true, links: { refs, target, mark: 'supersededBy' } };
  }
  if (record.kind === 'withdrawal' && refs[0]) {
    const target = refs[0];
    const dead = notLive(record, target);
    if (dead) return refuse('BAD_REFERENCE', 'refs', dead);
    return { ok: true, links: { refs, target, mark: 'withdrawnBy' } };
  }
  return { ok: true, links: { refs } };
}

function refuse(code: EntryProblem['code'], field: EntryField, detail: string): EntryCheck {
  return { ok: false, problem: { code, field, detail } };
}

/** `checkEntry` for the contract: the links, or a thrown `ChaincodeError` with the problem's code. */
export function validateEntry(record: EntrySubject, details: EntryDetails, view: EntryView): EntryLinks {
  const checked = checkEntry(record, details, view);
  if (!checked.ok) throw new ChaincodeError(checked.problem.code, checked.problem.detail);
  return checked.links;
}

/** `kindProblems` for the contract: throws the first problem. */
export function requireKindDetails(record: EntrySubject, details: EntryDetails): void {
  const [first] = kindProblems(record, details);
  if (first) throw new ChaincodeError(first.code, first.detail);
}
