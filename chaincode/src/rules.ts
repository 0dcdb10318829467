// The rules that flag abuse ("flag, never hide"). Pure: a record, the project's plan and its running
// summary in; flags and the next summary out. No ledger, no clock — the caller passes the
// transaction time — so the embedded ledger and Fabric peers reach the same flags byte for byte.

import type { EvidenceRecord, RecordDetails } from '@lianzheng/proof';
import {
  type ContractTally,
  type Flag,
  type FlagCode,
  type FlagResolution,
  type Project,
  type ProjectSummary,
  RULE_VERSIONS,
} from './model.ts';

export const CHANGE_LIMIT_PERCENT = 15;
export const OVERDUE_DAYS = 30;
/** Due dates are calendar days in China Standard Time (UTC+8). */
const CST_OFFSET_MS = 8 * 3600 * 1000;
const DAY_MS = 86_400_000;

export interface RuleConfig {
  advanceLimitPercent: number;
}

/**
 * What the rules read of a record another record names: its id and kind, the details that count
 * (amount, result, milestone) and the ledger's facts about it. A `StoredRecord` is one.
 */
export interface RuleRecord {
  record: { id: string; kind: string };
  details: { amount?: string; result?: string; milestone?: string };
  contractChain?: string;
  advance?: boolean;
}

export interface RuleInput {
  record: EvidenceRecord;
  details: RecordDetails;
  /** The records named in `record.refs`, in the same order. */
  refs: RuleRecord[];
  /** The record this one supersedes or, for a withdrawal, withdraws. */
  target?: RuleRecord;
}

export interface RuleState {
  project: Project;
  summary: ProjectSummary;
  config: RuleConfig;
  /** Transaction time, RFC 3339. */
  at: string;
}

export interface RuleOutcome {
  flags: Flag[];
  /** Earlier flags this record resolved or reopened, in order. */
  resolutions: FlagResolution[];
  summary: ProjectSummary;
  /** The contract chain the record counts against, to be stored with it. */
  contractChain?: string;
  /** A payment counted as an advance (before any passed acceptance of its contract). */
  advance?: boolean;
}

export function emptySummary(): ProjectSummary {
  return { records: 0, contracts: {}, passed: {}, overdue: [] };
}

/** Advance payments above `limitPercent` of the contract (超比例预付款). */
export function isAdvanceOverLimit(
  advanceTotal: bigint,
  contractAmount: bigint,
  limitPercent: number,
): boolean {
  return advanceTotal * 100n > contractAmount * BigInt(limitPercent);
}

/** Cumulative payments above the contract plus its approved change orders. */
export function isOverpaid(paidTotal: bigint, contractAmount: bigint, changeTotal: bigint): boolean {
  return paidTotal > contractAmount + changeTotal;
}

/** Net change orders beyond 15% of the contract, either way (成本偏差率大于15%). */
export function isChangeOverLimit(changeTotal: bigint, contractAmount: bigint): boolean {
  const magnitude = changeTotal < 0n ? -changeTotal : changeTotal;
  return magnitude * 100n > contractAmount * BigInt(CHANGE_LIMIT_PERCENT);
}

/** Whole days from a YYYY-MM-DD due date to the day (in UTC+8) of the instant `at`. */
export function daysPastDue(dueDate: string, at: string): number {
  return daysFrom(dueDate, cstDay(at));
}

// Every record of a batch has the transaction's time and its project's few due dates, and these
// were parsed again for each record and milestone (~2% of a batch's CPU, issue #26): the last
// time's day and the due dates' instants are kept. Pure functions of their strings.
let lastAt: { at: string; day: number } | undefined;
const dueInstants = new Map<string, number>();

function cstDay(at: string): number {
  if (lastAt?.at === at) return lastAt.day;
  const day = Math.floor((Date.parse(at) + CST_OFFSET_MS) / DAY_MS) * DAY_MS;
  lastAt = { at, day };
  return day;
}

