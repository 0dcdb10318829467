import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CredentialCache } from './credential-cache.ts';
import type { Principal } from './principal.ts';

const partner = (n: number): Principal => ({ role: 'partner', org: `org-${n}`, subject: `apikey:${n}` });

afterEach(() => {
  vi.useRealTimers();
});

describe('CredentialCache', () => {
  it('asks the lookup once per known credential until its entry expires', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const cache = new CredentialCache(30_000);
    const lookup = vi.fn(async () => partner(1));
    for (let i = 0; i < 5; i++) expect(await cache.resolve('k', lookup)).toEqual(partner(1));
    expect(lookup).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(30_001);
    await cache.resolve('k', lookup);
    expect(lookup).toHaveBeenCalledTimes(2);
  });

  it('remembers an unknown credential briefly, apart from the known', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const cache = new CredentialCache(30_000, 10, 2000, 5);
    const miss = vi.fn(async () => undefined);
    expect(await cache.resolve('unknown', miss)).toBeUndefined();
    expect(await cache.resolve('unknown', miss)).toBeUndefined();
    expect(miss).toHaveBeenCalledTimes(1);
    expect(cache.size).toEqual({ known: 0, unknown: 1 });
    // Registered a moment later: found once the miss is forgotten.
    vi.advanceTimersByTime(2001);
    expect(await cache.resolve('unknown', async () => partner(2))).toEqual(partner(2));
    expect(cache.size).toEqual({ known: 1, unknown: 0 });
  });

  it('keeps every valid key under a flood of random ones: misses only push out misses', async () => {
    const cache = new CredentialCache(60_000, 1000, 2000, 100);
    const valid = Array.from({ length: 1000 }, (_, i) => `valid-${i}`);
    let lookups = 0;
    const lookup = (key: string) => async () => {
      lookups++;
      return key.startsWith('valid-') ? partner(Number(key.slice(6))) : undefined;
    };
    for (const k of valid) await cache.resolve(k, lookup(k));
    expect(lookups).toBe(1000);
    // 50,000 random keys, interleaved with the partners' own traffic.
    for (let i = 0; i < 50_000; i++) {
      const k = randomBytes(16).toString('hex');
      await cache.resolve(k, lookup(k));
      if (i % 100 === 0) await cache.resolve(valid[i % 1000]!, lookup(valid[i % 1000]!));
    }
    expect(lookups).toBe(1000 + 50_000);
    expect(cache.size).toEqual({ known: 1000, unknown: 100 });
    // No valid key was pushed out: none costs a lookup.
    for (const k of valid) expect(await cache.resolve(k, lookup(k))).toBeDefined();
    expect(lookups).toBe(1000 + 50_000);
  });

  it('drops the key unused longest when the known table is full', async () => {
    const cache = new CredentialCache(60_000, 3);
    const found = (n: number) => async () => partner(n);
    await cache.resolve('a', found(1));
    await cache.resolve('b', found(2));
    await cache.resolve('c', found(3));
    await cache.resolve('a', found(1)); // a is used again: b is now the oldest
    await cache.resolve('d', found(4));
    const lookup = vi.fn(async () => partner(0));
    await cache.resolve('a', lookup);
    await cache.resolve('c', lookup);
    await cache.resolve('d', lookup);
    expect(lookup).not.toHaveBeenCalled();
    await cache.resolve('b', lookup);
    expect(lookup).toHaveBeenCalledTimes(1);
  });

  it('tells the lookup when a credential was valid before and only its entry expired', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const cache = new CredentialCache(30_000);
    const seen: boolean[] = [];
    const lookup = (answer: Principal | undefined) => async (wasKnown: boolean) => {
      seen.push(wasKnown);
      return answer;
    };
    await cache.resolve('k', lookup(partner(1)));
    vi.advanceTimersByTime(30_001);
    await cache.resolve('k', lookup(partner(1)));
    vi.advanceTimersByTime(30_001);
    await cache.resolve('k', lookup(undefined)); // revoked meanwhile
    vi.advanceTimersByTime(2001);
    await cache.resolve('k', lookup(undefined));
    expect(seen).toEqual([false, true, true, false]);
  });

  it('with a TTL of 0 remembers nothing', async () => {
    const cache = new CredentialCache(0);
    const lookup = vi.fn(async () => partner(1));
    await cache.resolve('k', lookup);
    await cache.resolve('k', lookup);
    expect(lookup).toHaveBeenCalledTimes(2);
    expect(cache.size).toEqual({ known: 0, unknown: 0 });
  });
});
