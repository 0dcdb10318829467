// Route fuzzing with many more cases than CI's 200 per route, on a fresh seed each run: the
// exploring half of tests/integration/fuzz-routes.test.ts (CI replays a fixed seed). Runs that
// suite in its own vitest process against a real PostgreSQL; a failure prints the seed and the
// counterexample, replayable with FUZZ_SEED=<seed> FUZZ_PATH=<path>.
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchContext, BenchResult } from './harness.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

interface VitestJson {
  numPassedTests: number;
  numFailedTests: number;
  testResults: { assertionResults: { title: string; status: string; failureMessages: string[] }[] }[];
}

export async function run(ctx: BenchContext): Promise<BenchResult[]> {
  const casesPerRoute = Number(process.env.FUZZ_RUNS ?? (ctx.quick ? 30 : 3000));
  const seed = Number(process.env.FUZZ_SEED ?? randomInt(1, 2 ** 31));
  const out = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'lz-fuzz-')), 'vitest.json');
  ctx.log(`${casesPerRoute} cases per route, seed ${seed}`);
  const started = performance.now();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    FUZZ_RUNS: String(casesPerRoute),
    FUZZ_SEED: String(seed),
  };
  delete env.CI;
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        path.join(root, 'node_modules', 'vitest', 'vitest.mjs'),
        'run',
        '--project',
        'integration',
        'tests/integration/fuzz-routes.test.ts',
        '--reporter=json',
        `--outputFile=${out}`,
      ],
      { cwd: root, env, stdio: ['ignore', 'ignore', 'inherit'] },
    );
    child.on('error', reject);
    child.on('exit', (c) => resolve(c ?? 1));
  });
  const seconds = (performance.now() - started) / 1000;
  const report = JSON.parse(await fs.readFile(out, 'utf8')) as VitestJson;
  await fs.rm(path.dirname(out), { recursive: true, force: true });
  const routes = report.testResults
    .flatMap((f) => f.assertionResults)
    .filter((t) => t.title !== 'has a fuzzer for every route the app serves');
  const failed = routes.filter((t) => t.status !== 'passed');
  for (const f of failed) ctx.log(`FAILED ${f.title}: ${f.failureMessages.join('\n').slice(0, 1500)}`);
  if (code !== 0 && failed.length === 0) throw new Error(`vitest exited ${code} without a failed route`);
  const cases = routes.length * casesPerRoute;
  return [
    {
      name: `route fuzzing, ${routes.length} routes × ${casesPerRoute.toLocaleString('en-US')} cases (seed ${seed}): routes with a failing case`,
      value: failed.length,
      unit: 'routes',
      target: '0',
      meetsTarget: failed.length === 0,
    },
    {
      name: 'route fuzzing throughput (inject, real PostgreSQL, invariants checked after every case)',
      value: cases / seconds,
      unit: 'cases/s',
    },
  ];
}
