// Read-only transactions. Indexes are composite-key prefixes, so each query is one range scan plus
// point reads of the records it names, in log order.

import { emptyFrontier, frontierRoot, isSha256Hex, toHex } from '@lianzheng/proof';
import { readLogHead } from './batch.ts';
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
import { emptySummary } from './rules.ts';
import { KEY, pad16, type StateView, splitCompositeKey } from './state.ts';

export interface RecordView extends StoredRecord {
  flags: Flag[];
}

export interface ProjectView extends StoredProject {
  summary: ProjectSummary;
}

async function flagsOf(view: StateView, stored: StoredRecord): Promise<Flag[]> {
  const flags: Flag[] = [];
  for await (const { value } of view.scan<Flag>(KEY.flag, stored.record.projectId, pad16(stored.index)))
    flags.push(value);
  return flags;
}

export async function getRecord(view: StateView, id: string): Promise<RecordView> {
  if (!isRecordId(id)) fail('BAD_ARGUMENT', 'id must be a lowercase UUID');
  const stored = await view.get<StoredRecord>(view.key(KEY.record, id));
  if (!stored) fail('NOT_FOUND', `record ${id}`);
  return { ...stored, flags: await flagsOf(view, stored) };
}

export async function findByDigest(
  view: StateView,
  sha256: string,
): Promise<{ sha256: string; records: RecordView[] }> {
  if (!isSha256Hex(sha256)) fail('BAD_DIGEST', 'sha256 must be 64 lowercase hex');
  const records: RecordView[] = [];
  for await (const { value: id } of view.scan<string>(KEY.digest, sha256))
    records.push(await getRecord(view, id));
  return { sha256, records };
}

export async function getProject(view: StateView, id: string): Promise<ProjectView> {
  if (!isProjectId(id)) fail('BAD_ARGUMENT', 'bad project id');
  const stored = await view.get<StoredProject>(view.key(KEY.project, id));
  if (!stored) fail('NOT_FOUND', `project ${id}`);
  const summary = (await view.get<ProjectSummary>(view.key(KEY.summary, id))) ?? emptySummary();
  return { ...stored, summary };
}

export async function getFlags(
  view: StateView,
  projectId: string,
): Promise<{ projectId: string; flags: Flag[] }> {
  await getProject(view, projectId);
  const flags: Flag[] = [];
  for await (const { value } of view.scan<Flag>(KEY.flag, projectId)) flags.push(value);
  return { projectId, flags };
}

/** Every record of a project in log order, each with its flags and supersede/withdraw state. */
export async function projectTrail(
  view: StateView,
  projectId: string,
): Promise<{ projectId: string; records: RecordView[] }> {
  await getProject(view, projectId);
  const flagsByIndex = new Map<string, Flag[]>();
  for await (const { key, value } of view.scan<Flag>(KEY.flag, projectId)) {
    const index = splitCompositeKey(key).attributes[1]!;
    const list = flagsByIndex.get(index) ?? [];
    list.push(value);
    flagsByIndex.set(index, list);
  }
  const records: RecordView[] = [];
  for await (const { value: ids } of view.scan<string[]>(KEY.trail, projectId)) {
    for (const id of ids) {
      const stored = await view.get<StoredRecord>(view.key(KEY.record, id));
      if (!stored) fail('NOT_FOUND', `record ${id} named by the trail`);
      records.push({ ...stored, flags: flagsByIndex.get(pad16(stored.index)) ?? [] });
    }
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
