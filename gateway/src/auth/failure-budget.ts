/**
 * How many failed authentications an address may cause per minute (AUTH_FAILURES_PER_MIN).
 * A request whose credential is refused (an unknown or revoked API key, a bad token, an unknown
 * client certificate, a malformed Authorization header) counts against its address; past the
 * budget, every credential the address presents is answered 429 before it is looked up — no
 * database query, no signature check — until the address's window ends.
 *
 * Counted per address as the rate limits count (`request.ip`, X-Forwarded-For from
 * TRUSTED_PROXIES only), except that an IPv6 address counts for its /64: one host commonly holds a
 * whole /64 and could otherwise start a fresh budget with each address. The table is bounded; when
 * it is full the address whose window started first is dropped.
 */
export interface FailureBudgetOptions {
  /** Failures allowed per window and address. */
  max: number;
  windowMs?: number;
  /** Addresses remembered at most. */
  maxAddresses?: number;
  now?: () => number;
}

interface Window {
  failures: number;
  start: number;
}

export class AuthFailureBudget {
  private readonly windows = new Map<string, Window>();
  private readonly max: number;
  private readonly windowMs: number;
  private readonly maxAddresses: number;
  private readonly now: () => number;

  constructor(options: FailureBudgetOptions) {
    this.max = options.max;
    this.windowMs = options.windowMs ?? 60_000;
    this.maxAddresses = options.maxAddresses ?? 20_000;
    this.now = options.now ?? Date.now;
  }

  /** Seconds until `address` may present credentials again; 0 while it is within its budget. */
  exhausted(address: string): number {
    const w = this.windows.get(addressKey(address));
    if (!w) return 0;
    const left = w.start + this.windowMs - this.now();
    if (left <= 0 || w.failures < this.max) return 0;
    return Math.ceil(left / 1000);
  }

  /** Counts one failed authentication of `address`. */
  fail(address: string): void {
    const key = addressKey(address);
    const now = this.now();
    const w = this.windows.get(key);
    if (w && w.start + this.windowMs > now) {
      w.failures++;
      return;
    }
    if (w) this.windows.delete(key);
    else if (this.windows.size >= this.maxAddresses) this.evict(now);
    this.windows.set(key, { failures: 1, start: now });
  }

  /**
   * Takes back `n` failures of `address` counted in advance: a lookup counts as a failure while
   * it runs (so that concurrent lookups cannot overrun the budget), and is forgiven if it succeeds.
   */
  forgive(address: string, n = 1): void {
    const w = this.windows.get(addressKey(address));
    if (w) w.failures = Math.max(0, w.failures - n);
  }

  /** Addresses currently remembered (tests, metrics). */
  get size(): number {
    return this.windows.size;
  }

  private evict(now: number): void {
    // Insertion order is window-start order (a renewed window is re-inserted): the expired and
    // the oldest come first.
    for (const [key, w] of this.windows) {
      if (this.windows.size < this.maxAddresses && w.start + this.windowMs > now) return;
      this.windows.delete(key);
    }
  }
}

/** The key an address is counted under: IPv4 as is, IPv6 by its /64 prefix. */
export function addressKey(address: string): string {
  if (!address.includes(':')) return address;
  const lower = address.toLowerCase();
  // ::ffff:192.0.2.1 is an IPv4 client on a dual-stack socket.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (mapped) return mapped[1]!;
  const zoneless = lower.split('%')[0]!;
  const [head = '', tail] = zoneless.split('::');
  const front = head === '' ? [] : head.split(':');
  const back = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups =
    tail === undefined
      ? front
      : [...front, ...Array(Math.max(0, 8 - front.length - back.length)).fill('0'), ...back];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
