// Memory soak (opt-in: `npm run bench -- soak`): hash-only submissions at a fixed open-loop rate
// (SOAK_RATE, default 1,000/s) for 10 minutes (SOAK_SECONDS; 30 s with --quick), with the
// gateway's RSS sampled every 100 ms and its memory broken down (V8 heap used and committed,
// external and array buffers) from its /metrics every 5 s. After a stated warm-up (SOAK_WARMUP_S,
// default 120 s; 5 s quick) RSS must stay within ±10% of its median: a leak shows as a steady
// climb, a cache without bound as a step. The warm-up covers what is not a leak: V8 growing its
// old space to the size this load needs, the caches filling to their bounds, the first
// PostgreSQL checkpoint.
//
// SOAK_SPLIT=1 runs GATEWAY_ROLE=api beside GATEWAY_ROLE=sealer and judges each process.
// SOAK_HEAP_SNAPSHOTS=1 starts the gateway with --heapsnapshot-signal=SIGUSR2 and takes one heap
// snapshot at the end of the warm-up and one at the end (written to the gateway's working
// directory, the repository root), for comparison in Chrome DevTools.
import { type BenchContext, type BenchResult, median } from './harness.ts';
import type { LoadRequest } from './load/closed-loop.ts';
import { formatLatency } from './load/latencies.ts';
import { openLoop } from './load/open-loop.ts';
import { loadLine, type ProcWindow, watch } from './load/proc-stats.ts';
import { type GatewayProcess, seedBench, startBenchDatabase, startGatewayStack } from './load/stack.ts';
import { DigestSource, hashOnlyBody } from './load/workload.ts';

export const optIn = true;

const MiB = 1024 * 1024;

interface MemorySample {
  t: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  largeObjects: number;
  /** The longest event-loop delay since the previous scrape (prom-client resets it on collect). */
  lagMaxMs: number;
  /** Time spent in full (mark-sweep-compact) GCs so far, cumulative. */
  majorGcSeconds: number;
}

/** The memory gauges prom-client exports by default (process.memoryUsage() underneath). */
async function memory(url: string, adminKey: string, t: number): Promise<MemorySample | undefined> {
  try {
    const res = await fetch(`${url}/metrics`, {
      headers: { 'x-api-key': adminKey },
      signal: AbortSignal.timeout(3000),
    });
    const text = await res.text();
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
    return {
      t,
      rss: value('process_resident_memory_bytes'),
      heapUsed: value('nodejs_heap_size_used_bytes'),
      heapTotal: value('nodejs_heap_size_total_bytes'),
      external: value('nodejs_external_memory_bytes'),
      largeObjects: value('nodejs_heap_space_size_used_bytes\\{space="large_object"\\}'),
      lagMaxMs: value('nodejs_eventloop_lag_max_seconds') * 1000,
      majorGcSeconds: value('nodejs_gc_duration_seconds_sum\\{kind="major"\\}'),
    };
  } catch {
    return undefined;
  }
}

const mib = (b: number) => (b / MiB).toFixed(0);

function spreadOf(samples: number[]): { mid: number; lo: number; hi: number; spread: number } {
  const mid = median(samples);
  const lo = Math.min(...samples);
  const hi = Math.max(...samples);
  return { mid, lo, hi, spread: Math.max(hi / mid - 1, 1 - lo / mid) };
}

