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
import { fail } from './errors.ts';
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
import { type ProjectFacts, type RecordFacts, referencedIds, validateEntry } from './validation.ts';

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
  /** What the record checks need to know about the project. */
  facts: ProjectFacts;
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

/** The project's state for this batch, or undefined when it is not registered. */
async function findProject(
  view: StateView,
  projects: Map<string, ProjectState>,
  id: string,
): Promise<ProjectState | undefined> {
  const cached = projects.get(id);
  if (cached) return cached;
  const stored = await view.get<StoredProject>(view.key(KEY.project, id));
  if (!stored) return undefined;
  const summary = (await view.get<ProjectSummary>(view.key(KEY.summary, id))) ?? emptySummary();
  const state: ProjectState = {
    stored,
    summary,
    trail: [],
    facts: { id, milestones: stored.project.milestones.map((m) => m.id) },
  };
  projects.set(id, state);
  return state;
}

function factsOf(stored: StoredRecord): RecordFacts {
  const facts: RecordFacts = {
    id: stored.record.id,
    projectId: stored.record.projectId,
    kind: stored.record.kind,
  };
  if (stored.supersededBy !== undefined) facts.supersededBy = stored.supersededBy;
  if (stored.withdrawnBy !== undefined) facts.withdrawnBy = stored.withdrawnBy;
  return facts;
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
  const project = await findProject(view, c.projects, record.projectId);

  // Read what the record names (world state, or this batch's own writes), then judge it with
  // the same pure checks the gateway's intake runs before it accepts a submission.
  const named = new Map<string, StoredRecord>();
  for (const id of referencedIds(record)) {
    const stored = await view.get<StoredRecord>(view.key(KEY.record, id));
    if (stored) named.set(id, stored);
  }
  const links = validateEntry(record, details, {
    project: (id) => (project && id === record.projectId ? project.facts : undefined),
    record: (id) => {
      const stored = named.get(id);
      return stored && factsOf(stored);
    },
  });
  const state = project!;
  const refs = links.refs.map((f) => named.get(f.id)!);
  const target = links.target && named.get(links.target.id);
  const targetMark = links.mark;

  const outcome = evaluateRecord(
    { record, details, refs, target },
    { project: state.stored.project, summary: state.summary, config: c.config, at: c.at },
  );
  state.summary = outcome.summary;

  const stored: StoredRecord = { record, details, index: c.index, txId: c.txId, recordedAt: c.at, by: c.by };
  if (outcome.contractChain !== undefined) stored.contractChain = outcome.contractChain;
  if (outcome.advance) stored.advance = true;
  view.set(recordKey, stored);
  if (target && targetMark)
    view.set(view.key(KEY.record, target.record.id), { ...target, [targetMark]: record.id });
  const index = pad16(c.index);
  view.set(view.key(KEY.digest, record.digests.sha256, index, record.id), record.id);
  state.trail.push(record.id);
  for (const [n, flag] of outcome.flags.entries())
    view.set(view.key(KEY.flag, record.projectId, index, pad2(n)), flag);
  return outcome.flags;
}

export function batchResultJson(result: BatchResult): string {
  return canonicalJson(result);
}
