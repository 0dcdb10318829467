// The pipeline on the embedded ledger, on a real embedded PostgreSQL: seal + RecordBatch + confirm
// throughput (beside a raw multi-row INSERT of as many rows, the storage ceiling), the
// accepted→recorded latency under a steady arrival rate, and the verify lookup's work per request
// (one indexed query + cached bundle, beside a bare `select 1` round trip), and intake's liveness
// check of a supersede target with a long queue (beside the LIKE scan it replaced).

import { canonicalJson } from '@lianzheng/proof';
import { RecordDirectory } from '../../gateway/src/intake/rules.ts';
import { loadSubmissions } from '../../gateway/src/intake/submission-store.ts';
import { EmbeddedLedger } from '../../gateway/src/ledger/ledger-embedded.ts';
import { LogStore } from '../../gateway/src/log/log-store.ts';
import { BundleBuilder } from '../../gateway/src/read/bundle.ts';
import { Batcher } from '../../gateway/src/seal/batcher.ts';
import {
  demoProject,
  insertSubmissions,
  loadKeys,
  makeEntry,
  startTestDatabase,
} from '../integration/pipeline-support.ts';
import { type BenchContext, type BenchResult, compare, measureRates } from './harness.ts';

export async function run(ctx: BenchContext): Promise<BenchResult[]> {
  const db = await startTestDatabase();
  const results: BenchResult[] = [];
  try {
    const keys = await loadKeys(db.dir);
    const ledger = new EmbeddedLedger(db.pool, { mspId: 'BenchMSP' });
    await ledger.ready();
    const project = demoProject();
    await ledger.registerProject(project);
    const log = new LogStore(db.pool);
    const batchSize = ctx.quick ? 1000 : 10_000;
    const batcher = new Batcher(db.pool, log, ledger, {
      intervalMs: 500,
      maxItems: batchSize,
      origin: 'lianzheng.bench/log',
      signer: keys.checkpointSigner,
    });
    await db.pool.query('create table raw_rows (id uuid, record_json text, details_json text)');

    // 1. Throughput of one full batch through seal → RecordBatch → confirm.
    const rounds = ctx.quick ? 2 : 3;
    let pipelineMs = 0;
    let rawMs = 0;
    for (let r = 0; r < rounds; r++) {
      const entries = Array.from({ length: batchSize }, () =>
        makeEntry({ projectId: project.id, kind: 'construction_log' }),
      );
      for (let i = 0; i < entries.length; i += 2000)
        await insertSubmissions(db.pool, keys, entries.slice(i, i + 2000));
      let start = performance.now();
      const outcome = await batcher.step();
      pipelineMs += performance.now() - start;
      if (outcome.action !== 'recorded') throw new Error(`bench batch not recorded: ${outcome.action}`);
      start = performance.now();
      await db.pool.query('insert into raw_rows select * from unnest($1::uuid[], $2::text[], $3::text[])', [
        entries.map((e) => e.record.id),
        entries.map((e) => canonicalJson(e.record)),
        entries.map((e) => canonicalJson(e.details)),
      ]);
      rawMs += performance.now() - start;
    }
    ctx.log(`pipeline: ${rounds} batches of ${batchSize} in ${pipelineMs.toFixed(0)} ms`);
    results.push(
      compare(
        {
          name: `seal + RecordBatch + confirm (${batchSize} records/batch)`,
          value: (rounds * batchSize * 1000) / pipelineMs,
          unit: 'records/s',
        },
        {
          name: 'raw multi-row INSERT of the same rows',
          value: (rounds * batchSize * 1000) / rawMs,
          unit: 'rows/s',
        },
      ),
    );

    // 2. accepted → recorded under a steady arrival rate, with the batcher on its timer.
    const rate = ctx.quick ? 500 : 2000;
    const seconds = ctx.quick ? 3 : 10;
    const since = new Date();
    batcher.start();
    const tickMs = 100;
    const perTick = Math.round((rate * tickMs) / 1000);
    const endAt = performance.now() + seconds * 1000;
    while (performance.now() < endAt) {
      const started = performance.now();
      await insertSubmissions(
        db.pool,
        keys,
        Array.from({ length: perTick }, () => makeEntry({ projectId: project.id, kind: 'notice' })),
      );
      batcher.notifyAccepted(perTick);
      const wait = tickMs - (performance.now() - started);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    // Everything accepted is a leaf once recorded (nothing here is refused).
    const { rows: total } = await db.pool.query<{ n: string }>('select count(*) as n from submissions');
    await batcher.waitForRecorded(Number(total[0]!.n));
    await batcher.stop();
    const { rows: lat } = await db.pool.query<{ p50: number; p99: number }>(
      `select percentile_cont(0.5) within group (order by extract(epoch from b.recorded_at - s.accepted_at)) as p50,
              percentile_cont(0.99) within group (order by extract(epoch from b.recorded_at - s.accepted_at)) as p99
         from submission_states s
         join ledger_batches b on s.leaf_index >= b.from_size and s.leaf_index < b.to_size
        where s.accepted_at >= $1`,
      [since],
    );
    results.push({
      name: `accepted→recorded p50 at ${rate}/s (interval 500 ms)`,
      value: lat[0]!.p50 * 1000,
      unit: 'ms',
      target: '≤ 1000 ms',
      meetsTarget: lat[0]!.p50 <= 1,
    });
    results.push({ name: `accepted→recorded p99 at ${rate}/s`, value: lat[0]!.p99 * 1000, unit: 'ms' });

    // 3. The verify route's work per request: one indexed query and a cached bundle.
    const bundles = new BundleBuilder(log, ledger.info);
    const { rows: digests } = await db.pool.query<{ sha256: string }>(
      "select sha256 from submission_states where status = 'recorded' order by random() limit 2000",
    );
    let i = 0;
    const rates = await measureRates(ctx, {
      verify: async () => {
        const sha = digests[i++ % digests.length]!.sha256;
        const rows = await loadSubmissions(
          db.pool,
          "s.sha256 = $1 and s.status <> 'rejected'",
          [sha],
          'order by s.seq',
          'lz-verify-by-sha256',
        );
        for (const row of rows) await bundles.bundle(row, true);
        return 1;
      },
      select1: async () => {
        await db.pool.query('select 1');
        return 1;
      },
    });
    results.push(
      compare(
        {
          name: 'verify lookup (query + cached bundle), one connection',
          value: rates.verify,
          unit: 'lookups/s',
        },
        { name: 'select 1 round trip', value: rates.select1, unit: 'queries/s' },
      ),
    );

    // 4. Intake's liveness check of a supersede target while a backlog is queued (the ledger down):
    // the link_target probe beside the LIKE scan of the project's queue it replaced.
    const queued = ctx.quick ? 20_000 : 200_000;
    const target = makeEntry({ projectId: project.id, kind: 'notice' });
    await insertSubmissions(db.pool, keys, [target]);
    const filler = canonicalJson(makeEntry({ projectId: project.id, kind: 'notice' }).record);
    await db.pool.query(
      `with inserted as (
         insert into submissions (id, project_id, sha256, kind, record_json, details_json, receipt, accepted_at)
         select gen_random_uuid(), $1, md5(g::text) || md5(g::text), 'notice', $2, '{}', '', now()
           from generate_series(1, $3) g
         returning seq)
       insert into seal_queue (seq) select seq from inserted`,
      [project.id, filler, queued],
    );
    await db.pool.query('analyze submissions');
    const directory = new RecordDirectory(() => db.pool);
    const likeScan = `select p.id from submissions t
      cross join lateral (select p.id from submissions p
        where p.project_id = t.project_id and p.seq > t.seq and exists (select 1 from seal_queue q where q.seq = p.seq)
          and ((p.kind = t.kind and p.record_json like '%"supersedes":"' || t.id::text || '"%')
            or (p.kind = 'withdrawal' and p.record_json like '%"refs":["' || t.id::text || '"]%'))
        order by p.seq limit 1) p
      where t.id = $1`;
    const liveness = await measureRates(ctx, {
      probe: async () => {
        const facts = await directory.load([target.record.id], [target.record.id]);
        if (!facts.has(target.record.id)) throw new Error('the target was not found');
        return 1;
      },
      scan: async () => {
        await db.pool.query(likeScan, [target.record.id]);
        return 1;
      },
    });
    ctx.log(
      `liveness with ${queued} queued: probe ${liveness.probe.toFixed(0)}/s, LIKE scan ${liveness.scan.toFixed(1)}/s`,
    );
    results.push(
      compare(
        {
          name: `intake: liveness of a supersede target, ${queued.toLocaleString('en-US')} submissions queued (link_target probe)`,
          value: liveness.probe,
          unit: 'checks/s',
        },
        { name: 'the LIKE scan of the queue it replaced', value: liveness.scan, unit: 'checks/s' },
      ),
    );
  } finally {
    await db.stop();
  }
  return results;
}
