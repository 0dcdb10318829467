// The gateway under load, on this machine, beside its ceilings measured in the same run
// (issue 4 "Speed", issue 9). The gateway runs as its own process on a real PostgreSQL (fsync
// on) with the embedded ledger, exactly as `npm start` runs it; the load comes from this process
// and its children (wrk, or autocannon where wrk cannot describe the request, for closed loops —
// see load/closed-loop.ts; load/open-loop.ts for fixed arrival rates). Baselines: a bare
// Fastify server in its own process under the same load generator (the HTTP ceiling), a raw
// multi-row INSERT into the same PostgreSQL (the storage ceiling), node:crypto SHA-256 and ECDSA
// P-256 signing (the crypto ceilings).
//
// `GATEWAY_SPLIT=1` runs the same scenarios against GATEWAY_ROLE=api (HTTP) beside
// GATEWAY_ROLE=sealer (batcher and anchorer) on the same database; `GATEWAY_API_WORKERS=n` against
// API_WORKERS=n (a supervisor with a sealer and n api processes). The machine is shared: every
// step's log line carries the load average.
//
// Every scenario row names its latency percentiles (exact, sub-millisecond), the gateway's CPU
// (cores, from /proc), PostgreSQL's CPU and the gateway's peak RSS.
import os from 'node:os';
import { type BenchContext, type BenchResult, compare } from './harness.ts';
import { type CryptoCeilings, measureCrypto, measureStorage, startBareFastify } from './load/baselines.ts';
import { closedLoop, generatorFor, type LoadRequest, type LoadResult } from './load/closed-loop.ts';
import { formatLatency } from './load/latencies.ts';
import { openLoop } from './load/open-loop.ts';
import { loadLine, type ProcWindow, watch } from './load/proc-stats.ts';
import { seedBench, startBenchDatabase, startGatewayStack } from './load/stack.ts';
import { stallProbe } from './load/stall-probe.ts';
import {
  batchBody,
  DigestSource,
  evidencePost,
  hashOnlyBody,
  recordedLatency,
  uploadFile,
  waitRecorded,
} from './load/workload.ts';

const MB = 1e6;
const MiB = 1024 * 1024;
const P99_LIMIT_MS = 50;

/** A BenchResult with the run's particulars kept in the JSON results. */
interface ScenarioResult extends BenchResult {
  detail?: Record<string, unknown>;
}

function procText(p: ProcWindow): string {
  return `gateway ${p.cpuCores.toFixed(2)} cores, PG ${p.pgCpuCores.toFixed(2)}, load gen ${p.selfCpuCores.toFixed(2)}, peak RSS ${(p.rssPeakBytes / MiB).toFixed(0)} MiB`;
}

function procDetail(p: ProcWindow, ok: number): Record<string, number> {
  return {
    gatewayCpuCores: p.cpuCores,
    pgCpuCores: p.pgCpuCores,
    loadGeneratorCpuCores: p.selfCpuCores,
    gatewayCpuMicrosPerRequest: ok > 0 ? (p.cpuCores * p.seconds * 1e6) / ok : Number.NaN,
    rssStartMiB: p.rssStartBytes / MiB,
    rssPeakMiB: p.rssPeakBytes / MiB,
  };
}

function loadDetail(r: LoadResult): Record<string, unknown> {
  return {
    generator: r.generator,
    seconds: r.seconds,
    ok: r.ok,
    status: r.status,
    errors: r.errors,
    timeouts: r.timeouts,
    latencyMs: r.latency,
  };
}

/** intake's group-commit counters from /metrics (Prometheus text). */
async function groupCommitStats(
  url: string,
  adminKey: string,
): Promise<{ count: number; rows: number; seconds: number }> {
  const text = await (await fetch(`${url}/metrics`, { headers: { 'x-api-key': adminKey } })).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  return {
    count: value('intake_group_commit_rows_count'),
    rows: value('intake_group_commit_rows_sum'),
    seconds: value('intake_group_commit_seconds_sum'),
  };
}

/**
 * The HTTP process's event-loop delay since the last scrape (prom-client's monitorEventLoopDelay
 * histogram, reset at every collect, 10 ms resolution): call once before a scenario to reset it.
 */
