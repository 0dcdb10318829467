import { X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { DEV_ISSUER } from '../config.ts';
import { AppError, isAppError } from '../errors.ts';
import { ApiKeyVerifier, looksLikeApiKey } from './api-keys.ts';
import { ClientCertificateVerifier, peerCertificate } from './client-certificates.ts';
import { devIssuerJwks, loadDevIssuerKey } from './dev-issuer.ts';
import { AuthFailureBudget } from './failure-budget.ts';
import { ForwardedCertificates } from './forwarded-certificates.ts';
import { JwtVerifier } from './jwt.ts';
import { type Principal, PUBLIC, type Role } from './principal.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
    /** The request presented a credential (X-Api-Key, Authorization, a client certificate). */
    credentialed: boolean;
  }
  interface FastifyInstance {
    /** preHandler that lets only these roles through: 401 for the anonymous public, 403 otherwise. */
    requireRole(...roles: Role[]): preHandlerAsyncHookHandler;
    apiKeys: ApiKeyVerifier;
    authFailures: AuthFailureBudget;
  }
}

export interface AuthPluginOptions {
  /** Replace the JWT verifier (tests of the surrounding code). */
  jwtVerifier?: Pick<JwtVerifier, 'verify'>;
}

/** Two credentials name the same principal when they agree on role, organisation and region. */
function samePrincipal(a: Principal, b: Principal): boolean {
  return a.role === b.role && a.org === b.org && a.region === b.region;
}

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  if (!m)
    throw new AppError('UNAUTHENTICATED', 'Authorization must be "Bearer <token>"', { reason: 'BAD_SCHEME' });
  return m[1];
}

/**
 * The client CA that forwarded certificates are checked against: a CA named by
 * TLS_CLIENT_CA_FILE must be there (a boot error otherwise); the default, the local PKI's root,
 * may not exist yet (`lianzheng pki init`), and then every forwarded certificate is refused.
 */
async function loadClientCa(
  app: FastifyInstance,
  forwarded: { caFile: string; caExplicit: boolean },
): Promise<X509Certificate | undefined> {
  let pem: Buffer;
  try {
    pem = await fs.readFile(forwarded.caFile);
  } catch (err) {
    if (forwarded.caExplicit)
      throw new Error(`TLS_CLIENT_CA_FILE: cannot read ${forwarded.caFile}: ${(err as Error).message}`);
    app.log.warn(
      { caFile: forwarded.caFile },
      'TLS_CLIENT_CERT_HEADER is set but there is no client CA: forwarded client certificates are refused',
    );
    return undefined;
  }
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new Error(
      `TLS_CLIENT_CA_FILE: ${forwarded.caFile} is not a certificate: ${(err as Error).message}`,
    );
  }
}

