// Memory soak (opt-in: `npm run bench -- soak`): hash-only submissions at a fixed open-loop rate
// (SOAK_RATE, default 1,000/s) for 10 minutes (SOAK_SECONDS; 30 s with --quick), with the
// gateway's RSS sampled every 100 ms. After a warm-up (the first minute; 5 s quick) RSS must stay
// within ±10% of its median: a leak shows as a steady climb, a cache without bound as a step.
import { type BenchContext, type BenchResult, median } from './harness.ts';
import type { LoadRequest } from './load/closed-loop.ts';
import { formatLatency } from './load/latencies.ts';
import { openLoop } from './load/open-loop.ts';
import { loadLine, watch } from './load/proc-stats.ts';
import { seedBench, startBenchDatabase, startGateway } from './load/stack.ts';
import { DigestSource, hashOnlyBody } from './load/workload.ts';

export const optIn = true;

const MiB = 1024 * 1024;

export async function run(ctx: BenchContext): Promise<BenchResult[]> {
  const rate = Number(process.env.SOAK_RATE ?? 1000);
  const seconds = Number(process.env.SOAK_SECONDS ?? (ctx.quick ? 30 : 600));
  const warmUp = ctx.quick ? 5 : 60;
  const window = Math.min(30, seconds);
  ctx.log(loadLine());
  const db = await startBenchDatabase('lz-soak-');
  const gw = await startGateway({ databaseUrl: db.url });
  const results: BenchResult[] = [];
  try {
    const creds = await seedBench(gw, db.pool);
    const digests = new DigestSource();
    const post: LoadRequest = {
      method: 'POST',
      path: '/v1/evidence',
      headers: { 'content-type': 'application/json', 'x-api-key': creds.apiKey },
      body: () => hashOnlyBody(creds.projectId, digests.next()),
    };
    const w = watch([gw.pid], await db.postmasterPid());
    let answered = 0;
    let failed = 0;
    const p99s: number[] = [];
    for (let elapsed = 0; elapsed < seconds; elapsed += window) {
      const o = await openLoop(gw.url, post, {
        rate,
        seconds: Math.min(window, seconds - elapsed),
        connections: 128,
      });
      answered += o.ok;
      failed +=
        o.unanswered + Object.entries(o.status).reduce((a, [c, n]) => (c.startsWith('2') ? a : a + n), 0);
      p99s.push(o.latency.p99);
      ctx.log(
        `${elapsed + window} s: ${Math.round(o.rps)}/s ${formatLatency(o.latency)}, unanswered ${o.unanswered}`,
      );
    }
    const p = w.stop();
    // Samples are 100 ms apart; drop the warm-up.
    const steady = p.samples.slice(warmUp * 10);
    const mid = median(steady);
    const lo = Math.min(...steady);
    const hi = Math.max(...steady);
    const spread = Math.max(hi / mid - 1, 1 - lo / mid);
    ctx.log(
      `RSS after warm-up: median ${(mid / MiB).toFixed(1)} MiB, min ${(lo / MiB).toFixed(1)}, max ${(hi / MiB).toFixed(1)} (±${(spread * 100).toFixed(1)}%); first ${(p.rssStartBytes / MiB).toFixed(1)}, last ${(p.rssEndBytes / MiB).toFixed(1)} MiB`,
    );
    results.push(
      {
        name: `RSS spread over ${seconds} s at ${rate}/s after a ${warmUp} s warm-up (median ${(mid / MiB).toFixed(0)} MiB, min ${(lo / MiB).toFixed(0)}, max ${(hi / MiB).toFixed(0)})`,
        value: spread * 100,
        unit: '% of median',
        target: '≤ 10%',
        meetsTarget: spread <= 0.1,
      },
      {
        name: `soak throughput at ${rate}/s (${failed} failed or unanswered; worst window p99 ${Math.max(...p99s).toFixed(1)} ms; gateway ${p.cpuCores.toFixed(2)} cores)`,
        value: answered / seconds,
        unit: 'accepted/s',
        baseline: { name: 'offered rate', value: rate, unit: 'req/s' },
        ratio: answered / seconds / rate,
      },
    );
  } finally {
    await gw.stop();
    await db.stop();
  }
  return results;
}
