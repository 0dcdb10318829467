// The bearer-token verifier with an outside provider's claim names (OIDC_ROLE_CLAIM and friends):
// real tokens signed by jose with a key the verifier knows only by its public JWK.

import { createServer } from 'node:net';
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../errors.ts';
import { type ClaimNames, JwtVerifier } from './jwt.ts';

const ISSUER = 'https://idp.example';
let privateKey: CryptoKey;
let publicJwk: object;

beforeAll(async () => {
  const pair = await generateKeyPair('ES256', { extractable: true });
  privateKey = pair.privateKey;
  publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256' };
});

const sign = (claims: JWTPayload) =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' })
    .setIssuer(ISSUER)
    .setAudience('lianzheng')
    .setSubject('someone')
    .setExpirationTime('5m')
    .sign(privateKey);

const verifier = (claims?: ClaimNames, clockToleranceS?: number) =>
  new JwtVerifier({
    issuer: ISSUER,
    audience: 'lianzheng',
    jwks: { keys: [publicJwk] },
    claims,
    clockToleranceS,
  });

async function reason(v: JwtVerifier, token: string): Promise<string | undefined> {
  try {
    await v.verify(token);
    return undefined;
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    return (e as AppError).code;
  }
}

describe('claim names of an outside provider', () => {
  const NS = 'https://lianzheng.example/';
  const names: ClaimNames = { role: 'roles', region: `${NS}region`, org: `${NS}org` };

  it('reads the role, region and organisation from the names it is given', async () => {
    const v = verifier(names);
    expect(await v.verify(await sign({ roles: ['inspector'], [`${NS}region`]: '620100' }))).toEqual({
      role: 'inspector',
      region: '620100',
      org: undefined,
      subject: 'someone',
    });
    expect(await v.verify(await sign({ roles: 'unit', [`${NS}org`]: 'village-committee' }))).toMatchObject({
      role: 'unit',
      org: 'village-committee',
    });
    // The provider's own roles beside ours are not ours to read.
    expect(await v.verify(await sign({ roles: ['offline_access', 'admin'] }))).toMatchObject({
      role: 'admin',
    });
  });

  it('takes no role from the default names once others are configured, nor an ambiguous list', async () => {
    const v = verifier(names);
    expect(await reason(v, await sign({ role: 'admin' }))).toBe('UNAUTHENTICATED');
    expect(await reason(v, await sign({ roles: ['admin', 'inspector'], [`${NS}region`]: '620100' }))).toBe(
      'UNAUTHENTICATED',
    );
    expect(await reason(v, await sign({ roles: [] }))).toBe('UNAUTHENTICATED');
    // An inspector needs the configured region claim; `region` under the default name is not it.
    expect(await reason(v, await sign({ roles: ['inspector'], region: '620100' }))).toBe('UNAUTHENTICATED');
  });

  it('reads role, region and org by default, and a list there too', async () => {
    const v = verifier();
    expect(await v.verify(await sign({ role: 'inspector', region: '630000' }))).toMatchObject({
      role: 'inspector',
      region: '630000',
    });
    expect(await v.verify(await sign({ role: ['partner'], org: 'finance-platform' }))).toMatchObject({
      role: 'partner',
      org: 'finance-platform',
    });
    expect(await reason(v, await sign({ roles: ['admin'] }))).toBe('UNAUTHENTICATED');
  });
});

describe('clock skew (OIDC_CLOCK_TOLERANCE_S)', () => {
  const now = () => Math.floor(Date.now() / 1000);
  const at = (nbf: number, exp: number) =>
    new SignJWT({ role: 'admin' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer(ISSUER)
      .setAudience('lianzheng')
      .setNotBefore(nbf)
      .setExpirationTime(exp)
      .sign(privateKey);

  it('takes a token from a provider whose clock runs ahead, and one just expired, within the tolerance', async () => {
    const ahead = await at(now() + 10, now() + 300); // the provider's clock 10 s ahead
    const expired = await at(now() - 300, now() - 10);
    expect(await verifier(undefined, 30).verify(ahead)).toMatchObject({ role: 'admin' });
    expect(await verifier(undefined, 30).verify(expired)).toMatchObject({ role: 'admin' });
    expect(await reason(verifier(undefined, 0), ahead)).toBe('UNAUTHENTICATED');
    expect(await reason(verifier(undefined, 0), expired)).toBe('UNAUTHENTICATED');
  });

  it('refuses past the tolerance', async () => {
    expect(await reason(verifier(undefined, 30), await at(now() + 60, now() + 300))).toBe('UNAUTHENTICATED');
    expect(await reason(verifier(undefined, 30), await at(now() - 300, now() - 60))).toBe('UNAUTHENTICATED');
  });
});

describe('an identity provider whose key set cannot be reached', () => {
  it("is 503 (ours), not 401 (the caller's): connection refused", async () => {
    // A port that was just free: nothing listens there.
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    await new Promise((r) => server.close(r));
    const v = new JwtVerifier({
      issuer: ISSUER,
      audience: 'lianzheng',
      jwks: new URL(`http://127.0.0.1:${port}/jwks`),
    });
    expect(await reason(v, await sign({ role: 'admin' }))).toBe('SERVICE_UNAVAILABLE');
    // A malformed token is still the caller's.
    expect(await reason(v, 'not.a.jwt')).toBe('UNAUTHENTICATED');
  });
});