function daysFrom(dueDate: string, atDay: number): number {
  let due = dueInstants.get(dueDate);
  if (due === undefined) {
    due = Date.parse(`${dueDate}T00:00:00.000Z`);
    // Bounded: due dates come from projects' plans, not from each record.
    if (dueInstants.size < 10_000) dueInstants.set(dueDate, due);
  }
  return Math.round((atDay - due) / DAY_MS);
}

/**
 * Planned milestones without a passed acceptance more than 30 days after their due date, that have
 * not been flagged before (工期拖延超过30天).
 */
export function overdueMilestones(
  project: Project,
  summary: ProjectSummary,
  at: string,
): { milestone: string; dueDate: string; daysOverdue: number }[] {
  const out: { milestone: string; dueDate: string; daysOverdue: number }[] = [];
  const atDay = cstDay(at);
  for (const m of project.milestones) {
    if (summary.passed[m.id] !== undefined || summary.overdue.includes(m.id)) continue;
    const days = daysFrom(m.dueDate, atDay);
    if (days > OVERDUE_DAYS) out.push({ milestone: m.id, dueDate: m.dueDate, daysOverdue: days });
  }
  return out;
}

type ChainChoice = { chain: string } | { chain?: undefined; reason: 'no_contract' | 'ambiguous' };

/**
 * The contract a payment, change order or acceptance counts against: the contract it refs; else the
 * chain of the record it corrects; else the project's only live contract.
 */
export function resolveContractChain(summary: ProjectSummary, input: RuleInput): ChainChoice {
  const ref = input.refs.find((r) => r.record.kind === 'contract');
  if (ref?.contractChain !== undefined) return { chain: ref.contractChain };
  if (input.target?.contractChain !== undefined && input.target.record.kind === input.record.kind)
    return { chain: input.target.contractChain };
  const live = Object.keys(summary.contracts).filter((id) => summary.contracts[id]!.live);
  if (live.length === 1) return { chain: live[0]! };
  return { reason: live.length === 0 ? 'no_contract' : 'ambiguous' };
}

function cloneSummary(s: ProjectSummary): ProjectSummary {
  const contracts: Record<string, ContractTally> = {};
  for (const [id, t] of Object.entries(s.contracts)) contracts[id] = { ...t };
  const out: ProjectSummary = {
    records: s.records,
    contracts,
    passed: { ...s.passed },
    overdue: [...s.overdue],
  };
  if (s.resolved) {
    out.resolved = {};
    for (const [m, r] of Object.entries(s.resolved)) out.resolved[m] = { ...r };
  }
  return out;
}

/** The live contract chains' current versions, sorted (refs are listed in one order everywhere). */
function liveContracts(summary: ProjectSummary): string[] {
  return Object.values(summary.contracts)
    .filter((t) => t.live)
    .map((t) => t.current)
    .sort();
}

/** The changes between two maps of resolved milestones, as resolutions, by milestone. */
function resolutionsBetween(
  before: ProjectSummary['resolved'],
  after: ProjectSummary['resolved'],
  projectId: string,
  at: string,
): FlagResolution[] {
  const out: FlagResolution[] = [];
  const code = 'MILESTONE_OVERDUE_30_DAYS';
  const milestones = [...new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})])].sort();
  for (const milestone of milestones) {
    const was = before?.[milestone];
    const now = after?.[milestone];
    if (was?.by === now?.by) continue;
    if (now === undefined) {
      out.push({
        code,
        projectId,
        milestone,
        by: null,
        at,
        ...(was?.restricted ? { restricted: true } : {}),
      });
      continue;
    }
    // Resolved publicly before, now by a restricted record: the public view reopens it.
    if (was !== undefined && !was.restricted && now.restricted)
      out.push({ code, projectId, milestone, by: null, at });
    out.push({ code, projectId, milestone, by: now.by, at, ...(now.restricted ? { restricted: true } : {}) });
  }
  return out;
}

const add = (a: string, b: bigint): string => (BigInt(a) + b).toString();

