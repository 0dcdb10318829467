import { randomBytes } from 'node:crypto';
import {
  appendLeavesWithSubtrees,
  emptyFrontier,
  frontierRoot,
  generateConsistencyProof,
  generateInclusionProof,
  leafHash,
  MemorySubtreeStore,
  recordLeafHash,
  toHex,
  verifyBundle,
  verifyCheckpoint,
} from '@lianzheng/proof';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadSubmissions } from '../../gateway/src/intake/submission-store.ts';
import type { KeyRing } from '../../gateway/src/keys/key-ring.ts';
import {
  ForwardingLedger,
  type Ledger,
  LedgerError,
  type RecordBatchResult,
} from '../../gateway/src/ledger/ledger.ts';
import { EmbeddedLedger, verifyBlockChain } from '../../gateway/src/ledger/ledger-embedded.ts';
import { LogStore } from '../../gateway/src/log/log-store.ts';
import { BundleBuilder } from '../../gateway/src/read/bundle.ts';
import { Batcher } from '../../gateway/src/seal/batcher.ts';
import {
  demoProject,
  type Entry,
  insertSubmissions,
  makeEntry,
  type TestDatabase,
} from './pipeline-support.ts';
import { useTestDatabase } from './test-database.ts';

let db: TestDatabase;
let keys: KeyRing;

useTestDatabase((started) => ({ db, keys } = started));

async function inTx<T>(work: (client: import('pg').PoolClient) => Promise<T>): Promise<T> {
  const client = await db.pool.connect();
  try {
    await client.query('begin');
    const out = await work(client);
    await client.query('commit');
    return out;
  } catch (e) {
    await client.query('rollback');
    throw e;
  } finally {
    client.release();
  }
}

async function resetLog(): Promise<void> {
  await db.pool.query(
    `truncate log_tiles, checkpoints, witness_cosignatures, ledger_batches, record_flags, record_links,
              submissions, world_state, ledger_blocks, projects;
     update log_state set size = 0, frontier = '{}'`,
  );
}

describe('log store on PostgreSQL', () => {
  it('serves the same proofs as the in-memory store, for any sizes', async () => {
    await resetLog();
    const log = new LogStore(db.pool);
    const memory = new MemorySubtreeStore();
    let mem = emptyFrontier();
    const roots: Uint8Array[] = [];
    for (const n of [1, 6, 1, 57, 200, 3]) {
      const leaves = Array.from({ length: n }, () => leafHash(randomBytes(20)));
      for (const leaf of leaves) {
        const step = appendLeavesWithSubtrees(mem, [leaf]);
        mem = step.frontier;
        memory.add(step.subtrees);
        roots[mem.size] = frontierRoot(mem);
      }
      const stored = await inTx(async (c) => log.append(c, await log.frontier(c, true), leaves));
      expect(stored.size).toBe(mem.size);
      expect(toHex(frontierRoot(stored))).toBe(toHex(frontierRoot(mem)));
    }
    const total = mem.size;
    await log.putCheckpoint(db.pool, total, frontierRoot(mem), 'note');
    for (let size = 1; size <= total; size += 13) {
      expect(toHex(await log.rootAt(size))).toBe(toHex(roots[size]!));
      for (const index of [0, Math.floor(size / 2), size - 1]) {
        const ours = await log.inclusionProof(index, size);
        const theirs = await generateInclusionProof(memory, index, size);
        expect(ours.map(toHex)).toEqual(theirs.map(toHex));
      }
      const from = Math.max(1, Math.floor(size / 3));
      expect((await log.consistencyProof(from, size)).map(toHex)).toEqual(
        (await generateConsistencyProof(memory, from, size)).map(toHex),
      );
    }
    await expect(log.inclusionProof(0, total + 1)).rejects.toMatchObject({ code: 'SIZE_OUT_OF_RANGE' });
    await expect(log.inclusionProof(total, total)).rejects.toMatchObject({ code: 'INDEX_OUT_OF_RANGE' });

    // Undo the last 3 leaves: the frontier is rebuilt from the stored subtrees alone.
    const truncated = await inTx((c) => log.truncate(c, total - 3));
    expect(truncated.size).toBe(total - 3);
    expect(toHex(frontierRoot(truncated))).toBe(toHex(roots[total - 3]!));
    expect((await log.frontier()).size).toBe(total - 3);
  });
});

