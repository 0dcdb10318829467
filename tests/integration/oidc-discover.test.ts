// `lianzheng oidc discover` against a real provider's discovery document (oidc-provider on
// loopback, tests/e2e/outside-idp.ts), and the refusals: another issuer, missing endpoints.

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../gateway/src/cli/main.ts';
import { readDiscovery } from '../../gateway/src/cli/oidc.ts';
import { loadConfig } from '../../gateway/src/config.ts';
import { type OutsideIdp, startOutsideIdp } from '../e2e/outside-idp.ts';

let idp: OutsideIdp;

function capture() {
  const log: string[] = [];
  const error: string[] = [];
  return { out: { log: (s: string) => log.push(s), error: (s: string) => error.push(s) }, log, error };
}

beforeAll(async () => {
  idp = await startOutsideIdp();
  await idp.attach({
    redirectUri: 'http://127.0.0.1:1/inspect/callback',
    postLogoutRedirectUri: 'http://127.0.0.1:1/inspect',
    clientId: 'lianzheng-workspace',
    resource: 'urn:lianzheng:gateway',
    audience: 'lianzheng',
    accounts: {},
    setupClaims: {},
  });
});

afterAll(async () => {
  await idp?.close();
});

describe('lianzheng oidc discover', () => {
  it("prints the provider's endpoints as lines the gateway's configuration takes", async () => {
    const c = capture();
    expect(await run(['oidc', 'discover', idp.issuer], {}, c.out)).toBe(0);
    expect(c.log).toEqual([
      `OIDC_ISSUER=${idp.issuer}`,
      `OIDC_JWKS_URL=${idp.endpoints.jwks}`,
      `OIDC_AUTHORIZATION_URL=${idp.endpoints.authorization}`,
      `OIDC_TOKEN_URL=${idp.endpoints.token}`,
      `OIDC_END_SESSION_URL=${idp.endpoints.endSession}`,
    ]);
    // oidc-provider offers S256, public clients and the code flow: nothing to warn about.
    expect(c.error).toEqual([]);
    const env = Object.fromEntries(c.log.map((l) => l.split(/=(.*)/s).slice(0, 2)));
    const config = loadConfig({ ...env, DATA_DIR: '/tmp/x' }, '/x');
    expect(config.oidc).toMatchObject({
      issuer: idp.issuer,
      jwksUrl: idp.endpoints.jwks,
      endSessionUrl: idp.endpoints.endSession,
    });
  });

  it('refuses a document naming another issuer, and one without an endpoint the gateway needs', async () => {
    const c = capture();
    expect(await run(['oidc', 'discover', `${idp.issuer}/`], {}, c.out)).toBe(1);
    expect(c.error.join('\n')).toMatch(/names issuer/);
    const doc = {
      issuer: 'https://idp.example',
      jwks_uri: 'https://idp.example/jwks',
      authorization_endpoint: 'https://idp.example/auth',
    };
    expect(() => readDiscovery('https://idp.example', doc)).toThrow(/OIDC_TOKEN_URL/);
    expect(() =>
      readDiscovery('https://idp.example', { ...doc, token_endpoint: 'javascript:alert(1)' }),
    ).toThrow(/OIDC_TOKEN_URL/);
  });

  it('warns where the provider lacks what the workspace needs', () => {
    const { lines, warnings } = readDiscovery('https://idp.example', {
      issuer: 'https://idp.example',
      jwks_uri: 'http://idp.example/jwks',
      authorization_endpoint: 'https://idp.example/auth',
      token_endpoint: 'https://idp.example/token',
      code_challenge_methods_supported: ['plain'],
      token_endpoint_auth_methods_supported: ['client_secret_basic'],
      grant_types_supported: ['implicit'],
    });
    expect(lines).toHaveLength(4);
    expect(warnings.join('\n')).toMatch(/no end_session_endpoint/);
    expect(warnings.join('\n')).toMatch(/needs S256/);
    expect(warnings.join('\n')).toMatch(/public client/);
    expect(warnings.join('\n')).toMatch(/needs authorization_code/);
    expect(warnings.join('\n')).toMatch(/OIDC_JWKS_URL is plain http/);
  });

  it('says so when there is no document (404), with the network exit code', async () => {
    const server = createServer((_req, res) => {
      res.statusCode = 404;
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const c = capture();
      const at = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      expect(await run(['oidc', 'discover', at], {}, c.out)).toBe(3);
      expect(c.error.join('\n')).toMatch(/answered 404/);
      expect(await run(['oidc', 'discover'], {}, capture().out)).toBe(2);
    } finally {
      server.close();
    }
  });
});
