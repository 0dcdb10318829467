// The inspector's workspace in Chromium against an identity provider that is not the gateway's
// (issue #22): `oidc-provider` on loopback (tests/e2e/outside-idp.ts), the gateway configured with
// OIDC_ISSUER, OIDC_JWKS_URL, OIDC_AUTHORIZATION_URL, OIDC_TOKEN_URL, OIDC_END_SESSION_URL,
// OIDC_CLIENT_ID and the provider's claim names (OIDC_*_CLAIM) as a deployment would be, no
// DEV_SIGN_IN. Each inspector signs in through the provider's own login and consent pages; the page
// redeems the code at the provider's token endpoint across origins (CORS on the provider's side,
// the page's CSP on ours). Then: the region's projects and flags, the restricted details for that
// region only, the access token in no address, Referer, storage or cookie, sign-out (the
// provider's session ended too), and the provider's tokens for another audience or out of date
// refused (401).

import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../gateway/src/app.ts';
import { DEMO_PROJECT } from '../../gateway/src/cli/demo.ts';
import { testConfig } from '../../gateway/src/config.ts';
import { startTestDatabase, type TestDatabase } from '../integration/pipeline-support.ts';
import { OTHER_RESOURCE, type OutsideIdp, SHORT_RESOURCE, startOutsideIdp } from './outside-idp.ts';
import { buildPage, chromiumAvailable, launchChromium } from './verifier-page-support.ts';
import { seedWorkspace, type WorkspaceFixture } from './workspace-fixture.ts';

const CLIENT_ID = 'lianzheng-workspace';
const RESOURCE = 'urn:lianzheng:gateway';
const AUDIENCE = 'lianzheng';
// The provider's own claim names, as many providers must issue them — app roles as a list, custom
// claims namespaced by a URL — read through OIDC_ROLE_CLAIM / OIDC_REGION_CLAIM / OIDC_ORG_CLAIM.
const NS = 'https://lianzheng.example/claims/';
const CLAIMS = { role: 'roles', region: `${NS}region`, org: `${NS}org` };
let db: TestDatabase;
let idp: OutsideIdp;
let app: FastifyInstance;
let base = '';
let browser: Browser;
let fx: WorkspaceFixture;
const cspViolations: string[] = [];

/** Everything the browser did that could carry a token: addresses visited, requests and their Referer. */
interface Watch {
  context: BrowserContext;
  page: Page;
  navigated: string[];
  requests: { url: string; referer?: string; authorization?: string }[];
  /** The provider's token endpoint's answer, read off the wire (the page keeps it in memory). */
  token: Promise<string>;
}

