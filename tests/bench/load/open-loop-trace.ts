// A diagnosis aid, not a bench: the gateway (one process, or `split` = GATEWAY_ROLE=api beside
// GATEWAY_ROLE=sealer) after PRE seconds of closed-loop load at c=64 and the pipeline caught up,
// then an open loop at `rate`/s for 20 s, printing every second the HTTP process's longest
// event-loop stall and full-GC time (from /metrics) and then the batches sealed meanwhile (records
// and RecordBatch ms). It tells a stall in the gateway (lag) from waiting on PostgreSQL (no lag).
//
//   PRE=60 node --import tsx tests/bench/load/open-loop-trace.ts one|split [rate]
import { closedLoop, type LoadRequest } from './closed-loop.ts';
import { formatLatency } from './latencies.ts';
import { openLoop } from './open-loop.ts';
import { loadLine } from './proc-stats.ts';
import { seedBench, startBenchDatabase, startGatewayStack } from './stack.ts';
import { DigestSource, hashOnlyBody, waitRecorded } from './workload.ts';

const split = process.argv[2] === 'split';
const rate = Number(process.argv[3] ?? 300);
const db = await startBenchDatabase();
const stack = await startGatewayStack(db.url, { split });
try {
  const gw = stack.gateway;
  const creds = await seedBench(gw, db.pool);
  const digests = new DigestSource();
  const post: LoadRequest = {
    method: 'POST',
    path: '/v1/evidence',
    headers: { 'content-type': 'application/json', 'x-api-key': creds.apiKey },
    body: () => hashOnlyBody(creds.projectId, digests.next()),
  };
  await closedLoop(gw.url, post, { connections: 64, seconds: Number(process.env.PRE ?? 15) });
  await waitRecorded(db.pool, 300_000);
  const samples: string[] = [];
  let previousGc: number | undefined;
  const t0 = Date.now();
  const timer = setInterval(async () => {
    const text = await (
      await fetch(`${gw.url}/metrics`, { headers: { 'x-api-key': creds.adminKey } })
    ).text();
    const v = (n: string) => Number(new RegExp(`^${n} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
    const gc = v('nodejs_gc_duration_seconds_sum\\{kind="major"\\}');
    const gcText = previousGc === undefined ? '' : `, full GC ${((gc - previousGc) * 1000).toFixed(0)} ms`;
    previousGc = gc;
    samples.push(
      `${((Date.now() - t0) / 1000).toFixed(0)} s: longest stall ${(v('nodejs_eventloop_lag_max_seconds') * 1000).toFixed(0)} ms${gcText}, heap used ${(v('nodejs_heap_size_used_bytes') / 1048576).toFixed(0)} MiB`,
    );
  }, 1000);
  const o = await openLoop(gw.url, post, { rate, seconds: 20, connections: 256 });
  clearInterval(timer);
  console.log(`open loop ${rate}/s: ${formatLatency(o.latency)}; ${loadLine()}`);
  console.log(samples.join('\n'));
  const { rows } = await db.pool.query<{ n: number; ledger_ms: number }>(
    `select to_size - from_size as n, ledger_ms from ledger_batches
      where sealed_at > now() - interval '22 seconds' order by from_size`,
  );
  console.log(`batches (records:RecordBatch ms): ${rows.map((r) => `${r.n}:${r.ledger_ms}`).join(' ')}`);
} finally {
  await stack.stop();
  await db.stop();
}