export async function run(ctx: BenchContext): Promise<BenchResult[]> {
  const rate = Number(process.env.SOAK_RATE ?? 1000);
  const seconds = Number(process.env.SOAK_SECONDS ?? (ctx.quick ? 30 : 600));
  const warmUp = Number(process.env.SOAK_WARMUP_S ?? (ctx.quick ? 5 : 120));
  const split = process.env.SOAK_SPLIT === '1';
  const snapshots = process.env.SOAK_HEAP_SNAPSHOTS === '1';
  const window = Math.min(30, seconds);
  ctx.log(`${loadLine()} (the machine is shared: other work runs beside the soak)`);
  const db = await startBenchDatabase('lz-soak-');
  // SOAK_NODE_ARGS: extra node flags for the gateway (experiments with V8's heap settings).
  const nodeArgs = [
    ...(snapshots ? ['--heapsnapshot-signal=SIGUSR2'] : []),
    ...(process.env.SOAK_NODE_ARGS ?? '').split(' ').filter(Boolean),
  ];
  if (nodeArgs.length) ctx.log(`gateway node flags: ${nodeArgs.join(' ')}`);
  const stack = await startGatewayStack(db.url, { split, nodeArgs });
  const gw = stack.gateway;
  const processes: { label: string; proc: GatewayProcess }[] = [
    { label: split ? 'api' : 'gateway', proc: gw },
    ...(stack.sealer ? [{ label: 'sealer', proc: stack.sealer }] : []),
  ];
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
    const postmaster = await db.postmasterPid();
    const watches = processes.map((p) => watch([p.proc.pid], postmaster));
    const started = Date.now();
    const mem: MemorySample[][] = processes.map(() => []);
    // The sealer answers /metrics too (it is an operators' route).
    const sampler = setInterval(() => {
      const t = (Date.now() - started) / 1000;
      processes.forEach((p, i) => {
        void memory(p.proc.url, creds.adminKey, t).then((m) => m && mem[i]!.push(m));
      });
    }, 5000);
    let snapped = false;
    let answered = 0;
    let failed = 0;
    const p99s: number[] = [];
    for (let elapsed = 0; elapsed < seconds; elapsed += window) {
      if (snapshots && !snapped && elapsed >= warmUp) {
        for (const p of processes) p.proc.child.kill('SIGUSR2');
        snapped = true;
        ctx.log(`heap snapshots requested at ${elapsed} s (end of warm-up)`);
      }
      const o = await openLoop(gw.url, post, {
        rate,
        seconds: Math.min(window, seconds - elapsed),
        connections: 128,
      });
      answered += o.ok;
      failed +=
        o.unanswered + Object.entries(o.status).reduce((a, [c, n]) => (c.startsWith('2') ? a : a + n), 0);
      p99s.push(o.latency.p99);
      const windowStart = (Date.now() - started) / 1000 - Math.min(window, seconds - elapsed);
      const last = processes
        .map((p, i) => {
          const m = mem[i]!.at(-1);
          // This window's samples: the longest event-loop stall and the full-GC time in it.
          const inWindow = mem[i]!.filter((x) => x.t >= windowStart);
          const before = mem[i]!.filter((x) => x.t < windowStart).at(-1);
          const lag = Math.max(...inWindow.map((x) => x.lagMaxMs));
          const gc = m ? m.majorGcSeconds - (before?.majorGcSeconds ?? 0) : Number.NaN;
          return m
            ? `${p.label} RSS ${mib(m.rss)} MiB (heap used ${mib(m.heapUsed)} / committed ${mib(m.heapTotal)}, external ${mib(m.external)}, large objects ${mib(m.largeObjects)}; longest event-loop stall ${lag.toFixed(0)} ms, full GC ${(gc * 1000).toFixed(0)} ms)`
            : `${p.label}: no sample`;
        })
        .join('; ');
      ctx.log(
        `${elapsed + Math.min(window, seconds - elapsed)} s: ${Math.round(o.rps)}/s ${formatLatency(o.latency)}, unanswered ${o.unanswered}; ${last}; ${loadLine()}`,
      );
    }
    clearInterval(sampler);
    if (snapshots) {
      for (const p of processes) p.proc.child.kill('SIGUSR2');
      // Writing a snapshot stops the process for a few seconds.
      await new Promise((r) => setTimeout(r, 15_000));
    }
    const windows: ProcWindow[] = watches.map((w) => w.stop());
    // What the pipeline did meanwhile: batch sizes (a large one allocates in proportion).
    const { rows: batchRows } = await db.pool.query<{ n: string; max: string; p50: string; big: string }>(
      `select count(*) as n, max(to_size - from_size) as max,
              percentile_cont(0.5) within group (order by to_size - from_size) as p50,
              count(*) filter (where to_size - from_size > 2000) as big
         from ledger_batches`,
    );
    const br = batchRows[0]!;
    ctx.log(
      `batches: ${br.n}, median ${Number(br.p50).toFixed(0)} records, max ${br.max}, ${br.big} over 2,000`,
    );
    processes.forEach((p, i) => {
      ctx.log(
        `${p.label} memory every 5 s (s: RSS/heap used/heap committed/external MiB): ${mem[i]!.map((m) => `${m.t.toFixed(0)}:${mib(m.rss)}/${mib(m.heapUsed)}/${mib(m.heapTotal)}/${mib(m.external)}`).join(' ')}`,
      );
    });
    processes.forEach((p, i) => {
      const pw = windows[i]!;
      // Samples are 100 ms apart; drop the warm-up.
      const steady = pw.samples.slice(warmUp * 10);
      const { mid, lo, hi, spread } = spreadOf(steady);
      const heap = mem[i]!.filter((m) => m.t >= warmUp);
      const heapUsed = heap.length ? spreadOf(heap.map((m) => m.heapUsed)) : undefined;
      const heapTotal = heap.length ? spreadOf(heap.map((m) => m.heapTotal)) : undefined;
      const firstHeap = heap[0];
      const lastHeap = heap.at(-1);
      ctx.log(
        `${p.label}: RSS after warm-up: median ${mib(mid)} MiB, min ${mib(lo)}, max ${mib(hi)} (±${(spread * 100).toFixed(1)}%); first ${mib(pw.rssStartBytes)}, last ${mib(pw.rssEndBytes)} MiB` +
          (heapUsed && heapTotal && firstHeap && lastHeap
            ? `; V8 heap used median ${mib(heapUsed.mid)} MiB (${mib(heapUsed.lo)}–${mib(heapUsed.hi)}), committed ${mib(heapTotal.mid)} (${mib(heapTotal.lo)}–${mib(heapTotal.hi)}); heap used ${mib(firstHeap.heapUsed)} → ${mib(lastHeap.heapUsed)} MiB, external ${mib(firstHeap.external)} → ${mib(lastHeap.external)} MiB from warm-up to end`
            : ''),
      );
      results.push({
        name: `${p.label} RSS spread over ${seconds} s at ${rate}/s after a ${warmUp} s warm-up (median ${mib(mid)} MiB, min ${mib(lo)}, max ${mib(hi)}${heapUsed ? `; V8 heap used ${mib(heapUsed.lo)}–${mib(heapUsed.hi)} MiB` : ''})`,
        value: spread * 100,
        unit: '% of median',
        target: '≤ 10%',
        meetsTarget: spread <= 0.1,
      });
    });
    const cpu = windows.map((w, i) => `${processes[i]!.label} ${w.cpuCores.toFixed(2)} cores`).join(', ');
    results.push({
      name: `soak throughput at ${rate}/s (${failed} failed or unanswered; worst window p99 ${Math.max(...p99s).toFixed(1)} ms; ${cpu})`,
      value: answered / seconds,
      unit: 'accepted/s',
      baseline: { name: 'offered rate', value: rate, unit: 'req/s' },
      ratio: answered / seconds / rate,
    });
  } finally {
    await stack.stop();
    await db.stop();
  }
  return results;
}
