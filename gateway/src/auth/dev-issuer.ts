import { createPrivateKey } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { type JWK, SignJWT } from 'jose';
import { DEV_ISSUER } from '../config.ts';
import { newEs256Jwk, publicJwkOf, writeSecretFile } from '../keys/key-ring.ts';
import type { Role } from './principal.ts';

/**
 * The local development identity provider: an ES256 key under DATA_DIR/keys whose tokens
 * `lianzheng token` prints. Used only when OIDC_ISSUER is unset; production verifies tokens from
 * the government identity provider's JWKS instead.
 */
const FILE = 'dev-issuer.json';

export interface DevIssuerKey {
  kid: string;
  jwk: JWK;
}

export async function loadDevIssuerKey(keysDir: string): Promise<DevIssuerKey> {
  const file = path.join(keysDir, FILE);
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as DevIssuerKey;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const key = await newEs256Jwk();
  // Two processes may race to create it (the CLI and the gateway): the first one wins.
  try {
    await fs.access(file);
  } catch {
    await writeSecretFile(file, JSON.stringify(key, null, 2));
  }
  return JSON.parse(await fs.readFile(file, 'utf8')) as DevIssuerKey;
}

export function devIssuerJwks(key: DevIssuerKey): { keys: JWK[] } {
  return { keys: [{ ...publicJwkOf(key.jwk), kid: key.kid, alg: 'ES256', use: 'sig' }] };
}

export interface DevTokenRequest {
  role: Exclude<Role, 'public'>;
  org?: string;
  region?: string;
  subject?: string;
  /** Lifetime in seconds (default 12 h). */
  ttl?: number;
  audience: string;
}

export async function issueDevToken(key: DevIssuerKey, req: DevTokenRequest): Promise<string> {
  const claims: Record<string, string> = { role: req.role };
  if (req.org) claims.org = req.org;
  if (req.region) claims.region = req.region;
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'JWT' })
    .setIssuer(DEV_ISSUER)
    .setAudience(req.audience)
    .setSubject(req.subject ?? `dev:${req.role}:${req.org ?? req.region ?? 'any'}`)
    .setIssuedAt(now)
    .setNotBefore(now - 5)
    .setExpirationTime(now + (req.ttl ?? 12 * 3600))
    .sign(createPrivateKey({ key: key.jwk as import('node:crypto').JsonWebKey, format: 'jwk' }));
}
