// Sign-in for the inspector's workspace: OpenID Connect's authorisation code flow with PKCE
// (RFC 7636, S256) as a public client, against the identity provider the gateway names
// (GET /v1/auth/config) — the government's, or in demos the gateway's development issuer.
//
// Where things live, and why:
// - The access token only in this module's memory: never localStorage or sessionStorage (a
//   script injected into the origin could read them), never in an address. Reloading the page
//   signs out; the workspace routes inside itself so that moving around does not.
// - The PKCE verifier and `state` must survive the one trip to the identity provider, which
//   replaces the page: they sit in sessionStorage for that trip only and are removed the moment
//   the page returns. They are not credentials: the verifier is worth something only with the
//   one-time code, which is spent within seconds.
// - The code arrives in the address (that is how the flow works) and is wiped from it and from
//   history with replaceState before it is redeemed.

import { sha256, toBase64 } from '@lianzheng/proof';

export interface AuthConfig {
  signIn: boolean;
  authorizationEndpoint?: string;
  tokenEndpoint?: string;
  /** The provider's RP-initiated logout, when the gateway names one (OIDC_END_SESSION_URL). */
  endSessionEndpoint?: string;
  clientId: string;
  scope: string;
  development: boolean;
}

export interface Session {
  token: string;
  expiresAt: number;
}

const PENDING_KEY = 'lianzheng.workspace.pkce';
export const CALLBACK_PATH = '/inspect/callback';

let session: Session | null = null;

export function currentSession(): Session | null {
  if (session && session.expiresAt <= Date.now()) session = null;
  return session;
}

export function signOut(): void {
  session = null;
}

/**
 * Where sign-out sends the browser to end the provider's session too (OpenID Connect RP-Initiated
 * Logout 1.0), or null when the provider has none configured. It names the client and where to
 * come back, and nothing else: no id_token_hint (a token in an address is what the workspace
 * avoids), so the provider may ask the reader to confirm.
 */
export function endSessionUrl(config: AuthConfig, origin: string): string | null {
  if (!config.endSessionEndpoint) return null;
  const url = new URL(config.endSessionEndpoint, origin);
  url.searchParams.set('client_id', config.clientId);
  url.searchParams.set('post_logout_redirect_uri', `${origin}/inspect`);
  return url.toString();
}

function base64url(bytes: Uint8Array): string {
  return toBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomString(bytes: number): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** S256: BASE64URL(SHA-256(ASCII(verifier))). */
export function challengeOf(verifier: string): string {
  return base64url(sha256(new TextEncoder().encode(verifier)));
}

function pendingStore(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

export async function fetchAuthConfig(timeoutMs: number): Promise<AuthConfig> {
  const res = await fetch('/v1/auth/config', { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`auth config ${res.status}`);
  return (await res.json()) as AuthConfig;
}

/** Leaves for the identity provider's sign-in page. */
export function beginSignIn(config: AuthConfig): void {
  if (!config.signIn || !config.authorizationEndpoint) throw new Error('NO_SIGN_IN');
  const verifier = randomString(48);
  const state = randomString(24);
  const store = pendingStore();
  if (!store) throw new Error('NO_SESSION_STORAGE');
  store.setItem(PENDING_KEY, JSON.stringify({ verifier, state }));
  const url = new URL(config.authorizationEndpoint, location.origin);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: config.clientId,
    redirect_uri: `${location.origin}${CALLBACK_PATH}`,
    scope: config.scope,
    code_challenge: challengeOf(verifier),
    code_challenge_method: 'S256',
    state,
  }).toString();
  location.assign(url.toString());
}

/**
 * `unreachable`: the token endpoint could not be asked at all — down, or (the usual cause when a
 * provider is first set up) its CORS does not allow the gateway's origin, which the page cannot
 * tell apart from down.
 */
export type FinishResult = 'signed-in' | 'no-callback' | 'bad-state' | 'refused' | 'unreachable';

/**
 * On the callback address: wipes the code from the address, checks `state`, redeems the code
 * with the verifier and keeps the token in memory.
 */
export async function finishSignIn(config: AuthConfig, timeoutMs: number): Promise<FinishResult> {
  if (location.pathname !== CALLBACK_PATH) return 'no-callback';
  const params = new URLSearchParams(location.search);
  history.replaceState(null, '', '/inspect');
  const store = pendingStore();
  const raw = store?.getItem(PENDING_KEY) ?? null;
  store?.removeItem(PENDING_KEY);
  let pending: { verifier?: string; state?: string } = {};
  try {
    pending = raw ? JSON.parse(raw) : {};
  } catch {
    // A damaged entry is the same as none.
  }
  const code = params.get('code');
  if (!code || !pending.verifier || !pending.state || params.get('state') !== pending.state)
    return 'bad-state';
  if (!config.tokenEndpoint) return 'refused';
  let res: Response;
  try {
    res = await fetch(new URL(config.tokenEndpoint, location.origin).toString(), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: `${location.origin}${CALLBACK_PATH}`,
        client_id: config.clientId,
        code_verifier: pending.verifier,
      }).toString(),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch {
    return 'unreachable';
  }
  if (!res.ok) return 'refused';
  const body = (await res.json()) as { access_token?: string; expires_in?: number };
  if (typeof body.access_token !== 'string') return 'refused';
  session = {
    token: body.access_token,
    expiresAt: Date.now() + Math.max(60, Math.min(body.expires_in ?? 3600, 86_400)) * 1000,
  };
  return 'signed-in';
}
