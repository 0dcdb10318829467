// How long one batcher step keeps the event loop from other work: a full batch (SEAL_MAX_ITEMS,
// default 10,000) sealed, recorded on the embedded ledger and confirmed, in this process, with
// `perf_hooks.monitorEventLoopDelay` and a 1 ms timer watching. The timer's longest gap is the
// longest stretch an HTTP request arriving meanwhile would have waited.
//
//   node --import tsx tests/bench/load/stall-probe.ts [items] [rounds]
//
// Used by the gateway bench (`stallProbe`) and on its own for before/after comparisons.
import { monitorEventLoopDelay } from 'node:perf_hooks';
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

export interface StallRound {
  items: number;
  /** Wall time of the step (seal + RecordBatch + confirm). */
  stepMs: number;
  /** The longest gap between two 1 ms timer ticks during the step. */
  maxGapMs: number;
  /** monitorEventLoopDelay's view (10 ms resolution on this Node): max and p99 delay. */
  delayMaxMs: number;
  delayP99Ms: number;
}

export interface StallProbeOptions {
  /** The embedded ledger's slicing (see ledger-embedded.ts); Infinity = never yield, as before. */
  sliceMs?: number;
  writeChunk?: number;
}

export async function stallProbe(
  items = 10_000,
  rounds = 3,
  variants: Record<string, StallProbeOptions> = { sliced: {} },
): Promise<Record<string, StallRound[]>> {
  const db = await startTestDatabase();
  try {
    const keys = await loadKeys(db.dir);
    const ledgers = Object.fromEntries(
      Object.entries(variants).map(([name, o]) => [
        name,
        new EmbeddedLedger(db.pool, {
          mspId: 'StallProbeMSP',
          ...(o.sliceMs !== undefined ? { sliceMs: o.sliceMs } : {}),
          ...(o.writeChunk !== undefined ? { writeChunk: o.writeChunk } : {}),
        }),
      ]),
    );
    const ledger = Object.values(ledgers)[0]!;
    await ledger.ready();
    const project = demoProject();
    await ledger.registerProject(project);
    // One batcher per variant over the same log and ledger state: rounds alternate between them,
    // so a change in the machine's load hits each alike.
    const batchers = Object.fromEntries(
      Object.entries(ledgers).map(([name, l]) => [
        name,
        new Batcher(db.pool, new LogStore(db.pool), l, {
          intervalMs: 500,
          maxItems: items,
          origin: 'lianzheng.bench/log',
          signer: keys.checkpointSigner,
        }),
      ]),
    );
    const out: Record<string, StallRound[]> = Object.fromEntries(Object.keys(variants).map((n) => [n, []]));
    for (let r = 0; r < rounds; r++)
      for (const [name, batcher] of Object.entries(batchers)) {
        const entries = Array.from({ length: items }, () =>
          makeEntry({ projectId: project.id, kind: 'construction_log' }),
        );
        for (let i = 0; i < entries.length; i += 2000)
          await insertSubmissions(db.pool, keys, entries.slice(i, i + 2000));
        const h = monitorEventLoopDelay({ resolution: 1 });
        let last = performance.now();
        let maxGap = 0;
        const tick = setInterval(() => {
          const now = performance.now();
          maxGap = Math.max(maxGap, now - last);
          last = now;
        }, 1);
        h.enable();
        const started = performance.now();
        const outcome = await batcher.step();
        const stepMs = performance.now() - started;
        h.disable();
        clearInterval(tick);
        maxGap = Math.max(maxGap, performance.now() - last);
        if (outcome.action !== 'recorded') throw new Error(`probe batch not recorded: ${outcome.action}`);
        out[name]!.push({
          items: outcome.records ?? 0,
          stepMs,
          maxGapMs: maxGap,
          delayMaxMs: h.max / 1e6,
          delayP99Ms: h.percentile(99) / 1e6,
        });
      }
    for (const l of Object.values(ledgers)) await l.close();
    return out;
  } finally {
    await db.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const items = Number(process.argv[2] ?? 10_000);
  const rounds = Number(process.argv[3] ?? 3);
  const found = await stallProbe(items, rounds, {
    sliced: {},
    unsliced: { sliceMs: Infinity, writeChunk: 1e9 },
  });
  for (const [name, r] of Object.entries(found).flatMap(([n, rs]) => rs.map((x) => [n, x] as const))) {
    console.log(
      `${name}: ${r.items} records: step ${r.stepMs.toFixed(0)} ms, longest timer gap ${r.maxGapMs.toFixed(1)} ms, event-loop delay max ${r.delayMaxMs.toFixed(1)} ms / p99 ${r.delayP99Ms.toFixed(1)} ms`,
    );
  }
}
