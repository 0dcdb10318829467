import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';

describe('loadConfig', () => {
  it('has working defaults with an empty environment', () => {
    const c = loadConfig({}, '/srv/lz');
    expect(c).toMatchObject({
      dataDir: '/srv/lz/data',
      keysDir: '/srv/lz/data/keys',
      port: 8080,
      host: '127.0.0.1',
      ledger: 'embedded',
      sealIntervalMs: 500,
      sealMaxItems: 10_000,
      logOrigin: 'lianzheng.local/log',
      receiptGroups: true,
      limits: { maxFileBytes: 4 * 1024 ** 3, maxBatchItems: 1000 },
    });
    expect(c.databaseUrl).toBeUndefined();
    expect(c.oidc.issuer).toBeUndefined();
  });

  it('serves HTTPS with the files given, client certificates chaining to the local root by default', () => {
    expect(loadConfig({}, '/x').tls).toBeNull();
    expect(loadConfig({ TLS_CERT_FILE: 'tls/c.pem', TLS_KEY_FILE: 'tls/k.pem' }, '/x').tls).toEqual({
      certFile: '/x/tls/c.pem',
      keyFile: '/x/tls/k.pem',
      clientCaFile: '/x/data/pki/root/ca.cert.pem',
      clientCaExplicit: false,
    });
    expect(
      loadConfig({ TLS_CERT_FILE: 'c.pem', TLS_KEY_FILE: 'k.pem', TLS_CLIENT_CA_FILE: '/etc/ca.pem' }, '/x')
        .tls,
    ).toMatchObject({ clientCaFile: '/etc/ca.pem', clientCaExplicit: true });
    expect(loadConfig({ AUTH_CACHE_MS: '500' }, '/x').authCacheMs).toBe(500);
  });

  it('trusts the proxies named, and takes client certificates from them only when told which header', () => {
    expect(loadConfig({}, '/x').trustedProxies).toEqual([]);
    expect(loadConfig({}, '/x').forwardedClientCert).toBeNull();
    const c = loadConfig(
      { TRUSTED_PROXIES: '10.0.0.5, 10.1.0.0/16,fd00::/8', TLS_CLIENT_CERT_HEADER: 'X-Client-Cert' },
      '/x',
    );
    expect(c.trustedProxies).toEqual(['10.0.0.5', '10.1.0.0/16', 'fd00::/8']);
    expect(c.forwardedClientCert).toEqual({
      header: 'x-client-cert',
      caFile: '/x/data/pki/root/ca.cert.pem',
      caExplicit: false,
    });
    // A client CA without HTTPS is fine when a proxy passes the certificates on.
    expect(
      loadConfig(
        { TRUSTED_PROXIES: '10.0.0.5', TLS_CLIENT_CERT_HEADER: 'x-ssl-cert', TLS_CLIENT_CA_FILE: 'ca.pem' },
        '/x',
      ).forwardedClientCert,
    ).toEqual({ header: 'x-ssl-cert', caFile: '/x/ca.pem', caExplicit: true });
  });

  it('reads every variable it documents', () => {
    const c = loadConfig(
      {
        DATABASE_URL: 'postgres://u:p@db:5432/lz',
        DATA_DIR: 'var',
        PORT: '9000',
        HOST: '0.0.0.0',
        LEDGER: 'fabric',
        FABRIC_CONNECTION_PROFILE: 'fabric/connection.json',
        FABRIC_IDENTITY_DIR: '/etc/lz/finance-user',
        FABRIC_MSP_ID: 'FinanceMSP',
        FABRIC_CHANNEL: 'notary',
        FABRIC_CHAINCODE: 'lz',
        FABRIC_DISCOVERY: 'false',
        FABRIC_AS_LOCALHOST: 'false',
        FABRIC_COMMIT_TIMEOUT_S: '20',
        SEAL_INTERVAL_MS: '250',
        SEAL_MAX_ITEMS: '5000',
        LOG_ORIGIN: 'example.org/log',
        MAX_BODY_BYTES: '2048',
        MAX_FILE_BYTES: '1000000',
        MAX_BATCH_ITEMS: '10',
        OIDC_ISSUER: 'https://idp.example',
        OIDC_JWKS_URL: 'https://idp.example/jwks',
        OIDC_AUDIENCE: 'aud',
        RATE_LIMIT_PUBLIC_PER_MIN: '30',
        REQUEST_TIMEOUT_MS: '2000',
        RECEIPT_GROUPS: 'false',
      },
      '/x',
    );
    expect(c).toMatchObject({
      databaseUrl: 'postgres://u:p@db:5432/lz',
      dataDir: '/x/var',
      port: 9000,
      host: '0.0.0.0',
      ledger: 'fabric',
      fabric: {
        connectionProfile: '/x/fabric/connection.json',
        identityDir: '/etc/lz/finance-user',
        mspId: 'FinanceMSP',
        channel: 'notary',
        chaincode: 'lz',
        discovery: false,
        asLocalhost: false,
        commitTimeoutS: 20,
      },
      sealIntervalMs: 250,
      sealMaxItems: 5000,
      logOrigin: 'example.org/log',
      receiptIssuer: 'example.org',
      limits: { maxBodyBytes: 2048, maxFileBytes: 1_000_000, maxBatchItems: 10 },
      oidc: { issuer: 'https://idp.example', jwksUrl: 'https://idp.example/jwks', audience: 'aud' },
      rateLimitPublicPerMin: 30,
      requestTimeoutMs: 2000,
      receiptGroups: false,
    });
    expect(() => loadConfig({ RECEIPT_GROUPS: 'no' }, '/x')).toThrow(/^RECEIPT_GROUPS: /);
  });

  it("reads an outside provider's claim names and end-session endpoint, the gateway's own names by default", () => {
    expect(loadConfig({}, '/x').oidc).toMatchObject({
      claims: { role: 'role', region: 'region', org: 'org' },
      endSessionUrl: undefined,
      clockToleranceS: 30,
    });
    expect(loadConfig({ OIDC_CLOCK_TOLERANCE_S: '0' }, '/x').oidc.clockToleranceS).toBe(0);
    expect(loadConfig({}, '/x').oidc.scope).toBe('openid');
    expect(loadConfig({ OIDC_SCOPE: ' openid  api://lianzheng/inspect ' }, '/x').oidc.scope).toBe(
      'openid api://lianzheng/inspect',
    );
    const c = loadConfig(
      {
        OIDC_ROLE_CLAIM: 'roles',
        OIDC_REGION_CLAIM: 'https://lianzheng.example/region',
        OIDC_ORG_CLAIM: 'org_code',
        OIDC_END_SESSION_URL: 'https://idp.example/logout',
      },
      '/x',
    );
    expect(c.oidc).toMatchObject({
      claims: { role: 'roles', region: 'https://lianzheng.example/region', org: 'org_code' },
      endSessionUrl: 'https://idp.example/logout',
    });
  });

  it('signs with both suites unless CRYPTO_SUITE says intl or gm, and refuses any other suite', () => {
    expect(loadConfig({}, '/x').cryptoSuite).toBe('dual');
    expect(loadConfig({ CRYPTO_SUITE: 'intl' }, '/x').cryptoSuite).toBe('intl');
    expect(loadConfig({ CRYPTO_SUITE: 'gm' }, '/x').cryptoSuite).toBe('gm');
    for (const wrong of ['sm2', 'GM', 'both']) {
      expect(() => loadConfig({ CRYPTO_SUITE: wrong }, '/x'), wrong).toThrow(
        expect.objectContaining({ code: 'BAD_CONFIG', variable: 'CRYPTO_SUITE' }),
      );
    }
  });

  const bad: [Record<string, string>, string][] = [
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ LEDGER: 'ethereum' }, 'LEDGER'],
    [{ LEDGER: 'fabric' }, 'LEDGER'],
    [{ LEDGER: 'fabric', FABRIC_CONNECTION_PROFILE: 'c.json' }, 'FABRIC_IDENTITY_DIR'],
    [{ LEDGER: 'fabric', FABRIC_IDENTITY_DIR: 'id' }, 'FABRIC_CONNECTION_PROFILE'],
    [
      { FABRIC_CONNECTION_PROFILE: 'c.json', FABRIC_IDENTITY_DIR: 'id', FABRIC_CHANNEL: 'Bad Channel' },
      'FABRIC_CHANNEL',
    ],
    [
      { FABRIC_CONNECTION_PROFILE: 'c.json', FABRIC_IDENTITY_DIR: 'id', FABRIC_MSP_ID: 'a b' },
      'FABRIC_MSP_ID',
    ],
    [
      { FABRIC_CONNECTION_PROFILE: 'c.json', FABRIC_IDENTITY_DIR: 'id', FABRIC_DISCOVERY: 'maybe' },
      'FABRIC_DISCOVERY',
    ],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ DATABASE_URL: 'not a url' }, 'DATABASE_URL'],
    [{ SEAL_INTERVAL_MS: '-1' }, 'SEAL_INTERVAL_MS'],
    [{ MAX_BATCH_ITEMS: '0' }, 'MAX_BATCH_ITEMS'],
    [{ OIDC_ISSUER: 'https://idp' }, 'OIDC_JWKS_URL'],
    [{ OIDC_JWKS_URL: 'https://idp/jwks' }, 'OIDC_ISSUER'],
    [{ OIDC_END_SESSION_URL: 'ftp://idp/logout' }, 'OIDC_END_SESSION_URL'],
    [{ OIDC_ROLE_CLAIM: 'sub' }, 'OIDC_ROLE_CLAIM'],
    [{ OIDC_ROLE_CLAIM: 'nickname' }, 'OIDC_ROLE_CLAIM'],
    [{ OIDC_ORG_CLAIM: 'email' }, 'OIDC_ORG_CLAIM'],
    [{ OIDC_REGION_CLAIM: 'my region' }, 'OIDC_REGION_CLAIM'],
    [{ OIDC_ORG_CLAIM: 'x'.repeat(201) }, 'OIDC_ORG_CLAIM'],
    [{ OIDC_CLOCK_TOLERANCE_S: '301' }, 'OIDC_CLOCK_TOLERANCE_S'],
    [{ OIDC_SCOPE: 'openid "inspect"' }, 'OIDC_SCOPE'],
    [{ OIDC_SCOPE: 'openid\tinspect' }, 'OIDC_SCOPE'],
    [{ LOG_ORIGIN: 'has space' }, 'LOG_ORIGIN'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ REQUEST_TIMEOUT_MS: '1.5' }, 'REQUEST_TIMEOUT_MS'],
    [{ TLS_CERT_FILE: 'c.pem' }, 'TLS_KEY_FILE'],
    [{ TLS_KEY_FILE: 'k.pem' }, 'TLS_CERT_FILE'],
    [{ TLS_CLIENT_CA_FILE: 'ca.pem' }, 'TLS_CLIENT_CA_FILE'],
    [{ AUTH_CACHE_MS: '-1' }, 'AUTH_CACHE_MS'],
    [{ TRUSTED_PROXIES: '10.0.0.256' }, 'TRUSTED_PROXIES'],
    [{ TRUSTED_PROXIES: '10.0.0.0/33' }, 'TRUSTED_PROXIES'],
    [{ TRUSTED_PROXIES: 'proxy.internal' }, 'TRUSTED_PROXIES'],
    [{ TRUSTED_PROXIES: '10.0.0.0/8/1' }, 'TRUSTED_PROXIES'],
    [{ TLS_CLIENT_CERT_HEADER: 'x-client-cert' }, 'TLS_CLIENT_CERT_HEADER'],
    [{ TRUSTED_PROXIES: '10.0.0.5', TLS_CLIENT_CERT_HEADER: 'x client cert' }, 'TLS_CLIENT_CERT_HEADER'],
  ];
  for (const [env, variable] of bad) {
    it(`names ${variable} when ${JSON.stringify(env)}`, () => {
      let caught: unknown;
      try {
        loadConfig(env, '/x');
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(ConfigError);
      expect((caught as ConfigError).variable).toBe(variable);
      expect((caught as ConfigError).code).toBe('BAD_CONFIG');
    });
  }
});