describe('embedded ledger', () => {
  it('initialises once, registers projects idempotently and records batches as hash-chained blocks', async () => {
    await resetLog();
    const ledger = new EmbeddedLedger(db.pool, { mspId: 'GatewayMSP' });
    await ledger.ready();
    await new EmbeddedLedger(db.pool, { mspId: 'GatewayMSP' }).ready();

    const project = demoProject();
    const first = await ledger.registerProject(project);
    expect(first.repeated).toBe(false);
    expect(first.project.level).toBe('C');
    const again = await ledger.registerProject(project);
    expect(again).toMatchObject({ repeated: true, txId: first.txId, block: first.block });
    await expect(ledger.registerProject({ ...project, name: 'Another' })).rejects.toMatchObject({
      code: 'PROJECT_EXISTS',
    });

    const entries = [
      makeEntry({ projectId: project.id, kind: 'approval' }),
      makeEntry({
        projectId: project.id,
        kind: 'contract',
        visibility: 'restricted',
        details: { amount: '100000987', title: 'restricted title' },
      }),
    ];
    const result = await ledger.recordBatch({ fromSize: 0, records: entries });
    // The restricted details are neither in the block's input nor in public world state: they
    // went as transient data and are kept as private data (its own key namespace).
    const blocks = await db.pool.query<{ payload: Buffer }>('select payload from ledger_blocks');
    expect(blocks.rows.some((b) => b.payload.includes('100000987'))).toBe(false);
    const states = await db.pool.query<{ key: Buffer; value: Buffer }>('select key, value from world_state');
    const isPrivate = (key: Buffer) => key.subarray(0, 5).equals(Buffer.from('\u0000\u{10FFFF}', 'utf8'));
    const holders = states.rows.filter((r) => r.value.includes('restricted title'));
    expect(holders.length).toBeGreaterThan(0);
    expect(holders.every((r) => isPrivate(r.key))).toBe(true);
    expect((await ledger.getRecord(entries[1]!.record.id))?.details).toEqual(entries[1]!.details);
    let mem = emptyFrontier();
    mem = appendLeavesWithSubtrees(
      mem,
      entries.map((e) => recordLeafHash(e.record)),
    ).frontier;
    expect(result).toMatchObject({
      toSize: 2,
      root: toHex(frontierRoot(mem)),
      repeated: false,
      validation: 'VALID',
    });

    const repeat = await ledger.recordBatch({ fromSize: 0, records: entries });
    expect(repeat).toMatchObject({
      repeated: true,
      txId: result.txId,
      block: result.block,
      root: result.root,
    });
    await expect(ledger.recordBatch({ fromSize: 5, records: entries })).rejects.toMatchObject({
      code: 'LOG_GAP',
    });
    await expect(
      ledger.recordBatch({ fromSize: 2, records: [makeEntry({ projectId: 'nowhere', kind: 'notice' })] }),
    ).rejects.toMatchObject({ code: 'NO_SUCH_PROJECT' });

    expect(await ledger.getTx(result.txId)).toMatchObject({
      valid: true,
      block: result.block,
      size: 2,
      root: result.root,
    });
    expect(await ledger.getTx('0'.repeat(64))).toBeUndefined();
    expect(await ledger.getCheckpoint()).toMatchObject({ size: 2, root: result.root });
    expect((await ledger.getRecord(entries[1]!.record.id))?.index).toBe(1);
    expect(await ledger.projectTrail(project.id)).toHaveLength(2);

    expect(await verifyBlockChain(db.pool)).toBeUndefined();
    await db.pool.query('update ledger_blocks set data_hash = $1 where number = 1', [Buffer.alloc(32, 7)]);
    expect(await verifyBlockChain(db.pool)).toBe(1);
  });

  it('refuses to start on world state in the layout of an older version', async () => {
    await resetLog();
    await new EmbeddedLedger(db.pool, { mspId: 'GatewayMSP' }).ready();
    await db.pool.query('insert into world_state (key, value) values ($1, $2)', [
      Buffer.from('\u0000record\u00000190a000-0000-7000-8000-000000000001\u0000', 'utf8'),
      Buffer.from('{}'),
    ]);
    await expect(new EmbeddedLedger(db.pool, { mspId: 'GatewayMSP' }).ready()).rejects.toThrow(
      /older version/,
    );
    await resetLog();
  });

  it('refuses to start on a project key of the layout before the paged book (issue #26)', async () => {
    await resetLog();
    const ledger = new EmbeddedLedger(db.pool, { mspId: 'GatewayMSP' });
    await ledger.ready();
    const project = demoProject();
    await ledger.registerProject(project);
    // Registered, no records: the same bytes in both layouts, so the ledger starts.
    await new EmbeddedLedger(db.pool, { mspId: 'GatewayMSP' }).ready();
    const key = Buffer.from(`\u0000project\u0000${project.id}\u0000`, 'utf8');
    const { rows } = await db.pool.query<{ value: Buffer }>('select value from world_state where key = $1', [
      key,
    ]);
    const stored = JSON.parse(rows[0]!.value.toString('utf8')) as Record<string, unknown>;
    // The older contract kept every fact of the project in its key.
    const old = {
      ...stored,
      records: { '0190a000-0000-7000-8000-000000000001': { i: 0, k: 'notice' } },
      batches: [0],
    };
    await db.pool.query('update world_state set value = $2 where key = $1', [
      key,
      Buffer.from(JSON.stringify(old)),
    ]);
    await expect(new EmbeddedLedger(db.pool, { mspId: 'GatewayMSP' }).ready()).rejects.toThrow(
      /older version/,
    );
    await resetLog();
  });
});

