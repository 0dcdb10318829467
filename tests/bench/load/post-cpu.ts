// An A/B aid, not a benchmark: the CPU that single `POST /v1/evidence` costs, end to end. Starts
// PostgreSQL and the gateway (one process, its defaults: CRYPTO_SUITE dual, embedded ledger),
// drives hash-only POSTs with wrk for a while and then waits until every accepted record is in a
// signed checkpoint. Prints, per accepted POST: the gateway's CPU while the load ran (split into
// its main thread — the event loop — and its other threads: libuv's pool signing receipts, V8's
// GC helpers), the gateway's and PostgreSQL's CPU over the whole window up to the last record
// recorded, and the rates. On a shared machine these CPU figures move far less than wall-clock
// rates; alternate runs of two checkouts to compare them (docs/benchmarks.md, issue #26).
//
//   node --import tsx tests/bench/load/post-cpu.ts [seconds=10] [connections=256] [runs=1]
//
// GATEWAY_ENV='{"CRYPTO_SUITE":"intl"}' passes settings to the gateway. `INTAKE_ONLY=1` turns the
// gateway's sealing off (the seal interval and size out of reach): the figures are then intake's
// and HTTP's alone, without the batcher's share that otherwise falls in the window unevenly, and
// nothing is waited for (nor held: intake's admission is off, as nothing drains the queue).
// `BATCH_ITEMS=1000` sends `POST /v1/evidence/batch` bodies of that many items instead
// (autocannon, which can build them), and every figure is then per record (`items` in the line
// says which). `GATEWAY_NODE_ARGS='--max-semi-space-size=64'` gives the
// gateway node flags (in place of node-flags.ts's value for the same flag). One JSON line per run.
import fs from 'node:fs';
import { closedLoop } from './closed-loop.ts';
import { loadLine, watch } from './proc-stats.ts';
import { seedBench, startBenchDatabase, startGateway } from './stack.ts';
import { batchBody, DigestSource, evidencePost, waitRecorded } from './workload.ts';

const TICKS = 100;

/**
 * CPU ticks (user + system) of the threads of `pid` by kind: the main thread (its tid is the pid),
 * libuv's pool (`libuv-worker`), V8's helpers (`V8 DefaultWorke…`: parallel GC, compilers), the rest.
 */
function threadTicks(pid: number): Record<'main' | 'libuv' | 'v8' | 'rest', number> {
  const out = { main: 0, libuv: 0, v8: 0, rest: 0 };
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const t = Number(f[11]) + Number(f[12]);
      if (Number(tid) === pid) out.main += t;
      else if (name.startsWith('libuv')) out.libuv += t;
      else if (name.startsWith('V8')) out.v8 += t;
      else out.rest += t;
    } catch {
      // the thread ended
    }
  }
  return out;
}

const seconds = Number(process.argv[2] ?? 10);
const connections = Number(process.argv[3] ?? 256);
const runs = Number(process.argv[4] ?? 1);
const batchItems = Number(process.env.BATCH_ITEMS ?? 0);

for (let run = 0; run < runs; run++) {
  const db = await startBenchDatabase();
  const intakeOnly = process.env.INTAKE_ONLY === '1';
  const env: Record<string, string> = JSON.parse(process.env.GATEWAY_ENV ?? '{}');
  if (intakeOnly)
    Object.assign(env, {
      SEAL_INTERVAL_MS: '3600000',
      SEAL_MAX_ITEMS: '1000000',
      SEALER_STALL_MS: '86400000',
      // Nothing is sealed, so the queue only grows: intake's admission would hold the last
      // requests once MAX_SEAL_BACKLOG are queued and measure its wait instead of intake.
      MAX_SEAL_BACKLOG: '0',
    });
  const nodeArgs = (process.env.GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const gw = await startGateway({ databaseUrl: db.url, env, nodeArgs });
  try {
    const creds = await seedBench(gw, db.pool);
    const digests = new DigestSource();
    const single = evidencePost(creds, digests);
    const post =
      batchItems > 0
        ? {
            ...evidencePost(creds, digests, { template: false }),
            path: '/v1/evidence/batch',
            body: () => batchBody(creds.projectId, digests, batchItems),
          }
        : single;
    // Records per answered request: a batch's CPU is reported per record.
    const perOk = batchItems > 0 ? batchItems : 1;
    // Warm-up (JIT, pools, prepared statements), then everything it accepted is recorded first.
    await closedLoop(gw.url, post, { connections: batchItems > 0 ? 2 : 64, seconds: 2 });
    if (!intakeOnly) await waitRecorded(db.pool, 120_000);
    const load = loadLine();
    const t0 = threadTicks(gw.pid);
    const whole = watch([gw.pid], await db.postmasterPid());
    const during = watch([gw.pid], await db.postmasterPid());
    const r = await closedLoop(gw.url, post, { connections, seconds });
    const p = during.stop();
    const t1 = threadTicks(gw.pid);
    if (!intakeOnly && !(await waitRecorded(db.pool, 300_000))) throw new Error('not recorded in 5 minutes');
    const q = whole.stop();
    // The gateway's peak resident memory (heap-sizing flags trade memory for GC).
    const peak = fs.readFileSync(`/proc/${gw.pid}/status`, 'utf8').match(/VmHWM:\s+(\d+)/)?.[1];
    const us = (cores: number, s: number, n: number) => Math.round((cores * s * 1e6) / (n * perOk));
    console.log(
      JSON.stringify({
        root: process.cwd(),
        intakeOnly,
        items: perOk,
        nodeArgs: nodeArgs.join(' '),
        rps: Math.round(r.rps),
        endToEndPerSecond: Math.round((r.ok * perOk) / q.seconds),
        ok: r.ok,
        other: r.status,
        p99ms: r.latency.p99,
        gatewayUsPerPost: us(p.cpuCores, p.seconds, r.ok),
        // By thread, while the load ran: main (the event loop), libuv's pool, V8's helpers, rest.
        threadsUsPerPost: (['main', 'libuv', 'v8', 'rest'] as const)
          .map((k) => Math.round(((t1[k] - t0[k]) / TICKS / (r.ok * perOk)) * 1e6))
          .join('/'),
        pgUsPerPost: us(p.pgCpuCores, p.seconds, r.ok),
        gatewayUsPerRecordEndToEnd: us(q.cpuCores, q.seconds, r.ok),
        pgUsPerRecordEndToEnd: us(q.pgCpuCores, q.seconds, r.ok),
        loadGenUsPerPost: us(p.selfCpuCores, p.seconds, r.ok),
        peakRssMiB: Math.round(Number(peak) / 1024),
        load,
      }),
    );
  } finally {
    await gw.stop();
    await db.stop();
  }
}
