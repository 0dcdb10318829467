// An identity provider that is not ours, for the inspector's workspace's tests (issue #22):
// `oidc-provider` (panva's OpenID Certified provider) on loopback, configured the way a province's
// provider would be for the gateway — a public client for the workspace (authorisation code, PKCE
// S256 required, the gateway's /inspect/callback as its only redirect address), JWT access tokens
// for the gateway as a resource server (audience OIDC_AUDIENCE), and the gateway's claims added by
// the provider's own hook from its account store. Its login and consent pages are the provider's
// development interactions (any password is taken: they stand in for a real login form).
//
// Two servers must know each other's address before either is configured (the provider the
// redirect address, the gateway the issuer), so the HTTP server listens first and the provider
// is attached to it afterwards (`attach`).

import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { errors } from 'oidc-provider';

export interface OutsideAccount {
  /** Claims the provider adds to its access tokens for this account, under the names it is told. */
  claims: Record<string, unknown>;
}

export interface OutsideIdpOptions {
  /** The workspace's redirect address (`<gateway>/inspect/callback`). */
  redirectUri: string;
  /** Where the provider sends the browser after signing out (`<gateway>/inspect`). */
  postLogoutRedirectUri: string;
  clientId: string;
  /** The resource indicator the gateway is known by, and the `aud` of its tokens. */
  resource: string;
  audience: string;
  accounts: Record<string, OutsideAccount>;
  /** Claims of the client-credentials tokens of the setup client (an admin, to build fixtures). */
  setupClaims: Record<string, unknown>;
}

export interface OutsideIdp {
  issuer: string;
  /** What the gateway is configured with (OIDC_*). */
  endpoints: { jwks: string; authorization: string; token: string; endSession: string };
  /** Whether the token endpoint allows the gateway's origin (CORS); true unless set. */
  allowCors: boolean;
  /** Starts serving; before it the server answers 503. */
  attach(options: OutsideIdpOptions): Promise<void>;
  /** A client-credentials access token of the setup client for `resource` (RFC 8707). */
  setupToken(resource: string): Promise<string>;
  close(): Promise<void>;
}

/** A second resource server the provider knows: its tokens are for someone else (`aud`). */
export const OTHER_RESOURCE = 'urn:example:other-service';
/** The gateway's audience, but tokens that live one second: for an expired token. */
export const SHORT_RESOURCE = 'urn:lianzheng:short-lived';

const SETUP_CLIENT = 'lianzheng-fixtures';

export async function startOutsideIdp(): Promise<OutsideIdp> {
  let handler: http.RequestListener = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const server = http.createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const setupSecret = randomBytes(24).toString('base64url');

  const idp: OutsideIdp = {
    allowCors: true,
    issuer,
    endpoints: {
      jwks: `${issuer}/jwks`,
      authorization: `${issuer}/auth`,
      token: `${issuer}/token`,
      endSession: `${issuer}/session/end`,
    },
    async attach(o) {
      // RS256, as most providers sign by default (the gateway's own development issuer signs ES256).
      const { privateKey } = await generateKeyPair('RS256', { extractable: true });
      const signing = { ...(await exportJWK(privateKey)), kid: 'outside-rs256', alg: 'RS256', use: 'sig' };
      const gatewayOrigin = new URL(o.redirectUri).origin;
      const provider = new Provider(issuer, {
        clients: [
          {
            client_id: o.clientId,
            token_endpoint_auth_method: 'none',
            grant_types: ['authorization_code'],
            response_types: ['code'],
            redirect_uris: [o.redirectUri],
            post_logout_redirect_uris: [o.postLogoutRedirectUri],
          },
          {
            client_id: SETUP_CLIENT,
            client_secret: setupSecret,
            grant_types: ['client_credentials'],
            response_types: [],
            redirect_uris: [],
          },
        ],
        jwks: { keys: [signing] },
        cookies: { keys: [randomBytes(32).toString('base64url')] },
        // The workspace's page calls the token endpoint from the gateway's origin: allowed for it only.
        clientBasedCORS: (_ctx, origin) => idp.allowCors && origin === gatewayOrigin,
        pkce: { required: () => true },
        // Lifetimes set rather than defaulted (the provider asks); access tokens live as long as
        // their resource server says (below).
        ttl: {
          Interaction: 600,
          Session: 3600,
          Grant: 3600,
          AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 600,
          IdToken: 600,
          ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 600,
        },
        features: {
          devInteractions: { enabled: true },
          clientCredentials: { enabled: true },
          resourceIndicators: {
            enabled: true,
            // The workspace names no resource: its tokens are for the gateway.
            defaultResource: async () => o.resource,
            useGrantedResource: async () => true,
            getResourceServerInfo: async (_ctx, indicator) => {
              const jwt = { accessTokenFormat: 'jwt' as const, jwt: { sign: { alg: 'RS256' as const } } };
              // `inspect`: the gateway's own scope, which the workspace asks for (OIDC_SCOPE).
              if (indicator === o.resource)
                return { scope: 'openid inspect', audience: o.audience, accessTokenTTL: 600, ...jwt };
              if (indicator === SHORT_RESOURCE)
                return { scope: 'openid', audience: o.audience, accessTokenTTL: 1, ...jwt };
              if (indicator === OTHER_RESOURCE)
                return { scope: 'openid', audience: 'other-service', accessTokenTTL: 600, ...jwt };
              throw new errors.InvalidTarget();
            },
          },
        },
        findAccount: async (_ctx, sub) =>
          o.accounts[sub] ? { accountId: sub, claims: async () => ({ sub }) } : undefined,
        extraTokenClaims: async (_ctx, token) => {
          if ('accountId' in token && typeof token.accountId === 'string')
            return o.accounts[token.accountId]?.claims;
          if (token.clientId === SETUP_CLIENT) return o.setupClaims;
          return undefined;
        },
      });
      const callback = provider.callback();
      handler = (req, res) => callback(req, res);
    },
    async setupToken(resource) {
      const res = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${SETUP_CLIENT}:${setupSecret}`).toString('base64')}`,
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', resource, scope: 'openid' }).toString(),
      });
      const body = (await res.json()) as { access_token?: string };
      if (!res.ok || !body.access_token)
        throw new Error(`setup token: ${res.status} ${JSON.stringify(body)}`);
      return body.access_token;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return idp;
}
