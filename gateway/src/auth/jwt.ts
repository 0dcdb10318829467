import {
  createLocalJWKSet,
  createRemoteJWKSet,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';
import { setBounded } from '../bounded-map.ts';
import { AppError } from '../errors.ts';
import { type Principal, ROLES } from './principal.ts';

/** Asymmetric algorithms only: `none` and HMAC (HS256 with the public key as secret) never verify. */
export const ACCEPTED_ALGORITHMS = ['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'];

const REGION = /^[1-9]\d{5}$/;

/** Which claims name the caller (config `oidc.claims`): `role`, `region` and `org` unless told. */
export interface ClaimNames {
  role: string;
  region: string;
  org: string;
}

export const DEFAULT_CLAIMS: ClaimNames = Object.freeze({ role: 'role', region: 'region', org: 'org' });

/** The roles a token may carry: every role but the anonymous public's. */
const TOKEN_ROLES: readonly string[] = ROLES.filter((r) => r !== 'public');

/**
 * The role claim's value: a string, or a list (providers that give app roles as `roles: [...]`)
 * holding exactly one of the gateway's roles — other entries are the provider's own (e.g.
 * `offline_access`) and ignored; two of ours would be ambiguous, and are refused.
 */
function roleOf(value: unknown): unknown {
  if (!Array.isArray(value)) return value;
  const ours = value.filter((v) => typeof v === 'string' && TOKEN_ROLES.includes(v));
  return ours.length === 1 ? ours[0] : undefined;
}

export interface JwtVerifierOptions {
  issuer: string;
  audience: string;
  /** Claim names of an outside provider; DEFAULT_CLAIMS when not given. */
  claims?: ClaimNames;
  /** Seconds the issuer's clock and ours may disagree by on `exp`/`nbf` (config `oidc.clockToleranceS`); 0 when not given. */
  clockToleranceS?: number;
  /** A remote JWKS URL (the identity provider) or a local key set (the dev issuer). */
  jwks: URL | { keys: object[] };
  maxCacheEntries?: number;
}

/**
 * Claims → principal. A token whose claims do not make a coherent principal is refused. The role
 * is the role claim (`role`, or the name OIDC_ROLE_CLAIM gives), and only that (README,
 * "Configuration").
 */
export function principalFromClaims(payload: JWTPayload, names: ClaimNames = DEFAULT_CLAIMS): Principal {
  const role = roleOf(payload[names.role]);
  const orgClaim = payload[names.org];
  const org = typeof orgClaim === 'string' && orgClaim !== '' ? orgClaim : undefined;
  const regionClaim = payload[names.region];
  const region = typeof regionClaim === 'string' ? regionClaim : undefined;
  const subject = typeof payload.sub === 'string' ? payload.sub : undefined;
  switch (role) {
    case 'unit':
    case 'partner':
      if (!org)
        throw new AppError('UNAUTHENTICATED', `a ${role} token needs an org claim`, { reason: 'BAD_CLAIMS' });
      return { role, org, subject };
    case 'inspector':
      if (!region || !REGION.test(region)) {
        throw new AppError('UNAUTHENTICATED', 'an inspector token needs a 6-digit region claim', {
          reason: 'BAD_CLAIMS',
        });
      }
      return { role, region, org, subject };
    case 'admin':
      return { role, org, subject };
    default:
      throw new AppError('UNAUTHENTICATED', 'the token has no known role claim', { reason: 'BAD_CLAIMS' });
  }
}

interface Cached {
  principal: Principal;
  exp: number;
}

/**
 * Verifies bearer JWTs against the identity provider's JWKS. A verified token is cached until it
 * expires (bounded, least recently used out first), so a client reusing its token costs one map
 * lookup, not a signature check. Refused tokens are not cached: they cannot push out good ones.
 */
export class JwtVerifier {
  private readonly keys: JWTVerifyGetKey;
  private cache = new Map<string, Cached>();
  /** Checks running now, by token: concurrent requests with one token share one check (and one reservation against the failure budget; see CredentialCache). */
  private running = new Map<string, Promise<Principal>>();
  private readonly maxEntries: number;

  constructor(private readonly options: JwtVerifierOptions) {
    this.keys =
      options.jwks instanceof URL
        ? createRemoteJWKSet(options.jwks, { cooldownDuration: 30_000, cacheMaxAge: 600_000 })
        : createLocalJWKSet(options.jwks as Parameters<typeof createLocalJWKSet>[0]);
    this.maxEntries = options.maxCacheEntries ?? 10_000;
  }

  /**
   * The token's principal; an UNAUTHENTICATED AppError when it is not valid. `beforeCheck` runs
   * only when the signature must be checked (not for a remembered token); it may throw to prevent it.
   */
  async verify(token: string, beforeCheck?: () => void): Promise<Principal> {
    const now = Math.floor(Date.now() / 1000);
    const hit = this.cache.get(token);
    if (hit) {
      this.cache.delete(token);
      if (hit.exp > now) {
        this.cache.set(token, hit);
        return hit.principal;
      }
    }
    const running = this.running.get(token);
    if (running) return running;
    const check = this.check(token, beforeCheck);
    this.running.set(token, check);
    try {
      return await check;
    } finally {
      this.running.delete(token);
    }
  }

  private async check(token: string, beforeCheck?: () => void): Promise<Principal> {
    beforeCheck?.();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keys, {
        issuer: this.options.issuer,
        audience: this.options.audience,
        algorithms: ACCEPTED_ALGORITHMS,
        requiredClaims: ['exp'],
        clockTolerance: this.options.clockToleranceS ?? 0,
      }));
    } catch (err) {
      const raw = (err as { code?: string }).code;
      const code = raw ?? 'ERR_JWT_INVALID';
      // The identity provider being unreachable is our problem, not the caller's: a timeout, a
      // bad answer (ERR_JOSE_GENERIC), or — with no JOSE code at all — fetch's own failure
      // (connection refused, DNS), which jose passes on as it is. As a 401 it would also count
      // against the caller's failure budget (auth/failure-budget.ts).
      if (
        code === 'ERR_JWKS_TIMEOUT' ||
        code === 'ERR_JOSE_GENERIC' ||
        (raw === undefined && this.options.jwks instanceof URL)
      ) {
        throw new AppError(
          'SERVICE_UNAVAILABLE',
          'the identity provider cannot be reached',
          {},
          { cause: err },
        );
      }
      throw new AppError('UNAUTHENTICATED', 'the bearer token is not valid', { reason: code });
    }
    const principal = principalFromClaims(payload, this.options.claims);
    setBounded(this.cache, token, { principal, exp: payload.exp! }, this.maxEntries);
    return principal;
  }
}
