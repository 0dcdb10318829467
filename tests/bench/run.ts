// `npm run bench [-- --quick] [name ...]`: runs tests/bench/<name>.bench.ts (all of them when no
// name is given), prints one markdown table and writes it with the raw figures to bench/results/.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchContext, BenchResult, BenchRun } from './harness.ts';

// fabric-contract-api logs every decorator at info when a bench imports the contract (the
// gateway bench's stall probe, the chaincode bench); the entry points quiet it the same way.
process.env.CORE_CHAINCODE_LOGGING_LEVEL ??= 'WARNING';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');

interface FileResults {
  bench: string;
  results: BenchResult[];
  error?: string;
  seconds: number;
}

function format(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '';
  const abs = Math.abs(n);
  if (abs >= 1000) return Math.round(n).toLocaleString('en-US');
  if (abs >= 10) return n.toFixed(1);
  if (abs >= 0.01) return n.toFixed(3);
  return n.toPrecision(3);
}

function table(all: FileResults[]): string {
  const lines = [
    '| bench | measure | value | unit | baseline | baseline value | ratio | target | met |',
    '|---|---|---:|---|---|---:|---:|---|---|',
  ];
  for (const file of all) {
    if (file.error !== undefined)
      lines.push(`| ${file.bench} | **error** | | | | | | | ${file.error.replace(/\|/g, '/')} |`);
    for (const r of file.results) {
      const met = r.meetsTarget === undefined ? '' : r.meetsTarget ? 'yes' : '**no**';
      const base = r.baseline === undefined ? '' : `${r.baseline.name}`;
      const baseValue = r.baseline === undefined ? '' : `${format(r.baseline.value)} ${r.baseline.unit}`;
      lines.push(
        `| ${file.bench} | ${r.name} | ${format(r.value)} | ${r.unit} | ${base} | ${baseValue} | ${format(r.ratio)} | ${r.target ?? ''} | ${met} |`,
      );
    }
  }
  return lines.join('\n');
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const wanted = args.filter((a) => !a.startsWith('--')).map((a) => a.replace(/\.bench\.ts$/, ''));
  const available = readdirSync(here)
    .filter((f) => f.endsWith('.bench.ts'))
    .map((f) => f.replace(/\.bench\.ts$/, ''))
    .sort();
  const unknown = wanted.filter((w) => !available.includes(w));
  if (unknown.length > 0) {
    console.error(`unknown bench: ${unknown.join(', ')} (available: ${available.join(', ')})`);
    return 2;
  }
  // Long benches (growth, soak) export `optIn = true`: they run only when named.
  const chosen: string[] = [];
  for (const name of wanted.length > 0 ? wanted : available) {
    if (wanted.length === 0) {
      const mod = (await import(pathToFileURL(join(here, `${name}.bench.ts`)).href)) as { optIn?: boolean };
      if (mod.optIn === true) {
        console.error(`bench ${name}: opt-in, skipped (npm run bench -- ${name})`);
        continue;
      }
    }
    chosen.push(name);
  }
  const ctx: BenchContext = { quick, log: (m) => console.error(`  ${m}`) };
  const all: FileResults[] = [];
  for (const bench of chosen) {
    console.error(`bench ${bench}${quick ? ' (quick)' : ''}`);
    const started = performance.now();
    try {
      const mod = (await import(pathToFileURL(join(here, `${bench}.bench.ts`)).href)) as { run?: BenchRun };
      if (typeof mod.run !== 'function') throw new Error('exports no run(ctx)');
      all.push({ bench, results: await mod.run(ctx), seconds: (performance.now() - started) / 1000 });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      console.error(`  failed: ${message}`);
      all.push({ bench, results: [], error: message, seconds: (performance.now() - started) / 1000 });
    }
  }
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`;
  const when = new Date().toISOString();
  const markdown = `# Benchmarks ${when}${quick ? ' (quick)' : ''}\n\n${machine}\n\n${table(all)}\n`;
  console.log(markdown);
  const dir = join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const stamp = when.replace(/[:.]/g, '-');
  writeFileSync(
    join(dir, `${stamp}.json`),
    `${JSON.stringify({ when, quick, machine, benches: all }, null, 2)}\n`,
  );
  writeFileSync(join(dir, `${stamp}.md`), markdown);
  console.error(`wrote bench/results/${stamp}.{json,md}`);
  return all.some((f) => f.error !== undefined) ? 1 : 0;
}

process.exitCode = await main();
