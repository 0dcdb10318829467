import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type pg from 'pg';
import { CredentialCache } from './credential-cache.ts';
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

export interface ListedApiKey {
  id: string;
  org: string;
  role: ApiKeyRole;
  label: string | null;
  createdAt: Date;
  revokedAt: Date | null;
}

/** The keys on record (never their hashes), newest first; of one organisation if `org` is given. */
export async function listApiKeys(db: pg.Pool, org?: string): Promise<ListedApiKey[]> {
  const { rows } = await db.query<ListedApiKey>(
    `select id, org, role, label, created_at as "createdAt", revoked_at as "revokedAt"
       from api_keys where $1::text is null or org = $1 order by created_at desc, id`,
    [org ?? null],
  );
  return rows;
}

export async function revokeApiKey(db: pg.Pool, id: string): Promise<boolean> {
  const r = await db.query('update api_keys set revoked_at = now() where id = $1 and revoked_at is null', [
    id,
  ]);
  return (r.rowCount ?? 0) > 0;
}

/** Resolves API keys to principals, through a CredentialCache. */
export class ApiKeyVerifier {
  private readonly cache: CredentialCache;
  constructor(
    private readonly db: () => pg.Pool,
    ttlMs = 30_000,
  ) {
    this.cache = new CredentialCache(ttlMs);
  }

  /**
   * The key's principal, or undefined for an unknown or revoked key. `beforeLookup` runs only
   * when the database must be asked (not for a remembered key) and may throw to prevent that;
   * `wasKnown` says the key was valid when last looked up (its cache entry only expired).
   */
  async verify(key: string, beforeLookup?: (wasKnown: boolean) => void): Promise<Principal | undefined> {
    if (!KEY_SHAPE.test(key)) return undefined;
    const hash = hashApiKey(key);
    return this.cache.resolve(hash, async (wasKnown) => {
      beforeLookup?.(wasKnown);
      const r = await this.db().query<{ id: string; key_hash: string; org: string; role: ApiKeyRole }>(
        'select id, key_hash, org, role from api_keys where key_hash = $1 and revoked_at is null',
        [hash],
      );
      const row = r.rows[0];
      if (!row || !timingSafeEqual(Buffer.from(row.key_hash, 'hex'), Buffer.from(hash, 'hex')))
        return undefined;
      return { role: row.role, org: row.org, subject: `apikey:${row.id}` };
    });
  }

  forget(): void {
    this.cache.clear();
  }
}