async function loopLag(url: string, adminKey: string): Promise<{ maxMs: number; p99Ms: number }> {
  const text = await (await fetch(`${url}/metrics`, { headers: { 'x-api-key': adminKey } })).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  return {
    maxMs: value('nodejs_eventloop_lag_max_seconds') * 1000,
    p99Ms: value('nodejs_eventloop_lag_p99_seconds') * 1000,
  };
}

function lagText(l: { maxMs: number; p99Ms: number }): string {
  return `event-loop delay max ${l.maxMs.toFixed(0)} ms, p99 ${l.p99Ms.toFixed(1)} ms`;
}

/**
 * What a target rate leaves for the gateway's own work on this machine, from the same run's
 * measurements per operation: PostgreSQL's CPU as the gateway uses it (intake and, in one
 * process, the pipeline's writes), the HTTP floor (bare Fastify's CPU per request under the same
 * generator; 0 where there is no bare equivalent) and the load generator's CPU. At the target
 * those take `floor` cores; what the machine has beyond them, per operation, is the budget for
 * everything the gateway itself does (auth, validation, records, signing, sealing, the ledger),
 * shown beside what that work costs now (the gateway's CPU per operation above bare Fastify's).
 * A floor above the machine's cores means no gateway code could reach the target here unless
 * PostgreSQL's cost per operation falls. An estimate: PostgreSQL's cost per operation is taken at
 * the rate reached, and a busier server amortises commits over more rows.
 */
function budgetAtTarget(
  label: string,
  target: number,
  p: ProcWindow,
  ops: number,
  bareMicros: number,
): ScenarioResult {
  const cores = os.availableParallelism();
  const per = (c: number) => (c * p.seconds * 1e6) / Math.max(1, ops);
  const pg = per(p.pgCpuCores);
  const generator = per(p.selfCpuCores);
  const own = per(p.cpuCores) - bareMicros;
  const floor = (target * (pg + bareMicros + generator)) / 1e6;
  const budget = ((cores - floor) * 1e6) / target;
  const text =
    budget > 0
      ? `leaves ${budget.toFixed(1)} µs per operation for the gateway's own work, which costs ${own.toFixed(0)} µs now`
      : `more than the machine has before any of the gateway's own work (${own.toFixed(0)} µs per operation now)`;
  return {
    name: `CPU floor at ${label}: PostgreSQL ${pg.toFixed(1)} µs + HTTP ${bareMicros.toFixed(1)} µs + load generator ${generator.toFixed(1)} µs per operation (this run) = ${floor.toFixed(2)} cores; ${text}`,
    value: floor,
    unit: 'cores',
    baseline: { name: 'cores of this machine', value: cores, unit: 'cores' },
    ratio: floor / cores,
    detail: {
      target,
      pgMicros: pg,
      httpMicros: bareMicros,
      generatorMicros: generator,
      ownMicros: own,
      budgetMicros: budget,
    },
  };
}

function non2xx(r: LoadResult): number {
  return Object.entries(r.status).reduce((a, [code, n]) => (code.startsWith('2') ? a : a + n), 0);
}

