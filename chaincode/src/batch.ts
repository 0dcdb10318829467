// RecordBatch: check each record, store it with its indexes, run the rules, and extend the log the
// ledger keeps itself. Writes grow with the number of records (two keys each, plus flags) and a
// constant per batch and per project touched, so one transaction can carry thousands of records.
// On Fabric every PutState is a round trip to the peer, so keys per record are what a batch costs.

import {
  appendLeaves,
  canonicalBytes,
  canonicalJson,
  emptyFrontier,
  frontierFromJson,
  frontierRoot,
  frontierToJson,
  leafHash,
  sha256,
  toHex,
} from '@lianzheng/proof';
import { requireWriter } from './access.ts';
import { submitterOf, txTime } from './context.ts';
import { ChaincodeError, fail } from './errors.ts';
import type { LedgerContext } from './ledger.ts';
import {
  type BatchResult,
  type Checkpoint,
  type Flag,
  type LedgerConfig,
  type ProjectSummary,
  parseBatchArgs,
  parseDetails,
  parseRecord,
  type StoredProject,
  type StoredRecord,
} from './model.ts';
import { emptySummary, evaluateRecord } from './rules.ts';
import { KEY, pad2, pad16, type StateView } from './state.ts';

export const BATCH_EVENT = 'BatchRecorded';

/** The log's right edge as kept in world state. */
export interface LogHead {
  size: number;
  root: string;
  /** Complete-subtree hashes, hex, left to right (proof's `frontierToJson`). */
  hashes: string[];
}

