// What the inspector's workspace reads from the gateway (issue #22): how to sign in
// (GET /v1/auth/config), the development issuer's sign-in — OpenID Connect's authorisation code
// with PKCE, end to end through the API: the page, the one-time code bound to the S256 challenge
// and redirect address, the token it gives accepted by the gateway — and the overview of the
// projects a caller oversees, scoped by region or organisation, with flags counted.

import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../gateway/src/app.ts';
import { ConfigError, loadConfig, testConfig } from '../../gateway/src/config.ts';
import { randomDigest, startGatewayFixture } from './gateway-fixture.ts';
import { demoProject, type TestDatabase } from './pipeline-support.ts';

let db: TestDatabase;
let app: FastifyInstance;
const inRegion = demoProject(); // 620102, village-committee
const sameCity = { ...demoProject(), regionCode: '620103' };
const elsewhere = { ...demoProject(), regionCode: '630102', ownerOrg: 'qinghai-town' };
const auth: Record<string, Record<string, string>> = {};
const HOST = 'gateway.test';

function as(who: string, opts: InjectOptions): Promise<LightMyRequestResponse> {
  return app.inject({ ...opts, headers: { ...(opts.headers as Record<string, string>), ...auth[who] } });
}

beforeAll(async () => {
  const fixture = await startGatewayFixture({ config: { devSignIn: true }, logger: { level: 'error' } });
  ({ db, app } = fixture);
  const { bearer } = fixture;
  auth.anonymous = {};
  auth.admin = await bearer({ role: 'admin' });
  auth.owner = await bearer({ role: 'unit', org: inRegion.ownerOrg });
  auth.inspectorIn = await bearer({ role: 'inspector', region: '620100' });
  auth.inspectorOut = await bearer({ role: 'inspector', region: '630000' });
  auth.inspectorDistrict = await bearer({ role: 'inspector', region: '620102' });
  for (const p of [inRegion, sameCity, elsewhere]) {
    const res = await as('admin', { method: 'POST', url: '/v1/projects', payload: p });
    expect(res.statusCode, res.body).toBe(201);
  }
  // Two payment approvals without a contract: each raises a flag.
  for (const projectId of [inRegion.id, inRegion.id, elsewhere.id]) {
    const res = await as('admin', {
      method: 'POST',
      url: '/v1/evidence',
      payload: {
        sha256: randomDigest(),
        projectId,
        kind: 'payment_approval',
        visibility: 'restricted',
        title: '进度款',
        amount: '1000000',
        milestone: 'm1',
      },
    });
    expect(res.statusCode, res.body).toBe(202);
  }
  await app.pipeline.batcher.waitForRecorded(3);
});

afterAll(async () => {
  await app?.close();
  await db?.stop();
});

