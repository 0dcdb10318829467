// DEVELOPMENT ONLY — the development issuer's sign-in (DEV_SIGN_IN=true; config.ts refuses it
// beside a real identity provider and on any address but loopback). It plays the identity
// provider's part of OpenID Connect's authorisation code flow with PKCE (RFC 7636) for the
// inspector's workspace, so a demo shows the real flow end to end: a sign-in page with demo
// accounts, a one-time code bound to the client's S256 challenge and redirect address, and a
// token endpoint that hands out the same ES256 tokens `lianzheng token` prints (auth/dev-issuer.ts)
// — tokens the gateway already accepts, nothing new to trust. There are no passwords: whoever
// reaches the page may be anyone on the list. Production uses the government identity provider
// (OIDC_AUTHORIZATION_URL, OIDC_TOKEN_URL).

import { createHash, randomBytes } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { issueDevToken, loadDevIssuerKey } from '../../auth/dev-issuer.ts';
import type { Role } from '../../auth/principal.ts';
import { DEMO_ORG, DEMO_PROJECT } from '../../cli/demo.ts';
import { AppError } from '../../errors.ts';

export const DEV_AUTHORIZE_PATH = '/dev/sign-in';
export const DEV_TOKEN_PATH = '/dev/token';
/** The only place the dev issuer sends a code: the workspace on this same gateway. */
export const WORKSPACE_CALLBACK_PATH = '/inspect/callback';

export interface DemoAccount {
  id: string;
  role: Exclude<Role, 'public'>;
  region?: string;
  org?: string;
  label: { zh: string; en: string };
}

/** Who a demo may be: inspectors inside and outside the demo project's region, and its owner. */
export const DEMO_ACCOUNTS: readonly DemoAccount[] = [
  {
    id: 'inspector-620100',
    role: 'inspector',
    region: '620100',
    label: { zh: '纪检监察 · 兰州市（620100）', en: 'Inspector · Lanzhou (620100)' },
  },
  {
    id: 'inspector-630000',
    role: 'inspector',
    region: '630000',
    label: {
      zh: '纪检监察 · 青海省（630000，另一地区）',
      en: 'Inspector · Qinghai (630000, another region)',
    },
  },
  {
    id: 'owner-unit',
    role: 'unit',
    org: DEMO_ORG,
    label: {
      zh: `项目单位 · ${DEMO_ORG}（${DEMO_PROJECT.name}）`,
      en: `Project unit · ${DEMO_ORG} (owns ${DEMO_PROJECT.id})`,
    },
  },
];

const CODE_TTL_MS = 60_000;
const MAX_PENDING = 1000;
const TOKEN_TTL_S = 3600;
const B64URL_43_128 = '^[A-Za-z0-9_-]{43,128}$';
/** RFC 7636 §4.1: the verifier's alphabet and length. */
const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;

interface PendingCode {
  challenge: string;
  redirectUri: string;
  clientId: string;
  account: DemoAccount;
  expires: number;
}

const AuthorizeQuery = Type.Object({
  response_type: Type.Literal('code'),
  client_id: Type.String({ minLength: 1, maxLength: 200 }),
  redirect_uri: Type.String({ minLength: 1, maxLength: 2000 }),
  code_challenge: Type.String({ pattern: B64URL_43_128 }),
  code_challenge_method: Type.Literal('S256'),
  state: Type.String({ minLength: 16, maxLength: 200, pattern: '^[A-Za-z0-9_-]+$' }),
  scope: Type.Optional(Type.String({ maxLength: 200 })),
});
const AuthorizeForm = Type.Composite([
  AuthorizeQuery,
  Type.Object({ account: Type.String({ minLength: 1, maxLength: 64 }) }),
]);
const TokenForm = Type.Object({
  grant_type: Type.Literal('authorization_code'),
  code: Type.String({ minLength: 1, maxLength: 200 }),
  redirect_uri: Type.String({ minLength: 1, maxLength: 2000 }),
  client_id: Type.String({ minLength: 1, maxLength: 200 }),
  code_verifier: Type.String({ minLength: 43, maxLength: 128 }),
});

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** The sign-in page's look: one style element, allowed by its hash (no 'unsafe-inline'). */
const STYLE = `body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}
.dev{background:#fff3cd;border:2px solid #b58900;padding:.75rem 1rem;border-radius:6px}
ul{list-style:none;padding:0}li{margin:.75rem 0}button{width:100%;text-align:left;padding:.9rem 1rem;font-size:1rem;border:1px solid #888;border-radius:6px;background:#fff;cursor:pointer}
button:hover,button:focus{border-color:#0b57d0;outline:2px solid #0b57d0}`;

/** The sign-in page's own policy: no script at all, its one style by hash, a form posting to itself. */
const SIGN_IN_CSP = `default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`;

