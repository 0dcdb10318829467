import type { Principal } from './principal.ts';

/**
 * Briefly remembered answers to "who is this credential?" (an API key's hash, a client
 * certificate's fingerprint), so the hot path skips the database. A revocation takes effect
 * within `ttlMs` (AUTH_CACHE_MS).
 *
 * Known credentials and unknown ones are kept apart. The known are a least-recently-used table of
 * `maxEntries`: a credential in use stays, and only the one unused longest makes room. The unknown
 * (a mistyped key, a revoked one, someone trying random keys) go to a small table of their own,
 * for less time (`unknownTtlMs`, so that one registered a moment ago works soon): a flood of
 * misses only ever pushes out other misses, never a partner's key.
 */
export class CredentialCache {
  private known = new Map<string, { principal: Principal; until: number }>();
  private unknown = new Map<string, number>();
  /**
   * Lookups running now, by key: concurrent requests with the same credential share one lookup
   * (one database query, one reservation against the address's failure budget). Without this,
   * a client sending 40 requests at once after a restart reserved 40 failures before the first
   * lookup answered, and the ones past AUTH_FAILURES_PER_MIN were refused with 429 though its
   * credential was good. An entry lives only while its lookup runs.
   */
  private running = new Map<string, Promise<Principal | undefined>>();

  constructor(
    private readonly ttlMs = 30_000,
    private readonly maxEntries = 10_000,
    private readonly unknownTtlMs = Math.min(2000, ttlMs),
    private readonly maxUnknown = 1000,
  ) {}

  /**
   * The principal of `key`, from memory or from `lookup` (called only on a miss, with `wasKnown`
   * true when the credential was valid when last looked up and only its entry expired).
   * `undefined`: the credential is not known (remembered as such for `unknownTtlMs`).
   */
  async resolve(
    key: string,
    lookup: (wasKnown: boolean) => Promise<Principal | undefined>,
  ): Promise<Principal | undefined> {
    const running = this.running.get(key);
    if (running) return running;
    const answer = this.resolveOnce(key, lookup);
    this.running.set(key, answer);
    try {
      return await answer;
    } finally {
      this.running.delete(key);
    }
  }

  private async resolveOnce(
    key: string,
    lookup: (wasKnown: boolean) => Promise<Principal | undefined>,
  ): Promise<Principal | undefined> {
    const now = Date.now();
    const hit = this.known.get(key);
    if (hit !== undefined && hit.until > now) {
      // Most recently used goes last; the first in the map is the one unused longest.
      this.known.delete(key);
      this.known.set(key, hit);
      return hit.principal;
    }
    if (hit !== undefined) {
      // Expired: kept in place until the lookup says whether the credential is still good.
      const principal = await lookup(true);
      if (principal) remember(this.known, this.maxEntries, key, { principal, until: now + this.ttlMs });
      else {
        this.known.delete(key);
        if (this.unknownTtlMs > 0) remember(this.unknown, this.maxUnknown, key, now + this.unknownTtlMs);
      }
      return principal;
    }
    const missUntil = this.unknown.get(key);
    if (missUntil !== undefined) {
      if (missUntil > now) return undefined;
      this.unknown.delete(key);
    }
    const principal = await lookup(false);
    if (principal) {
      this.unknown.delete(key);
      if (this.ttlMs > 0) remember(this.known, this.maxEntries, key, { principal, until: now + this.ttlMs });
    } else if (this.unknownTtlMs > 0) {
      remember(this.unknown, this.maxUnknown, key, now + this.unknownTtlMs);
    }
    return principal;
  }

  /** Entries held: known credentials and remembered misses. */
  get size(): { known: number; unknown: number } {
    return { known: this.known.size, unknown: this.unknown.size };
  }

  clear(): void {
    this.known.clear();
    this.unknown.clear();
  }
}

/** Sets `key` last in `map`, first dropping the entry that has been there longest if it is full. */
function remember<V>(map: Map<string, V>, max: number, key: string, value: V): void {
  map.delete(key);
  if (map.size >= max) {
    const oldest = map.keys().next();
    if (!oldest.done) map.delete(oldest.value);
  }
  map.set(key, value);
}
