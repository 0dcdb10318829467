// The hooks through which the batcher and the anchorer tell others (the webhooks' notices) of what
// they did: each is called inside the transaction of the step it tells of, so what it writes
// commits with that step or not at all. A hook that fails is a crash before the commit: nothing of
// the step is kept, the step is done again, and the hook is told once more, of the same thing.
import { describe, expect, it } from 'vitest';
import { type Anchored, type AnchoredHook, markAnchored } from '../../gateway/src/anchor/anchorer.ts';
import type { KeyRing } from '../../gateway/src/keys/key-ring.ts';
import { EmbeddedLedger } from '../../gateway/src/ledger/ledger-embedded.ts';
import { LogStore } from '../../gateway/src/log/log-store.ts';
import { Batcher, type RecordedBatch } from '../../gateway/src/seal/batcher.ts';
import { demoProject, insertSubmissions, makeEntry, type TestDatabase } from './pipeline-support.ts';
import { useTestDatabase } from './test-database.ts';

let db: TestDatabase;
let keys: KeyRing;

useTestDatabase((started) => ({ db, keys } = started));

const LEAVES_OF = 'select count(*)::int as n from log_leaves where seq = any($1::bigint[])';
const statuses = async () =>
  (await db.pool.query<{ status: string }>('select status from submission_states order by seq')).rows.map(
    (r) => r.status,
  );

describe('batcher.onRecorded', () => {
  it('is told of each recorded batch inside the confirming transaction; a failure there keeps nothing', async () => {
    const ledger = new EmbeddedLedger(db.pool, { mspId: 'GatewayMSP' });
    await ledger.ready();
    const project = demoProject();
    await ledger.registerProject(project);
    await insertSubmissions(db.pool, keys, [
      makeEntry({ projectId: project.id, kind: 'approval' }),
      makeEntry({ projectId: project.id, kind: 'notice' }),
    ]);
    const batcher = new Batcher(db.pool, new LogStore(db.pool), ledger, {
      intervalMs: 50,
      maxItems: 100,
      origin: 'lianzheng.test/log',
      signer: keys.checkpointSigner,
    });
    const told: RecordedBatch[] = [];
    const seen: { inside: number; outside: number }[] = [];
    let crash = true;
    batcher.onRecorded(async (tx, recorded) => {
      // The batch's leaves are there for the hook's transaction, and not yet for anyone else.
      const inside = (await tx.query<{ n: number }>(LEAVES_OF, [recorded.seqs])).rows[0]!.n;
      const outside = (await db.pool.query<{ n: number }>(LEAVES_OF, [recorded.seqs])).rows[0]!.n;
      seen.push({ inside, outside });
      if (crash) {
        crash = false;
        throw new Error('crashed before the commit');
      }
      told.push(recorded);
    });

    await expect(batcher.step()).rejects.toThrow('crashed before the commit');
    expect(await statuses()).toEqual(['accepted', 'accepted']);
    expect(await new LogStore(db.pool).signedSize()).toBe(0);

    // The batch stayed sealed: the next step records it (the ledger answers the repeat) and the
    // hook is told of it once, committed with it.
    expect(await batcher.step()).toMatchObject({ action: 'recorded', fromSize: 0, toSize: 2 });
    expect(told).toHaveLength(1);
    expect(told[0]).toMatchObject({ fromSize: 0, toSize: 2 });
    expect(told[0]!.seqs).toHaveLength(2);
    expect(seen).toEqual([
      { inside: 2, outside: 0 },
      { inside: 2, outside: 0 },
    ]);
    expect(await statuses()).toEqual(['recorded', 'recorded']);
    expect(await batcher.step()).toEqual({ action: 'idle' });
    expect(told).toHaveLength(1);
    await ledger.close();
  });
});

describe('markAnchored (the anchorer confirming an anchor)', () => {
  const anchoredSize = async () =>
    Number((await db.pool.query<{ size: string }>('select size from log_anchored')).rows[0]!.size);

  it('tells its hooks of the leaves newly anchored, in the same transaction, and only when it raised the size', async () => {
    const from = await anchoredSize();
    const told: Anchored[] = [];
    const client = await db.pool.connect();
    try {
      const seenInside: number[] = [];
      const hook: AnchoredHook = async (tx, anchored) => {
        seenInside.push(
          Number((await tx.query<{ size: string }>('select size from log_anchored')).rows[0]!.size),
        );
        // Not yet committed: another connection still sees the old size.
        expect(await anchoredSize()).toBe(anchored.fromSize);
        told.push(anchored);
      };

      // A hook that fails undoes the raise with it.
      await client.query('begin');
      await expect(
        markAnchored(client, from + 5, [
          async () => {
            throw new Error('crashed before the commit');
          },
        ]),
      ).rejects.toThrow('crashed before the commit');
      await client.query('rollback');
      expect(await anchoredSize()).toBe(from);

      await client.query('begin');
      await markAnchored(client, from + 5, [hook]);
      await client.query('commit');
      expect(told).toEqual([{ fromSize: from, toSize: from + 5 }]);
      expect(seenInside).toEqual([from + 5]);
      expect(await anchoredSize()).toBe(from + 5);

      // An older or equal anchor confirmed late raises nothing and tells nobody.
      await client.query('begin');
      await markAnchored(client, from + 5, [hook]);
      await markAnchored(client, from + 2, [hook]);
      await client.query('commit');
      expect(told).toHaveLength(1);
    } finally {
      client.release();
    }
  });
});