export default async function devSignInRoutes(app: FastifyInstance): Promise<void> {
  const key = await loadDevIssuerKey(app.config.keysDir);
  const pending = new Map<string, PendingCode>();
  app.log.warn('DEV_SIGN_IN: the development sign-in page is on — anyone who reaches it may sign in');
  // The sign-in form and the token request are form-encoded, as OAuth has them (RFC 6749 §4.1.3).
  // Parsed here only: the rest of the API takes JSON. Repeated fields are refused by the schemas.
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 16 * 1024 },
    (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
  );

  /** The redirect address must be this gateway's own workspace callback. */
  const checkRedirect = (redirectUri: string, host: string | undefined) => {
    let u: URL;
    try {
      u = new URL(redirectUri);
    } catch {
      throw new AppError('VALIDATION_FAILED', 'redirect_uri is not a URL');
    }
    if (u.host !== host || u.pathname !== WORKSPACE_CALLBACK_PATH || u.search || u.hash)
      throw new AppError(
        'VALIDATION_FAILED',
        `redirect_uri must be this gateway's ${WORKSPACE_CALLBACK_PATH}`,
      );
  };

  const hidden = { hide: true, tags: ['development'] };

  app.get<{ Querystring: typeof AuthorizeQuery.static }>(
    DEV_AUTHORIZE_PATH,
    { schema: { ...hidden, querystring: AuthorizeQuery } },
    async (request, reply: FastifyReply) => {
      checkRedirect(request.query.redirect_uri, request.headers.host);
      const q = request.query;
      const fields = Object.entries(q)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(String(v))}">`)
        .join('');
      const buttons = DEMO_ACCOUNTS.map(
        (a) =>
          `<li><button type="submit" name="account" value="${escapeHtml(a.id)}" data-account="${escapeHtml(a.id)}">` +
          `${escapeHtml(a.label.zh)}<br><small>${escapeHtml(a.label.en)}</small></button></li>`,
      ).join('');
      reply
        .header('content-security-policy', SIGN_IN_CSP)
        .header('cache-control', 'no-store')
        .header('referrer-policy', 'no-referrer')
        .type('text/html; charset=utf-8');
      return `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>开发用登录 · Development sign-in</title>
<style>${STYLE}</style></head>
<body><main><p class="dev" role="note"><strong>仅供开发和演示：</strong>这是网关自带的开发用身份提供方，没有密码，任何能打开本页的人都能以下列身份登录。正式部署使用政务身份认证平台。<br>
<strong>Development only:</strong> the gateway's own development identity provider. There are no passwords; anyone who reaches this page may sign in as any account below. Deployments use the government identity provider.</p>
<h1>选择演示账号 <small>Choose a demo account</small></h1>
<form method="post" action="${DEV_AUTHORIZE_PATH}">${fields}<ul>${buttons}</ul></form></main></body></html>`;
    },
  );

  app.post<{ Body: typeof AuthorizeForm.static }>(
    DEV_AUTHORIZE_PATH,
    { schema: { ...hidden, body: AuthorizeForm } },
    async (request, reply) => {
      const b = request.body;
      checkRedirect(b.redirect_uri, request.headers.host);
      const account = DEMO_ACCOUNTS.find((a) => a.id === b.account);
      if (!account) throw new AppError('VALIDATION_FAILED', `no demo account ${b.account}`);
      const now = Date.now();
      for (const [code, p] of pending) if (p.expires < now) pending.delete(code);
      if (pending.size >= MAX_PENDING) throw new AppError('RATE_LIMITED', 'too many sign-ins under way');
      const code = randomBytes(32).toString('base64url');
      pending.set(code, {
        challenge: b.code_challenge,
        redirectUri: b.redirect_uri,
        clientId: b.client_id,
        account,
        expires: now + CODE_TTL_MS,
      });
      const to = new URL(b.redirect_uri);
      to.searchParams.set('code', code);
      to.searchParams.set('state', b.state);
      // 303: the browser follows with a GET, as OAuth's form-post-less redirect expects.
      return reply.header('cache-control', 'no-store').redirect(to.toString(), 303);
    },
  );

  app.post<{ Body: typeof TokenForm.static }>(
    DEV_TOKEN_PATH,
    { schema: { ...hidden, body: TokenForm } },
    async (request, reply) => {
      const b = request.body;
      const p = pending.get(b.code);
      // A code works once, whatever happens next (RFC 6749 §4.1.2).
      pending.delete(b.code);
      const challenge = createHash('sha256').update(b.code_verifier).digest('base64url');
      if (
        !p ||
        p.expires < Date.now() ||
        p.redirectUri !== b.redirect_uri ||
        p.clientId !== b.client_id ||
        !VERIFIER.test(b.code_verifier) ||
        challenge !== p.challenge
      ) {
        // RFC 6749 §5.2's answer, so that stock OIDC clients understand it.
        return reply.code(400).header('cache-control', 'no-store').send({ error: 'invalid_grant' });
      }
      const a = p.account;
      const token = await issueDevToken(key, {
        role: a.role,
        ...(a.org ? { org: a.org } : {}),
        ...(a.region ? { region: a.region } : {}),
        subject: `dev-sign-in:${a.id}`,
        ttl: TOKEN_TTL_S,
        audience: app.config.oidc.audience,
      });
      reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
      return { access_token: token, token_type: 'Bearer', expires_in: TOKEN_TTL_S, scope: 'openid' };
    },
  );
}
