import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { fromPemAll, ipOctets, readExtensions } from './certificate.ts';
import { OID } from './oids.ts';
import {
  checkTsaCertificate,
  initPki,
  issueCertificate,
  issueClientCertificate,
  issueServerCertificate,
  loadLocalTimeStampSigner,
  loadRootCa,
  PkiError,
  pkiPaths,
  rotateTsaKey,
} from './pki.ts';
import { createClockSerial } from './serial.ts';

const dirs: string[] = [];
const tempDir = async () => {
  const d = await fs.mkdtemp(path.join(os.tmpdir(), 'lz-pki-'));
  dirs.push(d);
  return path.join(d, 'pki');
};
afterAll(async () => {
  await Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true })));
});

const cert = async (file: string) => new X509Certificate(await fs.readFile(file));

describe('initPki', () => {
  it('creates a root CA and a TSA certificate that chain, with the RFC 3161 EKU', async () => {
    const dir = await tempDir();
    const receipt = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const checkpoint = generateKeyPairSync('ed25519');
    const r = await initPki({
      dir,
      receiptPublicKey: receipt.publicKey,
      checkpointPublicKey: checkpoint.publicKey,
    });
    const p = pkiPaths(dir);
    expect(r.created).toEqual([p.rootCert, p.tsaCert, p.receiptCert, p.checkpointCert]);
    const root = await cert(p.rootCert);
    const tsa = await cert(p.tsaCert);
    expect(root.ca).toBe(true);
    expect(root.verify(root.publicKey)).toBe(true);
    expect(tsa.ca).toBe(false);
    expect(tsa.checkIssued(root)).toBe(true);
    expect(tsa.verify(root.publicKey)).toBe(true);
    expect(tsa.keyUsage).toEqual([OID.ekuTimeStamping]);
    const eku = readExtensions(tsa.raw).find((e) => e.oid === OID.extKeyUsage);
    expect(eku?.critical).toBe(true);
    // The key certificates certify exactly the configured public keys.
    const rc = await cert(p.receiptCert);
    const cc = await cert(p.checkpointCert);
    expect(rc.verify(root.publicKey) && cc.verify(root.publicKey)).toBe(true);
    expect(rc.publicKey.export({ format: 'jwk' })).toEqual(receipt.publicKey.export({ format: 'jwk' }));
    expect(cc.publicKey.asymmetricKeyType).toBe('ed25519');
    // Private keys are not world-readable.
    expect((await fs.stat(p.rootKey)).mode & 0o077).toBe(0);
    expect((await fs.stat(p.tsaKey)).mode & 0o077).toBe(0);
    // The published bundle holds root, TSA and key certificates.
    expect(fromPemAll(await fs.readFile(p.published, 'utf8'))).toHaveLength(4);
  });

  it('is idempotent and reissues a key certificate only when the key changed', async () => {
    const dir = await tempDir();
    const k1 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await initPki({ dir, receiptPublicKey: k1.publicKey });
    const p = pkiPaths(dir);
    const before = await fs.readFile(p.rootCert, 'utf8');
    const again = await initPki({ dir, receiptPublicKey: k1.publicKey });
    expect(again.created).toEqual([]);
    expect(await fs.readFile(p.rootCert, 'utf8')).toBe(before);
    const k2 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const third = await initPki({ dir, receiptPublicKey: k2.publicKey });
    expect(third.created).toEqual([p.receiptCert]);
  });
});

describe('rotateTsaKey', () => {
  it('retires the old TSA certificate, keeps it published, and deletes the old key', async () => {
    const dir = await tempDir();
    await initPki({ dir });
    const p = pkiPaths(dir);
    const oldPem = await fs.readFile(p.tsaCert, 'utf8');
    const { retired } = await rotateTsaKey(dir);
    expect(await fs.readFile(retired, 'utf8')).toBe(oldPem);
    const newPem = await fs.readFile(p.tsaCert, 'utf8');
    expect(newPem).not.toBe(oldPem);
    const published = await fs.readFile(p.published, 'utf8');
    expect(published).toContain(oldPem.trim());
    expect(published).toContain(newPem.trim());
    const signer = await loadLocalTimeStampSigner(dir, { nextSerial: createClockSerial() });
    expect(Buffer.from(signer.certificates[0]!).equals(fromPemAll(newPem)[0]!)).toBe(true);
  });
});

