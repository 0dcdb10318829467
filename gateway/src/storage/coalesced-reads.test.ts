import { describe, expect, it } from 'vitest';
import { coalescedReads } from './coalesced-reads.ts';

/** A read whose queries the test answers by hand, recording the keys of each. */
function heldReads() {
  const queries: { keys: string[]; answer(values?: (string | Error)[]): void; fail(e: Error): void }[] = [];
  const read = (keys: readonly string[]) =>
    new Promise<(string | Error)[]>((resolve, reject) => {
      queries.push({
        keys: [...keys],
        answer: (values) => resolve(values ?? keys.map((k) => k.toUpperCase())),
        fail: reject,
      });
    });
  return { queries, read };
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('coalescedReads', () => {
  it('sends the keys of one round together, and those that arrive while it runs in the next query', async () => {
    const { queries, read } = heldReads();
    const loader = coalescedReads(read, { maxInFlight: 1 });
    const first = [loader.load('a'), loader.load('b')];
    await turn();
    expect(queries.map((q) => q.keys)).toEqual([['a', 'b']]);
    // Arriving while the first query runs: not added to it, gathered for the next.
    const later = ['c', 'd', 'e'].map((k) => loader.load(k));
    await turn();
    expect(queries).toHaveLength(1);
    queries[0]!.answer();
    expect(await Promise.all(first)).toEqual(['A', 'B']);
    await turn();
    expect(queries.map((q) => q.keys)).toEqual([
      ['a', 'b'],
      ['c', 'd', 'e'],
    ]);
    queries[1]!.answer();
    expect(await Promise.all(later)).toEqual(['C', 'D', 'E']);
  });

  it('runs up to maxInFlight queries at once and splits at maxBatchSize', async () => {
    const { queries, read } = heldReads();
    const loader = coalescedReads(read, { maxInFlight: 2, maxBatchSize: 3 });
    const all = Array.from({ length: 8 }, (_, i) => loader.load(`k${i}`));
    await turn();
    await turn();
    expect(queries.map((q) => q.keys)).toEqual([
      ['k0', 'k1', 'k2'],
      ['k3', 'k4', 'k5'],
    ]);
    queries[1]!.answer();
    await turn();
    expect(queries.map((q) => q.keys.length)).toEqual([3, 3, 2]);
    queries[0]!.answer();
    queries[2]!.answer();
    expect(await Promise.all(all)).toEqual(['K0', 'K1', 'K2', 'K3', 'K4', 'K5', 'K6', 'K7']);
  });

  it('a failed query fails its own keys only and frees its slot', async () => {
    const { queries, read } = heldReads();
    const loader = coalescedReads(read, { maxInFlight: 1 });
    const doomed = loader.load('x');
    await turn();
    const next = loader.load('y');
    queries[0]!.fail(new Error('connection lost'));
    await expect(doomed).rejects.toThrow('connection lost');
    await turn();
    expect(queries.map((q) => q.keys)).toEqual([['x'], ['y']]);
    queries[1]!.answer();
    expect(await next).toBe('Y');
  });

  it('an Error in the answer rejects that key alone', async () => {
    const { queries, read } = heldReads();
    const loader = coalescedReads(read);
    const both = [loader.load('ok'), loader.load('gone')];
    await turn();
    queries[0]!.answer(['fine', new Error('no such key')]);
    const [ok, gone] = await Promise.allSettled(both);
    expect(ok).toEqual({ status: 'fulfilled', value: 'fine' });
    expect(gone).toMatchObject({ status: 'rejected', reason: { message: 'no such key' } });
  });

  it('refuses a slot count below one', () => {
    expect(() => coalescedReads(async (keys) => keys, { maxInFlight: 0 })).toThrow(RangeError);
  });
});
