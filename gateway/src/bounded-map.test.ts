import { describe, expect, it } from 'vitest';
import { setBounded } from './bounded-map.ts';

describe('setBounded', () => {
  it('keeps at most max entries, dropping the oldest one at a time', () => {
    const map = new Map<string, number>();
    for (const [i, k] of ['a', 'b', 'c'].entries()) setBounded(map, k, i, 2);
    expect([...map]).toEqual([
      ['b', 1],
      ['c', 2],
    ]);
    setBounded(map, 'd', 3, 3);
    expect([...map.keys()]).toEqual(['b', 'c', 'd']);
  });
});
