// EvidenceContract: the thin Fabric face of the chaincode. Each transaction takes JSON strings and
// returns a canonical JSON string, so it behaves the same when fabric-shim calls it and when the
// gateway's embedded ledger calls `contract.RecordBatch(ctx, json)` in-process.
//
// Parameters are declared with explicit `@Param(name, 'string')`: esbuild (and so vitest, tsx and
// our bundle) does not emit `design:paramtypes`, from which `@Transaction` would otherwise infer
// them. `@Param` must sit above `@Transaction` so that it runs after it (decorators apply bottom-up).

import { canonicalJson } from '@lianzheng/proof';
import fabric from 'fabric-contract-api';
import { initLedger, readConfig, setConfig, setWriters } from './access.ts';
import { recordBatch } from './batch.ts';
import type { LedgerContext } from './ledger.ts';
import { registerProject } from './projects.ts';
import {
  findByDigest,
  getBatch,
  getBatchRecords,
  getCheckpoint,
  getFlags,
  getProject,
  getRecord,
  projectTrail,
} from './queries.ts';
import { StateView } from './state.ts';

const { Contract, Param, Returns, Transaction } = fabric;

export const CONTRACT_NAME = 'EvidenceContract';

async function submit(ctx: LedgerContext, work: (view: StateView) => Promise<unknown>): Promise<string> {
  const view = new StateView(ctx.stub);
  const result = await work(view);
  await view.flush();
  return canonicalJson(result);
}

async function evaluate(ctx: LedgerContext, work: (view: StateView) => Promise<unknown>): Promise<string> {
  return canonicalJson(await work(new StateView(ctx.stub)));
}

export class EvidenceContract extends Contract {
  constructor() {
    super(CONTRACT_NAME);
  }

  /** `args`: '', an admin MSP id, or `{adminMsp?, writers?, advanceLimitPercent?}`; admin defaults to the caller's MSP. */
  @Param('args', 'string')
  @Returns('string')
  @Transaction()
  async InitLedger(ctx: LedgerContext, args = ''): Promise<string> {
    return submit(ctx, (view) => initLedger(view, ctx, args));
  }

  /** `writers`: JSON array of MSP ids. Admin only. */
  @Param('writers', 'string')
  @Returns('string')
  @Transaction()
  async SetWriters(ctx: LedgerContext, writers: string): Promise<string> {
    return submit(ctx, (view) => setWriters(view, ctx, writers));
  }

  /** `patch`: `{advanceLimitPercent?, writers?, adminMsp?}`. Admin only. */
  @Param('patch', 'string')
  @Returns('string')
  @Transaction()
  async SetConfig(ctx: LedgerContext, patch: string): Promise<string> {
    return submit(ctx, (view) => setConfig(view, ctx, patch));
  }

  @Returns('string')
  @Transaction(false)
  async GetConfig(ctx: LedgerContext): Promise<string> {
    return evaluate(ctx, async (view) => (await readConfig(view)) ?? null);
  }

  /** `project`: `{id, name, regionCode, ownerOrg, budget, milestones: [{id, name, dueDate}]}`. */
  @Param('project', 'string')
  @Returns('string')
  @Transaction()
  async RegisterProject(ctx: LedgerContext, project: string): Promise<string> {
    return submit(ctx, (view) => registerProject(view, ctx, project));
  }

  /**
   * `batch`: `{fromSize, records: [{record, details}]}` → `{toSize, root, flags}`. A restricted
   * record comes as `{record}`, its details in the transient map (`encodeRecordBatch`).
   */
  @Param('batch', 'string')
  @Returns('string')
  @Transaction()
  async RecordBatch(ctx: LedgerContext, batch: string): Promise<string> {
    // recordBatch flushes its own writes before it emits the event.
    return evaluate(ctx, (view) => recordBatch(view, ctx, batch));
  }

  @Param('id', 'string')
  @Returns('string')
  @Transaction(false)
  async GetRecord(ctx: LedgerContext, id: string): Promise<string> {
    return evaluate(ctx, (view) => getRecord(view, id));
  }

  /**
   * `projectId`: '' to search every batch (a scan of the whole ledger), or a project id to read
   * only that project's batches. Fabric passes every declared parameter: send '' for none.
   */
  @Param('sha256', 'string')
  @Param('projectId', 'string')
  @Returns('string')
  @Transaction(false)
  async FindByDigest(ctx: LedgerContext, sha256: string, projectId = ''): Promise<string> {
    return evaluate(ctx, (view) => findByDigest(view, sha256, projectId));
  }

  @Param('projectId', 'string')
  @Returns('string')
  @Transaction(false)
  async ProjectTrail(ctx: LedgerContext, projectId: string): Promise<string> {
    return evaluate(ctx, (view) => projectTrail(view, projectId));
  }

  /** `fromSize`: where a recorded batch starts → `{fromSize, toSize, root, txId, flags}`. */
  @Param('fromSize', 'string')
  @Returns('string')
  @Transaction(false)
  async GetBatch(ctx: LedgerContext, fromSize: string): Promise<string> {
    return evaluate(ctx, (view) => getBatch(view, fromSize));
  }

  /** `fromSize`: a batch's first leaf index → `{fromSize, toSize, root, txId, records: [{record, index}]}`. */
  @Param('fromSize', 'string')
  @Returns('string')
  @Transaction(false)
  async GetBatchRecords(ctx: LedgerContext, fromSize: string): Promise<string> {
    return evaluate(ctx, (view) => getBatchRecords(view, fromSize));
  }

  /** `size`: a tree size, or '' for the latest checkpoint. */
  @Param('size', 'string')
  @Returns('string')
  @Transaction(false)
  async GetCheckpoint(ctx: LedgerContext, size = ''): Promise<string> {
    return evaluate(ctx, (view) => getCheckpoint(view, size));
  }

  @Param('projectId', 'string')
  @Returns('string')
  @Transaction(false)
  async GetFlags(ctx: LedgerContext, projectId: string): Promise<string> {
    return evaluate(ctx, (view) => getFlags(view, projectId));
  }

  @Param('id', 'string')
  @Returns('string')
  @Transaction(false)
  async GetProject(ctx: LedgerContext, id: string): Promise<string> {
    return evaluate(ctx, (view) => getProject(view, id));
  }
}
