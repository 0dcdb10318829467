import { ConfigError } from '../config-error.ts';

/**
 * How far one receiver may hold the deliverer: an attempt's whole deadline (connection, headers
 * and body), how much of an answer is read, how many attempts run at once (one per receiver at
 * most), and after how many failed attempts in a row a webhook is paused.
 */
export interface DeliveryLimits {
  /** WEBHOOK_TIMEOUT_MS: one attempt, from DNS lookup to the answer's last byte. */
  timeoutMs: number;
  /** WEBHOOK_MAX_ANSWER_BYTES: more than this of an answer's body and the connection is dropped. */
  maxAnswerBytes: number;
  /** WEBHOOK_CONCURRENCY: attempts under way at once in one sealer, each to a different webhook. */
  concurrency: number;
  /** WEBHOOK_PAUSE_AFTER: failed attempts in a row that pause a webhook (0: never paused). */
  pauseAfter: number;
}

export const DEFAULT_LIMITS: DeliveryLimits = {
  timeoutMs: 10_000,
  maxAnswerBytes: 64 * 1024,
  concurrency: 16,
  pauseAfter: 10,
};

const BOUNDS: Record<keyof DeliveryLimits, [variable: string, min: number, max: number]> = {
  timeoutMs: ['WEBHOOK_TIMEOUT_MS', 100, 600_000],
  maxAnswerBytes: ['WEBHOOK_MAX_ANSWER_BYTES', 0, 16 * 1024 * 1024],
  concurrency: ['WEBHOOK_CONCURRENCY', 1, 1000],
  pauseAfter: ['WEBHOOK_PAUSE_AFTER', 0, 10_000],
};

/**
 * The limits from the environment (a bad value stops the boot, naming the variable), with
 * `given` — the same fields on the webhooks config, when it carries them — taking precedence.
 */
export function deliveryLimits(
  env: Record<string, string | undefined>,
  given: Partial<DeliveryLimits> = {},
): DeliveryLimits {
  const limits = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(BOUNDS) as (keyof DeliveryLimits)[]) {
    const [variable, min, max] = BOUNDS[key];
    const raw = env[variable]?.trim();
    if (given[key] !== undefined) limits[key] = given[key];
    else if (raw) {
      if (!/^\d+$/.test(raw)) throw new ConfigError(variable, `must be a non-negative integer, got "${raw}"`);
      limits[key] = Number(raw);
    }
    if (!Number.isSafeInteger(limits[key]) || limits[key] < min || limits[key] > max) {
      throw new ConfigError(variable, `must be between ${min} and ${max}, got ${limits[key]}`);
    }
  }
  return limits;
}