/** Undo what a record contributed to the totals, when it is superseded or withdrawn. */
function removeContribution(summary: ProjectSummary, stored: RuleRecord): void {
  const tally = stored.contractChain === undefined ? undefined : summary.contracts[stored.contractChain];
  const amount = BigInt(stored.details.amount ?? '0');
  switch (stored.record.kind) {
    case 'payment_approval':
      if (tally) {
        tally.paid = add(tally.paid, -amount);
        tally.payments -= 1;
        if (stored.advance) tally.advance = add(tally.advance, -amount);
      }
      break;
    case 'change_order':
      if (tally) tally.changes = add(tally.changes, -amount);
      break;
    case 'acceptance':
      if (stored.details.result === 'passed') {
        if (tally) tally.passedAcceptances -= 1;
        const m = stored.details.milestone;
        if (m !== undefined && summary.passed[m] === stored.record.id) delete summary.passed[m];
        // The overdue milestone it had resolved is open again (until another acceptance passes).
        if (m !== undefined && summary.resolved?.[m]?.by === stored.record.id) delete summary.resolved[m];
      }
      break;
    case 'contract':
      if (tally) tally.live = false;
      break;
    default:
      break;
  }
}

/**
 * Adds the record's flags. An object made per record rather than an arrow function: the gateway
 * runs the contract through tsx, whose keepNames names every such arrow with a defineProperty
 * each time it is made (issue #26).
 */
class Raiser {
  constructor(
    private readonly flags: Flag[],
    private readonly record: { id: string; projectId: string },
    private readonly at: string,
  ) {}

  flag(code: FlagCode, detail: Flag['detail'], refs: string[] = []): void {
    this.flags.push({
      code,
      rule: `${code}@${RULE_VERSIONS[code]}`,
      recordId: this.record.id,
      projectId: this.record.projectId,
      detail,
      refs: [...new Set(refs)].sort(),
      raisedAt: this.at,
    });
  }
}

