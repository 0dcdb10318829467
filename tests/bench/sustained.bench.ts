// Sustained throughput, end to end (opt-in: `npm run bench -- sustained`; SUSTAINED_SECONDS=n,
// default 20, 5 with --quick). What counts is what reached the end of the pipeline — records in a
// signed checkpoint — not what intake accepted while a backlog grew: each run's window starts
// with its load and ends when the last accepted record is covered by a published checkpoint.
//
// The baseline is Tessera's POSIX log (the pinned version, built by the bench and cached outside
// the clone), run in the same bench with the same load generator and connection count: the best
// transparency log this machine can run. Then the gateway (one process, `npm start`'s way, on a
// fresh embedded PostgreSQL, the embedded ledger) takes 1,000-item batches and single POSTs.
// Targets (issue #26): batch route ≥ 1.0× Tessera's end-to-end rate, single POSTs ≥ 0.5×.
//
// After the closed-loop windows, each route is offered open-loop (requests due at a fixed rate
// whatever the answers do) at 80% of the end-to-end rate it just measured, and the p99 from each
// record's acceptance until a signed checkpoint covers it is read from the database (target
// ≤ 3 s). SUSTAINED_PREFILL=N first grows both logs to N records through their own write paths
// (load/prefill.ts), so the windows run on a log that already holds them; the prefill's first and
// last segments give its own growth figure, and the disk each record takes is printed.
import os from 'node:os';
import { type BenchContext, type BenchResult, compare } from './harness.ts';
import { closedLoop, type LoadRequest } from './load/closed-loop.ts';
import { formatLatency } from './load/latencies.ts';
import { openLoop } from './load/open-loop.ts';
import {
  checkDiskFor,
  diskBytes,
  GATEWAY_BYTES_PER_RECORD,
  type PrefillResult,
  prefillGateway,
  prefillTessera,
} from './load/prefill.ts';
import { loadLine, watch } from './load/proc-stats.ts';
import { seedBench, startBenchDatabase, startGatewayStack } from './load/stack.ts';
import { startTessera, TESSERA_VERSION } from './load/tessera.ts';
import { batchBody, DigestSource, evidencePost, lastSeq, recordedLatencyOfSeqs } from './load/workload.ts';
import { wrkAvailable } from './load/wrk.ts';

export const optIn = true;

const SINGLE_CONNECTIONS = 256;
const BATCH_ITEMS = 1000;
const BATCH_CONNECTIONS = 8;
/** The open-loop runs offer this share of the rate the closed-loop window measured (issue #26). */
const OPEN_LOOP_SHARE = 0.8;
/** accepted→recorded p99 the open-loop runs must stay under (issue #26). */
const OPEN_LOOP_P99_MS = 3000;
/** Records per second of load the measured windows may add, for the disk check (intake ≤ ~20k/s, four windows). */
const WINDOW_RECORDS_PER_SECOND = 40_000;

const n = (x: number) => Math.round(x).toLocaleString('en-US');

/** The prefill's growth figure and its records' disk, as results. */
function prefillResults(
  what: string,
  unit: string,
  p: PrefillResult,
  disk: string,
  bytes: number,
): BenchResult[] {
  return [
    {
      name: `prefill: ${what} grown ${n(p.from)} → ${n(p.to)} in ${p.seconds.toFixed(0)} s (${n(p.overallRate)} ${unit} overall); the last ${n(p.segment)} against the first ${n(p.segment)} (growth must not slow it)`,
      value: p.lastRate,
      unit: `${unit} into a checkpoint`,
      baseline: { name: `its first ${n(p.segment)}`, value: p.firstRate, unit: `${unit} into a checkpoint` },
      ratio: p.lastRate / p.firstRate,
    },
    { name: `prefill: ${what} disk per record at ${n(p.to)} (${disk})`, value: bytes / p.to, unit: 'bytes' },
  ];
}

