import type { Principal } from './principal.ts';

/**
 * Briefly remembered answers to "who is this credential?" (an API key's hash, a client
 * certificate's fingerprint), so the hot path skips the database. A revocation takes effect
 * within `ttlMs` (AUTH_CACHE_MS); an unknown credential is remembered for less time, so one
 * registered a moment ago works soon.
 */
export class CredentialCache {
  private entries = new Map<string, { principal: Principal | undefined; until: number }>();

  constructor(
    private readonly ttlMs = 30_000,
    private readonly maxEntries = 10_000,
    private readonly unknownTtlMs = Math.min(2000, ttlMs),
  ) {}

  async resolve(key: string, lookup: () => Promise<Principal | undefined>): Promise<Principal | undefined> {
    const now = Date.now();
    const hit = this.entries.get(key);
    if (hit && hit.until > now) return hit.principal;
    const principal = await lookup();
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    this.entries.set(key, { principal, until: now + (principal ? this.ttlMs : this.unknownTtlMs) });
    return principal;
  }

  clear(): void {
    this.entries.clear();
  }
}
