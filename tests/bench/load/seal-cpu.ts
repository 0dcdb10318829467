// An A/B aid, not a benchmark: the sealer's CPU per record, in process, on the embedded ledger.
// Each round queues `items` submissions and records them with one Batcher.step(), printing this
// process's CPU, PostgreSQL's and the WAL per record.
//
//   node --import tsx tests/bench/load/seal-cpu.ts [root=.] [items=10000] [rounds=8] [warmUp=2]
//
// `SEAL_CPU_BATCHES=n` queues n batches a round and steps until all are recorded: a backlog
// drained, with its rate (records/s, wall clock) beside the CPU. `SEAL_CPU_PROFILE=1` adds a CPU
// profile of the measured rounds; `SEAL_CPU_SQL` runs a statement on the fresh database first.
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { type CpuProfile, summariseCpuProfiles } from './cpu-profile.ts';

const root = path.resolve(process.argv[2] ?? '.');
const items = Number(process.argv[3] ?? 10_000);
const rounds = Number(process.argv[4] ?? 8);
const warmUp = Number(process.argv[5] ?? 2);
const batches = Number(process.env.SEAL_CPU_BATCHES ?? 1);
process.env.CORE_CHAINCODE_LOGGING_LEVEL ??= 'WARNING';

const load = async <T>(file: string): Promise<T> =>
  (await import(pathToFileURL(path.join(root, file)).href)) as T;
const { EmbeddedLedger } = await load<typeof import('../../../gateway/src/ledger/ledger-embedded.ts')>(
  'gateway/src/ledger/ledger-embedded.ts',
);
const { LogStore } = await load<typeof import('../../../gateway/src/log/log-store.ts')>(
  'gateway/src/log/log-store.ts',
);
const { Batcher } = await load<typeof import('../../../gateway/src/seal/batcher.ts')>(
  'gateway/src/seal/batcher.ts',
);
const support = await load<typeof import('../../integration/pipeline-support.ts')>(
  'tests/integration/pipeline-support.ts',
);

const { watch } = await import('./proc-stats.ts');
const { embeddedPostmasterPid, walMeter } = await import('./pg-probe.ts');
// The main thread's GC pauses (V8's `gc` performance entries: scavenges, and Mark-Compacts with
// their incremental marking's finish), so each round shows how much GC fell inside the step and
// how much in the inserts between steps, which the CPU figure leaves out.
const gcPauses: { start: number; end: number; major: boolean }[] = [];
const gcObserver = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? 0;
    // NODE_PERFORMANCE_GC_MAJOR = 4 (Mark-Compact), MINOR = 1 (scavenge), INCREMENTAL = 8, WEAKCB = 16.
    gcPauses.push({ start: e.startTime, end: e.startTime + e.duration, major: kind === 4 });
  }
});
gcObserver.observe({ entryTypes: ['gc'] });
const gcIn = (from: number, to: number) => {
  let ms = 0;
  let majors = 0;
  for (const p of gcPauses) {
    if (p.start < from || p.start >= to) continue;
    ms += p.end - p.start;
    if (p.major) majors++;
  }
  return { ms, majors };
};
let lastStepEnd = performance.now();
const db = await support.startTestDatabase();
try {
  // The embedded PostgreSQL's postmaster (none on DATABASE_URL): its backends' CPU per record too.
  const postmaster = embeddedPostmasterPid(db.dir);
  // An experiment's statement on the fresh database (e.g. a storage setting), before anything runs.
  if (process.env.SEAL_CPU_SQL) await db.pool.query(process.env.SEAL_CPU_SQL);
  const keys = await support.loadKeys(db.dir);
  const ledger = new EmbeddedLedger(db.pool, { mspId: 'SealCpuMSP' });
  await ledger.ready();
  const project = support.demoProject();
  await ledger.registerProject(project);
  const batcher = new Batcher(db.pool, new LogStore(db.pool), ledger, {
    intervalMs: 500,
    maxItems: items,
    origin: 'lianzheng.bench/log',
    signer: keys.checkpointSigner,
  });
  const perRecord: number[] = [];
  const pgPerRecord: number[] = [];
  const walPerRecord: number[] = [];
  const ratePerRound: number[] = [];
  const session = process.env.SEAL_CPU_PROFILE ? new Session() : undefined;
  session?.connect();
  await session?.post('Profiler.enable');
  await session?.post('Profiler.setSamplingInterval', { interval: 200 });
  const profiles: CpuProfile[] = [];
  for (let r = 0; r < warmUp + rounds; r++) {
    // A third restricted (details as transient data), as in contract-cpu.ts.
    const entries = Array.from({ length: items * batches }, (_, i) =>
      support.makeEntry({
        projectId: project.id,
        kind: i % 2 === 0 ? 'construction_log' : 'notice',
        visibility: i % 3 === 0 ? 'restricted' : 'public',
        details: { title: `施工日志 第 ${r * items + i} 条` },
      }),
    );
    await support.insertSubmissions(db.pool, keys, entries);
    const profiling = session !== undefined && r >= warmUp;
    if (profiling) await session.post('Profiler.start');
    const walWritten = await walMeter(db.pool);
    const pgWatch = watch([], postmaster);
    const before = process.cpuUsage();
    const started = performance.now();
    for (let b = 0; b < batches; b++) {
      const outcome = await batcher.step();
      if (outcome.action !== 'recorded' || outcome.records !== items)
        throw new Error(JSON.stringify(outcome));
    }
    const cpu = process.cpuUsage(before);
    const pgWindow = pgWatch.stop();
    const records = items * batches;
    const pgUs = (pgWindow.pgCpuCores * pgWindow.seconds * 1e6) / records;
    const ended = performance.now();
    const ms = ended - started;
    const wal = (await walWritten.bytes()) / records;
    // Let the observer deliver this step's entries before they are counted.
    await new Promise((resolve) => setImmediate(resolve));
    const gcStep = gcIn(started, ended);
    const gcBefore = gcIn(lastStepEnd, started);
    lastStepEnd = ended;
    if (profiling) profiles.push(((await session.post('Profiler.stop')) as { profile: CpuProfile }).profile);
    const us = (cpu.user + cpu.system) / records;
    const rate = records / (ms / 1000);
    if (r >= warmUp) perRecord.push(us);
    if (r >= warmUp) pgPerRecord.push(pgUs);
    if (r >= warmUp) walPerRecord.push(wal);
    if (r >= warmUp) ratePerRound.push(rate);
    console.log(
      `round ${r}${r < warmUp ? ' (warm-up)' : ''}: ${us.toFixed(1)} µs CPU/record, PostgreSQL ${pgUs.toFixed(1)}, WAL ${wal.toFixed(0)} B/record, ${ms.toFixed(0)} ms wall (${rate.toFixed(0)} records/s); GC pauses ${gcStep.ms.toFixed(0)} ms in the step (${gcStep.majors} Mark-Compact), ${gcBefore.ms.toFixed(0)} ms (${gcBefore.majors}) in the inserts before it`,
    );
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(
    `${root}: median ${median(perRecord).toFixed(1)} µs CPU/record, PostgreSQL ${median(pgPerRecord).toFixed(1)}, WAL ${median(walPerRecord).toFixed(0)} B/record, ${median(ratePerRound).toFixed(0)} records/s, over ${rounds} rounds of ${batches} step(s) of ${items}`,
  );
  if (profiles.length > 0)
    console.log(summariseCpuProfiles(profiles, { top: Number(process.env.TOP ?? 40) }));
  await ledger.close();
} finally {
  await db.stop();
}
