// The local PKI under CRYPTO_SUITE dual and gm (issue #23): an SM2 root (self-signed, SM2-with-SM3)
// cross-certified by the ECDSA root, certifying the SM2 TSA key, the gateway's SM2 key and the SM2
// receipt keys made by rotation. The certificates are checked by OpenSSL (`openssl x509`, and
// `openssl verify` with the SM2 distinguishing ID) and by Python's gmssl (an independent SM2), and
// the SM2 TSA's tokens chain to either root through proof/.
import { execFile, spawnSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { sm2PublicKey, sm2RandomPrivateKey, sm3, verifyTimestampToken } from '@lianzheng/proof';
import forge from 'node-forge';
import { afterAll, describe, expect, it } from 'vitest';
import { fromPemAll, readExtensions, sm2PublicKeyObject, toPem } from './certificate.ts';
import { type Asn1, fromBinary, fromDer, toDer } from './der.ts';
import { OID } from './oids.ts';
import {
  initPki,
  issueCertificate,
  loadLocalSm2TimeStampSigner,
  loadRootCa,
  loadSm2RootCa,
  loadTimeStampSignerFromFiles,
  pkiPaths,
  rotateTsaKey,
} from './pki.ts';
import { createClockSerial } from './serial.ts';

const run = promisify(execFile);
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
});
const tempDir = async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lz-sm2-pki-'));
  dirs.push(dir);
  return dir;
};
const SM2_ID = 'distid:1234567812345678';

/** The TBSCertificate, signature algorithm and signature (r ‖ s, 64 bytes) of a certificate. */
function partsOf(der: Uint8Array) {
  const [tbs, alg, sig] = fromDer(der).value as Asn1[];
  const bits = fromBinary(sig!.value as string).subarray(1);
  const [r, s] = (fromDer(bits).value as Asn1[]).map((i) =>
    fromBinary(i.value as string)
      .subarray(-32)
      .toString('hex')
      .padStart(64, '0'),
  );
  return {
    tbs: toDer(tbs!),
    algorithm: forge.asn1.derToOid((alg!.value as Asn1[])[0]!.value as string),
    signature: `${r}${s}`,
  };
}
/** The raw SM2 public key (04 ‖ x ‖ y) a certificate certifies. */
function rawPublicKey(der: Uint8Array): Buffer {
  const spki = new X509Certificate(der).publicKey.export({ type: 'spki', format: 'der' });
  return Buffer.from(spki.subarray(spki.length - 65));
}

// Python's gmssl (PyPI; scripts/install-system-deps.sh): SM2 with SM3 and Z over the default ID,
// an implementation of its own. Its constructor mangles a public key starting "04", so the key is
// set afterwards, without the prefix.
const GMSSL = `
import json, sys
from gmssl import sm2
out = []
for c in json.load(sys.stdin):
    s = sm2.CryptSM2(private_key="00", public_key="00")
    s.public_key = c["pub"]
    out.append(bool(s.verify_with_sm3(c["sig"], bytes.fromhex(c["tbs"]))))
print(json.dumps(out))
`;
const gmsslHere =
  Boolean(process.env.CI) || spawnSync('python3', ['-c', 'import gmssl'], { encoding: 'utf8' }).status === 0;