describe('GET /v1/workspace/overview', () => {
  it("lists exactly the projects of an inspector's region, with flags counted", async () => {
    const res = await as('inspectorIn', { method: 'GET', url: '/v1/workspace/overview' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['cache-control']).toBe('private, no-store');
    const o = res.json();
    expect(o.scope).toEqual({ role: 'inspector', region: '620100' });
    expect(o.projects.map((p: { id: string }) => p.id).sort()).toEqual([inRegion.id, sameCity.id].sort());
    const road = o.projects.find((p: { id: string }) => p.id === inRegion.id);
    expect(road).toMatchObject({ name: inRegion.name, records: 2, regionCode: '620102' });
    expect(road.flags).toBeGreaterThanOrEqual(2);
    expect(road.openFlags).toBe(road.flags);
    expect(o.flags.total).toBe(road.flags);
    expect(o.flags.byProject).toEqual([{ projectId: inRegion.id, total: road.flags, open: road.flags }]);
    const rules = o.flags.byRule.reduce((n: number, r: { total: number }) => n + r.total, 0);
    expect(rules).toBe(road.flags);
    expect(o.flags.byMonth).toHaveLength(1);
    expect(o.flags.byMonth[0].month).toMatch(/^\d{4}-\d{2}$/);
    expect(JSON.stringify(o)).not.toContain(elsewhere.id);
  });

  it('narrows to a district, to the own organisation for a unit, and widens to everything for an admin', async () => {
    const ids = async (who: string) =>
      ((await as(who, { method: 'GET', url: '/v1/workspace/overview' })).json().projects as { id: string }[])
        .map((p) => p.id)
        .sort();
    expect(await ids('inspectorDistrict')).toEqual(
      [inRegion.id, sameCity.id].filter((id) => id === inRegion.id),
    );
    expect(await ids('inspectorOut')).toEqual([elsewhere.id]);
    expect(await ids('owner')).toEqual([inRegion.id, sameCity.id].sort());
    expect((await ids('admin')).length).toBeGreaterThanOrEqual(3);
  });

  it('is refused to the public', async () => {
    const res = await as('anonymous', { method: 'GET', url: '/v1/workspace/overview' });
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('UNAUTHENTICATED');
  });
});

describe('the development sign-in (authorisation code with PKCE)', () => {
  const verifier = randomBytes(48).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const redirect = `http://${HOST}/inspect/callback`;
  const query = (extra: Record<string, string> = {}) =>
    new URLSearchParams({
      response_type: 'code',
      client_id: 'lianzheng-workspace',
      redirect_uri: redirect,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 'state-0123456789abcdef',
      ...extra,
    });
  const form = (body: URLSearchParams) => ({
    headers: { host: HOST, 'content-type': 'application/x-www-form-urlencoded' },
    payload: body.toString(),
  });
  const signIn = async (account: string) => {
    const q = query();
    q.set('account', account);
    const res = await app.inject({ method: 'POST', url: '/dev/sign-in', ...form(q) });
    expect(res.statusCode, res.body).toBe(303);
    const to = new URL(String(res.headers.location));
    expect(`${to.origin}${to.pathname}`).toBe(redirect);
    expect(to.searchParams.get('state')).toBe('state-0123456789abcdef');
    return to.searchParams.get('code')!;
  };
  const redeem = (code: string, codeVerifier = verifier) =>
    app.inject({
      method: 'POST',
      url: '/dev/token',
      ...form(
        new URLSearchParams({
          grant_type: 'authorization_code',
          code,
          redirect_uri: redirect,
          client_id: 'lianzheng-workspace',
          code_verifier: codeVerifier,
        }),
      ),
    });

  it('GET /v1/auth/config names the dev endpoints', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/auth/config' });
    expect(res.json()).toEqual({
      signIn: true,
      authorizationEndpoint: '/dev/sign-in',
      tokenEndpoint: '/dev/token',
      clientId: 'lianzheng-workspace',
      scope: 'openid',
      development: true,
    });
  });

  it('offers a sign-in page marked as development only, under a policy without scripts', async () => {
    const res = await app.inject({ method: 'GET', url: `/dev/sign-in?${query()}`, headers: { host: HOST } });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.headers['content-security-policy']).toMatch(/default-src 'none'/);
    expect(res.headers['content-security-policy']).not.toMatch(/script-src/);
    expect(res.headers['content-security-policy']).not.toMatch(/unsafe-inline/);
    expect(res.body).toContain('Development only');
    expect(res.body).toContain('value="inspector-620100"');
  });

  it('gives a token the gateway accepts for the code and the right verifier, once', async () => {
    const code = await signIn('inspector-620100');
    const res = await redeem(code);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const token = res.json();
    expect(token).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });
    const overview = await app.inject({
      method: 'GET',
      url: '/v1/workspace/overview',
      headers: { authorization: `Bearer ${token.access_token}` },
    });
    expect(overview.statusCode).toBe(200);
    expect(overview.json().scope).toEqual({ role: 'inspector', region: '620100' });
    // The code is spent.
    const again = await redeem(code);
    expect(again.statusCode).toBe(400);
    expect(again.json()).toEqual({ error: 'invalid_grant' });
  });

  it('refuses a wrong verifier (and spends the code), another redirect address, a plain challenge', async () => {
    const code = await signIn('owner-unit');
    const wrong = await redeem(code, randomBytes(48).toString('base64url'));
    expect(wrong.statusCode).toBe(400);
    expect((await redeem(code)).statusCode).toBe(400);
    for (const bad of [
      query({ redirect_uri: 'https://evil.example/inspect/callback' }),
      query({ redirect_uri: `http://${HOST}/elsewhere` }),
      query({ code_challenge_method: 'plain' }),
      query({ code_challenge: 'short' }),
    ]) {
      const res = await app.inject({ method: 'GET', url: `/dev/sign-in?${bad}`, headers: { host: HOST } });
      expect(res.statusCode, bad.toString()).toBe(400);
      expect(res.json().code).toBe('VALIDATION_FAILED');
    }
    const q = query();
    q.set('account', 'admin');
    expect((await app.inject({ method: 'POST', url: '/dev/sign-in', ...form(q) })).statusCode).toBe(400);
  });
});

