import { describe, expect, it } from 'vitest';
import { GroupCommitter } from './group-commit.ts';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('GroupCommitter', () => {
  it('flushes concurrent callers together, one flush at a time, results in order', async () => {
    const flushes: number[][] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const gc = new GroupCommitter<number, number>({
      flush: async (rows) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        flushes.push(rows);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        return rows.map((r) => r * 10);
      },
    });
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => gc.submit([i])));
    expect(results).toEqual(Array.from({ length: 100 }, (_, i) => [i * 10]));
    expect(flushes.length).toBeLessThan(5);
    expect(flushes.flat()).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(maxInFlight).toBe(1);
  });

  it('keeps a caller’s rows together and respects maxRows between callers', async () => {
    const sizes: number[] = [];
    const gc = new GroupCommitter<number, number>({
      maxRows: 10,
      flush: async (rows) => {
        sizes.push(rows.length);
        return rows;
      },
    });
    const r = await Promise.all([
      gc.submit([1, 2, 3, 4, 5, 6]),
      gc.submit([7, 8, 9, 10, 11, 12]),
      gc.submit([13]),
    ]);
    expect(r).toEqual([[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12], [13]]);
    expect(sizes).toEqual([6, 7]);
  });

  it('rejects every caller of a failed flush and keeps working afterwards', async () => {
    let fail = true;
    const gc = new GroupCommitter<number, number>({
      flush: async (rows) => {
        if (fail) throw new Error('db down');
        return rows;
      },
    });
    const results = await Promise.allSettled([gc.submit([1]), gc.submit([2])]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    expect(await gc.submit([3])).toEqual([3]);
  });

  it('answers a caller with the timeout error when the database hangs', async () => {
    const gate = deferred();
    const gc = new GroupCommitter<number, number>({
      timeoutMs: 20,
      onTimeout: () => Object.assign(new Error('late'), { code: 'TIMEOUT' }),
      flush: async (rows) => {
        await gate.promise;
        return rows;
      },
    });
    await expect(gc.submit([1])).rejects.toMatchObject({ code: 'TIMEOUT' });
    gate.resolve();
    await gc.close();
    await expect(gc.submit([2])).rejects.toThrow();
  });
});
