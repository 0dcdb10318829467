// Witnesses (#24): one C2SP tlog-witness add-checkpoint round trip per checkpoint — HTTP on
// loopback, the log's signature and the consistency proof checked, the state written and fsynced,
// the cosignature made — over successive checkpoints of a growing log; beside it, in the same
// run, the Ed25519 cosignature alone (what the witness cannot avoid) and a bare fsynced write.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  appendLeavesWithSubtrees,
  cosignCheckpoint,
  deriveNotePublicKey,
  emptyFrontier,
  formatCheckpoint,
  frontierRoot,
  generateConsistencyProof,
  leafHash,
  MemorySubtreeStore,
  noteVerifierKey,
  signCheckpoint,
} from '@lianzheng/proof';
import { addCheckpoint } from '../../gateway/src/witness/client.ts';
import {
  newWitnessKeyPem,
  seedFromPem,
  startWitnessServer,
  Witness,
} from '../../gateway/src/witness/witness.ts';
import type { BenchContext, BenchResult } from './harness.ts';

const ORIGIN = 'bench.lianzheng.local/log';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

export async function run(ctx: BenchContext): Promise<BenchResult[]> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lz-bench-witness-'));
  const logSeed = new Uint8Array(32).fill(5);
  const witnessSeed = seedFromPem(newWitnessKeyPem());
  const witness = new Witness({
    name: 'bench.witness/w1',
    seed: witnessSeed,
    stateDir: dir,
    logs: [{ origin: ORIGIN, keys: [noteVerifierKey(ORIGIN, deriveNotePublicKey(logSeed))] }],
    logger: { info() {}, warn() {}, error() {} },
  });
  const server = await startWitnessServer(witness, { port: 0 });
  const checkpoints = ctx.quick ? 50 : 300;
  const leavesEach = 100;
  try {
    const store = new MemorySubtreeStore();
    let frontier = emptyFrontier();
    let old = 0;
    const times: number[] = [];
    let note = '';
    for (let i = 0; i < checkpoints; i++) {
      const leaves = Array.from({ length: leavesEach }, (_, j) =>
        leafHash(new TextEncoder().encode(`${i}/${j}`)),
      );
      const r = appendLeavesWithSubtrees(frontier, leaves);
      store.add(r.subtrees);
      frontier = r.frontier;
      const body = formatCheckpoint({
        origin: ORIGIN,
        size: frontier.size,
        rootHash: frontierRoot(frontier),
      });
      note = await signCheckpoint(body, { name: ORIGIN, privateKey: logSeed });
      const proof = old === 0 ? [] : await generateConsistencyProof(store, old, frontier.size);
      const started = performance.now();
      const answer = await addCheckpoint(server.url, { oldSize: old, proof, note }, { timeoutMs: 10_000 });
      times.push(performance.now() - started);
      if (answer.kind !== 'cosigned')
        throw new Error(`the witness did not cosign: ${JSON.stringify(answer)}`);
      old = frontier.size;
    }
    times.sort((a, b) => a - b);
    // The same machine's floor: a cosignature alone, and one fsynced small write.
    const cosignStart = performance.now();
    for (let i = 0; i < 200; i++)
      cosignCheckpoint(note, { name: 'bench.witness/w1', privateKey: witnessSeed }, i);
    const cosignMs = (performance.now() - cosignStart) / 200;
    const syncTimes: number[] = [];
    for (let i = 0; i < 50; i++) {
      const s = performance.now();
      const fh = await fs.open(path.join(dir, 'sync-probe'), 'w');
      await fh.writeFile(`${i}\n`);
      await fh.sync();
      await fh.close();
      syncTimes.push(performance.now() - s);
    }
    syncTimes.sort((a, b) => a - b);
    const fsyncMs = percentile(syncTimes, 0.5);
    ctx.log(`witness: ${checkpoints} checkpoints of ${leavesEach} leaves, up to size ${old}`);
    const baseline = { name: 'one fsynced write (median)', value: fsyncMs, unit: 'ms' };
    return [
      {
        name: 'add-checkpoint round trip, median',
        value: percentile(times, 0.5),
        unit: 'ms',
        baseline,
        ratio: percentile(times, 0.5) / fsyncMs,
        target: '≤ 50 ms (WITNESS_TIMEOUT_MS default 3000)',
        meetsTarget: percentile(times, 0.5) <= 50,
      },
      { name: 'add-checkpoint round trip, p95', value: percentile(times, 0.95), unit: 'ms' },
      { name: 'add-checkpoint round trip, max', value: times[times.length - 1]!, unit: 'ms' },
      { name: 'cosignature/v1 alone', value: cosignMs, unit: 'ms' },
    ];
  } finally {
    await server.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
}
