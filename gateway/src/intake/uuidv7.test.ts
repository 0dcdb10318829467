import { describe, expect, it } from 'vitest';
import { uuidv7, uuidv7Time } from './uuidv7.ts';

const SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('uuidv7', () => {
  it('has the v7 layout and carries its timestamp', () => {
    const now = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
    const { id, ms } = uuidv7(now + 10_000_000);
    expect(id).toMatch(SHAPE);
    expect(uuidv7Time(id)).toBe(ms);
  });

  it('is strictly increasing, also within one millisecond and when the clock goes back', () => {
    const t = Date.now() + 20_000_000;
    const ids: string[] = [];
    for (let i = 0; i < 10_000; i++) ids.push(uuidv7(t).id);
    ids.push(uuidv7(t - 5000).id);
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
