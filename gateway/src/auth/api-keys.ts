import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type pg from 'pg';
import type { Principal } from './principal.ts';

/**
 * Partner API keys: `lz_` + 32 random bytes (base64url), shown once when created. Only the
 * SHA-256 of the key is stored; a key is found by its hash and the hash compared in constant time.
 */
export const API_KEY_PREFIX = 'lz_';
const KEY_SHAPE = /^lz_[A-Za-z0-9_-]{43}$/;

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function looksLikeApiKey(value: string): boolean {
  return value.startsWith(API_KEY_PREFIX);
}

export type ApiKeyRole = 'partner' | 'unit' | 'admin';

export interface CreatedApiKey {
  id: string;
  key: string;
  org: string;
  role: ApiKeyRole;
}

export async function createApiKey(
  db: pg.Pool,
  input: { org: string; role?: ApiKeyRole; label?: string },
): Promise<CreatedApiKey> {
  const key = API_KEY_PREFIX + randomBytes(32).toString('base64url');
  const id = randomUUID();
  const role = input.role ?? 'partner';
  await db.query('insert into api_keys (id, key_hash, org, role, label) values ($1, $2, $3, $4, $5)', [
    id,
    hashApiKey(key),
    input.org,
    role,
    input.label ?? null,
  ]);
  return { id, key, org: input.org, role };
}

export async function revokeApiKey(db: pg.Pool, id: string): Promise<boolean> {
  const r = await db.query('update api_keys set revoked_at = now() where id = $1 and revoked_at is null', [
    id,
  ]);
  return (r.rowCount ?? 0) > 0;
}

interface CacheEntry {
  principal: Principal | undefined;
  until: number;
}

/** Resolves API keys to principals, caching answers briefly so the hot path skips the database. */
export class ApiKeyVerifier {
  private cache = new Map<string, CacheEntry>();
  constructor(
    private readonly db: () => pg.Pool,
    private readonly ttlMs = 30_000,
    private readonly maxEntries = 10_000,
  ) {}

  async verify(key: string): Promise<Principal | undefined> {
    if (!KEY_SHAPE.test(key)) return undefined;
    const hash = hashApiKey(key);
    const now = Date.now();
    const hit = this.cache.get(hash);
    if (hit && hit.until > now) return hit.principal;
    const r = await this.db().query<{ id: string; key_hash: string; org: string; role: ApiKeyRole }>(
      'select id, key_hash, org, role from api_keys where key_hash = $1 and revoked_at is null',
      [hash],
    );
    const row = r.rows[0];
    let principal: Principal | undefined;
    if (row && timingSafeEqual(Buffer.from(row.key_hash, 'hex'), Buffer.from(hash, 'hex'))) {
      principal = { role: row.role, org: row.org, subject: `apikey:${row.id}` };
    }
    if (this.cache.size >= this.maxEntries) this.cache.clear();
    // Unknown keys are remembered for less time, so a key created a moment ago works soon.
    this.cache.set(hash, { principal, until: now + (principal ? this.ttlMs : 2000) });
    return principal;
  }

  forget(): void {
    this.cache.clear();
  }
}