/** gmssl's verdict on each certificate's signature by the issuer key given. */
function gmsslVerifies(cases: { cert: Uint8Array; issuerKey: Uint8Array }[]): boolean[] {
  const input = cases.map(({ cert, issuerKey }) => {
    const p = partsOf(cert);
    return {
      pub: Buffer.from(issuerKey).subarray(1).toString('hex'),
      sig: p.signature,
      tbs: p.tbs.toString('hex'),
    };
  });
  const r = spawnSync('python3', ['-c', GMSSL], { input: JSON.stringify(input), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as boolean[];
}

describe('initPki with SM2: an SM2 root', () => {
  it('issues an SM2-with-SM3 root, cross-certified by the ECDSA root, that certifies every SM2 key; OpenSSL and gmssl verify them', async () => {
    const dir = await tempDir();
    const key = sm2PublicKey(sm2RandomPrivateKey());
    const rotated = sm2PublicKey(sm2RandomPrivateKey());
    const first = await initPki({
      dir,
      sm2Tsa: true,
      sm2PublicKey: sm2PublicKeyObject(key),
      // The first SM2 receipt key is the key of sm2-key.json: certified once, as keys/sm2.cert.pem.
      sm2ReceiptPublicKeys: [
        { kid: 'first', publicKey: sm2PublicKeyObject(key) },
        { kid: 'rotated-kid_1', publicKey: sm2PublicKeyObject(rotated) },
      ],
    });
    const p = first.paths;
    const receiptCert = path.join(p.sm2ReceiptCertsDir, 'rotated-kid_1.cert.pem');
    expect(first.created).toEqual(
      expect.arrayContaining([
        p.rootCert,
        p.sm2RootCert,
        p.sm2RootCross,
        p.tsaSm2Cert,
        p.sm2Cert,
        receiptCert,
      ]),
    );
    await expect(fs.access(path.join(p.sm2ReceiptCertsDir, 'first.cert.pem'))).rejects.toThrow();

    // The root: self-signed with SM2-with-SM3 (1.2.156.10197.1.501), a CA; OpenSSL reads it and,
    // given SM2's distinguishing ID, checks its self-signature.
    const rootDer = fromPemAll(await fs.readFile(p.sm2RootCert, 'utf8'))[0]!;
    expect(partsOf(rootDer).algorithm).toBe(OID.sm2WithSm3);
    const rootText = (await run('openssl', ['x509', '-in', p.sm2RootCert, '-noout', '-text'])).stdout;
    expect(rootText).toMatch(/Signature Algorithm: SM2-with-SM3/);
    expect(rootText).toMatch(/ASN1 OID: SM2/);
    expect(rootText).toMatch(/CA:TRUE/);
    // (`openssl verify -check_ss_sig` gives the ID to the certificate it was asked about, not to
    // the trusted copy of a root, so the self-signature is checked as the docs show for tokens.)
    const tbsFile = path.join(dir, 'root-tbs.der');
    const sigFile = path.join(dir, 'root-sig.der');
    const pubFile = path.join(dir, 'root-pub.pem');
    const rootSig = fromDer(rootDer).value as Asn1[];
    await fs.writeFile(tbsFile, toDer(rootSig[0]!));
    await fs.writeFile(sigFile, fromBinary(rootSig[2]!.value as string).subarray(1));
    await fs.writeFile(
      pubFile,
      new X509Certificate(rootDer).publicKey.export({ type: 'spki', format: 'pem' }) as string,
    );
    const pkeyutl = (id: string) =>
      run('openssl', [
        'pkeyutl',
        '-verify',
        '-pubin',
        '-inkey',
        pubFile,
        '-rawin',
        '-digest',
        'sm3',
        '-pkeyopt',
        `distid:${id}`,
        '-in',
        tbsFile,
        '-sigfile',
        sigFile,
      ]);
    expect((await pkeyutl('1234567812345678')).stdout).toMatch(/Signature Verified Successfully/);
    await expect(pkeyutl('1234567812345679')).rejects.toThrow();

    const sm2Root = await loadSm2RootCa(dir);
    const rootKey = rawPublicKey(sm2Root.certificate);
    const leaves = [p.tsaSm2Cert, p.sm2Cert, receiptCert];
    for (const file of leaves) {
      const der = fromPemAll(await fs.readFile(file, 'utf8'))[0]!;
      expect(partsOf(der).algorithm, file).toBe(OID.sm2WithSm3);
      const text = (await run('openssl', ['x509', '-in', file, '-noout', '-text'])).stdout;
      expect(text).toMatch(/Signature Algorithm: SM2-with-SM3/);
      expect(text).toMatch(/Issuer: O = LianZheng, CN = LianZheng Local Root CA \(SM2\)/);
      // OpenSSL checks the SM2 chain (SM2 signatures with Z over the ID), and through the cross
      // certificate the chain to the ECDSA root.
      const bySm2 = await run('openssl', ['verify', '-vfyopt', SM2_ID, '-CAfile', p.sm2RootCert, file]);
      expect(bySm2.stdout, file).toMatch(/: OK/);
      const byEcdsa = await run('openssl', [
        'verify',
        '-vfyopt',
        SM2_ID,
        '-CAfile',
        p.rootCert,
        '-untrusted',
        p.sm2RootCross,
        file,
      ]);
      expect(byEcdsa.stdout, file).toMatch(/: OK/);
    }
    // Each certifies exactly its key.
    expect(rawPublicKey(fromPemAll(await fs.readFile(p.sm2Cert, 'utf8'))[0]!).equals(Buffer.from(key))).toBe(
      true,
    );
    expect(
      rawPublicKey(fromPemAll(await fs.readFile(receiptCert, 'utf8'))[0]!).equals(Buffer.from(rotated)),
    ).toBe(true);
    // The TSA certificate: the critical EKU of timeStamping only (RFC 3161 §2.3).
    const tsa = new X509Certificate(await fs.readFile(p.tsaSm2Cert));
    expect(tsa.keyUsage).toEqual([OID.ekuTimeStamping]);

    // The cross certificate: the SM2 root's name and key, a CA of path length 0, signed by the
    // ECDSA root (Node checks that ECDSA signature itself).
    const cross = new X509Certificate(await fs.readFile(p.sm2RootCross));
    const ecdsaRoot = new X509Certificate(await fs.readFile(p.rootCert));
    expect(cross.verify(ecdsaRoot.publicKey)).toBe(true);
    expect(cross.subject).toBe(new X509Certificate(sm2Root.certificate).subject);
    expect(rawPublicKey(cross.raw).equals(rootKey)).toBe(true);
    expect(cross.ca).toBe(true);
    expect(readExtensions(cross.raw).find((e) => e.oid === OID.basicConstraints)?.value).toEqual(
      Buffer.from('30060101ff020100', 'hex'),
    );

    // certs.pem publishes the SM2 root, its cross certificate and every SM2 key certificate.
    const published = fromPemAll(await fs.readFile(p.published, 'utf8')).map((d) =>
      Buffer.from(d).toString('hex'),
    );
    for (const file of [p.sm2RootCert, p.sm2RootCross, ...leaves])
      expect(published, file).toContain(fromPemAll(await fs.readFile(file, 'utf8'))[0]!.toString('hex'));

    const again = await initPki({
      dir,
      sm2Tsa: true,
      sm2PublicKey: sm2PublicKeyObject(key),
      sm2ReceiptPublicKeys: [{ kid: 'rotated-kid_1', publicKey: sm2PublicKeyObject(rotated) }],
    });
    expect(again.created).toEqual([]);
    expect(again.reused).toEqual(
      expect.arrayContaining([p.sm2RootCert, p.sm2RootCross, p.tsaSm2Cert, receiptCert]),
    );
  });

  it.skipIf(!gmsslHere)(
    'gmssl (Python, an independent SM2) verifies the SM2 signatures and refuses a changed certificate',
    async () => {
      const dir = await tempDir();
      const key = sm2PublicKey(sm2RandomPrivateKey());
      const { paths: p } = await initPki({ dir, sm2Tsa: true, sm2PublicKey: sm2PublicKeyObject(key) });
      const root = fromPemAll(await fs.readFile(p.sm2RootCert, 'utf8'))[0]!;
      const rootKey = rawPublicKey(root);
      const tsa = fromPemAll(await fs.readFile(p.tsaSm2Cert, 'utf8'))[0]!;
      const sm2Cert = fromPemAll(await fs.readFile(p.sm2Cert, 'utf8'))[0]!;
      // A changed certificate: one byte of the subject's name (inside the TBS) differs.
      const changed = Buffer.from(sm2Cert);
      const at = changed.indexOf(Buffer.from('Checkpoint'));
      expect(at).toBeGreaterThan(0);
      changed[at] = changed[at]! ^ 0x20;
      const otherKey = sm2PublicKey(sm2RandomPrivateKey());
      expect(
        gmsslVerifies([
          { cert: root, issuerKey: rootKey },
          { cert: tsa, issuerKey: rootKey },
          { cert: sm2Cert, issuerKey: rootKey },
          { cert: changed, issuerKey: rootKey },
          { cert: tsa, issuerKey: otherKey },
        ]),
      ).toEqual([true, true, true, false, false]);
      const changedFile = path.join(dir, 'changed.pem');
      await fs.writeFile(changedFile, toPem(changed));
      await expect(
        run('openssl', ['verify', '-vfyopt', SM2_ID, '-CAfile', p.sm2RootCert, changedFile]),
      ).rejects.toThrow(/certificate signature failure/);
    },
  );

  it('re-certifies, under the SM2 root, SM2 keys an earlier version certified by the ECDSA root; the old TSA certificate retires', async () => {
    const dir = await tempDir();
    await initPki({ dir });
    // What `pki init` wrote before the SM2 root existed: the SM2 TSA key and the SM2 key's
    // certificate issued by the ECDSA root.
    const p = pkiPaths(dir);
    const ca = await loadRootCa(dir);
    const tsaKey = generateKeyPairSync('ec', { namedCurve: 'SM2' });
    const oldTsa = issueCertificate(
      ca,
      'tsa',
      { commonName: 'LianZheng Time-Stamp Authority (SM2)' },
      tsaKey.publicKey,
    );
    await fs.writeFile(p.tsaSm2Key, tsaKey.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, {
      mode: 0o600,
    });
    await fs.writeFile(p.tsaSm2Cert, toPem(oldTsa));
    const key = sm2PublicKeyObject(sm2PublicKey(sm2RandomPrivateKey()));
    await fs.mkdir(path.dirname(p.sm2Cert), { recursive: true });
    await fs.writeFile(p.sm2Cert, toPem(issueCertificate(ca, 'checkpoint', { commonName: 'old' }, key)));

    const r = await initPki({ dir, sm2Tsa: true, sm2PublicKey: key });
    expect(r.created).toEqual(expect.arrayContaining([p.sm2RootCert, p.tsaSm2Cert, p.sm2Cert]));
    const newTsa = fromPemAll(await fs.readFile(p.tsaSm2Cert, 'utf8'))[0]!;
    expect(newTsa.equals(oldTsa)).toBe(false);
    // The same key, now under the SM2 root.
    expect(rawPublicKey(newTsa).equals(rawPublicKey(oldTsa))).toBe(true);
    await run('openssl', ['verify', '-vfyopt', SM2_ID, '-CAfile', p.sm2RootCert, p.tsaSm2Cert]);
    await run('openssl', ['verify', '-vfyopt', SM2_ID, '-CAfile', p.sm2RootCert, p.sm2Cert]);
    // The old certificate stays published (tokens it signed name it) in tsa/retired/.
    const serial = new X509Certificate(oldTsa).serialNumber.toLowerCase();
    expect(
      fromPemAll(await fs.readFile(path.join(p.tsaRetiredDir, `${serial}.cert.pem`), 'utf8'))[0],
    ).toEqual(oldTsa);
    expect(await fs.readFile(p.published, 'utf8')).toContain(toPem(oldTsa));
  });

  it('refuses an SM2 receipt key id that is not a thumbprint', async () => {
    const dir = await tempDir();
    const k = sm2PublicKeyObject(sm2PublicKey(sm2RandomPrivateKey()));
    await expect(
      initPki({ dir, sm2ReceiptPublicKeys: [{ kid: '../../root/ca.cert', publicKey: k }] }),
    ).rejects.toMatchObject({ code: 'PKI_BAD_NAME' });
  });

  it('refuses a public key that is not 04 ‖ x ‖ y', () => {
    expect(() => sm2PublicKeyObject(new Uint8Array(64))).toThrow(TypeError);
  });
});

describe('the SM2 TSA under the SM2 root, and its rotation', () => {
  it('tokens chain to the SM2 root and, through the cross certificate, to the ECDSA root; a rotation keeps old tokens verifying', async () => {
    const dir = await tempDir();
    const { paths: p } = await initPki({ dir, sm2Tsa: true });
    const sm2RootPem = await fs.readFile(p.sm2RootCert, 'utf8');
    const ecdsaRootPem = await fs.readFile(p.rootCert, 'utf8');
    const signer = await loadLocalSm2TimeStampSigner(dir, { nextSerial: createClockSerial() });
    // The token carries the TSA certificate and the cross certificate.
    const files = [p.tsaSm2Cert, p.sm2RootCross];
    const expected = await Promise.all(files.map(async (f) => fromPemAll(await fs.readFile(f, 'utf8'))[0]!));
    expect(signer.certificates.map((c) => Buffer.from(c))).toEqual(expected);
    const imprint = sm3(new TextEncoder().encode('a tender notice, 2026'));
    const withCert = await signer.timestamp(imprint, { hashAlgorithm: 'sm3', certReq: true });
    const bare = await signer.timestamp(imprint, { hashAlgorithm: 'sm3', certReq: false });
    for (const roots of [[sm2RootPem], [ecdsaRootPem]]) {
      const check = await verifyTimestampToken(withCert, imprint, roots, { hashAlgorithm: 'sm3' });
      expect(check.status, check.detail).toBe('pass');
    }
    // An unrelated root (another PKI's) is not trusted.
    const other = await tempDir();
    const { paths: q } = await initPki({ dir: other, sm2Tsa: true });
    const foreign = await verifyTimestampToken(
      withCert,
      imprint,
      [await fs.readFile(q.sm2RootCert, 'utf8')],
      {
        hashAlgorithm: 'sm3',
      },
    );
    expect(foreign.code).toBe('TSA_UNTRUSTED');

    const oldPem = await fs.readFile(p.tsaSm2Cert, 'utf8');
    const oldKey = createPublicKey(await fs.readFile(p.tsaSm2Key, 'utf8')).export({
      type: 'spki',
      format: 'der',
    });
    const rotation = await rotateTsaKey(dir, { algorithm: 'sm2' });
    expect(await fs.readFile(rotation.retired, 'utf8')).toBe(oldPem);
    const newPem = await fs.readFile(p.tsaSm2Cert, 'utf8');
    expect(newPem).not.toBe(oldPem);
    const newKey = createPublicKey(await fs.readFile(p.tsaSm2Key, 'utf8')).export({
      type: 'spki',
      format: 'der',
    });
    expect(newKey.equals(oldKey)).toBe(false);
    await run('openssl', ['verify', '-vfyopt', SM2_ID, '-CAfile', p.sm2RootCert, p.tsaSm2Cert]);
    // The ECDSA TSA is untouched by an SM2 rotation.
    const certsPem = await fs.readFile(p.published, 'utf8');
    expect(certsPem).toContain(oldPem.trim());
    expect(certsPem).toContain(newPem.trim());
    // Old tokens: with their certificate, against the root; without, with certs.pem.
    expect(
      (await verifyTimestampToken(withCert, imprint, [sm2RootPem], { hashAlgorithm: 'sm3' })).status,
    ).toBe('pass');
    const bareCheck = await verifyTimestampToken(bare, imprint, [sm2RootPem], {
      hashAlgorithm: 'sm3',
      certificates: [certsPem],
    });
    expect(bareCheck.status, bareCheck.detail).toBe('pass');
    // The new key signs from now on.
    const next = await loadLocalSm2TimeStampSigner(dir, { nextSerial: createClockSerial() });
    expect(toPem(next.certificates[0]!)).toBe(newPem);
    const fresh = await next.timestamp(imprint, { hashAlgorithm: 'sm3', certReq: true });
    expect((await verifyTimestampToken(fresh, imprint, [sm2RootPem], { hashAlgorithm: 'sm3' })).status).toBe(
      'pass',
    );
  });

  it('refuses to rotate an SM2 TSA key that does not exist', async () => {
    const dir = await tempDir();
    await initPki({ dir });
    await expect(rotateTsaKey(dir, { algorithm: 'sm2' })).rejects.toMatchObject({
      code: 'PKI_NOT_INITIALISED',
    });
  });
});

describe('an SM2 TSA certified by an outside SM2 CA (made here with the openssl command line)', () => {
  /** An SM2 CA and a TSA certificate signed by OpenSSL (SM2-with-SM3, the given distinguishing ID). */
  async function opensslSm2Pki(dir: string, id: string) {
    const sh = (args: string[]) => run('openssl', args, { cwd: dir });
    const distid = `distid:${id}`;
    await sh(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:SM2', '-out', 'ca.key']);
    await sh([
      'req',
      '-x509',
      '-new',
      '-key',
      'ca.key',
      '-sm3',
      '-sigopt',
      distid,
      '-subj',
      '/O=Outside/CN=Outside SM2 CA',
      '-days',
      '30',
      '-out',
      'ca.pem',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign',
    ]);
    await sh(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:SM2', '-out', 'tsa.key']);
    await sh([
      'req',
      '-new',
      '-key',
      'tsa.key',
      '-sm3',
      '-sigopt',
      distid,
      '-subj',
      '/O=Outside/CN=Outside SM2 TSA',
      '-out',
      'tsa.csr',
    ]);
    await fs.writeFile(
      path.join(dir, 'ext.cnf'),
      'extendedKeyUsage=critical,timeStamping\nkeyUsage=critical,digitalSignature,nonRepudiation\nbasicConstraints=critical,CA:FALSE\n',
    );
    await sh([
      'x509',
      '-req',
      '-in',
      'tsa.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-sm3',
      '-sigopt',
      distid,
      '-vfyopt',
      distid,
      '-days',
      '20',
      '-extfile',
      'ext.cnf',
      '-out',
      'tsa.pem',
    ]);
    return {
      keyPath: path.join(dir, 'tsa.key'),
      certPath: path.join(dir, 'tsa.pem'),
      caPem: await fs.readFile(path.join(dir, 'ca.pem'), 'utf8'),
    };
  }

  it('loads as a GM/T 0033 signer whose tokens proof/ verifies up to the OpenSSL-made root; an SM2 chain signed with another ID is refused', async () => {
    const good = await opensslSm2Pki(await tempDir(), '1234567812345678');
    const signer = await loadTimeStampSignerFromFiles({ ...good, nextSerial: createClockSerial() });
    const imprint = sm3(new TextEncoder().encode('bid opening minutes'));
    const token = await signer.timestamp(imprint, { hashAlgorithm: 'sm3', certReq: true });
    const check = await verifyTimestampToken(token, imprint, [good.caPem], { hashAlgorithm: 'sm3' });
    expect(check.status, check.detail).toBe('pass');
    // OpenSSL signed this chain over another ID: proof's SM2 (Z over 1234567812345678) refuses it.
    const other = await opensslSm2Pki(await tempDir(), 'ALICE123@YAHOO.COM');
    const otherSigner = await loadTimeStampSignerFromFiles({ ...other, nextSerial: createClockSerial() });
    const otherToken = await otherSigner.timestamp(imprint, { hashAlgorithm: 'sm3', certReq: true });
    expect(
      (await verifyTimestampToken(otherToken, imprint, [other.caPem], { hashAlgorithm: 'sm3' })).code,
    ).toBe('TSA_UNTRUSTED');
  });
});