/** Applies one record to the project's summary and returns the flags it raises. */
export function evaluateRecord(input: RuleInput, state: RuleState): RuleOutcome {
  const { record, details, target } = input;
  const { project, config, at } = state;
  const summary = cloneSummary(state.summary);
  const flags: Flag[] = [];
  const raise = new Raiser(flags, record, at);

  // Judged before this record takes effect: a late acceptance still shows the delay it ends.
  for (const o of overdueMilestones(project, summary, at)) {
    raise.flag('MILESTONE_OVERDUE_30_DAYS', o);
    summary.overdue.push(o.milestone);
  }
  summary.overdue.sort();
  summary.records += 1;

  const outcome: RuleOutcome = { flags, resolutions: [], summary };
  const amount = BigInt(details.amount ?? '0');

  switch (record.kind) {
    case 'contract': {
      if (target) {
        const chain = target.contractChain ?? target.record.id;
        const tally = summary.contracts[chain];
        if (tally) {
          if (tally.payments > 0)
            raise.flag(
              'SUPERSEDED_AFTER_RELIANCE',
              {
                superseded: target.record.id,
                via: 'supersede',
                payments: tally.payments,
                paidTotal: tally.paid,
              },
              [target.record.id],
            );
          tally.current = record.id;
          tally.amount = amount.toString();
          tally.live = true;
        }
        outcome.contractChain = chain;
      } else {
        // A second contract in force beside others: which one do payments count against?
        const others = liveContracts(summary);
        if (others.length > 0)
          raise.flag('MULTIPLE_LIVE_CONTRACTS', { liveContracts: others.length + 1 }, others);
        summary.contracts[record.id] = {
          current: record.id,
          amount: amount.toString(),
          paid: '0',
          advance: '0',
          changes: '0',
          payments: 0,
          passedAcceptances: 0,
          live: true,
        };
        outcome.contractChain = record.id;
      }
      break;
    }
    case 'payment_approval': {
      if (target) removeContribution(summary, target);
      const choice = resolveContractChain(summary, input);
      const tally = choice.chain === undefined ? undefined : summary.contracts[choice.chain];
      if (!tally?.live) {
        const reason = tally ? 'contract_withdrawn' : 'reason' in choice ? choice.reason : 'no_contract';
        raise.flag(
          'PAYMENT_WITHOUT_CONTRACT',
          { amount: amount.toString(), reason },
          tally ? [tally.current] : reason === 'ambiguous' ? liveContracts(summary) : [],
        );
        // Not counted against any contract, so nothing to undo if it is corrected later.
        break;
      }
      const contractAmount = BigInt(tally.amount);
      const advance = tally.passedAcceptances === 0;
      if (advance) {
        const advanceTotal = BigInt(tally.advance) + amount;
        tally.advance = advanceTotal.toString();
        if (isAdvanceOverLimit(advanceTotal, contractAmount, config.advanceLimitPercent))
          raise.flag(
            'ADVANCE_OVER_LIMIT',
            {
              contractId: tally.current,
              contractAmount: tally.amount,
              advanceTotal: tally.advance,
              limitPercent: config.advanceLimitPercent,
            },
            [tally.current],
          );
      }
      if (details.milestone !== undefined && summary.passed[details.milestone] === undefined)
        raise.flag('PAYMENT_BEFORE_ACCEPTANCE', { milestone: details.milestone, amount: amount.toString() }, [
          tally.current,
        ]);
      const paidTotal = BigInt(tally.paid) + amount;
      tally.paid = paidTotal.toString();
      tally.payments += 1;
      if (isOverpaid(paidTotal, contractAmount, BigInt(tally.changes)))
        raise.flag(
          'OVERPAYMENT',
          {
            contractId: tally.current,
            contractAmount: tally.amount,
            changeTotal: tally.changes,
            paidTotal: tally.paid,
          },
          [tally.current],
        );
      outcome.contractChain = choice.chain;
      if (advance) outcome.advance = true;
      break;
    }
    case 'change_order': {
      if (target) removeContribution(summary, target);
      const choice = resolveContractChain(summary, input);
      const tally = choice.chain === undefined ? undefined : summary.contracts[choice.chain];
      if (!tally) break; // no contract to measure against; the trail still shows the change
      const changeTotal = BigInt(tally.changes) + amount;
      tally.changes = changeTotal.toString();
      if (isChangeOverLimit(changeTotal, BigInt(tally.amount)))
        raise.flag(
          'CHANGE_OVER_15_PERCENT',
          {
            contractId: tally.current,
            contractAmount: tally.amount,
            changeTotal: tally.changes,
            limitPercent: CHANGE_LIMIT_PERCENT,
          },
          [tally.current],
        );
      outcome.contractChain = choice.chain;
      break;
    }
    case 'acceptance': {
      if (target) removeContribution(summary, target);
      const choice = resolveContractChain(summary, input);
      const tally = choice.chain === undefined ? undefined : summary.contracts[choice.chain];
      if (details.result === 'passed') {
        if (tally) tally.passedAcceptances += 1;
        const m = details.milestone;
        if (m !== undefined) {
          summary.passed[m] = record.id;
          // An overdue milestone's flag is answered by its acceptance: resolved, by this record.
          if (summary.overdue.includes(m)) {
            summary.resolved ??= {};
            summary.resolved[m] = {
              by: record.id,
              at,
              ...(record.visibility === 'restricted' ? { restricted: true as const } : {}),
            };
          }
        }
      }
      if (tally) outcome.contractChain = choice.chain;
      break;
    }
    case 'withdrawal': {
      if (!target) break;
      if (target.record.kind === 'contract' && target.contractChain !== undefined) {
        const tally = summary.contracts[target.contractChain];
        if (tally && tally.payments > 0)
          raise.flag(
            'SUPERSEDED_AFTER_RELIANCE',
            {
              superseded: target.record.id,
              via: 'withdrawal',
              payments: tally.payments,
              paidTotal: tally.paid,
            },
            [target.record.id],
          );
      }
      removeContribution(summary, target);
      break;
    }
    default:
      break;
  }
  outcome.resolutions = resolutionsBetween(state.summary.resolved, summary.resolved, record.projectId, at);
  if (summary.resolved && Object.keys(summary.resolved).length === 0) delete summary.resolved;
  return outcome;
}
