// The embedded ledger with its transactions on a thread of its own (ledger-thread.ts, issue #26):
// what it records, answers and refuses must be what the in-loop EmbeddedLedger records, answers and
// refuses — the blocks replay through the contract to the stored world state, the flags' private
// facts come back across the thread, the contract's refusals keep their codes — and the caller's
// pool is not used for a submit. A thread that stops fails the calls it had and the next call
// starts another.

import {
  appendLeavesWithSubtrees,
  emptyFrontier,
  frontierRoot,
  recordLeafHash,
  toHex,
} from '@lianzheng/proof';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replayEmbeddedLedger } from '../../gateway/src/audit/replay.ts';
import { LedgerError } from '../../gateway/src/ledger/ledger.ts';
import { verifyBlockChain } from '../../gateway/src/ledger/ledger-embedded.ts';
import { ThreadedEmbeddedLedger } from '../../gateway/src/ledger/ledger-thread.ts';
import { demoProject, type Entry, makeEntry, type TestDatabase } from './pipeline-support.ts';
import { useTestDatabase } from './test-database.ts';

let db: TestDatabase;
useTestDatabase((started) => ({ db } = started));

/** A pool of the ledger's own, so the test can see whether a submit used it. */
let pool: pg.Pool;
let ledger: ThreadedEmbeddedLedger;
const SECRET_AMOUNT = '4820000000077';

beforeAll(() => {
  pool = new pg.Pool({
    connectionString: (db.pool as unknown as { options: pg.PoolConfig }).options.connectionString,
    max: 4,
  });
  ledger = new ThreadedEmbeddedLedger(pool, { mspId: 'ThreadMSP' });
});

afterAll(async () => {
  await ledger?.close();
  await pool?.end();
});

const rootOf = (entries: Entry[]) =>
  toHex(
    frontierRoot(
      appendLeavesWithSubtrees(
        emptyFrontier(),
        entries.map((e) => recordLeafHash(e.record)),
      ).frontier,
    ),
  );

describe('the embedded ledger on its own thread', () => {
  it('records, repeats and refuses as the embedded ledger does, and its blocks replay', async () => {
    await ledger.ready();
    const project = demoProject();
    const first = await ledger.registerProject(project);
    expect(first).toMatchObject({ repeated: false, project: { id: project.id, level: 'C' } });
    expect(await ledger.registerProject(project)).toMatchObject({ repeated: true, txId: first.txId });
    await expect(ledger.registerProject({ ...project, name: 'Another' })).rejects.toMatchObject({
      code: 'PROJECT_EXISTS',
    });

    const entries = [
      makeEntry({ projectId: project.id, kind: 'notice', details: { title: '村道硬化工程公示' } }),
      makeEntry({
        projectId: project.id,
        kind: 'payment_approval',
        visibility: 'restricted',
        details: { amount: SECRET_AMOUNT, title: 'restricted payment' },
      }),
    ];
    // The submit went to the thread: the caller's pool opened no connection for it.
    expect(pool.totalCount).toBe(0);
    const result = await ledger.recordBatch({ fromSize: 0, records: entries });
    expect(pool.totalCount).toBe(0);
    expect(result).toMatchObject({ toSize: 2, root: rootOf(entries), repeated: false, validation: 'VALID' });
    // The payment without a contract is flagged, with its restricted facts: they come from the
    // batch's private value, which the thread wrote and read back.
    const flag = result.flags.find((f) => f.code === 'PAYMENT_WITHOUT_CONTRACT');
    expect(flag).toMatchObject({ recordId: entries[1]!.record.id });
    expect(JSON.stringify(flag)).toContain(SECRET_AMOUNT);

    expect(await ledger.recordBatch({ fromSize: 0, records: entries })).toMatchObject({
      repeated: true,
      txId: result.txId,
      block: result.block,
      root: result.root,
    });
    const gap = await ledger.recordBatch({ fromSize: 5, records: entries }).catch((e: unknown) => e);
    expect(gap).toBeInstanceOf(LedgerError);
    expect(gap).toMatchObject({ code: 'LOG_GAP', refusesRecord: false });
    const stranger = [makeEntry({ projectId: 'nowhere', kind: 'notice' })];
    await expect(ledger.simulateBatch({ fromSize: 2, records: stranger })).rejects.toMatchObject({
      code: 'NO_SUCH_PROJECT',
    });
    await expect(
      ledger.simulateBatch({ fromSize: 2, records: [makeEntry({ projectId: project.id, kind: 'notice' })] }),
    ).resolves.toBeUndefined();

    // Reads run on the caller's thread, over its pool.
    expect(await ledger.getTx(result.txId)).toMatchObject({ valid: true, block: result.block, size: 2 });
    expect((await ledger.getRecord(entries[1]!.record.id))?.details).toEqual(entries[1]!.details);
    expect(pool.totalCount).toBeGreaterThan(0);

    // The blocks are what the contract derives: replayed from genesis they give the stored world
    // state key for key, and the hash chain links.
    const differences: unknown[] = [];
    const replay = await replayEmbeddedLedger(pool, { add: (d) => differences.push(d) });
    expect(differences).toEqual([]);
    expect(replay.blocks).toBeGreaterThanOrEqual(3);
    expect(await verifyBlockChain(pool)).toBeUndefined();
  });

  it('fails the calls of a thread that stopped, and the next call starts another', async () => {
    const project = demoProject();
    await ledger.registerProject(project);
    const { rows } = await pool.query<{ s: string | null }>('select max(log_size) as s from ledger_blocks');
    const fromSize = Number(rows[0]!.s ?? 0);
    const entries = Array.from({ length: 3000 }, (_, i) =>
      makeEntry({ projectId: project.id, kind: 'notice', details: { title: `公告 ${i}` } }),
    );
    const inFlight = ledger.recordBatch({ fromSize, records: entries });
    // The thread goes away in the middle of the transaction (a crash of the thread alone).
    await (ledger as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    const lost = await inFlight.catch((e: unknown) => e);
    // Terminated microseconds after the batch was handed over: it cannot have committed.
    expect(lost).toBeInstanceOf(LedgerError);
    expect(lost).toMatchObject({
      code: 'LEDGER_UNAVAILABLE',
      message: expect.stringMatching(/the ledger's thread stopped/),
    });
    const again = await ledger.recordBatch({ fromSize, records: entries });
    expect(again).toMatchObject({ toSize: fromSize + 3000, root: expect.any(String) });
    expect(again.repeated).toBe(false);
  });
});
