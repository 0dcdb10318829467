// Where one batcher step's memory goes: V8's sampling heap profiler (including objects that
// minor and major GCs already collected, so it counts allocation, not retention) over `rounds`
// steps of `items` records on the embedded ledger, summed by function (self) and printed.
//
//   node --import tsx tests/bench/load/alloc-probe.ts [items] [rounds]
import { Session } from 'node:inspector/promises';
import { EmbeddedLedger } from '../../../gateway/src/ledger/ledger-embedded.ts';
import { LogStore } from '../../../gateway/src/log/log-store.ts';
import { Batcher } from '../../../gateway/src/seal/batcher.ts';
import {
  demoProject,
  insertSubmissions,
  loadKeys,
  makeEntry,
  startTestDatabase,
} from '../../integration/pipeline-support.ts';

interface SamplingNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SamplingNode[];
}

const items = Number(process.argv[2] ?? 500);
const rounds = Number(process.argv[3] ?? 20);
const db = await startTestDatabase();
try {
  const keys = await loadKeys(db.dir);
  const ledger = new EmbeddedLedger(db.pool, { mspId: 'AllocProbeMSP' });
  await ledger.ready();
  const project = demoProject();
  await ledger.registerProject(project);
  const batcher = new Batcher(db.pool, new LogStore(db.pool), ledger, {
    intervalMs: 500,
    maxItems: items,
    origin: 'lianzheng.bench/log',
    signer: keys.checkpointSigner,
  });
  const session = new Session();
  session.connect();
  let total = 0;
  const bySite = new Map<string, number>();
  for (let r = 0; r < rounds; r++) {
    const entries = Array.from({ length: items }, () =>
      makeEntry({ projectId: project.id, kind: 'construction_log' }),
    );
    await insertSubmissions(db.pool, keys, entries);
    await session.post('HeapProfiler.startSampling', {
      samplingInterval: 16384,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
    const outcome = await batcher.step();
    const { profile } = (await session.post('HeapProfiler.stopSampling')) as {
      profile: { head: SamplingNode };
    };
    if (outcome.action !== 'recorded') throw new Error(outcome.action);
    const walk = (n: SamplingNode) => {
      const key = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`;
      bySite.set(key, (bySite.get(key) ?? 0) + n.selfSize);
      total += n.selfSize;
      for (const c of n.children) walk(c);
    };
    walk(profile.head);
  }
  console.log(
    `allocated per step of ${items} records: ${(total / rounds / 1048576).toFixed(1)} MiB (${(total / rounds / items / 1024).toFixed(1)} KiB per record)`,
  );
  for (const [k, v] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, 30)) {
    console.log(`${(v / rounds / 1048576).toFixed(2).padStart(7)} MiB  ${k}`);
  }
  await ledger.close();
} finally {
  await db.stop();
}