async function watchedPage(viewport: { width: number; height: number }): Promise<Watch> {
  const context = await browser.newContext({ viewport, locale: 'zh-CN' });
  // The provider's development pages import a web font; nothing leaves the machine.
  await context.route(/^https?:\/\/(?!127\.0\.0\.1[:/])/, (route) => route.abort());
  const page = await context.newPage();
  const navigated: string[] = [];
  const requests: Watch['requests'] = [];
  page.on('console', (m) => {
    if (/Content.Security.Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  page.on('framenavigated', (f) => navigated.push(f.url()));
  context.on('request', (r) => {
    const headers = r.headers();
    requests.push({ url: r.url(), referer: headers.referer, authorization: headers.authorization });
  });
  const token = new Promise<string>((resolve) => {
    context.on('response', async (r) => {
      if (r.url() === idp.endpoints.token && r.request().method() === 'POST' && r.ok())
        resolve(((await r.json()) as { access_token: string }).access_token);
    });
  });
  return { context, page, navigated, requests, token };
}

/** From /inspect through the provider's login and consent pages and back, signed in as `login`. */
async function signIn(w: Watch, login: string): Promise<string> {
  const { page } = w;
  await page.goto(`${base}/inspect`);
  await page.click('#ws-sign-in');
  await page.waitForURL((u) => u.origin === idp.issuer && u.pathname.startsWith('/interaction/'));
  await page.fill('input[name="login"]', login);
  await page.fill('input[name="password"]', 'any password: the development login form takes it');
  await page.click('button[type="submit"]');
  // The consent page: the workspace asks for `openid` and the gateway as its resource.
  await page.waitForSelector('input[name="prompt"][value="consent"]', { state: 'attached' });
  await page.click('button[type="submit"]');
  await page.waitForSelector('html[data-workspace="signed-in"]');
  await page.waitForSelector('#ws-summary');
  return w.token;
}

beforeAll(async () => {
  if (!chromiumAvailable()) throw new Error('Debian chromium is missing: run scripts/install-system-deps.sh');
  buildPage();
  db = await startTestDatabase();
  idp = await startOutsideIdp();
  const config = testConfig({
    dataDir: db.dir,
    sealIntervalMs: 20,
    oidc: {
      issuer: idp.issuer,
      jwksUrl: idp.endpoints.jwks,
      audience: AUDIENCE,
      authorizationUrl: idp.endpoints.authorization,
      tokenUrl: idp.endpoints.token,
      endSessionUrl: idp.endpoints.endSession,
      clientId: CLIENT_ID,
      claims: CLAIMS,
      scope: 'openid inspect',
      // One second, so the expired token below need not wait out the default 30.
      clockToleranceS: 1,
    },
  });
  expect(config.devSignIn).toBe(false);
  app = buildApp({ config, db: db.pool });
  await app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  await idp.attach({
    redirectUri: `${base}/inspect/callback`,
    postLogoutRedirectUri: `${base}/inspect`,
    clientId: CLIENT_ID,
    resource: RESOURCE,
    audience: AUDIENCE,
    accounts: {
      'zhang.gansu': { claims: { roles: ['offline_access', 'inspector'], [CLAIMS.region]: '620100' } },
      'li.qinghai': { claims: { roles: ['inspector'], [CLAIMS.region]: '630000' } },
    },
    setupClaims: { roles: ['admin'] },
  });
  // The fixtures are written with the provider's own token (client credentials): the gateway takes it.
  const admin = await idp.setupToken(RESOURCE);
  fx = await seedWorkspace(base, admin, { secretAmount: '7310000456' });
  await app.pipeline.batcher.waitForRecorded(2);
  browser = await launchChromium();
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await idp?.close();
  await db?.stop();
});

describe("the inspector's workspace against an outside OpenID provider (oidc-provider)", () => {
  it("signs an inspector in through the provider's pages; the region's projects, flags and restricted details", async () => {
    const w = await watchedPage({ width: 1280, height: 900 });
    const { page } = w;
    const token = await signIn(w, 'zhang.gansu');
    // The provider's token, as it issued it: for the gateway, signed RS256, with the inspector's claims.
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'RS256', typ: 'at+jwt' });
    expect(decodeJwt(token)).toMatchObject({
      iss: idp.issuer,
      aud: AUDIENCE,
      sub: 'zhang.gansu',
      scope: 'openid inspect',
      roles: ['offline_access', 'inspector'],
      [CLAIMS.region]: '620100',
    });
    // The authorisation request was PKCE S256 from the public client, with the gateway's callback.
    const auth = w.requests
      .map((r) => new URL(r.url))
      .find((u) => u.href.startsWith(idp.endpoints.authorization));
    expect(auth?.searchParams.get('code_challenge_method')).toBe('S256');
    expect(auth?.searchParams.get('client_id')).toBe(CLIENT_ID);
    expect(auth?.searchParams.get('redirect_uri')).toBe(`${base}/inspect/callback`);
    expect(auth?.searchParams.get('scope')).toBe('openid inspect');

    expect(await page.textContent('#ws-scope')).toContain('620100');
    const listed = await page.$$eval('a[data-project]', (as) =>
      as.map((a) => a.getAttribute('data-project')),
    );
    expect(listed).toEqual([DEMO_PROJECT.id]);
    expect(Number(await page.getAttribute('[data-open-flags]', 'data-open-flags'))).toBeGreaterThan(0);
    expect(await page.textContent('.ws-dash')).toContain('PAYMENT_WITHOUT_CONTRACT');
    await page.click(`a[data-project="${DEMO_PROJECT.id}"]`);
    await page.waitForSelector('.ws-trail');
    expect(await page.textContent('.ws-trail')).toContain(fx.secretTitle);
    expect(await page.getAttribute('.ws-trail [data-amount]', 'data-amount')).toBe(fx.secretAmount);
    expect(await page.$$('.ws-flags [data-facts="shown"]')).not.toHaveLength(0);

    // The token went to the gateway in the Authorization header — and nowhere else.
    const toGateway = w.requests.filter((r) => r.url.startsWith(`${base}/v1/`) && r.authorization);
    expect(toGateway.length).toBeGreaterThan(1);
    expect(toGateway.every((r) => r.authorization === `Bearer ${token}`)).toBe(true);
    expect(w.navigated.length).toBeGreaterThan(3); // the address bar's history, replaceState included
    for (const u of [...w.navigated, page.url(), ...w.requests.map((r) => r.url)])
      expect(u).not.toContain(token);
    const referers = w.requests.filter((r) => r.url.startsWith(base)).map((r) => r.referer ?? '');
    for (const r of referers) expect(r).not.toContain(token);
    expect(new URL(page.url()).search).toBe('');
    const readable = await page.evaluate(() =>
      JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage }, cookie: document.cookie }),
    );
    expect(readable).not.toContain(token);
    expect(readable).not.toMatch(/eyJ/);
    // Not even the provider's own cookies (script cannot read them; they hold no token either).
    for (const c of await w.context.cookies()) expect(c.value).not.toContain(token);

    // Signing out: the page forgets the token and ends the provider's session too (RP-initiated
    // logout, OIDC_END_SESSION_URL) — else on a shared computer the next "sign in" would let the
    // next person in as this inspector without a password.
    await page.click('.ws-sign-out');
    await page.waitForURL((u) => u.origin === idp.issuer);
    const logout = new URL(page.url());
    expect(logout.pathname.startsWith('/session/end')).toBe(true);
    await page.click('button[name="logout"][value="yes"]');
    await page.waitForURL(`${base}/inspect`);
    await page.waitForSelector('#ws-sign-in');
    expect(await page.getAttribute('html', 'data-workspace')).toBe('signed-out');
    expect(await page.textContent('main')).not.toContain(fx.secretTitle);
    const logoutRequest = w.requests
      .map((r) => new URL(r.url))
      .find((u) => u.href.startsWith(idp.endpoints.endSession));
    expect(logoutRequest?.searchParams.get('client_id')).toBe(CLIENT_ID);
    expect(logoutRequest?.searchParams.get('post_logout_redirect_uri')).toBe(`${base}/inspect`);
    expect(logoutRequest?.href).not.toContain(token);
    // Signing in again asks for the password again.
    await page.click('#ws-sign-in');
    await page.waitForURL((u) => u.origin === idp.issuer && u.pathname.startsWith('/interaction/'));
    await page.waitForSelector('input[name="login"]');
    await w.context.close();
  }, 120_000);

  it('an inspector of another region sees none of it and nothing restricted', async () => {
    const w = await watchedPage({ width: 390, height: 844 });
    const { page } = w;
    const token = await signIn(w, 'li.qinghai');
    expect(decodeJwt(token)).toMatchObject({ roles: ['inspector'], [CLAIMS.region]: '630000' });
    expect(await page.textContent('#ws-scope')).toContain('630000');
    const listed = await page.$$eval('a[data-project]', (as) =>
      as.map((a) => a.getAttribute('data-project')),
    );
    expect(listed).toEqual([fx.elsewhere.id]);
    await page.evaluate((id) => {
      history.pushState(null, '', `/inspect/p/${id}`);
      window.dispatchEvent(new PopStateEvent('popstate'));
    }, DEMO_PROJECT.id);
    await page.waitForSelector('.ws-trail');
    const text = (await page.textContent('main'))!;
    expect(text).toContain('村务公开');
    expect(text).not.toContain(fx.secretTitle);
    expect(text).not.toContain(fx.secretAmount);
    expect(await page.$$('.ws-trail [data-amount]')).toHaveLength(0);
    await w.context.close();
  }, 120_000);

  it("without an end-session endpoint, sign-out is the page's only: the provider lets the next person straight in", async () => {
    // Why OIDC_END_SESSION_URL matters: the same gateway, its auth config without the endpoint.
    const w = await watchedPage({ width: 1280, height: 900 });
    await w.context.route(`${base}/v1/auth/config`, async (route) => {
      const res = await route.fetch();
      const { endSessionEndpoint: _, ...rest } = (await res.json()) as Record<string, unknown>;
      await route.fulfill({ response: res, json: rest });
    });
    const { page } = w;
    await signIn(w, 'zhang.gansu');
    await page.click('.ws-sign-out');
    await page.waitForSelector('#ws-sign-in');
    expect(new URL(page.url()).origin).toBe(base);
    const before = w.requests.length;
    await page.click('#ws-sign-in');
    await page.waitForSelector('html[data-workspace="signed-in"]');
    await page.waitForSelector('#ws-summary');
    expect(await page.textContent('#ws-scope')).toContain('620100');
    // Through the provider and back without its login page: no password was asked for.
    const since = w.requests.slice(before).map((r) => r.url);
    expect(since.some((u) => u.startsWith(idp.endpoints.authorization))).toBe(true);
    expect(since.some((u) => u.startsWith(`${idp.issuer}/interaction/`))).toBe(false);
    await w.context.close();
  }, 120_000);

  it("says so when the provider's token endpoint does not allow the gateway's origin (CORS)", async () => {
    idp.allowCors = false;
    const w = await watchedPage({ width: 1280, height: 900 });
    const { page } = w;
    try {
      await page.goto(`${base}/inspect`);
      await page.click('#ws-sign-in');
      await page.waitForURL((u) => u.origin === idp.issuer && u.pathname.startsWith('/interaction/'));
      await page.fill('input[name="login"]', 'zhang.gansu');
      await page.fill('input[name="password"]', 'x');
      await page.click('button[type="submit"]');
      await page.waitForSelector('input[name="prompt"][value="consent"]', { state: 'attached' });
      await page.click('button[type="submit"]');
      await page.waitForSelector('[role="alert"]');
      expect(await page.textContent('[role="alert"]')).toContain('CORS');
      expect(await page.getAttribute('html', 'data-workspace')).toBe('signed-out');
      await page.waitForSelector('#ws-sign-in');
    } finally {
      idp.allowCors = true;
      await w.context.close();
    }
  }, 120_000);

  it("refuses the provider's tokens for another audience, and out of date ones (401 problem+json)", async () => {
    const overview = (token: string) =>
      fetch(`${base}/v1/workspace/overview`, { headers: { authorization: `Bearer ${token}` } });
    const good = await idp.setupToken(RESOURCE);
    expect((await overview(good)).status).toBe(200);

    const other = await idp.setupToken(OTHER_RESOURCE);
    expect(decodeJwt(other)).toMatchObject({ iss: idp.issuer, aud: 'other-service', roles: ['admin'] });
    const short = await idp.setupToken(SHORT_RESOURCE);
    const claims = decodeJwt(short);
    expect(claims.aud).toBe(AUDIENCE);
    expect(claims.exp! - claims.iat!).toBe(1);
    // Past its expiry by more than the clock tolerance (1 s here).
    await new Promise((r) => setTimeout(r, (claims.exp! + 2.5) * 1000 - Date.now()));
    for (const [token, reason] of [
      [other, 'ERR_JWT_CLAIM_VALIDATION_FAILED'],
      [short, 'ERR_JWT_EXPIRED'],
    ] as const) {
      const res = await overview(token);
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await res.json()).toMatchObject({ status: 401, code: 'UNAUTHENTICATED', reason });
    }
  }, 60_000);

  it('ran under the page’s Content-Security-Policy without a violation', () => {
    expect(cspViolations).toEqual([]);
  });
});
