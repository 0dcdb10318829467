// The local PKI under CRYPTO_SUITE dual and gm (issue #23): an SM2 TSA key with its certificate,
// and a certificate of the gateway's SM2 signing key, both under the one root; OpenSSL reads them.
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { sm2PublicKey, sm2RandomPrivateKey } from '@lianzheng/proof';
import { afterAll, describe, expect, it } from 'vitest';
import { fromPemAll, sm2PublicKeyObject } from './certificate.ts';
import { initPki, loadLocalSm2TimeStampSigner } from './pki.ts';
import { createClockSerial } from './serial.ts';

const run = promisify(execFile);
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
});

describe('initPki with SM2', () => {
  it('issues the SM2 TSA and SM2 key certificates once, under the root, published in certs.pem', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lz-sm2-pki-'));
    dirs.push(dir);
    const publicKey = sm2PublicKey(sm2RandomPrivateKey());
    const first = await initPki({ dir, sm2Tsa: true, sm2PublicKey: sm2PublicKeyObject(publicKey) });
    expect(first.created).toEqual(
      expect.arrayContaining([first.paths.tsaSm2Cert, first.paths.sm2Cert, first.paths.rootCert]),
    );
    const root = new X509Certificate(await fs.readFile(first.paths.rootCert));
    for (const file of [first.paths.tsaSm2Cert, first.paths.sm2Cert]) {
      const cert = new X509Certificate(await fs.readFile(file));
      expect(cert.verify(root.publicKey), file).toBe(true);
      const text = (await run('openssl', ['x509', '-in', file, '-noout', '-text'])).stdout;
      expect(text).toMatch(/ASN1 OID: SM2/);
    }
    // The SM2 key certificate certifies exactly the gateway's key.
    const spki = new X509Certificate(await fs.readFile(first.paths.sm2Cert)).publicKey.export({
      type: 'spki',
      format: 'der',
    });
    expect(Buffer.from(spki.subarray(spki.length - 65)).equals(Buffer.from(publicKey))).toBe(true);
    const published = fromPemAll(await fs.readFile(first.paths.published, 'utf8')).map((d) =>
      new X509Certificate(d).subject.split('\n').find((l) => l.startsWith('CN=')),
    );
    expect(published).toEqual(
      expect.arrayContaining([
        'CN=LianZheng Time-Stamp Authority (SM2)',
        'CN=LianZheng Receipt and Checkpoint Signing (SM2)',
      ]),
    );
    const again = await initPki({ dir, sm2Tsa: true, sm2PublicKey: sm2PublicKeyObject(publicKey) });
    expect(again.reused).toEqual(expect.arrayContaining([first.paths.tsaSm2Cert, first.paths.sm2Cert]));
    // The SM2 TSA signer loads from the files (an SM2 PKCS#8 key, which Node names no type).
    const signer = await loadLocalSm2TimeStampSigner(dir, { nextSerial: createClockSerial() });
    expect(signer.certificates[0]).toEqual(fromPemAll(await fs.readFile(first.paths.tsaSm2Cert, 'utf8'))[0]);
  });

  it('refuses a public key that is not 04 ‖ x ‖ y', () => {
    expect(() => sm2PublicKeyObject(new Uint8Array(64))).toThrow(TypeError);
  });
});
