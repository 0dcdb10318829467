import { describe, expect, it } from 'vitest';
import { AuthFailureBudget, addressKey } from './failure-budget.ts';

describe('AuthFailureBudget', () => {
  it('allows `max` failures per window and address, then says how long to wait', () => {
    let now = 1_000_000;
    const budget = new AuthFailureBudget({ max: 3, windowMs: 60_000, now: () => now });
    for (let i = 0; i < 3; i++) {
      expect(budget.exhausted('192.0.2.1')).toBe(0);
      budget.fail('192.0.2.1');
    }
    expect(budget.exhausted('192.0.2.1')).toBe(60);
    expect(budget.exhausted('192.0.2.2')).toBe(0);
    now += 45_500;
    expect(budget.exhausted('192.0.2.1')).toBe(15);
    now += 14_500;
    expect(budget.exhausted('192.0.2.1')).toBe(0);
    // A new window starts with the next failure.
    budget.fail('192.0.2.1');
    expect(budget.exhausted('192.0.2.1')).toBe(0);
  });

  it('forgives failures counted in advance for lookups that succeeded', () => {
    const budget = new AuthFailureBudget({ max: 2 });
    budget.fail('192.0.2.1');
    budget.fail('192.0.2.1');
    expect(budget.exhausted('192.0.2.1')).toBeGreaterThan(0);
    budget.forgive('192.0.2.1');
    expect(budget.exhausted('192.0.2.1')).toBe(0);
    budget.forgive('192.0.2.1', 5);
    budget.forgive('192.0.2.77');
    budget.fail('192.0.2.1');
    expect(budget.exhausted('192.0.2.1')).toBe(0);
  });

  it('counts an IPv6 host by its /64, and an IPv4 client on a dual-stack socket as IPv4', () => {
    const budget = new AuthFailureBudget({ max: 2 });
    budget.fail('2001:db8:1:2::1');
    budget.fail('2001:db8:1:2:ffff:0:0:9');
    expect(budget.exhausted('2001:db8:1:2::77')).toBeGreaterThan(0);
    expect(budget.exhausted('2001:db8:1:3::1')).toBe(0);
    budget.fail('::ffff:198.51.100.4');
    budget.fail('198.51.100.4');
    expect(budget.exhausted('198.51.100.4')).toBeGreaterThan(0);
  });

  it('stays bounded: the oldest address makes room', () => {
    let now = 0;
    const budget = new AuthFailureBudget({ max: 1, maxAddresses: 100, now: () => now });
    for (let i = 0; i < 1000; i++) {
      now++;
      budget.fail(`10.0.${i >> 8}.${i & 255}`);
    }
    expect(budget.size).toBe(100);
    expect(budget.exhausted('10.0.3.231')).toBeGreaterThan(0); // the last one
    expect(budget.exhausted('10.0.0.0')).toBe(0); // long gone
  });
});

describe('addressKey', () => {
  it.each([
    ['192.0.2.1', '192.0.2.1'],
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['2001:0db8:0000:0042:0000:8a2e:0370:7334', '2001:db8:0:42::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
  ])('%s → %s', (address, key) => {
    expect(addressKey(address)).toBe(key);
  });
});