describe('client certificates and loading', () => {
  it('issues a clientAuth certificate for a partner, generating its key', async () => {
    const dir = await tempDir();
    await initPki({ dir });
    const { certPath, keyPath } = await issueClientCertificate(dir, {
      name: 'acme-erp',
      organization: 'ACME',
    });
    const c = await cert(certPath);
    expect(c.keyUsage).toEqual([OID.ekuClientAuth]);
    expect(c.verify((await cert(pkiPaths(dir).rootCert)).publicKey)).toBe(true);
    expect(keyPath).toBeDefined();
    await expect(issueClientCertificate(dir, { name: '../evil', organization: 'x' })).rejects.toMatchObject({
      code: 'PKI_BAD_NAME',
    });
  });

  it('refuses a TSA certificate without the timeStamping EKU, or for another key', async () => {
    const dir = await tempDir();
    await initPki({ dir });
    const ca = await loadRootCa(dir);
    const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const receiptCert = issueCertificate(ca, 'receipt', { commonName: 'r' }, k.publicKey);
    expect(() => checkTsaCertificate(receiptCert, k.privateKey)).toThrow(PkiError);
    const tsaCert = issueCertificate(ca, 'tsa', { commonName: 't' }, k.publicKey);
    expect(() => checkTsaCertificate(tsaCert, k.privateKey)).not.toThrow();
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    try {
      checkTsaCertificate(tsaCert, other.privateKey);
      expect.unreachable();
    } catch (err) {
      expect((err as PkiError).code).toBe('PKI_KEY_MISMATCH');
    }
  });

  it('reports an uninitialised directory with a code', async () => {
    await expect(loadRootCa(await tempDir())).rejects.toMatchObject({ code: 'PKI_NOT_INITIALISED' });
  });
});

describe('server certificates', () => {
  it('writes IP addresses as RFC 5280 octets', () => {
    expect([...ipOctets('127.0.0.1')]).toEqual([127, 0, 0, 1]);
    expect([...ipOctets('::1')]).toEqual([...Array(15).fill(0), 1]);
    expect([...ipOctets('2001:db8::8:800:200c:417a')]).toEqual([
      0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0x08, 0x08, 0, 0x20, 0x0c, 0x41, 0x7a,
    ]);
    expect(() => ipOctets('localhost')).toThrow(/not an IP address/);
  });

  it('issues a serverAuth certificate that a TLS client trusting the root accepts for its names', async () => {
    const dir = await tempDir();
    await initPki({ dir });
    const { certPath, keyPath } = await issueServerCertificate(dir, {
      dnsNames: ['localhost', 'gateway.example'],
      ipAddresses: ['127.0.0.1', '::1'],
    });
    const c = await cert(certPath);
    expect(c.keyUsage).toEqual([OID.ekuServerAuth]);
    expect(c.subjectAltName).toBe(
      'DNS:localhost, DNS:gateway.example, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1',
    );
    // A real handshake: node's own checks of the chain and of the name dialled.
    const server = tls.createServer(
      { key: await fs.readFile(keyPath), cert: await fs.readFile(certPath) },
      (s) => s.end('ok'),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const ca = await fs.readFile(pkiPaths(dir).rootCert);
    const dial = (servername: string | undefined) =>
      new Promise<string>((resolve, reject) => {
        const socket = tls.connect({ host: '127.0.0.1', port, ca, servername }, () => {
          socket.once('data', (d) => resolve(String(d)));
        });
        socket.once('error', reject);
      });
    try {
      expect(await dial('localhost')).toBe('ok');
      expect(await dial(undefined)).toBe('ok'); // by IP address
      await expect(dial('other.example')).rejects.toThrow(/altnames/);
    } finally {
      server.close();
    }
    await expect(issueServerCertificate(dir, { dnsNames: [], ipAddresses: [] })).rejects.toMatchObject({
      code: 'PKI_BAD_NAME',
    });
  });
});