export async function run(ctx: BenchContext): Promise<BenchResult[]> {
  const quick = ctx.quick;
  ctx.log(loadLine());
  const results: ScenarioResult[] = [];
  const crypto: CryptoCeilings = await measureCrypto(ctx);
  ctx.log(
    `ceilings: SHA-256 ${Math.round(crypto.sha256Small)}/s (64 B), ${crypto.sha256MBps.toFixed(0)} MB/s; ES256 sign ${Math.round(crypto.es256Sign)}/s`,
  );
  // 0. The longest event-loop stall of one full batcher step on the embedded ledger (in this
  // process, on its own PostgreSQL), with the ledger's slicing and without it (the baseline).
  const probeItems = quick ? 2000 : 10_000;
  const probe = await stallProbe(probeItems, quick ? 1 : 2, {
    sliced: {},
    unsliced: { sliceMs: Number.POSITIVE_INFINITY, writeChunk: 1e9 },
  });
  const worst = (name: string) => Math.max(...probe[name]!.map((r) => r.maxGapMs));
  const stepMs = (name: string) => Math.max(...probe[name]!.map((r) => r.stepMs));
  ctx.log(
    `batcher step of ${probeItems} records: longest stall ${worst('sliced').toFixed(0)} ms sliced (step ${stepMs('sliced').toFixed(0)} ms), ${worst('unsliced').toFixed(0)} ms unsliced (step ${stepMs('unsliced').toFixed(0)} ms); ${loadLine()}`,
  );
  results.push(
    compare(
      {
        name: `longest event-loop stall in one batcher step of ${probeItems} records, embedded ledger (step ${stepMs('sliced').toFixed(0)} ms)`,
        value: worst('sliced'),
        unit: 'ms',
      },
      {
        name: `the same without slicing the contract run (step ${stepMs('unsliced').toFixed(0)} ms)`,
        value: worst('unsliced'),
        unit: 'ms',
      },
    ),
  );

  const db = await startBenchDatabase();
  const bare = await startBareFastify();
  // GATEWAY_SPLIT=1: GATEWAY_ROLE=api for HTTP and GATEWAY_ROLE=sealer for the batcher.
  const split = process.env.GATEWAY_SPLIT === '1';
  if (split) ctx.log('split mode: GATEWAY_ROLE=api serves HTTP, GATEWAY_ROLE=sealer seals');
  // GATEWAY_API_WORKERS=n: API_WORKERS=n, a supervisor with a sealer and n api processes.
  const apiWorkers = Number(process.env.GATEWAY_API_WORKERS ?? 1);
  if (apiWorkers > 1) ctx.log(`API_WORKERS=${apiWorkers}: a sealer and ${apiWorkers} api processes`);
  let stack: Awaited<ReturnType<typeof startGatewayStack>> | undefined;
  try {
    stack = await startGatewayStack(db.url, { split, apiWorkers });
    const gw = stack.gateway;
    const gwPids = stack.pids;
    const creds = await seedBench(gw, db.pool);
    const postmaster = await db.postmasterPid();
    const storage = await measureStorage(ctx, db.pool);
    ctx.log(
      `storage: raw INSERT ${Math.round(storage.oneRowPerCommit)} rows/s (1/commit), ${Math.round(storage.rows64PerCommit)} (64/commit), ${Math.round(storage.rows1000PerCommit)} (1000/commit)`,
    );

    const digests = new DigestSource();
    const headers = { 'content-type': 'application/json', 'x-api-key': creds.apiKey };
    const post = evidencePost(creds, digests);
    const bareBody = hashOnlyBody(creds.projectId, digests.at(0));
    const barePost: LoadRequest = {
      ...post,
      body: () => bareBody,
      template: { path: '/v1/evidence', body: bareBody },
    };
    const generators = `${generatorFor(post)} for single requests (bare Fastify measured with the same), ${generatorFor({ ...post, template: undefined })} for batches of 1,000, open-loop.ts for fixed rates`;
    ctx.log(`load generator: ${generators}`);
    results.push({ name: `load generator: ${generators}`, value: Number.NaN, unit: '' });
    const seconds = quick ? 0.75 : 10;

    // Warm both servers up (JIT, connection pools, caches).
    await closedLoop(gw.url, post, { connections: 16, seconds: quick ? 0.5 : 3 });
    await closedLoop(bare.url, barePost, { connections: 16, seconds: quick ? 0.5 : 1 });

    // 1. Closed loop at concurrency 1, 16, 64, 256, each beside bare Fastify at the same concurrency.
    let best = { rps: 0, connections: 64 };
    let cpuAt64 = { gateway: Number.NaN, bare: Number.NaN };
    for (const connections of [1, 16, 64, 256]) {
      const wBare = watch([bare.pid]);
      const b = await closedLoop(bare.url, barePost, { connections, seconds });
      const pBare = wBare.stop();
      const w = watch(gwPids, postmaster);
      const g = await closedLoop(gw.url, post, { connections, seconds });
      const p = w.stop();
      if (g.rps > best.rps) best = { rps: g.rps, connections };
      const cpuPerRequest = {
        gateway: (p.cpuCores * p.seconds * 1e6) / Math.max(1, g.ok),
        bare: (pBare.cpuCores * pBare.seconds * 1e6) / Math.max(1, b.ok),
      };
      if (connections === 64) cpuAt64 = cpuPerRequest;
      ctx.log(
        `c=${connections}: gateway ${Math.round(g.rps)}/s ${formatLatency(g.latency)} (${procText(p)}); bare ${Math.round(b.rps)}/s ${formatLatency(b.latency)}${non2xx(g) ? `; non-2xx ${JSON.stringify(g.status)}` : ''}; ${loadLine()}`,
      );
      results.push({
        ...compare(
          {
            name: `hash-only POST /v1/evidence, c=${connections} — ${formatLatency(g.latency)}; ${procText(p)}`,
            value: g.rps,
            unit: 'accepted/s',
          },
          {
            name: `bare Fastify POST, c=${connections} (${formatLatency(b.latency)})`,
            value: b.rps,
            unit: 'req/s',
          },
        ),
        detail: {
          ...loadDetail(g),
          ...procDetail(p, g.ok),
          bare: { ...loadDetail(b), ...procDetail(pBare, b.ok) },
        },
      });
    }
    // CPU per request is the figure least disturbed by a busy machine: both servers' CPU time
    // (from /proc) divided by the requests they answered.
    results.push(
      compare(
        {
          name: 'gateway CPU per accepted hash-only POST, c=64 (incl. batcher and ledger work)',
          value: cpuAt64.gateway,
          unit: 'µs CPU',
        },
        { name: 'bare Fastify CPU per POST, c=64', value: cpuAt64.bare, unit: 'µs CPU' },
      ),
    );
    results.push(
      compare(
        {
          name: `hash-only POST, best closed loop (c=${best.connections})`,
          value: best.rps,
          unit: 'accepted/s',
        },
        { name: 'ES256 signatures, node:crypto, one core', value: crypto.es256Sign, unit: 'signs/s' },
      ),
    );

    // 2. Sustained: 60 s (5 s quick) at concurrency 64; its accepted→recorded latency below. From
    // a caught-up pipeline: the closed loops above leave up to a few seconds of sealing behind
    // them, which would count against this run's latency without being its own.
    if (!(await waitRecorded(db.pool, quick ? 60_000 : 900_000)))
      ctx.log('the pipeline did not catch up before the sustained run');
    const sustainSeconds = quick ? 5 : 60;
    const commits0 = await groupCommitStats(gw.url, creds.adminKey);
    const sustainFrom = new Date();
    const sustainDigests = { first: digests.count, last: 0 };
    await loopLag(gw.url, creds.adminKey);
    const ws = watch(gwPids, postmaster);
    const s = await closedLoop(gw.url, post, { connections: 64, seconds: sustainSeconds });
    const ps = ws.stop();
    const sustainTo = new Date();
    sustainDigests.last = digests.count;
    const lag = await loopLag(gw.url, creds.adminKey);
    const commits1 = await groupCommitStats(gw.url, creds.adminKey);
    const flushes = commits1.count - commits0.count;
    const commitText = `${flushes} group commits of ${((commits1.rows - commits0.rows) / Math.max(1, flushes)).toFixed(1)} rows, ${(((commits1.seconds - commits0.seconds) * 1000) / Math.max(1, flushes)).toFixed(2)} ms each`;
    ctx.log(`sustained: ${commitText}`);
    const sustainMet = s.rps >= 15_000 && s.latency.p99 <= P99_LIMIT_MS && non2xx(s) === 0;
    ctx.log(
      `sustained ${sustainSeconds} s: ${Math.round(s.rps)}/s ${formatLatency(s.latency)} (${procText(ps)}; HTTP process ${lagText(lag)}); ${loadLine()}`,
    );
    results.push({
      name: `hash-only POST sustained ${sustainSeconds} s, c=64 — ${formatLatency(s.latency)}; ${procText(ps)}; HTTP process ${lagText(lag)}; ${commitText}`,
      value: s.rps,
      unit: 'accepted/s',
      baseline: { name: 'raw INSERT, 64 rows per commit', value: storage.rows64PerCommit, unit: 'rows/s' },
      ratio: s.rps / storage.rows64PerCommit,
      target: `≥ 15,000/s for 60 s with p99 ≤ ${P99_LIMIT_MS} ms`,
      meetsTarget: quick ? undefined : sustainMet,
      detail: { ...loadDetail(s), ...procDetail(ps, s.ok), eventLoopLag: lag },
    });
    results.push(budgetAtTarget('15,000 POST/s', 15_000, ps, s.ok, cpuAt64.bare));

    // 3. Open loop: the highest fixed arrival rate whose p99 stays ≤ 50 ms with every request answered.
    const steps = quick ? 2 : 6;
    const stepSeconds = quick ? 1 : 10;
    let lo = 0;
    let hi = Number.POSITIVE_INFINITY;
    let rate = Math.max(200, Math.round((s.rps * 0.7) / 100) * 100);
    let bestOpen: { rate: number; text: string; detail: Record<string, unknown> } | undefined;
    for (let i = 0; i < steps; i++) {
      // Start each step with the pipeline caught up: the backlog of the closed-loop runs above is
      // not part of a steady arrival rate, and the batcher working it off stalls the event loop.
      await waitRecorded(db.pool, quick ? 15_000 : 600_000);
      const w = watch(gwPids, postmaster);
      const o = await openLoop(gw.url, post, { rate, seconds: stepSeconds, connections: 256 });
      const p = w.stop();
      const ok =
        o.unanswered === 0 &&
        non2xx(o) === 0 &&
        o.latency.p99 <= P99_LIMIT_MS &&
        o.ok >= 0.97 * rate * stepSeconds;
      ctx.log(
        `open loop ${rate}/s: ${ok ? 'ok' : 'too fast'} — ${formatLatency(o.latency)}, answered ${o.ok}, unanswered ${o.unanswered}${o.unexpected ? `, unexpected ${o.unexpected}` : ''}, status ${JSON.stringify(o.status)}, backlog ≤ ${o.maxBacklog} (${procText(p)}); ${loadLine()}`,
      );
      if (ok) {
        lo = rate;
        bestOpen = {
          rate,
          text: `${formatLatency(o.latency)}; ${procText(p)}`,
          detail: { ...loadDetail(o), ...procDetail(p, o.ok) },
        };
        rate = Number.isFinite(hi) ? Math.round((lo + hi) / 200) * 100 : Math.round((rate * 1.3) / 100) * 100;
      } else {
        hi = rate;
        rate = Math.max(100, Math.round((lo > 0 ? (lo + hi) / 2 : rate * 0.6) / 100) * 100);
      }
      if (rate === lo || rate === hi) break;
    }
    const bareOpen = results.find((r) => r.name.startsWith('hash-only POST /v1/evidence, c=256'))?.baseline;
    results.push({
      ...compare(
        {
          name: `hash-only POST, highest open-loop rate with p99 ≤ ${P99_LIMIT_MS} ms${bestOpen ? ` — ${bestOpen.text}` : ' (none passed)'}`,
          value: lo,
          unit: 'accepted/s',
          target: '≥ 15,000/s',
          meetsTarget: quick ? undefined : lo >= 15_000,
        },
        bareOpen ?? { name: 'bare Fastify', value: Number.NaN, unit: 'req/s' },
      ),
      detail: bestOpen?.detail,
    });

    // 4. Batches of 1,000 items.
    const batchItems = 1000;
    const batchReq: LoadRequest = {
      method: 'POST',
      path: '/v1/evidence/batch',
      headers,
      body: () => batchBody(creds.projectId, digests, batchItems),
    };
    await closedLoop(gw.url, batchReq, { connections: 2, seconds: quick ? 0.3 : 2 });
    await waitRecorded(db.pool, quick ? 60_000 : 900_000);
    const wb = watch(gwPids, postmaster);
    // The whole cost of these records, for the CPU floor: the run and the pipeline recording them
    // after it (the batcher falls behind this route, so the run's own window misses some of it).
    const wbWithPipeline = watch(gwPids, postmaster);
    const b = await closedLoop(gw.url, batchReq, { connections: 4, seconds });
    const pb = wb.stop();
    await waitRecorded(db.pool, quick ? 60_000 : 900_000);
    const pbWithPipeline = wbWithPipeline.stop();
    const recordsPerSecond = (b.ok * batchItems) / b.seconds;
    ctx.log(
      `batch: ${Math.round(recordsPerSecond)} records/s ${formatLatency(b.latency)} (${procText(pb)}) ${JSON.stringify(b.status)}`,
    );
    results.push({
      ...compare(
        {
          name: `POST /v1/evidence/batch, ${batchItems} items, c=4 — ${formatLatency(b.latency)}; ${procText(pb)}`,
          value: recordsPerSecond,
          unit: 'records/s',
          target: '≥ 50,000 records/s',
          meetsTarget: quick ? undefined : recordsPerSecond >= 50_000,
        },
        { name: 'raw INSERT, 1,000 rows per commit', value: storage.rows1000PerCommit, unit: 'rows/s' },
      ),
      detail: { ...loadDetail(b), ...procDetail(pb, b.ok * batchItems) },
    });
    results.push(
      budgetAtTarget('50,000 batch records/s (until recorded)', 50_000, pbWithPipeline, b.ok * batchItems, 0),
    );

    // 5. File uploads, streamed: MB/s and the gateway's RSS growth. With the pipeline caught up
    // first: the batcher working off the runs above (up to 250,000 records) in the same process
    // grows the heap by tens of MiB on its own, which is not the upload's memory.
    await waitRecorded(db.pool, quick ? 60_000 : 900_000);
    const uploads: { label: string; bytes: number; count: number; target?: number }[] = [
      { label: '1 MB', bytes: MB, count: quick ? 5 : 30 },
      ...(quick
        ? []
        : [
            { label: '100 MB', bytes: 100 * MB, count: 3 },
            { label: '2 GB', bytes: 2 * 1000 * MB, count: 1, target: 64 },
          ]),
    ];
    for (const u of uploads) {
      const w = watch(gwPids, postmaster);
      let ms = 0;
      for (let i = 0; i < u.count; i++) {
        const r = await uploadFile(
          gw.url,
          { 'x-api-key': creds.apiKey },
          { projectId: creds.projectId, kind: 'construction_log', visibility: 'public' },
          u.bytes,
        );
        if (r.status !== 202)
          throw new Error(`upload of ${u.label} answered ${r.status}: ${r.body.slice(0, 300)}`);
        ms += r.ms;
      }
      const p = w.stop();
      const mbps = (u.bytes * u.count) / MB / (ms / 1000);
      const growth = (p.rssPeakBytes - p.rssStartBytes) / MiB;
      ctx.log(
        `upload ${u.label} ×${u.count}: ${mbps.toFixed(0)} MB/s, RSS +${growth.toFixed(1)} MiB (${procText(p)})`,
      );
      results.push({
        ...compare(
          {
            name: `upload ${u.label} (multipart, streamed) ×${u.count} — RSS +${growth.toFixed(1)} MiB; ${procText(p)}`,
            value: mbps,
            unit: 'MB/s',
          },
          { name: 'node:crypto streaming SHA-256, one core', value: crypto.sha256MBps, unit: 'MB/s' },
        ),
        detail: { ...procDetail(p, u.count), rssGrowthMiB: growth, uploads: u.count, bytes: u.bytes },
      });
      if (u.target !== undefined) {
        results.push({
          name: `upload ${u.label}: gateway RSS growth`,
          value: growth,
          unit: 'MiB',
          target: `≤ ${u.target} MiB`,
          meetsTarget: growth <= u.target,
        });
      }
    }

    // 6. accepted→recorded for the sustained run (the batcher seals every 500 ms or 10,000 items).
    // Quick: only the sustained run's records (their batches come first); full: everything, so
    // that the verify runs below do not share the gateway with a batcher catching up.
    const recorded = await waitRecorded(db.pool, quick ? 60_000 : 900_000, quick ? sustainTo : undefined);
    if (!recorded) ctx.log('not every submission was recorded before the timeout');
    const lat = await recordedLatency(db.pool, sustainFrom, sustainTo);
    ctx.log(
      `accepted→recorded (sustained run, ${lat.count} records): p50 ${lat.p50.toFixed(0)} ms, p99 ${lat.p99.toFixed(0)} ms, max ${lat.max.toFixed(0)} ms; ${loadLine()}`,
    );
    results.push({
      name: `accepted→recorded p50, sustained run at ${Math.round(s.rps)}/s (${lat.count} records; p99 ${lat.p99.toFixed(0)} ms, max ${lat.max.toFixed(0)} ms)`,
      value: lat.p50,
      unit: 'ms',
      baseline: { name: 'seal interval', value: 500, unit: 'ms' },
      ratio: lat.p50 / 500,
      target: '≤ 1,000 ms',
      meetsTarget: lat.p50 <= 1000,
      detail: lat,
    });
    results.push({
      name: 'accepted→anchored: skipped — anchoring is off without ANCHOR_RPC_URL (the anchor bench measures it on geth)',
      value: Number.NaN,
      unit: 'ms',
    });

    // 7. Verify lookups, public: hot (one digest over and over) and cold (each digest once).
    // Digests of the sustained run: recorded by now. The first is the hot one.
    const bareGet: LoadRequest = { method: 'GET', path: `/v1/verify/${digests.at(0)}` };
    const wvb = watch([bare.pid]);
    const vb = await closedLoop(bare.url, bareGet, { connections: 64, seconds });
    const pvb = wvb.stop();
    const bareGetMicros = (pvb.cpuCores * pvb.seconds * 1e6) / Math.max(1, vb.ok);
    // The hot digest must be one that was submitted: wrk builds one request more than it sends.
    let hotDigest: string | undefined;
    for (let i = sustainDigests.first; i < sustainDigests.first + 10 && !hotDigest; i++) {
      const answer = (await (await fetch(`${gw.url}/v1/verify/${digests.at(i)}`)).json()) as {
        records: { status: string }[];
      };
      if (answer.records.length > 0 && answer.records.every((r) => r.status !== 'accepted'))
        hotDigest = digests.at(i);
    }
    if (!hotDigest) throw new Error("none of the sustained run's first digests is recorded");
    const hot: LoadRequest = { method: 'GET', path: `/v1/verify/${hotDigest}` };
    await closedLoop(gw.url, hot, { connections: 16, seconds: quick ? 0.3 : 2 });
    const wh = watch(gwPids, postmaster);
    const vh = await closedLoop(gw.url, hot, { connections: 64, seconds });
    const ph = wh.stop();
    let next = 0;
    const available = sustainDigests.last - sustainDigests.first - 1;
    const cold: LoadRequest = {
      method: 'GET',
      path: () => `/v1/verify/${digests.at(sustainDigests.first + 1 + (next++ % available))}`,
      template: {
        path: '/v1/verify/{{digest}}',
        digests,
        cycle: { from: sustainDigests.first + 1, count: available },
      },
    };
    const wc = watch(gwPids, postmaster);
    const vc = await closedLoop(gw.url, cold, { connections: 64, seconds });
    const pc = wc.stop();
    // wrk does not report how many it sent beyond its answers; at most one more per connection.
    if (vc.generator === 'wrk') next = vc.ok;
    const distinct = Math.min(next, available);
    for (const [label, r, p] of [
      ['hot (one digest)', vh, ph],
      [`cold (${distinct} distinct digests${next > available ? ', wrapped' : ''})`, vc, pc],
    ] as const) {
      ctx.log(
        `verify ${label}: ${Math.round(r.rps)}/s ${formatLatency(r.latency)} (${procText(p)}) ${JSON.stringify(r.status)}`,
      );
      results.push({
        ...compare(
          {
            name: `GET /v1/verify/{sha256} ${label}, c=64 — ${formatLatency(r.latency)}; ${procText(p)}`,
            value: r.rps,
            unit: 'lookups/s',
            target: '≥ 20,000/s',
            meetsTarget: quick ? undefined : r.rps >= 20_000,
          },
          { name: `bare Fastify GET, c=64 (${formatLatency(vb.latency)})`, value: vb.rps, unit: 'req/s' },
        ),
        detail: { ...loadDetail(r), ...procDetail(p, r.ok) },
      });
      results.push(budgetAtTarget(`20,000 ${label.split(' ')[0]} lookups/s`, 20_000, p, r.ok, bareGetMicros));
    }
  } catch (err) {
    if (stack) ctx.log(`gateway output:\n${stack.gateway.output().slice(-2000)}`);
    throw err;
  } finally {
    await stack?.stop();
    await bare.stop();
    await db.stop();
  }
  return results;
}
