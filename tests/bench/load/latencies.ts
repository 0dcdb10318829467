// Exact latency percentiles: every latency kept (as float milliseconds) and sorted once at the
// end. A 60 s run at 20,000/s holds 1.2 million doubles (10 MB), which is fine for a benchmark and
// avoids both autocannon's whole-millisecond histogram and a histogram library.

export class Latencies {
  private values = new Float64Array(1 << 16);
  private n = 0;

  add(ms: number): void {
    if (this.n === this.values.length) {
      const next = new Float64Array(this.values.length * 2);
      next.set(this.values);
      this.values = next;
    }
    this.values[this.n++] = ms;
  }

  get count(): number {
    return this.n;
  }

  summary(): LatencySummary {
    const sorted = this.values.slice(0, this.n).sort();
    const at = (q: number) =>
      this.n === 0 ? Number.NaN : sorted[Math.min(this.n - 1, Math.floor(q * this.n))]!;
    let sum = 0;
    for (let i = 0; i < this.n; i++) sum += sorted[i]!;
    return {
      count: this.n,
      mean: this.n === 0 ? Number.NaN : sum / this.n,
      p50: at(0.5),
      p90: at(0.9),
      p99: at(0.99),
      p999: at(0.999),
      max: this.n === 0 ? Number.NaN : sorted[this.n - 1]!,
    };
  }
}

export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** "p50 0.812 / p99 3.40 / p99.9 7.95 ms" */
export function formatLatency(s: LatencySummary): string {
  const f = (v: number) => (v < 10 ? v.toFixed(3) : v < 100 ? v.toFixed(2) : v.toFixed(1));
  return `p50 ${f(s.p50)} / p99 ${f(s.p99)} / p99.9 ${f(s.p999)} ms`;
}
