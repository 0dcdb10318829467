import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { SubtreeRef } from '@lianzheng/proof';

const root = path.resolve(process.argv[2] ?? '.');
const leaves = Number(process.argv[3] ?? 200_000);
const load = async <T>(file: string): Promise<T> =>
  (await import(pathToFileURL(path.join(root, file)).href)) as T;
const support = await load<typeof import('../../integration/pipeline-support.ts')>(
  'tests/integration/pipeline-support.ts',
);
const store = await load<typeof import('../../../gateway/src/log/subtree-store.ts')>(
  'gateway/src/log/subtree-store.ts',
);
const proof = await load<typeof import('../../../proof/src/index.ts')>('proof/src/index.ts');
const { watch } = await import('./proc-stats.ts');
const { embeddedPostmasterPid } = await import('./pg-probe.ts');

const db = await support.startTestDatabase();
try {
  const postmaster = embeddedPostmasterPid(db.dir);
  if (postmaster === undefined)
    throw new Error("proof-read-pg needs the embedded PostgreSQL (its backends' CPU)");
  let frontier = proof.emptyFrontier();
  for (let at = 0; at < leaves; at += 10_000) {
    const hashes = Array.from({ length: Math.min(10_000, leaves - at) }, (_, i) =>
      proof.leafHash(Buffer.from(String(at + i))),
    );
    const step = proof.appendLeavesWithSubtrees(frontier, hashes);
    await store.writeSubtrees(db.pool, step.subtrees);
    frontier = step.frontier;
  }
  await db.pool.query('vacuum analyze');
  // The refs proof/ asks for, per random leaf (nothing cached: what a cold lookup reads).
  const paths: SubtreeRef[][] = [];
  for (let i = 0; i < 4000; i++) {
    let refs: SubtreeRef[] = [];
    await proof.generateInclusionProof(
      {
        getSubtrees: async (r) => {
          refs = r;
          return r.map(() => new Uint8Array(32));
        },
      },
      Math.floor(Math.random() * leaves),
      leaves,
    );
    paths.push(refs);
  }
  for (let round = 0; round < 3; round++) {
    const w = watch([], postmaster);
    const before = process.cpuUsage();
    for (let i = 0; i < paths.length; i += 8) {
      const refs = paths.slice(i, i + 8).flat();
      const found = await store.readSubtreeMap(db.pool, refs);
      if (found.size !== new Set(refs.map((r) => `${r.level}:${r.index}`)).size)
        throw new Error('a subtree is missing');
    }
    const cpu = process.cpuUsage(before);
    const p = w.stop();
    console.log(
      `${root}: PostgreSQL ${((p.pgCpuCores * p.seconds * 1e6) / paths.length).toFixed(1)} µs CPU per proof, client ${((cpu.user + cpu.system) / paths.length).toFixed(1)} µs, ${((p.seconds * 1e3) / paths.length).toFixed(3)} ms wall`,
    );
  }
} finally {
  await db.stop();
}
