// A profiling aid, not a benchmark: starts PostgreSQL and the gateway under `node --cpu-prof`,
// drives one scenario for a while, stops the gateway (which writes the profile) and prints where
// its CPU went, by self time and by inclusive time, counting only the samples taken while the
// load ran (start-up excluded).
//
//   node --import tsx tests/bench/load/profile-gateway.ts [post|batch|verify|verify-hot][@rate] [seconds] [connections]
//
//   node --import tsx tests/bench/load/profile-gateway.ts seal [seconds of batches to accept first]
//
// `PROFILE_VACUUM=1` runs VACUUM ANALYZE before the verify scenarios, which otherwise start
// right after their burst of submissions, before autovacuum has analysed the table.
//
// With `@rate` the load is open-loop at that many requests per second (load/open-loop.ts). `seal`
// profiles the pipeline alone, recording a backlog (profileSealing, at the end).
//
// Keeps the .cpuprofile under /tmp/lz-profile/ for Chrome DevTools or speedscope.
import fs from 'node:fs';
import path from 'node:path';
import { closedLoop, type LoadRequest } from './closed-loop.ts';
import { type CpuProfile, summariseCpuProfiles } from './cpu-profile.ts';
import { formatLatency } from './latencies.ts';
import { openLoop } from './open-loop.ts';
import { watch } from './proc-stats.ts';
import { type GatewayProcess, seedBench, startBenchDatabase, startGateway } from './stack.ts';
import { batchBody, DigestSource, evidencePost, waitRecorded } from './workload.ts';

/**
 * Stops the profiled gateway (which writes its profile) and prints where its CPU went between
 * `from` and `to` (wall-clock microseconds).
 */
async function stopAndSummarise(gateway: GatewayProcess, from: number, to: number): Promise<void> {
  await gateway.stop();
  const stopped = Date.now() * 1000;
  const file = fs.readdirSync(dir).find((f) => f.includes(`.${gateway.pid}.0.`)) ?? fs.readdirSync(dir)[0];
  if (!file) throw new Error('no profile written');
  const profile = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as CpuProfile;
  // Profile timestamps are monotonic microseconds; align them with the wall clock by the end.
  const endMono = profile.startTime + profile.timeDeltas.reduce((a, b) => a + b, 0);
  const offset = endMono - stopped;
  console.log(
    summariseCpuProfiles([profile], {
      fromMicros: from + offset,
      toMicros: to + offset,
      top: Number(process.env.TOP ?? 40),
    }),
  );
  console.log(`profile: ${path.join(dir, file)}`);
}

const [scenario = 'post', rateText] = (process.argv[2] ?? 'post').split('@');
const rate = rateText ? Number(rateText) : undefined;
const seconds = Number(process.argv[3] ?? 10);
const connections = Number(process.argv[4] ?? 64);
const dir = '/tmp/lz-profile';
fs.rmSync(dir, { recursive: true, force: true });
const db = await startBenchDatabase();
if (scenario === 'seal') await profileSealing();
const gw = await startGateway({
  databaseUrl: db.url,
  nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval=200'],
  env: JSON.parse(process.env.GATEWAY_ENV ?? '{}'),
});
try {
  const creds = await seedBench(gw, db.pool);
  const digests = new DigestSource();
  // No wrk template: this profile's load stays autocannon's, as it has been.
  const post = evidencePost(creds, digests, { template: false });
  let request: LoadRequest = post;
  if (scenario === 'batch')
    request = { ...post, path: '/v1/evidence/batch', body: () => batchBody(creds.projectId, digests, 1000) };
  if (scenario === 'verify' || scenario === 'verify-hot') {
    // Cold lookups need a digest each: accept about as many as the lookups will ask for.
    await closedLoop(gw.url, post, { connections: 64, seconds: scenario === 'verify' ? 2 * seconds : 3 });
    await waitRecorded(db.pool, 120_000);
    if (process.env.PROFILE_VACUUM) await db.pool.query('vacuum analyze');
    let i = 0;
    const n = digests.count;
    // Cold: a different digest each time; hot: one digest over and over.
    request = {
      method: 'GET',
      path: scenario === 'verify' ? () => `/v1/verify/${digests.at(i++ % n)}` : `/v1/verify/${digests.at(0)}`,
    };
  }
  await closedLoop(gw.url, request, { connections: 16, seconds: 2 });
  const from = Date.now() * 1000;
  const w = watch([gw.pid], await db.postmasterPid());
  const r =
    rate === undefined
      ? await closedLoop(gw.url, request, { connections, seconds })
      : await openLoop(gw.url, request, { rate, seconds, connections });
  const p = w.stop();
  const to = Date.now() * 1000;
  console.log(
    `${scenario}: ${Math.round(r.rps)}/s ${formatLatency(r.latency)} status ${JSON.stringify(r.status)}; gateway ${p.cpuCores.toFixed(2)} cores = ${((p.cpuCores * p.seconds * 1e6) / r.ok).toFixed(0)} µs/request; PG ${p.pgCpuCores.toFixed(2)}`,
  );
  await stopAndSummarise(gw, from, to);
} finally {
  await gw.stop();
  await db.stop();
}