describe('the development sign-in under fuzzing', () => {
  // Like tests/integration/fuzz-routes.test.ts for the routes that exist only with DEV_SIGN_IN:
  // random and near-valid queries, forms and bodies never reach a 5xx, every refusal is
  // problem+json (or OAuth's own {error} at the token endpoint), and nothing is ever signed in.
  const RUNS = Number(process.env.FUZZ_RUNS ?? 200);
  const field = fc.oneof(
    fc.string({ maxLength: 80 }),
    fc.constantFrom(
      'code',
      'S256',
      'plain',
      'lianzheng-workspace',
      `http://${HOST}/inspect/callback`,
      '',
      '%00',
      'é',
    ),
    fc.stringMatching(/^[A-Za-z0-9_-]{43}$/),
  );
  const form = fc.dictionary(
    fc.constantFrom(
      'response_type',
      'client_id',
      'redirect_uri',
      'code_challenge',
      'code_challenge_method',
      'state',
      'scope',
      'account',
      'grant_type',
      'code',
      'code_verifier',
      'x',
    ),
    field,
  );
  const wellFormed = (res: LightMyRequestResponse, what: string) => {
    expect(res.statusCode, `${what} → ${res.body.slice(0, 200)}`).toBeLessThan(500);
    if (res.statusCode >= 400 && !what.startsWith('POST /dev/token'))
      expect(String(res.headers['content-type']), what).toMatch(/^application\/problem\+json/);
  };

  it('GET and POST /dev/sign-in, POST /dev/token', async () => {
    await fc.assert(
      fc.asyncProperty(form, fc.constantFrom('form', 'json', 'none'), async (fields, encoding) => {
        const body = new URLSearchParams(fields as Record<string, string>);
        const q = await app.inject({ method: 'GET', url: `/dev/sign-in?${body}`, headers: { host: HOST } });
        wellFormed(q, `GET /dev/sign-in?${body}`);
        for (const url of ['/dev/sign-in', '/dev/token']) {
          const res = await app.inject({
            method: 'POST',
            url,
            headers: {
              host: HOST,
              ...(encoding === 'form'
                ? { 'content-type': 'application/x-www-form-urlencoded' }
                : encoding === 'json'
                  ? { 'content-type': 'application/json' }
                  : {}),
            },
            payload: encoding === 'json' ? JSON.stringify(fields) : body.toString(),
          });
          wellFormed(res, `POST ${url} ${body}`);
          // Never a token for a made-up code.
          if (url === '/dev/token') expect(res.statusCode, String(body)).not.toBe(200);
        }
      }),
      { numRuns: RUNS },
    );
  }, 120_000);
});

describe('DEV_SIGN_IN', () => {
  it('is off by default, refused beside a real identity provider and off loopback', () => {
    expect(loadConfig({ DATA_DIR: '/tmp/x' }).devSignIn).toBe(false);
    expect(loadConfig({ DATA_DIR: '/tmp/x', DEV_SIGN_IN: 'true' }).devSignIn).toBe(true);
    expect(() =>
      loadConfig({
        DEV_SIGN_IN: 'true',
        OIDC_ISSUER: 'https://idp.example',
        OIDC_JWKS_URL: 'https://idp.example/jwks',
      }),
    ).toThrow(ConfigError);
    expect(() => loadConfig({ DEV_SIGN_IN: 'true', HOST: '0.0.0.0' })).toThrow(/DEV_SIGN_IN/);
  });

  it('without it the sign-in routes do not exist and the config says there is no sign-in', async () => {
    const plain = buildApp({ config: testConfig({ dataDir: db.dir }), db: db.pool });
    await plain.ready();
    try {
      expect((await plain.inject({ method: 'GET', url: `/dev/sign-in?x=1` })).statusCode).toBe(404);
      expect((await plain.inject({ method: 'GET', url: '/v1/auth/config' })).json()).toMatchObject({
        signIn: false,
      });
    } finally {
      await plain.close();
    }
  });
});
