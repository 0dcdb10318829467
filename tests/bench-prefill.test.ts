// The sustained bench's prefill arithmetic (tests/bench/load/prefill.ts): the growth figure it
// reports is only as good as how it times a segment of a checkpoint that moves in steps, and the
// disk check must refuse before a 10-million run fills the disk.
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { checkDiskFor, GATEWAY_BYTES_PER_RECORD, GrowthTrace } from './bench/load/prefill.ts';

/** A trace fed fixed (time ms, size) samples. */
async function traceOf(samples: [number, number][]): Promise<GrowthTrace> {
  let i = -1;
  const trace = new GrowthTrace(
    async () => samples[++i]![1],
    () => samples[i]![0],
  );
  for (let k = 0; k < samples.length; k++) await trace.sample();
  return trace;
}

describe('GrowthTrace', () => {
  it('places a size between the two samples around it', async () => {
    const trace = await traceOf([
      [0, 0],
      [1000, 0],
      [1100, 10_000],
      [2000, 10_000],
      [2100, 20_000],
    ]);
    // 5,000 is half-way through the step sampled between 1,000 and 1,100 ms.
    expect(trace.timeOf(5000)).toBeCloseTo(1050, 6);
    expect(trace.timeOf(10_000)).toBe(1100);
    expect(trace.timeOf(20_000)).toBe(2100);
    expect(trace.size).toBe(20_000);
    expect(() => trace.timeOf(20_001)).toThrow(/never reached 20001/);
  });

  it('times a segment from its first record covered to its last, not from the trace start', async () => {
    // Nothing for 10 s (start-up), then 1,000 records a second.
    const samples: [number, number][] = [[0, 0]];
    for (let s = 10; s <= 20; s++) samples.push([s * 1000, (s - 10) * 1000]);
    const trace = await traceOf(samples);
    // (0, 5000]: the 4,999 records after the first, from ~10.001 s to 15 s.
    expect(trace.rate(0, 5000)).toBeCloseTo(1000, 6);
    expect(trace.rate(5000, 10_000)).toBeCloseTo(1000, 6);
  });

  it('skips a sample that did not parse (a checkpoint read mid-write)', async () => {
    const trace = await traceOf([
      [0, 0],
      [100, Number.NaN],
      [200, 1000],
    ]);
    expect(trace.size).toBe(1000);
    expect(trace.timeOf(500)).toBeCloseTo(100, 6);
  });
});

describe('checkDiskFor', () => {
  it('answers the free bytes when the records fit', () => {
    expect(checkDiskFor(0, os.tmpdir())).toBeGreaterThan(0);
  });

  it('refuses, naming the sizes, when they do not', () => {
    const records = 1e12 / GATEWAY_BYTES_PER_RECORD; // ~1 PB: no test machine has it
    expect(() => checkDiskFor(records * 1000, os.tmpdir())).toThrow(
      /need about .* GB .* free; lower SUSTAINED_PREFILL/,
    );
  });
});
