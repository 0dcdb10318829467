// Behind a reverse proxy (TRUSTED_PROXIES): the client's address comes from X-Forwarded-For, and a
// partner's client certificate, verified by the proxy that terminates TLS, comes in
// TLS_CLIENT_CERT_HEADER — but only on connections from the proxies named; the gateway checks the
// certificate against the client CA and looks it up as it does one presented to it directly.
// Real PostgreSQL, certificates from the local PKI (and a second, foreign one).
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../gateway/src/app.ts';
import {
  registerClientCertificate,
  revokeClientCertificate,
} from '../../gateway/src/auth/client-certificates.ts';
import { testConfig } from '../../gateway/src/config.ts';
import { initPki, issueCertificate, issueClientCertificate, loadRootCa } from '../../gateway/src/tsa/pki.ts';
import { demoProject, startTestDatabase, type TestDatabase } from './pipeline-support.ts';

const PROXY = '10.0.0.5';
const STRANGER = '203.0.113.7';
const HEADER = 'x-client-cert';
const project = demoProject();

let db: TestDatabase;
let app: FastifyInstance;
let pkiDir = '';
const pem: Record<string, string> = {};

async function issued(dir: string, name: string): Promise<string> {
  const { certPath } = await issueClientCertificate(dir, { name, organization: project.ownerOrg });
  return fs.readFile(certPath, 'utf8');
}

beforeAll(async () => {
  db = await startTestDatabase();
  pkiDir = path.join(db.dir, 'pki');
  await initPki({ dir: pkiDir });
  const foreignDir = path.join(db.dir, 'foreign-pki');
  await initPki({ dir: foreignDir, organization: 'Someone Else' });
  pem.partner = await issued(pkiDir, 'erp-proxy');
  pem.unlisted = await issued(pkiDir, 'never-listed');
  pem.revoked = await issued(pkiDir, 'revoked');
  pem.foreign = await issued(foreignDir, 'erp-proxy');
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
  const expired = issueCertificate(await loadRootCa(pkiDir), 'client', { commonName: 'old' }, key, {
    now: new Date(Date.now() - 10 * 86_400_000),
    leafDays: 1,
  });
  pem.expired = new X509Certificate(expired).toString();
  for (const name of ['erp-proxy', 'revoked']) {
    await registerClientCertificate(db.pool, {
      name,
      org: project.ownerOrg,
      role: 'partner',
      certificate: pem[name === 'erp-proxy' ? 'partner' : 'revoked']!,
    });
  }
  await revokeClientCertificate(db.pool, 'revoked');
  app = buildApp({
    config: testConfig({
      dataDir: db.dir,
      authCacheMs: 0,
      rateLimitPublicPerMin: 3,
      trustedProxies: [PROXY, 'fd00::/8'],
      forwardedClientCert: {
        header: HEADER,
        caFile: path.join(pkiDir, 'root', 'ca.cert.pem'),
        caExplicit: true,
      },
    }),
    db: db.pool,
    pipeline: false,
  });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await db?.stop();
});

/** GET /v1/webhooks (units, partners and admins only) from `peer`, with the certificate header. */
function asPartner(peer: string, value: string | undefined) {
  return app.inject({
    method: 'GET',
    url: '/v1/webhooks',
    remoteAddress: peer,
    headers: value === undefined ? {} : { [HEADER]: value },
  });
}

describe('behind trusted proxies', () => {
  it('takes a client certificate the proxy passed on, in the encodings proxies use', async () => {
    const base64 = pem.partner!.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, '');
    for (const [encoding, value] of [
      ['URL-encoded PEM (nginx $ssl_client_escaped_cert)', encodeURIComponent(pem.partner!)],
      ['PEM with spaces for line breaks (Apache)', pem.partner!.trim().replace(/\n/g, ' ')],
      ['base64 DER (Traefik)', base64],
    ] as const) {
      const res = await asPartner(PROXY, value);
      expect(res.statusCode, `${encoding}: ${res.body}`).toBe(200);
    }
    // An IPv4 proxy seen on a dual-stack socket, and one inside a trusted range.
    expect((await asPartner(`::ffff:${PROXY}`, encodeURIComponent(pem.partner!))).statusCode).toBe(200);
    expect((await asPartner('fd00::17', encodeURIComponent(pem.partner!))).statusCode).toBe(200);
    // Without the header the request is the anonymous public's.
    expect((await asPartner(PROXY, undefined)).statusCode).toBe(401);
  });

  it('refuses the header from anyone else, and certificates it must not take', async () => {
    const refusals: [string, string, string, RegExp][] = [
      [
        'from a peer not in TRUSTED_PROXIES',
        STRANGER,
        encodeURIComponent(pem.partner!),
        /not in TRUSTED_PROXIES/,
      ],
      ['issued by another CA', PROXY, encodeURIComponent(pem.foreign!), /not issued by the client CA/],
      ['expired', PROXY, encodeURIComponent(pem.expired!), /outside its validity period/],
      ['not a certificate', PROXY, 'hello%20world', /is not a certificate/],
      [
        'issued by the CA but never listed',
        PROXY,
        encodeURIComponent(pem.unlisted!),
        /unknown, revoked or expired/,
      ],
      ['revoked', PROXY, encodeURIComponent(pem.revoked!), /unknown, revoked or expired/],
    ];
    for (const [what, peer, value, detail] of refusals) {
      const res = await asPartner(peer, value);
      expect(res.statusCode, what).toBe(401);
      expect(res.headers['content-type'], what).toMatch(/^application\/problem\+json/);
      expect(res.json().reason, what).toBe('BAD_CLIENT_CERTIFICATE');
      expect(res.json().detail, `${what}: ${res.json().detail}`).toMatch(detail);
    }
  });

  it("rate-limits each client by the proxy's X-Forwarded-For, and ignores it from anyone else", async () => {
    const verify = (peer: string, forwardedFor: string) =>
      app.inject({
        method: 'GET',
        url: '/.well-known/jwks.json',
        remoteAddress: peer,
        headers: { 'x-forwarded-for': forwardedFor },
      });
    // RATE_LIMIT_PUBLIC_PER_MIN=3 here: a villager's fourth request waits, another's does not.
    for (let i = 0; i < 3; i++) expect((await verify(PROXY, '198.51.100.1')).statusCode).toBe(200);
    expect((await verify(PROXY, '198.51.100.1')).statusCode).toBe(429);
    expect((await verify(PROXY, '198.51.100.2')).statusCode).toBe(200);
    // A stranger cannot pick a new address per request to escape its limit.
    for (let i = 0; i < 3; i++) expect((await verify(STRANGER, `192.0.2.${i}`)).statusCode).toBe(200);
    expect((await verify(STRANGER, '192.0.2.99')).statusCode).toBe(429);
  });
});
