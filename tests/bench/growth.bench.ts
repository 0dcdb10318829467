// Growth (opt-in: `npm run bench -- growth`; GROWTH_RECORDS=n to stop earlier, default 10
// million, 20,000 with --quick). Ingests records through the gateway's batch route on the
// embedded ledger and, at checkpoints along the way (10k, 30k, 100k, 300k, 1M, 3M, 10M), lets
// the pipeline catch up and measures: the ingest rate of the last segment (accepted/s), the rate
// at which it was recorded on the ledger, inclusion-proof generation time at the current size,
// cold verify latency, and disk bytes per record (the whole database, and its largest tables).
// docs/benchmarks.md projects these to a billion records.
import { randomInt } from 'node:crypto';
import { type BenchContext, type BenchResult, median } from './harness.ts';
import { measureStorage } from './load/baselines.ts';
import { Latencies } from './load/latencies.ts';
import { loadLine } from './load/proc-stats.ts';
import { seedBench, startBenchDatabase, startGateway } from './load/stack.ts';
import { batchBody, DigestSource, waitRecorded } from './load/workload.ts';

export const optIn = true;

const CHECKPOINTS = [10_000, 30_000, 100_000, 300_000, 1_000_000, 3_000_000, 10_000_000];
const BATCH = 1000;
const CONCURRENCY = 4;

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - start };
}

export async function run(ctx: BenchContext): Promise<BenchResult[]> {
  const target = Number(process.env.GROWTH_RECORDS ?? (ctx.quick ? 20_000 : 10_000_000));
  const checkpoints = [...CHECKPOINTS.filter((c) => c < target), target];
  ctx.log(loadLine());
  ctx.log(`growth to ${target.toLocaleString('en-US')} records; checkpoints ${checkpoints.join(', ')}`);
  const results: BenchResult[] = [];
  const db = await startBenchDatabase('lz-growth-');
  const gw = await startGateway({ databaseUrl: db.url, env: { LOG_LEVEL: 'warn' } });
  try {
    const creds = await seedBench(gw, db.pool);
    const storage = await measureStorage({ ...ctx, quick: true }, db.pool);
    const digests = new DigestSource();
    const headers = { 'content-type': 'application/json', 'x-api-key': creds.apiKey };
    let ingested = 0;
    for (const checkpoint of checkpoints) {
      // 1. Ingest up to the checkpoint through POST /v1/evidence/batch, 4 requests in flight.
      const segment = checkpoint - ingested;
      const started = performance.now();
      let next = ingested;
      const worker = async () => {
        while (next < checkpoint) {
          const items = Math.min(BATCH, checkpoint - next);
          next += items;
          const res = await fetch(`${gw.url}/v1/evidence/batch`, {
            method: 'POST',
            headers,
            body: batchBody(creds.projectId, digests, items),
          });
          if (res.status !== 202)
            throw new Error(`batch answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
          await res.arrayBuffer();
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      const ingestSeconds = (performance.now() - started) / 1000;
      ingested = checkpoint;
      // 2. Let the pipeline record everything (seal → RecordBatch → confirm).
      if (!(await waitRecorded(db.pool, 6 * 3600_000))) throw new Error('the pipeline did not catch up');
      const recordedSeconds = (performance.now() - started) / 1000;

      // 3. Inclusion proofs at this size, for random leaves.
      const proofMs: number[] = [];
      for (let i = 0; i < 20; i++) {
        const index = randomInt(0, checkpoint);
        const r = await timed(() =>
          fetch(`${gw.url}/v1/log/proof/inclusion?index=${index}&size=${checkpoint}`),
        );
        if (r.value.status !== 200) throw new Error(`inclusion proof answered ${r.value.status}`);
        await r.value.arrayBuffer();
        proofMs.push(r.ms);
      }
      // 4. Cold verify lookups of random earlier digests (each first-time for the bundle cache).
      const verify = new Latencies();
      for (let i = 0; i < 50; i++) {
        const sha = digests.at(randomInt(0, digests.count));
        const r = await timed(() => fetch(`${gw.url}/v1/verify/${sha}`));
        if (r.value.status !== 200) throw new Error(`verify answered ${r.value.status}`);
        await r.value.arrayBuffer();
        verify.add(r.ms);
      }
      const v = verify.summary();
      // 5. Disk: the database and its largest tables.
      // The payload is the same shape for every record here: average it over at most 100,000 rows
      // rather than read the whole table (60 GB at 10 million) at every checkpoint.
      const { rows: size } = await db.pool.query<{ total: string; payload: string }>(
        `select pg_database_size(current_database()) as total,
                (select avg(length(record_json) + length(details_json) + length(receipt))
                   from (select record_json, details_json, receipt from submissions limit 100000) s) as payload`,
      );
      const { rows: tables } = await db.pool.query<{ name: string; bytes: string }>(
        `select relname as name, pg_total_relation_size(oid) as bytes from pg_class
          where relkind = 'r' and relnamespace = 'public'::regnamespace order by 2 desc limit 5`,
      );
      const perRecord = Number(size[0]!.total) / checkpoint;
      const payloadPerRecord = Number(size[0]!.payload);
      const tableText = tables
        .map((t) => `${t.name} ${(Number(t.bytes) / checkpoint).toFixed(0)}`)
        .join(', ');
      const label = checkpoint.toLocaleString('en-US');
      ctx.log(
        `${label}: ingest ${Math.round(segment / ingestSeconds)}/s, recorded ${Math.round(segment / recordedSeconds)}/s, inclusion proof ${median(proofMs).toFixed(2)} ms, verify p50 ${v.p50.toFixed(2)} / p99 ${v.p99.toFixed(2)} ms, ${perRecord.toFixed(0)} B/record (${tableText})`,
      );
      results.push(
        {
          name: `${label} records: ingest rate of the last ${segment.toLocaleString('en-US')} (batch route, c=${CONCURRENCY})`,
          value: segment / ingestSeconds,
          unit: 'accepted/s',
          baseline: {
            name: 'raw INSERT, 1,000 rows per commit',
            value: storage.rows1000PerCommit,
            unit: 'rows/s',
          },
          ratio: segment / ingestSeconds / storage.rows1000PerCommit,
        },
        {
          name: `${label} records: recorded on the embedded ledger (segment, from its first request)`,
          value: segment / recordedSeconds,
          unit: 'records/s',
          baseline: {
            name: 'raw INSERT, 1,000 rows per commit',
            value: storage.rows1000PerCommit,
            unit: 'rows/s',
          },
          ratio: segment / recordedSeconds / storage.rows1000PerCommit,
        },
        {
          name: `${label} records: inclusion proof, GET /v1/log/proof/inclusion (median of 20)`,
          value: median(proofMs),
          unit: 'ms',
        },
        {
          name: `${label} records: GET /v1/verify cold, one at a time (p99 ${v.p99.toFixed(2)} ms)`,
          value: v.p50,
          unit: 'ms p50',
        },
        {
          name: `${label} records: disk per record (${tableText})`,
          value: perRecord,
          unit: 'bytes',
          baseline: { name: 'record + details + receipt text', value: payloadPerRecord, unit: 'bytes' },
          ratio: perRecord / payloadPerRecord,
        },
      );
    }
  } finally {
    await gw.stop();
    await db.stop();
  }
  return results;
}