async function authPlugin(app: FastifyInstance, opts: AuthPluginOptions): Promise<void> {
  const { config } = app;
  let jwt = opts.jwtVerifier;
  if (!jwt) {
    if (config.oidc.issuer && config.oidc.jwksUrl) {
      jwt = new JwtVerifier({
        issuer: config.oidc.issuer,
        audience: config.oidc.audience,
        jwks: new URL(config.oidc.jwksUrl),
        claims: config.oidc.claims,
        clockToleranceS: config.oidc.clockToleranceS,
      });
    } else {
      const key = await loadDevIssuerKey(config.keysDir);
      jwt = new JwtVerifier({ issuer: DEV_ISSUER, audience: config.oidc.audience, jwks: devIssuerJwks(key) });
      app.log.info({ issuer: DEV_ISSUER }, 'using the local development identity provider');
    }
  }
  const verifier = jwt;
  const apiKeys = new ApiKeyVerifier(() => app.db, config.authCacheMs);
  const clientCertificates = new ClientCertificateVerifier(() => app.db, config.authCacheMs);
  const forwarded = config.forwardedClientCert
    ? new ForwardedCertificates(
        config.forwardedClientCert.header,
        config.trustedProxies,
        await loadClientCa(app, config.forwardedClientCert),
        config.forwardedClientCert.caFile,
      )
    : undefined;
  const failures = new AuthFailureBudget({ max: config.authFailuresPerMin });
  app.decorate('apiKeys', apiKeys);
  app.decorate('authFailures', failures);
  app.decorateRequest('principal', null as unknown as Principal);
  app.decorateRequest('credentialed', false);

  /** An API key (`lz_…`) or a JWT, wherever it was sent. */
  async function fromCredential(credential: string, gate: (wasKnown?: boolean) => void): Promise<Principal> {
    if (!looksLikeApiKey(credential)) return verifier.verify(credential, gate);
    let principal: Principal | undefined;
    try {
      principal = await apiKeys.verify(credential, gate);
    } catch (err) {
      if (isAppError(err)) throw err;
      throw new AppError('SERVICE_UNAVAILABLE', 'cannot check the API key now', {}, { cause: err });
    }
    if (!principal)
      throw new AppError('UNAUTHENTICATED', 'unknown or revoked API key', { reason: 'BAD_API_KEY' });
    return principal;
  }

  /** The connection's client certificate, or the one a trusted proxy passed on; undefined: none. */
  async function fromCertificate(
    request: FastifyRequest,
    gate: (wasKnown?: boolean) => void,
  ): Promise<Principal | undefined> {
    let peer = peerCertificate(request.raw.socket);
    // Behind a proxy that terminates TLS, the certificate it verified, if it is a trusted one.
    if (peer.kind === 'none' && forwarded)
      peer = forwarded.read(request.headers, request.raw.socket.remoteAddress);
    if (peer.kind === 'none') return undefined;
    request.credentialed = true;
    if (peer.kind === 'refused') {
      throw new AppError('UNAUTHENTICATED', `the client certificate is not trusted: ${peer.reason}`, {
        reason: 'BAD_CLIENT_CERTIFICATE',
      });
    }
    let principal: Principal | undefined;
    try {
      principal = await clientCertificates.verify(peer.fingerprint, gate);
    } catch (err) {
      if (isAppError(err)) throw err;
      throw new AppError(
        'SERVICE_UNAVAILABLE',
        'cannot check the client certificate now',
        {},
        { cause: err },
      );
    }
    if (!principal) {
      throw new AppError('UNAUTHENTICATED', 'unknown, revoked or expired client certificate', {
        reason: 'BAD_CLIENT_CERTIFICATE',
      });
    }
    return principal;
  }

  /** Every credential the request presents, in precedence order, each verified. */
  async function presented(
    request: FastifyRequest,
    gate: (wasKnown?: boolean) => void,
  ): Promise<[string, Principal][]> {
    const found: [string, Principal][] = [];
    const headerKey = request.headers['x-api-key'];
    if (headerKey !== undefined || request.headers.authorization !== undefined) request.credentialed = true;
    const token = bearer(request);
    if (headerKey !== undefined) {
      if (typeof headerKey !== 'string')
        throw new AppError('UNAUTHENTICATED', 'send one X-Api-Key', { reason: 'BAD_API_KEY' });
      found.push(['X-Api-Key', await fromCredential(headerKey, gate)]);
    }
    if (token !== undefined) found.push(['Authorization', await fromCredential(token, gate)]);
    const certificate = await fromCertificate(request, gate);
    if (certificate) found.push(['client certificate', certificate]);
    return found;
  }

  app.addHook('onRequest', async (request, reply) => {
    request.principal = PUBLIC;
    const address = request.ip;
    const tooMany = (seconds: number) => {
      reply.header('retry-after', String(seconds));
      return new AppError(
        'RATE_LIMITED',
        `too many failed authentications from this address: try again in ${seconds} s`,
        { reason: 'AUTH_FAILURES', retryAfter: `${seconds} seconds` },
      );
    };
    // Runs before a credential is looked up or its signature checked: past the address's budget
    // of failures, nothing is — except a credential that was valid when last looked up (its
    // cache entry expired), so that a partner sharing an address with someone trying keys keeps
    // working. Each lookup counts as a failure until it succeeds, so that many concurrent
    // requests cannot all slip under the budget before the first one fails.
    let reserved = 0;
    const gate = (wasKnown = false) => {
      if (wasKnown) return;
      const wait = failures.exhausted(address);
      if (wait > 0) throw tooMany(wait);
      failures.fail(address);
      reserved++;
    };
    let found: [string, Principal][];
    try {
      found = await presented(request, gate);
      if (found.length > 1) {
        const [first, ...others] = found;
        const differs = others.find(([, p]) => !samePrincipal(p, first![1]));
        if (differs) {
          throw new AppError(
            'UNAUTHENTICATED',
            `the ${first![0]} and the ${differs[0]} name different principals: send one credential`,
            { reason: 'CONFLICTING_CREDENTIALS' },
          );
        }
      }
    } catch (err) {
      if (isAppError(err) && err.code === 'UNAUTHENTICATED') {
        // One failure per refused request. A refusal without a lookup (a malformed header, a key
        // remembered as unknown) is counted now, and past the budget answered as the lookups are.
        if (reserved === 0) gate();
        else failures.forgive(address, reserved - 1);
      } else if (reserved > 0) failures.forgive(address, reserved);
      throw err;
    }
    if (reserved > 0) failures.forgive(address, reserved);
    if (found.length > 0) request.principal = found[0]![1];
  });

  // Answers depend on who asks (restricted details, a partner's webhooks, the admin's metrics): a
  // shared cache must keep them apart by credential (Vary), and must never keep an answer given to
  // credentials (private, no-store) — whatever the route said about caching its public answer.
  const vary = ['Authorization', 'X-Api-Key', ...(forwarded ? [forwarded.header] : [])].join(', ');
  app.addHook('onSend', (request, reply, payload, done) => {
    const previous = reply.getHeader('vary');
    reply.header('vary', previous === undefined ? vary : `${String(previous)}, ${vary}`);
    if (request.credentialed) reply.header('cache-control', 'private, no-store');
    done(null, payload);
  });

  app.decorate('requireRole', (...roles: Role[]): preHandlerAsyncHookHandler => {
    const allowed = new Set<Role>(roles);
    return async function requireRole(request: FastifyRequest, _reply: FastifyReply) {
      const role = request.principal.role;
      if (allowed.has(role)) return;
      if (role === 'public')
        throw new AppError('UNAUTHENTICATED', 'this needs credentials', { reason: 'NO_CREDENTIALS' });
      throw new AppError('FORBIDDEN', `role ${role} may not do this`);
    };
  });
}

export default fp(authPlugin, { name: 'auth', dependencies: ['config', 'db', 'errors'], fastify: '5.x' });
