// Which client certificates the gateway will list, and what a listed one resolves to, on real
// PostgreSQL (the TLS side: tests/e2e/gateway-mtls.test.ts).
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ClientCertificateVerifier,
  registerClientCertificate,
  revokeClientCertificate,
} from '../../gateway/src/auth/client-certificates.ts';
import { initPki, issueCertificate, issueClientCertificate, loadRootCa } from '../../gateway/src/tsa/pki.ts';
import { startTestDatabase, type TestDatabase } from './pipeline-support.ts';

let db: TestDatabase;
let pkiDir = '';

beforeAll(async () => {
  db = await startTestDatabase();
  pkiDir = path.join(db.dir, 'pki');
  await initPki({ dir: pkiDir });
});

afterAll(async () => {
  await db?.stop();
});

async function clientCert(name: string): Promise<Buffer> {
  const { certPath } = await issueClientCertificate(pkiDir, { name, organization: 'finance-bureau' });
  return fs.readFile(certPath);
}

describe('client certificates', () => {
  it('resolves a listed certificate to its organisation and role until it is revoked', async () => {
    const cert = await clientCert('fin-a');
    const listed = await registerClientCertificate(db.pool, {
      name: 'fin-a',
      org: 'finance-bureau',
      role: 'unit',
      certificate: cert,
    });
    expect(listed.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(listed.subject).toMatch(/CN=fin-a/);
    const verifier = new ClientCertificateVerifier(() => db.pool, 0);
    expect(await verifier.verify(listed.fingerprint)).toEqual({
      role: 'unit',
      org: 'finance-bureau',
      subject: 'cert:fin-a',
    });
    expect(await verifier.verify('0'.repeat(64))).toBeUndefined();
    expect(await revokeClientCertificate(db.pool, 'fin-a')).toBe(true);
    expect(await revokeClientCertificate(db.pool, 'fin-a')).toBe(false);
    expect(await verifier.verify(listed.fingerprint)).toBeUndefined();
  });

  it('refuses what is not a client certificate, an expired one, a bad name or a second listing', async () => {
    const ca = await loadRootCa(pkiDir);
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    const receiptCert = issueCertificate(ca, 'receipt', { commonName: 'r' }, key);
    await expect(
      registerClientCertificate(db.pool, { name: 'not-client', org: 'x', certificate: receiptCert }),
    ).rejects.toMatchObject({ code: 'NOT_CLIENT_AUTH' });
    const old = issueCertificate(ca, 'client', { commonName: 'old' }, key, {
      now: new Date(Date.now() - 10 * 86_400_000),
      leafDays: 1,
    });
    await expect(
      registerClientCertificate(db.pool, { name: 'old', org: 'x', certificate: old }),
    ).rejects.toMatchObject({ code: 'EXPIRED' });
    await expect(
      registerClientCertificate(db.pool, { name: 'junk', org: 'x', certificate: 'not a certificate' }),
    ).rejects.toMatchObject({ code: 'BAD_CERTIFICATE' });
    const cert = await clientCert('fin-b');
    await expect(
      registerClientCertificate(db.pool, { name: '../fin', org: 'x', certificate: cert }),
    ).rejects.toMatchObject({ code: 'BAD_NAME' });
    await registerClientCertificate(db.pool, { name: 'fin-b', org: 'x', certificate: cert });
    await expect(
      registerClientCertificate(db.pool, { name: 'fin-b2', org: 'x', certificate: cert }),
    ).rejects.toMatchObject({ code: 'DUPLICATE' });
  });
});
