import { X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { DEV_ISSUER } from '../config.ts';
import { AppError } from '../errors.ts';
import { ApiKeyVerifier, looksLikeApiKey } from './api-keys.ts';
import { ClientCertificateVerifier, peerCertificate } from './client-certificates.ts';
import { devIssuerJwks, loadDevIssuerKey } from './dev-issuer.ts';
import { ForwardedCertificates } from './forwarded-certificates.ts';
import { JwtVerifier } from './jwt.ts';
import { type Principal, PUBLIC, type Role } from './principal.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
  interface FastifyInstance {
    /** preHandler that lets only these roles through: 401 for the anonymous public, 403 otherwise. */
    requireRole(...roles: Role[]): preHandlerAsyncHookHandler;
    apiKeys: ApiKeyVerifier;
  }
}

export interface AuthPluginOptions {
  /** Replace the JWT verifier (tests of the surrounding code). */
  jwtVerifier?: Pick<JwtVerifier, 'verify'>;
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
  app.decorate('apiKeys', apiKeys);
  app.decorateRequest('principal', null as unknown as Principal);

  app.addHook('onRequest', async (request) => {
    request.principal = PUBLIC;
    const headerKey = request.headers['x-api-key'];
    const token = bearer(request);
    const credential = typeof headerKey === 'string' ? headerKey : token;
    // A header credential speaks for the request; otherwise the connection's client certificate.
    if (credential === undefined) {
      let peer = peerCertificate(request.raw.socket);
      // Behind a proxy that terminates TLS, the certificate it verified, if it is a trusted one.
      if (peer.kind === 'none' && forwarded)
        peer = forwarded.read(request.headers, request.raw.socket.remoteAddress);
      if (peer.kind === 'none') return;
      if (peer.kind === 'refused') {
        throw new AppError('UNAUTHENTICATED', `the client certificate is not trusted: ${peer.reason}`, {
          reason: 'BAD_CLIENT_CERTIFICATE',
        });
      }
      let principal: Principal | undefined;
      try {
        principal = await clientCertificates.verify(peer.fingerprint);
      } catch (err) {
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
      request.principal = principal;
      return;
    }
    if (looksLikeApiKey(credential)) {
      let principal: Principal | undefined;
      try {
        principal = await apiKeys.verify(credential);
      } catch (err) {
        throw new AppError('SERVICE_UNAVAILABLE', 'cannot check the API key now', {}, { cause: err });
      }
      if (!principal)
        throw new AppError('UNAUTHENTICATED', 'unknown or revoked API key', { reason: 'BAD_API_KEY' });
      request.principal = principal;
      return;
    }
    request.principal = await verifier.verify(credential);
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