/** A ledger in front of the real one that can lie about the root or fail, for the batcher. */
class ScriptedLedger extends ForwardingLedger {
  wrongRoot = false;
  failNext = false;
  calls = 0;
  override async recordBatch(batch: Parameters<Ledger['recordBatch']>[0]): Promise<RecordBatchResult> {
    this.calls++;
    if (this.failNext) {
      this.failNext = false;
      throw new LedgerError('LEDGER_UNAVAILABLE', 'scripted outage');
    }
    const result = await this.inner.recordBatch(batch);
    return this.wrongRoot ? { ...result, root: 'ff'.repeat(32) } : result;
  }
}

describe('batcher', () => {
  let ledger: EmbeddedLedger;
  let project: ReturnType<typeof demoProject>;

  const newBatcher = (l: Ledger = ledger, maxItems = 10_000) =>
    new Batcher(db.pool, new LogStore(db.pool), l, {
      intervalMs: 50,
      maxItems,
      origin: 'lianzheng.test/log',
      signer: keys.checkpointSigner,
    });

  const statuses = async () =>
    (
      await db.pool.query<{
        id: string;
        status: string;
        leaf_index: string | null;
        reject_code: string | null;
      }>('select id, status, leaf_index, reject_code from submission_states order by seq')
    ).rows;

  beforeAll(async () => {
    await resetLog();
    ledger = new EmbeddedLedger(db.pool, { mspId: 'GatewayMSP' });
    await ledger.ready();
    project = demoProject();
    await ledger.registerProject(project);
  });

  it('seals accepted submissions in order, records them, signs the checkpoint and keeps flags', async () => {
    const contract = makeEntry({ projectId: project.id, kind: 'contract', details: { amount: '100000000' } });
    const entries: Entry[] = [
      makeEntry({ projectId: project.id, kind: 'approval' }),
      contract,
      // 60% of the contract before any acceptance: an advance above the 30% limit.
      makeEntry({
        projectId: project.id,
        kind: 'payment_approval',
        refs: [contract.record.id],
        details: { amount: '60000000', milestone: 'm1' },
      }),
    ];
    await insertSubmissions(db.pool, keys, entries);
    const batcher = newBatcher();
    const outcome = await batcher.step();
    expect(outcome).toMatchObject({ action: 'recorded', fromSize: 0, toSize: 3, records: 3 });
    expect((await statuses()).map((s) => [s.status, s.leaf_index])).toEqual([
      ['recorded', '0'],
      ['recorded', '1'],
      ['recorded', '2'],
    ]);
    const log = new LogStore(db.pool);
    const checkpoint = await log.checkpoint();
    expect(checkpoint?.size).toBe(3);
    const verified = await verifyCheckpoint(checkpoint!.note, [keys.checkpointSigner.vkey]);
    expect(verified.checkpoint.size).toBe(3);
    const flags = await db.pool.query<{ code: string }>(
      'select code from record_flags where submission_id = $1',
      [entries[2]!.record.id],
    );
    expect(flags.rows.map((r) => r.code)).toContain('ADVANCE_OVER_LIMIT');
    // The contract's answer carries flags without their facts; the embedded ledger hands the
    // gateway the facts from the batch's private value.
    const stored = await db.pool.query<{ flag: { detail: Record<string, unknown> } }>(
      "select flag from record_flags where submission_id = $1 and code = 'ADVANCE_OVER_LIMIT'",
      [entries[2]!.record.id],
    );
    expect(stored.rows[0]!.flag.detail).toMatchObject({
      contractAmount: '100000000',
      advanceTotal: '60000000',
    });
    expect(await batcher.step()).toEqual({ action: 'idle' });
  });

  it('resumes a batch sealed before a crash and records it once', async () => {
    await insertSubmissions(db.pool, keys, [
      makeEntry({ projectId: project.id, kind: 'notice' }),
      makeEntry({ projectId: project.id, kind: 'construction_log' }),
    ]);
    const crashed = newBatcher();
    const sealed = await crashed.seal();
    expect(sealed).toMatchObject({ fromSize: 3, toSize: 5 });
    // A new process: the sealed batch is the first thing it does.
    const blocksBefore = await blockCount();
    const outcome = await newBatcher().step();
    expect(outcome).toMatchObject({ action: 'recorded', fromSize: 3, toSize: 5 });
    expect(await blockCount()).toBe(blocksBefore + 1);
  });

  it('takes the stored answer when the ledger recorded a batch the gateway did not confirm', async () => {
    await insertSubmissions(db.pool, keys, [makeEntry({ projectId: project.id, kind: 'tender' })]);
    const batcher = newBatcher();
    const sealed = await batcher.seal();
    // The ledger got the batch, then the gateway died before it wrote the answer down.
    const rows = await loadSubmissions(db.pool, 's.seq = any($1::bigint[])', [sealed!.seqs]);
    const direct = await ledger.recordBatch({
      fromSize: sealed!.fromSize,
      records: rows.map((r) => ({ record: JSON.parse(r.record_json), details: JSON.parse(r.details_json) })),
    });
    const blocksBefore = await blockCount();
    expect(await newBatcher().step()).toMatchObject({ action: 'recorded', toSize: sealed!.toSize });
    expect(await blockCount()).toBe(blocksBefore);
    const batch = await db.pool.query('select tx_id, block from ledger_batches where from_size = $1', [
      sealed!.fromSize,
    ]);
    expect(batch.rows[0]).toMatchObject({ tx_id: direct.txId, block: String(direct.block) });
  });

  it('keeps a batch sealed through a ledger outage and records it afterwards', async () => {
    await insertSubmissions(db.pool, keys, [makeEntry({ projectId: project.id, kind: 'award' })]);
    const scripted = new ScriptedLedger(ledger);
    scripted.failNext = true;
    const batcher = newBatcher(scripted);
    expect(await batcher.step()).toMatchObject({ action: 'retry' });
    expect(batcher.health()).toMatchObject({ ok: false, reason: 'LEDGER_UNAVAILABLE' });
    expect(await batcher.step()).toMatchObject({ action: 'recorded' });
    expect(batcher.health().ok).toBe(true);
  });

  it('rejects the one record the ledger refuses and seals the others again', async () => {
    const before = (await new LogStore(db.pool).frontier()).size;
    const good1 = makeEntry({ projectId: project.id, kind: 'notice' });
    const bad = makeEntry({
      projectId: project.id,
      kind: 'acceptance',
      refs: [makeEntry({ projectId: project.id, kind: 'contract' }).record.id],
      details: { result: 'passed' },
    });
    const good2 = makeEntry({ projectId: project.id, kind: 'construction_log' });
    await insertSubmissions(db.pool, keys, [good1, bad, good2]);
    const batcher = newBatcher();
    expect(await batcher.step()).toMatchObject({
      action: 'rejected',
      rejectedId: bad.record.id,
      rejectCode: 'BAD_REFERENCE',
    });
    expect(await batcher.step()).toMatchObject({ action: 'recorded', fromSize: before, toSize: before + 2 });
    const rows = new Map((await statuses()).map((s) => [s.id, s]));
    expect(rows.get(bad.record.id)).toMatchObject({
      status: 'rejected',
      leaf_index: null,
      reject_code: 'BAD_REFERENCE',
    });
    expect(rows.get(good1.record.id)).toMatchObject({ status: 'recorded', leaf_index: String(before) });
    expect(rows.get(good2.record.id)).toMatchObject({ status: 'recorded', leaf_index: String(before + 1) });
  });

  it('stops sealing and reports unready when the ledger root differs', async () => {
    await insertSubmissions(db.pool, keys, [makeEntry({ projectId: project.id, kind: 'other' })]);
    const scripted = new ScriptedLedger(ledger);
    scripted.wrongRoot = true;
    const halts: string[] = [];
    const batcher = new Batcher(db.pool, new LogStore(db.pool), scripted, {
      intervalMs: 50,
      maxItems: 100,
      origin: 'lianzheng.test/log',
      signer: keys.checkpointSigner,
      onHalt: (h) => halts.push(h.code),
    });
    const signedBefore = await new LogStore(db.pool).signedSize();
    expect(await batcher.step()).toEqual({ action: 'halted' });
    expect(batcher.health()).toMatchObject({ ok: false, reason: 'LEDGER_ROOT_MISMATCH' });
    expect(halts).toEqual(['LEDGER_ROOT_MISMATCH']);
    expect(await new LogStore(db.pool).signedSize()).toBe(signedBefore);
    expect(await batcher.step()).toEqual({ action: 'halted' });
    // An honest batcher finishes the sealed batch (the ledger did record it).
    expect(await newBatcher().step()).toMatchObject({ action: 'recorded' });
  });

  it('runs on its timer and wakes waiters', async () => {
    const batcher = newBatcher(ledger, 3);
    batcher.start();
    try {
      const entries = Array.from({ length: 7 }, () =>
        makeEntry({ projectId: project.id, kind: 'construction_log' }),
      );
      await insertSubmissions(db.pool, keys, entries);
      const target = (await new LogStore(db.pool).frontier()).size + 7;
      batcher.notifyAccepted(7);
      await batcher.waitForRecorded(target);
      expect((await statuses()).every((s) => s.status !== 'accepted')).toBe(true);
    } finally {
      await batcher.stop();
    }
  });

  it('vacuums its queue after taking queueVacuumRows rows out of it', async () => {
    const vacuums = async () =>
      (
        await db.pool.query<{ n: number }>(
          "select vacuum_count::int as n from pg_stat_user_tables where relname = 'seal_queue'",
        )
      ).rows[0]!.n;
    const before = await vacuums();
    const batcher = new Batcher(db.pool, new LogStore(db.pool), ledger, {
      intervalMs: 20,
      maxItems: 3,
      origin: 'lianzheng.test/log',
      signer: keys.checkpointSigner,
      queueVacuumRows: 5,
    });
    batcher.start();
    try {
      const entries = Array.from({ length: 7 }, () => makeEntry({ projectId: project.id, kind: 'other' }));
      await insertSubmissions(db.pool, keys, entries);
      await batcher.waitForRecorded((await new LogStore(db.pool).frontier()).size + 7);
    } finally {
      await batcher.stop();
    }
    // The vacuuming session reports its statistics within a second or so of going idle.
    const deadline = Date.now() + 10_000;
    while ((await vacuums()) === before && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect(await vacuums()).toBeGreaterThan(before);
    expect((await db.pool.query('select count(*)::int as n from seal_queue')).rows[0].n).toBe(0);
  });

  it('builds bundles that proof verifies, and that fail when tampered with', async () => {
    const builder = new BundleBuilder(new LogStore(db.pool), ledger.info);
    const rows = await loadSubmissions(db.pool, "s.status = 'recorded'", []);
    expect(rows.length).toBeGreaterThan(5);
    const options = {
      keys: { jwks: keys.jwks(), checkpointKeys: [keys.checkpointSigner.vkey] },
      getLedgerTx: async (ref: { txId: string }) => {
        const tx = await ledger.getTx(ref.txId);
        return tx
          ? { valid: tx.valid, block: tx.block, size: tx.size ?? -1, root: tx.root ?? '' }
          : { valid: false, block: -1, size: -1, root: '' };
      },
    };
    for (const row of rows) {
      const bundle = await builder.bundle(row, true);
      expect(bundle.ledger).toMatchObject({ network: 'embedded', note: 'embedded single-node ledger' });
      const result = await verifyBundle(bundle, { ...options, sha256: row.sha256 });
      const failed = result.steps.filter((s) => s.status === 'fail');
      expect(failed).toEqual([]);
      expect(result.ok).toBe(true);
      expect(result.steps.find((s) => s.step === 'ledger')?.status).toBe('pass');
    }
    const row = rows[0]!;
    const bundle = await builder.bundle(row, true);
    const otherDigest = await verifyBundle(bundle, { ...options, sha256: 'ab'.repeat(32) });
    expect(otherDigest.ok).toBe(false);
    const tamperedPath = structuredClone(bundle);
    if (tamperedPath.inclusion && tamperedPath.inclusion.path.length > 0) {
      tamperedPath.inclusion.path[0] = '00'.repeat(32);
    } else if (tamperedPath.inclusion) {
      tamperedPath.inclusion.index += 1;
    }
    const r1 = await verifyBundle(tamperedPath, { ...options, sha256: row.sha256 });
    expect(r1.steps.find((s) => s.step === 'inclusion')?.status).toBe('fail');
    const tamperedRecord = structuredClone(bundle);
    tamperedRecord.record.acceptedAt = '2000-01-01T00:00:00.000Z';
    expect((await verifyBundle(tamperedRecord, { ...options, sha256: row.sha256 })).ok).toBe(false);
    const tamperedLedger = structuredClone(bundle);
    tamperedLedger.ledger!.txId = 'f'.repeat(64);
    const r3 = await verifyBundle(tamperedLedger, { ...options, sha256: row.sha256 });
    expect(r3.steps.find((s) => s.step === 'ledger')?.status).toBe('fail');
  });
});

async function blockCount(): Promise<number> {
  const { rows } = await db.pool.query<{ n: string }>('select count(*) as n from ledger_blocks');
  return Number(rows[0]!.n);
}
