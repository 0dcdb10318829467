// Shared types and timing helpers for `npm run bench`. Every figure is reported beside a baseline
// measured in the same run, so a slow machine or a noisy neighbour shows up in both.

export interface BenchContext {
  /** A short run (smaller inputs, fewer rounds): to check the benchmarks work, not to quote. */
  quick: boolean;
  log(message: string): void;
}

export interface Baseline {
  name: string;
  value: number;
  unit: string;
}

export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  baseline?: Baseline;
  /** value ÷ baseline.value */
  ratio?: number;
  /** The goal in words, e.g. "≥ 300,000 leaves/s". */
  target?: string;
  meetsTarget?: boolean;
}

/** A bench file's export. */
export type BenchRun = (ctx: BenchContext) => Promise<BenchResult[]>;

export interface RateOptions {
  /** Total measuring time in ms, spread over `rounds` (defaults: 2000, or 400 when quick). */
  durationMs?: number;
  rounds?: number;
}

type Step = () => number | Promise<number>;

/**
 * Measures a rate: `step` does a chunk of work and returns how many operations it did. Runs a
 * warm-up, then several timed rounds, and returns the median rate in operations per second.
 */
export async function measureRate(ctx: BenchContext, step: Step, options: RateOptions = {}): Promise<number> {
  return (await measureRates(ctx, { step }, options)).step!;
}

/**
 * Measures several rates with their rounds interleaved (a, b, a, b, …), so that a load change on a
 * shared machine hits the candidate and its baseline alike and their ratio stays meaningful.
 * Returns the median rate of each, in operations per second.
 */
export async function measureRates<K extends string>(
  ctx: BenchContext,
  steps: Record<K, Step>,
  options: RateOptions = {},
): Promise<Record<K, number>> {
  const names = Object.keys(steps) as K[];
  const duration = options.durationMs ?? (ctx.quick ? 400 : 2000);
  const rounds = options.rounds ?? (ctx.quick ? 3 : 7);
  const slice = duration / rounds;
  for (const name of names) {
    const warmUpEnd = performance.now() + slice / 2;
    while (performance.now() < warmUpEnd) await steps[name]();
  }
  const rates = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<K, number[]>;
  for (let r = 0; r < rounds; r++) {
    for (const name of names) {
      const start = performance.now();
      const end = start + slice;
      let ops = 0;
      do {
        ops += await steps[name]();
      } while (performance.now() < end);
      rates[name].push((ops * 1000) / (performance.now() - start));
    }
  }
  return Object.fromEntries(names.map((n) => [n, median(rates[n])])) as Record<K, number>;
}

/** Times one call of `fn` (after one untimed call) and returns milliseconds: for long single runs. */
export async function timeOnce(fn: () => unknown | Promise<unknown>): Promise<number> {
  await fn();
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Builds a result with its ratio to the baseline filled in. */
export function compare(result: Omit<BenchResult, 'ratio' | 'baseline'>, baseline: Baseline): BenchResult {
  return { ...result, baseline, ratio: baseline.value === 0 ? undefined : result.value / baseline.value };
}