/** What a batch left behind, so a repeat of it gets the same answer. */
export interface StoredBatch extends BatchResult {
  fromSize: number;
  /** sha256 over the batch's leaf hashes, concatenated. */
  leaves: string;
  txId: string;
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

function leafOf(record: unknown, position: number): Uint8Array {
  try {
    return leafHash(canonicalBytes(record));
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

interface ProjectState {
  stored: StoredProject;
  summary: ProjectSummary;
  /** This batch's records of the project, in log order: one trail key per project and batch. */
  trail: string[];
}

export async function recordBatch(
  view: StateView,
  ctx: LedgerContext,
  batchJson: string,
): Promise<BatchResult> {
  const config = await requireWriter(view, ctx);
  const args = parseBatchArgs(batchJson);
  const leaves = args.records.map((entry, i) => leafOf(entry.record, i));
  const leavesDigest = digestLeaves(leaves);
  const head = await readLogHead(view);

  if (args.fromSize !== head.size)
    return answerRepeat(view, args.fromSize, head, leaves.length, leavesDigest);

  const at = txTime(ctx);
  const txId = ctx.stub.getTxID();
  const by = submitterOf(ctx);
  const projects = new Map<string, ProjectState>();
  const flags: Flag[] = [];

  for (let i = 0; i < args.records.length; i++) {
    const entry = args.records[i]!;
    const index = args.fromSize + i;
    const stored = await checkAndApply(view, entry.record, entry.details, {
      index,
      at,
      txId,
      by,
      config,
      projects,
    });
    flags.push(...stored);
  }

  for (const [projectId, state] of projects) {
    view.set(view.key(KEY.summary, projectId), state.summary);
    view.set(view.key(KEY.trail, projectId, pad16(args.fromSize)), state.trail);
  }

  const frontier = appendLeaves(frontierFromJson({ size: head.size, hashes: head.hashes }), leaves);
  const root = toHex(frontierRoot(frontier));
  const toSize = frontier.size;
  const nextHead: LogHead = { size: toSize, root, hashes: frontierToJson(frontier).hashes };
  view.set(view.key(KEY.log), nextHead);
  view.set(view.key(KEY.checkpoint, pad16(toSize)), { size: toSize, root } satisfies Checkpoint);
  const result: BatchResult = { toSize, root, flags };
  view.set(view.key(KEY.batch, pad16(args.fromSize)), {
    ...result,
    fromSize: args.fromSize,
    leaves: leavesDigest,
    txId,
  } satisfies StoredBatch);
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
        return { toSize: stored.toSize, root: stored.root, flags: stored.flags };
      fail('LOG_CONFLICT', `a different batch was already recorded from size ${fromSize}`);
    }
  }
  return fail('LOG_GAP', `batch starts at ${fromSize} but the log has ${head.size} leaves`);
}

interface ApplyContext {
  index: number;
  at: string;
  txId: string;
  by: StoredRecord['by'];
  config: LedgerConfig;
  projects: Map<string, ProjectState>;
}

async function loadProject(
  view: StateView,
  projects: Map<string, ProjectState>,
  id: string,
): Promise<ProjectState> {
  const cached = projects.get(id);
  if (cached) return cached;
  const stored = await view.get<StoredProject>(view.key(KEY.project, id));
  if (!stored) fail('NO_SUCH_PROJECT', id);
  const summary = (await view.get<ProjectSummary>(view.key(KEY.summary, id))) ?? emptySummary();
  const state: ProjectState = { stored, summary, trail: [] };
  projects.set(id, state);
  return state;
}

async function checkAndApply(
  view: StateView,
  rawRecord: unknown,
  rawDetails: unknown,
  c: ApplyContext,
): Promise<Flag[]> {
  const record = parseRecord(rawRecord);
  const details = parseDetails(rawDetails, record);
  const recordKey = view.key(KEY.record, record.id);
  if (await view.get(recordKey)) fail('RECORD_EXISTS', record.id);
  const project = await loadProject(view, c.projects, record.projectId);
  const plan = project.stored.project.milestones;
  if (details.milestone !== undefined && !plan.some((m) => m.id === details.milestone))
    fail('BAD_MILESTONE', `record ${record.id}: ${details.milestone} is not in the project's plan`);

  const refs: StoredRecord[] = [];
  for (const refId of record.refs ?? []) {
    const ref = await view.get<StoredRecord>(view.key(KEY.record, refId));
    if (!ref) fail('BAD_REFERENCE', `record ${record.id}: ref ${refId} does not exist`);
    if (ref.record.projectId !== record.projectId)
      fail('BAD_REFERENCE', `record ${record.id}: ref ${refId} belongs to another project`);
    checkRefKind(record.id, record.kind, ref);
    refs.push(ref);
  }

  let target: StoredRecord | undefined;
  let targetMark: 'supersededBy' | 'withdrawnBy' | undefined;
  if (record.supersedes !== undefined) {
    target = await view.get<StoredRecord>(view.key(KEY.record, record.supersedes));
    if (!target) fail('BAD_SUPERSEDE', `record ${record.id}: ${record.supersedes} does not exist`);
    if (target.record.projectId !== record.projectId)
      fail('BAD_SUPERSEDE', `record ${record.id}: ${record.supersedes} belongs to another project`);
    if (target.record.kind !== record.kind)
      fail('BAD_SUPERSEDE', `record ${record.id}: ${record.supersedes} is a ${target.record.kind}`);
    requireLive(record.id, target, 'BAD_SUPERSEDE');
    targetMark = 'supersededBy';
  } else if (record.kind === 'withdrawal') {
    target = refs[0]!;
    requireLive(record.id, target, 'BAD_REFERENCE');
    targetMark = 'withdrawnBy';
  }

  const outcome = evaluateRecord(
    { record, details, refs, target },
    { project: project.stored.project, summary: project.summary, config: c.config, at: c.at },
  );
  project.summary = outcome.summary;

  const stored: StoredRecord = { record, details, index: c.index, txId: c.txId, recordedAt: c.at, by: c.by };
  if (outcome.contractChain !== undefined) stored.contractChain = outcome.contractChain;
  if (outcome.advance) stored.advance = true;
  view.set(recordKey, stored);
  if (target && targetMark)
    view.set(view.key(KEY.record, target.record.id), { ...target, [targetMark]: record.id });
  const index = pad16(c.index);
  view.set(view.key(KEY.digest, record.digests.sha256, index, record.id), record.id);
  project.trail.push(record.id);
  for (const [n, flag] of outcome.flags.entries())
    view.set(view.key(KEY.flag, record.projectId, index, pad2(n)), flag);
  return outcome.flags;
}

/** Payments, acceptances and change orders may only ref contracts; a withdrawal anything but a withdrawal. */
function checkRefKind(id: string, kind: string, ref: StoredRecord): void {
  const refKind = ref.record.kind;
  if (
    (kind === 'payment_approval' || kind === 'acceptance' || kind === 'change_order') &&
    refKind !== 'contract'
  )
    fail('BAD_REFERENCE', `record ${id}: a ${kind} may only ref a contract, not a ${refKind}`);
  if (kind === 'withdrawal' && refKind === 'withdrawal')
    fail('BAD_REFERENCE', `record ${id}: a withdrawal cannot be withdrawn`);
}

function requireLive(id: string, target: StoredRecord, code: 'BAD_SUPERSEDE' | 'BAD_REFERENCE'): void {
  if (target.supersededBy !== undefined)
    throw new ChaincodeError(
      code,
      `record ${id}: ${target.record.id} is superseded by ${target.supersededBy}`,
    );
  if (target.withdrawnBy !== undefined)
    throw new ChaincodeError(code, `record ${id}: ${target.record.id} is withdrawn by ${target.withdrawnBy}`);
}

export function batchResultJson(result: BatchResult): string {
  return canonicalJson(result);
}