/** Polls `size()` until it reaches `target`; answers the time it first did (performance.now()). */
async function whenCovered(size: () => Promise<number>, target: number, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if ((await size()) >= target) return performance.now();
    if (performance.now() > deadline)
      throw new Error(`checkpoint did not reach ${target} in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits until `size()` stops moving (the same over `quietMs`): the backlog is worked off. */
async function settled(size: () => Promise<number>, quietMs = 2500): Promise<number> {
  let last = await size();
  for (;;) {
    await new Promise((r) => setTimeout(r, quietMs));
    const now = await size();
    if (now === last) return now;
    last = now;
  }
}

interface EndToEnd {
  accepted: number;
  /** From the load's start until the last accepted record was in a signed checkpoint. */
  seconds: number;
  /** accepted ÷ seconds */
  rate: number;
  intakeRate: number;
  latency: string;
  /** CPU seconds per record over the whole window (server + PostgreSQL), µs. */
  cpuUsPerRecord: number;
  walBytesPerRecord?: number;
}

export async function run(ctx: BenchContext): Promise<BenchResult[]> {
  const seconds = Number(process.env.SUSTAINED_SECONDS ?? (ctx.quick ? 5 : 20));
  if (!wrkAvailable())
    throw new Error('the sustained bench needs wrk (scripts/install-system-deps.sh bench)');
  const results: BenchResult[] = [];
  const prefill = Number(process.env.SUSTAINED_PREFILL ?? 0);
  if (!Number.isSafeInteger(prefill) || prefill < 0)
    throw new Error(
      `SUSTAINED_PREFILL must be a whole number of records, not ${process.env.SUSTAINED_PREFILL}`,
    );
  if (prefill > 0) {
    const free = checkDiskFor(prefill + seconds * WINDOW_RECORDS_PER_SECOND, os.tmpdir());
    ctx.log(
      `prefill: ${n(prefill)} records into each log first; ${(free / 1e9).toFixed(1)} GB free in ${os.tmpdir()} (${GATEWAY_BYTES_PER_RECORD} bytes a record allowed)`,
    );
  }
  // What every measured result says about the log it ran on.
  let already = '';

  // 1. Tessera: POST /add of distinct 64-byte entries at 256 connections.
  const tessera = await startTessera();
  let baseline: EndToEnd;
  try {
    const digests = new DigestSource();
    const add: LoadRequest = {
      method: 'POST',
      path: '/add',
      body: () => digests.next(),
      template: { path: '/add', body: '{{digest}}', digests },
    };
    if (prefill > 0) {
      const p = await prefillTessera(tessera, add, prefill, SINGLE_CONNECTIONS, ctx.log);
      const bytes = diskBytes(tessera.storage);
      ctx.log(
        `tessera prefill: ${n(p.to)} entries in ${p.seconds.toFixed(0)} s, ${n(p.overallRate)}/s; first ${n(p.segment)} ${n(p.firstRate)}/s, last ${n(p.lastRate)}/s; ${(bytes / p.to).toFixed(0)} bytes on disk per entry; ${loadLine()}`,
      );
      results.push(
        ...prefillResults(`Tessera ${TESSERA_VERSION}`, 'entries/s', p, 'its storage directory', bytes),
      );
      already = `, ${n(p.to)} already in the log`;
    }
    await closedLoop(tessera.url, add, { connections: 64, seconds: 2 });
    const before = await settled(() => tessera.checkpointSize());
    const w = watch([tessera.pid]);
    const start = performance.now();
    const load = await closedLoop(tessera.url, add, { connections: SINGLE_CONNECTIONS, seconds });
    const end = await whenCovered(() => tessera.checkpointSize(), before + load.ok, 120_000);
    const p = w.stop();
    const windowS = (end - start) / 1000;
    baseline = {
      accepted: load.ok,
      seconds: windowS,
      rate: load.ok / windowS,
      intakeRate: load.rps,
      latency: formatLatency(load.latency),
      cpuUsPerRecord: (p.cpuCores * p.seconds * 1e6) / Math.max(1, load.ok),
    };
    ctx.log(
      `tessera ${TESSERA_VERSION}: ${load.ok} entries, intake ${Math.round(load.rps)}/s, in a checkpoint ${Math.round(baseline.rate)}/s (window ${windowS.toFixed(1)} s) ${baseline.latency}; ${baseline.cpuUsPerRecord.toFixed(0)} µs CPU/entry; ${loadLine()}`,
    );
  } finally {
    await tessera.stop();
  }
  const base = {
    name: `Tessera ${TESSERA_VERSION} POSIX log, POST /add c=${SINGLE_CONNECTIONS}, until in a checkpoint (${baseline.latency}${already})`,
    value: baseline.rate,
    unit: 'entries/s',
  };
  results.push({ ...base, name: `baseline: ${base.name}` });

  // 2. The gateway, on the embedded ledger.
  const db = await startBenchDatabase();
  // SUSTAINED_SPLIT=1: GATEWAY_ROLE=api and GATEWAY_ROLE=sealer as two processes, so sealing runs
  // beside intake on the other core instead of between its requests.
  const split = process.env.SUSTAINED_SPLIT === '1';
  const stack = await startGatewayStack(db.url, { split, env: { LOG_LEVEL: 'warn' } });
  const gw = stack.gateway;
  ctx.log(split ? 'gateway: api and sealer processes' : 'gateway: one process (npm start)');
  try {
    const creds = await seedBench(gw, db.pool);
    const postmaster = await db.postmasterPid();
    const checkpointSize = async (): Promise<number> => {
      const res = await fetch(`${gw.url}/v1/log/checkpoint`);
      if (res.status === 404) return 0;
      return Number((await res.text()).split('\n')[1]);
    };
    const walLsn = async (): Promise<bigint> => {
      const { rows } = await db.pool.query<{ b: string }>(
        `select pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::text as b`,
      );
      return BigInt(rows[0]!.b.split('.')[0]!);
    };
    const digests = new DigestSource();
    const headers = { 'content-type': 'application/json', 'x-api-key': creds.apiKey };
    const single = evidencePost(creds, digests);
    const batch: LoadRequest = {
      method: 'POST',
      path: '/v1/evidence/batch',
      headers,
      body: () => batchBody(creds.projectId, digests, BATCH_ITEMS),
    };
    already = '';
    if (prefill > 0) {
      const p = await prefillGateway(
        { url: gw.url, checkpointSize },
        creds,
        new DigestSource(),
        prefill,
        ctx.log,
        { batchItems: BATCH_ITEMS },
      );
      // The data directory holds the WAL too; the database alone is pg_database_size.
      const bytes = diskBytes(db.dir);
      const { rows } = await db.pool.query<{ b: string }>(
        'select pg_database_size(current_database())::text as b',
      );
      const dbBytes = Number(rows[0]!.b);
      ctx.log(
        `gateway prefill: ${n(p.to)} records in ${p.seconds.toFixed(0)} s, ${n(p.overallRate)}/s; first ${n(p.segment)} ${n(p.firstRate)}/s, last ${n(p.lastRate)}/s; ${(bytes / p.to).toFixed(0)} bytes on disk per record (the database ${(dbBytes / p.to).toFixed(0)}, the rest WAL and PostgreSQL's own); ${loadLine()}`,
      );
      results.push(
        ...prefillResults(
          'the gateway (batch route, embedded ledger)',
          'records/s',
          p,
          `PostgreSQL's data directory with its WAL; the database alone ${(dbBytes / p.to).toFixed(0)}`,
          bytes,
        ),
      );
      already = `, ${n(p.to)} already in the log`;
    }
    // Warm-up (JIT, pools), then let the pipeline drain before each measured run.
    await closedLoop(gw.url, single, { connections: 16, seconds: 2 });
    await closedLoop(gw.url, batch, { connections: 2, seconds: 2 });

    const measure = async (what: string, request: LoadRequest, connections: number, items: number) => {
      // Drained: every record submitted so far is in a checkpoint.
      const before = await settled(checkpointSize);
      const wal0 = await walLsn();
      const w = watch(stack.pids, postmaster);
      const start = performance.now();
      const load = await closedLoop(gw.url, request, { connections, seconds });
      const accepted = load.ok * items;
      const end = await whenCovered(checkpointSize, before + accepted, 900_000);
      const p = w.stop();
      const wal1 = await walLsn();
      const windowS = (end - start) / 1000;
      const r: EndToEnd = {
        accepted,
        seconds: windowS,
        rate: accepted / windowS,
        intakeRate: (load.ok * items) / load.seconds,
        latency: formatLatency(load.latency),
        cpuUsPerRecord: ((p.cpuCores + p.pgCpuCores) * p.seconds * 1e6) / Math.max(1, accepted),
        walBytesPerRecord: Number(wal1 - wal0) / Math.max(1, accepted),
      };
      ctx.log(
        `${what}: ${accepted} records, intake ${Math.round(r.intakeRate)}/s, in a signed checkpoint ${Math.round(r.rate)}/s (window ${windowS.toFixed(1)} s, intake ${load.seconds.toFixed(1)} s) ${r.latency}; ${r.cpuUsPerRecord.toFixed(0)} µs CPU/record (gateway ${((p.cpuCores * p.seconds * 1e6) / Math.max(1, accepted)).toFixed(0)}, PostgreSQL ${((p.pgCpuCores * p.seconds * 1e6) / Math.max(1, accepted)).toFixed(0)}), ${Math.round(r.walBytesPerRecord ?? 0)} WAL bytes/record; ${loadLine()}`,
      );
      return r;
    };

    const b = await measure(`batch c=${BATCH_CONNECTIONS}`, batch, BATCH_CONNECTIONS, BATCH_ITEMS);
    results.push({
      ...compare(
        {
          name: `POST /v1/evidence/batch (${BATCH_ITEMS} items, c=${BATCH_CONNECTIONS}) until in a signed checkpoint${already}; intake ran at ${Math.round(b.intakeRate)}/s; ${b.cpuUsPerRecord.toFixed(0)} µs CPU and ${Math.round(b.walBytesPerRecord ?? 0)} WAL bytes per record (Tessera ${baseline.cpuUsPerRecord.toFixed(0)} µs)`,
          value: b.rate,
          unit: 'records/s',
          target: '≥ 1.0× Tessera',
        },
        base,
      ),
      meetsTarget: b.rate >= baseline.rate,
    });
    const s = await measure(`single c=${SINGLE_CONNECTIONS}`, single, SINGLE_CONNECTIONS, 1);
    results.push({
      ...compare(
        {
          name: `POST /v1/evidence c=${SINGLE_CONNECTIONS} until in a signed checkpoint (${s.latency})${already}; intake ran at ${Math.round(s.intakeRate)}/s; ${s.cpuUsPerRecord.toFixed(0)} µs CPU and ${Math.round(s.walBytesPerRecord ?? 0)} WAL bytes per record`,
          value: s.rate,
          unit: 'records/s',
          target: '≥ 0.5× Tessera',
        },
        base,
      ),
      meetsTarget: s.rate >= 0.5 * baseline.rate,
    });

    // 3. Open loop: each route offered OPEN_LOOP_SHARE of the end-to-end rate it just measured —
    // of its own rate, not of the target's, which it may not reach: offered more than it records,
    // the backlog and so the latency would only grow with the run's length. Latency from each
    // record's acceptance until its batch's signed checkpoint was stored (load/workload.ts).
    const open = async (
      what: string,
      request: LoadRequest,
      measured: number,
      connections: number,
      items: number,
    ): Promise<BenchResult> => {
      const offered = OPEN_LOOP_SHARE * measured;
      const before = await settled(checkpointSize);
      const seq0 = await lastSeq(db.pool);
      const o = await openLoop(gw.url, request, { rate: offered / items, seconds, connections });
      const seq1 = await lastSeq(db.pool);
      const accepted = o.ok * items;
      await whenCovered(checkpointSize, before + accepted, 900_000);
      const lat = await recordedLatencyOfSeqs(db.pool, before, seq0, seq1);
      const achieved = accepted / o.seconds;
      const ok = lat.count === accepted && o.unanswered === 0 && lat.p99 <= OPEN_LOOP_P99_MS;
      ctx.log(
        `${what} open-loop at ${n(offered)} records/s (${n(achieved)}/s accepted, ${o.unanswered} unanswered, HTTP ${formatLatency(o.latency)}): accepted→recorded p50 ${n(lat.p50)} ms, p99 ${n(lat.p99)} ms, max ${n(lat.max)} ms over ${n(lat.count)} of ${n(accepted)} records; ${loadLine()}`,
      );
      return {
        name: `accepted→recorded p99, ${what} offered open-loop at ${n(offered)} records/s (${Math.round(OPEN_LOOP_SHARE * 100)}% of its end-to-end rate above; ${n(achieved)}/s accepted)${already}; p50 ${n(lat.p50)} ms, max ${n(lat.max)} ms over ${n(lat.count)} of ${n(accepted)} records, ${o.unanswered} unanswered`,
        value: lat.p99,
        unit: 'ms',
        target: `≤ ${n(OPEN_LOOP_P99_MS)} ms`,
        meetsTarget: ok,
      };
    };
    results.push(
      await open(
        `POST /v1/evidence/batch (${BATCH_ITEMS} items, c=${BATCH_CONNECTIONS})`,
        batch,
        b.rate,
        BATCH_CONNECTIONS,
        BATCH_ITEMS,
      ),
    );
    results.push(
      await open(`POST /v1/evidence (c=${SINGLE_CONNECTIONS})`, single, s.rate, SINGLE_CONNECTIONS, 1),
    );
  } finally {
    await stack.stop();
    await db.stop();
  }
  return results;
}