/**
 * `seal`: the pipeline alone. A gateway that does not seal (interval and size out of reach)
 * accepts 1,000-item batches for `seconds`; then a normal one, profiled, starts on the same
 * database and keys and records the backlog. Prints records/s from its start (start-up included)
 * to the last record, its CPU and PostgreSQL's, and where its CPU went.
 */
async function profileSealing(): Promise<never> {
  const dataDir = fs.mkdtempSync('/tmp/lz-profile-data-');
  try {
    const intake = await startGateway({
      databaseUrl: db.url,
      dataDir,
      env: { SEAL_INTERVAL_MS: '3600000', SEAL_MAX_ITEMS: '1000000', SEALER_STALL_MS: '86400000' },
    });
    const creds = await seedBench(intake, db.pool);
    const digests = new DigestSource();
    const headers = { 'content-type': 'application/json', 'x-api-key': creds.apiKey };
    const batch: LoadRequest = {
      method: 'POST',
      path: '/v1/evidence/batch',
      headers,
      body: () => batchBody(creds.projectId, digests, 1000),
    };
    await closedLoop(intake.url, batch, { connections: 4, seconds });
    await intake.stop();
    const { rows } = await db.pool.query<{ n: number }>('select count(*)::int as n from seal_queue');
    const backlog = rows[0]!.n;
    const from = Date.now() * 1000;
    const sealer = await startGateway({
      databaseUrl: db.url,
      dataDir,
      // PROFILE_NODE_ARGS: more node flags for the sealer (e.g. a young generation to try).
      nodeArgs: [
        '--cpu-prof',
        `--cpu-prof-dir=${dir}`,
        '--cpu-prof-interval=200',
        ...(process.env.PROFILE_NODE_ARGS ?? '').split(' ').filter(Boolean),
      ],
      // PROFILE_SEALER_ENV: more settings for the sealer (e.g. '{"SEAL_MAX_ITEMS":"2500"}').
      env: { SEALER_STALL_MS: '86400000', ...JSON.parse(process.env.PROFILE_SEALER_ENV ?? '{}') },
    });
    // The profile is summarised from here: module loading and start-up are ~3 s of CPU that is
    // not the pipeline's, and the CPU per record counts from here too.
    const ready = Date.now() * 1000;
    const w = watch([sealer.pid], await db.postmasterPid());
    if (!(await waitRecorded(db.pool, 600_000)))
      throw new Error('the backlog was not recorded in 10 minutes');
    const p = w.stop();
    const to = Date.now() * 1000;
    const took = (to - from) / 1e6;
    // The sealer's peak resident memory (a larger young generation trades memory for GC).
    const peak = fs.readFileSync(`/proc/${sealer.pid}/status`, 'utf8').match(/VmHWM:\s+(\d+)/)?.[1];
    console.log(
      `seal: ${backlog} records in ${took.toFixed(1)} s from start = ${Math.round(backlog / took)}/s; sealer ${p.cpuCores.toFixed(2)} cores = ${((p.cpuCores * p.seconds * 1e6) / backlog).toFixed(0)} µs/record (from ready); PG ${p.pgCpuCores.toFixed(2)} cores = ${((p.pgCpuCores * p.seconds * 1e6) / backlog).toFixed(0)} µs/record; sealer peak RSS ${Math.round(Number(peak) / 1024)} MiB`,
    );
    await stopAndSummarise(sealer, ready, to);
    // PROFILE_OUTPUT=1: the sealer's own last output (e.g. what --trace-gc printed).
    if (process.env.PROFILE_OUTPUT) console.log(sealer.output());
  } finally {
    await db.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  process.exit(0);
}
