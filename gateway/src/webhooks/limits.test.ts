import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, deliveryLimits } from './limits.ts';

describe('webhook delivery limits', () => {
  it('default to a 10 s attempt, a 64 KiB answer, 16 at once, paused after 10 failures', () => {
    expect(deliveryLimits({})).toEqual({
      timeoutMs: 10_000,
      maxAnswerBytes: 65_536,
      concurrency: 16,
      pauseAfter: 10,
    });
    expect(deliveryLimits({})).toEqual(DEFAULT_LIMITS);
  });

  it('are read from the environment, the config taking precedence', () => {
    const env = {
      WEBHOOK_TIMEOUT_MS: '2500',
      WEBHOOK_MAX_ANSWER_BYTES: '1024',
      WEBHOOK_CONCURRENCY: ' 4 ',
      WEBHOOK_PAUSE_AFTER: '0',
    };
    expect(deliveryLimits(env)).toEqual({
      timeoutMs: 2500,
      maxAnswerBytes: 1024,
      concurrency: 4,
      pauseAfter: 0,
    });
    expect(deliveryLimits(env, { timeoutMs: 3000 }).timeoutMs).toBe(3000);
  });

  it.each([
    ['WEBHOOK_TIMEOUT_MS', '10s'],
    ['WEBHOOK_TIMEOUT_MS', '50'],
    ['WEBHOOK_CONCURRENCY', '0'],
    ['WEBHOOK_MAX_ANSWER_BYTES', '-1'],
    ['WEBHOOK_PAUSE_AFTER', '1e3'],
  ])('stop the boot on %s=%s, naming it', (variable, value) => {
    expect(() => deliveryLimits({ [variable]: value })).toThrow(expect.objectContaining({ variable }));
  });
});
