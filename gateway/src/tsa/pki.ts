// The gateway's local PKI (`lianzheng pki init`): a root CA, the TSA certificate, certificates for
// the receipt (ES256) and checkpoint (Ed25519) keys, and partners' mTLS client certificates. With
// CRYPTO_SUITE dual or gm also an SM2 root (SM2-with-SM3, cross-certified by the ECDSA root) that
// certifies the SM2 TSA key and the SM2 receipt and checkpoint keys (docs/gm-crypto.md).
// Production may instead hand the TSA a key and certificate from an external CA
// (loadTimeStampSignerFromFiles). Layout under DATA_DIR/pki — see README.md in this folder.
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  X509Certificate,
} from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  buildCertificate,
  certificateSubjectAsn1,
  type DistinguishedName,
  ext,
  fromPemAll,
  KEY_USAGE,
  keyIdentifier,
  publicKeyOf,
  readExtensions,
  toPem,
} from './certificate.ts';
import { OID } from './oids.ts';
import type { NextSerial } from './serial.ts';
import { createTimeStampSigner, type TimeStampSigner, type TimeStampSignerOptions } from './signer.ts';

export class PkiError extends Error {
  constructor(
    readonly code:
      | 'PKI_NOT_INITIALISED'
      | 'PKI_BAD_KEY'
      | 'PKI_BAD_CERTIFICATE'
      | 'PKI_KEY_MISMATCH'
      | 'PKI_NOT_TIMESTAMPING'
      | 'PKI_BAD_NAME',
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'PkiError';
  }
}

export interface CertificateAuthority {
  privateKey: KeyObject;
  certificate: Buffer;
}

export interface PkiOptions {
  /** Organisation put in every subject (default "LianZheng"). */
  organization?: string;
  country?: string;
  now?: Date;
  /** Root validity in years (default 20): old tokens must chain for as long as they matter. */
  rootYears?: number;
  /** End-entity validity in days (default 825). */
  leafDays?: number;
}

const DAY = 86_400_000;
const backdate = (d: Date) => new Date(d.getTime() - 5 * 60_000); // tolerate small clock skew

const ecKey = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
const sm2Key = () => generateKeyPairSync('ec', { namedCurve: 'SM2' });

/**
 * A self-signed root: ECDSA P-256 (default), or SM2 whose certificates are signed SM2-with-SM3
 * (GM/T 0015; `algorithm: 'sm2'`).
 */
export function createRootCa(
  options: PkiOptions & { commonName?: string; algorithm?: 'ecdsa' | 'sm2' } = {},
): CertificateAuthority {
  const now = options.now ?? new Date();
  const sm2 = options.algorithm === 'sm2';
  const { privateKey, publicKey } = sm2 ? sm2Key() : ecKey();
  const name: DistinguishedName = {
    commonName: options.commonName ?? (sm2 ? 'LianZheng Local Root CA (SM2)' : 'LianZheng Local Root CA'),
    organization: options.organization ?? 'LianZheng',
    country: options.country,
  };
  const keyId = keyIdentifier(publicKey);
  const certificate = buildCertificate({
    subject: name,
    publicKey,
    issuer: { name, privateKey },
    notBefore: backdate(now),
    notAfter: new Date(now.getTime() + (options.rootYears ?? 20) * 365 * DAY),
    extensions: [
      ext.basicConstraints(true),
      ext.keyUsage([KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign]),
      ext.subjectKeyIdentifier(keyId),
    ],
  });
  return { privateKey, certificate };
}

/**
 * The SM2 root's key certified by the ECDSA root: a cross certificate (CA, path length 0) with the
 * SM2 root's own name and key identifier. SM2 TSA tokens carry it, so a verifier that pins only
 * the ECDSA root (every trust file made before the SM2 root existed, `openssl`) still reaches a
 * root from an SM2 TSA certificate, and one that pins the SM2 root never needs it.
 */
export function crossCertify(
  ca: CertificateAuthority,
  sm2Root: CertificateAuthority,
  options: PkiOptions = {},
): Buffer {
  const now = options.now ?? new Date();
  const subject = new X509Certificate(sm2Root.certificate);
  const issuer = new X509Certificate(ca.certificate);
  const publicKey = createPublicKey(sm2Root.privateKey);
  return buildCertificate({
    subject: certificateSubjectAsn1(sm2Root.certificate),
    publicKey,
    issuer: { name: certificateSubjectAsn1(ca.certificate), privateKey: ca.privateKey },
    notBefore: backdate(now),
    notAfter: new Date(Math.min(new Date(subject.validTo).getTime(), new Date(issuer.validTo).getTime())),
    extensions: [
      ext.basicConstraints(true, 0),
      ext.keyUsage([KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign]),
      ext.subjectKeyIdentifier(keyIdentifier(publicKey)),
      ext.authorityKeyIdentifier(keyIdentifier(createPublicKey(ca.privateKey))),
    ],
  });
}

/** Whether `certDer` names `ca`'s key as its issuer's (authorityKeyIdentifier, as issued here). */
export function issuedBy(certDer: Uint8Array, ca: CertificateAuthority): boolean {
  const aki = readExtensions(certDer).find((e) => e.oid === OID.authorityKeyIdentifier);
  const want = ext.authorityKeyIdentifier(keyIdentifier(createPublicKey(ca.privateKey))).value;
  return aki !== undefined && Buffer.from(aki.value).equals(Buffer.from(want));
}

type LeafPurpose = 'tsa' | 'receipt' | 'checkpoint' | 'client' | 'server' | 'document';

/** Issue an end-entity certificate for `publicKey` under the CA. */
export function issueCertificate(
  ca: CertificateAuthority,
  purpose: LeafPurpose,
  subject: DistinguishedName,
  publicKey: KeyObject,
  options: PkiOptions & { dnsNames?: string[]; ipAddresses?: string[] } = {},
): Buffer {
  const now = options.now ?? new Date();
  const caCert = new X509Certificate(ca.certificate);
  const notAfter = new Date(
    Math.min(now.getTime() + (options.leafDays ?? 825) * DAY, new Date(caCert.validTo).getTime()),
  );
  const caKeyId = keyIdentifier(createPublicKey(ca.privateKey));
  const extensions = [
    ext.basicConstraints(false),
    ext.subjectKeyIdentifier(keyIdentifier(publicKey)),
    ext.authorityKeyIdentifier(caKeyId),
  ];
  switch (purpose) {
    case 'tsa':
      // RFC 3161 §2.3: the TSA certificate has exactly one EKU, timeStamping, and it is critical.
      extensions.push(ext.keyUsage([KEY_USAGE.digitalSignature, KEY_USAGE.nonRepudiation]));
      extensions.push(ext.extKeyUsage([OID.ekuTimeStamping], true));
      break;
    case 'receipt':
    case 'checkpoint':
      extensions.push(ext.keyUsage([KEY_USAGE.digitalSignature]));
      break;
    case 'document':
      // Signs the gateway's PDFs (certificates, audit reports). nonRepudiation (contentCommitment)
      // because a signed document is a statement; the EKU names RFC 9336 documentSigning and
      // emailProtection, the usage NSS (poppler's pdfsig, Firefox) checks for a signer.
      extensions.push(ext.keyUsage([KEY_USAGE.digitalSignature, KEY_USAGE.nonRepudiation]));
      extensions.push(ext.extKeyUsage([OID.ekuDocumentSigning, OID.ekuEmailProtection], false));
      break;
    case 'client':
      extensions.push(ext.keyUsage([KEY_USAGE.digitalSignature]));
      extensions.push(ext.extKeyUsage([OID.ekuClientAuth], false));
      if (options.dnsNames?.length) extensions.push(ext.subjectAltName({ dns: options.dnsNames }));
      break;
    case 'server':
      // A TLS server's certificate: clients match the host they dialled against its names.
      extensions.push(ext.keyUsage([KEY_USAGE.digitalSignature]));
      extensions.push(ext.extKeyUsage([OID.ekuServerAuth], false));
      extensions.push(ext.subjectAltName({ dns: options.dnsNames, ips: options.ipAddresses }));
      break;
  }
  return buildCertificate({
    subject,
    publicKey,
    issuer: { name: certificateSubjectAsn1(ca.certificate), privateKey: ca.privateKey },
    notBefore: backdate(now),
    notAfter,
    extensions,
  });
}

// ---------------------------------------------------------------------------------------------
// Files

export interface PkiPaths {
  dir: string;
  rootKey: string;
  rootCert: string;
  tsaKey: string;
  tsaCert: string;
  tsaRetiredDir: string;
  /** The GM/T 0033 TSA (CRYPTO_SUITE dual and gm): an SM2 key and its certificate. */
  tsaSm2Key: string;
  tsaSm2Cert: string;
  /** The certificate of the gateway's SM2 key (receipts and checkpoints). */
  sm2Cert: string;
  /** SM2 receipt keys made by rotation: `<kid>.cert.pem` each, issued by the SM2 root. */
  sm2ReceiptCertsDir: string;
  /** SM2 checkpoint keys made by rotation, likewise. */
  sm2CheckpointCertsDir: string;
  /** The SM2 root (CRYPTO_SUITE dual and gm): key, self-signed certificate, cross certificate. */
  sm2RootKey: string;
  sm2RootCert: string;
  sm2RootCross: string;
  receiptCert: string;
  checkpointCert: string;
  clientsDir: string;
  serverKey: string;
  serverCert: string;
  documentKey: string;
  documentCert: string;
  /** Everything a verifier may need, published at /.well-known/lianzheng/certs.pem. */
  published: string;
}

export function pkiPaths(dir: string): PkiPaths {
  return {
    dir,
    rootKey: path.join(dir, 'root', 'ca.key.pem'),
    rootCert: path.join(dir, 'root', 'ca.cert.pem'),
    tsaKey: path.join(dir, 'tsa', 'tsa.key.pem'),
    tsaCert: path.join(dir, 'tsa', 'tsa.cert.pem'),
    tsaRetiredDir: path.join(dir, 'tsa', 'retired'),
    tsaSm2Key: path.join(dir, 'tsa', 'tsa-sm2.key.pem'),
    tsaSm2Cert: path.join(dir, 'tsa', 'tsa-sm2.cert.pem'),
    sm2Cert: path.join(dir, 'keys', 'sm2.cert.pem'),
    sm2ReceiptCertsDir: path.join(dir, 'keys', 'sm2-receipt'),
    sm2CheckpointCertsDir: path.join(dir, 'keys', 'sm2-checkpoint'),
    sm2RootKey: path.join(dir, 'root', 'ca-sm2.key.pem'),
    sm2RootCert: path.join(dir, 'root', 'ca-sm2.cert.pem'),
    sm2RootCross: path.join(dir, 'root', 'ca-sm2.cross.cert.pem'),
    receiptCert: path.join(dir, 'keys', 'receipt.cert.pem'),
    checkpointCert: path.join(dir, 'keys', 'checkpoint.cert.pem'),
    clientsDir: path.join(dir, 'clients'),
    serverKey: path.join(dir, 'server', 'server.key.pem'),
    serverCert: path.join(dir, 'server', 'server.cert.pem'),
    documentKey: path.join(dir, 'documents', 'document.key.pem'),
    documentCert: path.join(dir, 'documents', 'document.cert.pem'),
    published: path.join(dir, 'certs.pem'),
  };
}

const exists = (p: string) =>
  fs.access(p).then(
    () => true,
    () => false,
  );

async function writeSecret(file: string, key: KeyObject): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await fs.writeFile(file, key.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
}

async function writePublic(file: string, der: Uint8Array): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, toPem(der));
}

async function readKey(file: string): Promise<KeyObject> {
  try {
    return createPrivateKey(await fs.readFile(file, 'utf8'));
  } catch (err) {
    throw new PkiError('PKI_BAD_KEY', `${file}: ${(err as Error).message}`);
  }
}

async function readCerts(file: string): Promise<Buffer[]> {
  const certs = fromPemAll(await fs.readFile(file, 'utf8').catch(() => ''));
  if (certs.length === 0) throw new PkiError('PKI_BAD_CERTIFICATE', `${file}: no certificate`);
  return certs;
}

export async function loadRootCa(dir: string): Promise<CertificateAuthority> {
  const p = pkiPaths(dir);
  if (!(await exists(p.rootKey))) throw new PkiError('PKI_NOT_INITIALISED', `${p.rootKey} is missing`);
  return { privateKey: await readKey(p.rootKey), certificate: (await readCerts(p.rootCert))[0]! };
}

/** The SM2 root of a `pki init`ed directory made with CRYPTO_SUITE dual or gm. */
export async function loadSm2RootCa(dir: string): Promise<CertificateAuthority> {
  const p = pkiPaths(dir);
  if (!(await exists(p.sm2RootKey)))
    throw new PkiError(
      'PKI_NOT_INITIALISED',
      `${p.sm2RootKey} is missing: lianzheng pki init with CRYPTO_SUITE dual or gm makes it`,
    );
  return { privateKey: await readKey(p.sm2RootKey), certificate: (await readCerts(p.sm2RootCert))[0]! };
}

/** Keeps a TSA certificate that no longer signs in tsa/retired/ (in certs.pem; tokens name it). */
async function retireTsaCertificate(paths: PkiPaths, certificate: Buffer): Promise<string> {
  const serial = new X509Certificate(certificate).serialNumber.toLowerCase();
  const retired = path.join(paths.tsaRetiredDir, `${serial}.cert.pem`);
  await writePublic(retired, certificate);
  return retired;
}

export interface InitPkiOptions extends PkiOptions {
  /** DATA_DIR/pki */
  dir: string;
  /** The receipt signing key's public key (ES256), to certify. */
  receiptPublicKey?: KeyObject;
  /** The checkpoint signing key's public key (Ed25519), to certify. */
  checkpointPublicKey?: KeyObject;
  /** Also an SM2 TSA key and certificate (CRYPTO_SUITE dual and gm): SM3 imprints, GM/T 0033. */
  sm2Tsa?: boolean;
  /** The gateway's SM2 key (SM2 receipts and checkpoint lines; `sm2PublicKeyObject`), to certify. */
  sm2PublicKey?: KeyObject;
  /**
   * SM2 receipt keys made by rotation (KeyRing `sm2ReceiptPublicKeys`), to certify each under the
   * SM2 root as keys/sm2-receipt/<kid>.cert.pem; one equal to `sm2PublicKey` is certified there.
   */
  sm2ReceiptPublicKeys?: { kid: string; publicKey: KeyObject }[];
  /** SM2 checkpoint keys made by rotation (KeyRing `sm2CheckpointPublicKeys`), likewise. */
  sm2CheckpointPublicKeys?: { kid: string; publicKey: KeyObject }[];
}

export interface InitPkiResult {
  paths: PkiPaths;
  created: string[];
  reused: string[];
}

/**
 * `lianzheng pki init`: idempotent. Existing root and TSA files are kept; key certificates are
 * (re)issued when missing or when the certified public key is no longer the configured one.
 */
export async function initPki(options: InitPkiOptions): Promise<InitPkiResult> {
  const paths = pkiPaths(options.dir);
  const created: string[] = [];
  const reused: string[] = [];
  const org = options.organization ?? 'LianZheng';

  let ca: CertificateAuthority;
  if (await exists(paths.rootKey)) {
    ca = await loadRootCa(options.dir);
    reused.push(paths.rootCert);
  } else {
    ca = createRootCa(options);
    await writeSecret(paths.rootKey, ca.privateKey);
    await writePublic(paths.rootCert, ca.certificate);
    created.push(paths.rootCert);
  }

  if ((await exists(paths.tsaKey)) && (await exists(paths.tsaCert))) {
    reused.push(paths.tsaCert);
  } else {
    await issueTsaFiles(ca, paths, { ...options, organization: org });
    created.push(paths.tsaCert);
  }

  // CRYPTO_SUITE dual and gm: the SM2 root, kept once made (its certificate is what a GM/T
  // verifier pins), with its cross certificate from the ECDSA root.
  let sm2Ca: CertificateAuthority | undefined;
  if (
    options.sm2Tsa ||
    options.sm2PublicKey ||
    options.sm2ReceiptPublicKeys?.length ||
    options.sm2CheckpointPublicKeys?.length
  ) {
    if (await exists(paths.sm2RootKey)) {
      sm2Ca = await loadSm2RootCa(options.dir);
      reused.push(paths.sm2RootCert);
    } else {
      sm2Ca = createRootCa({ ...options, algorithm: 'sm2' });
      await writeSecret(paths.sm2RootKey, sm2Ca.privateKey);
      await writePublic(paths.sm2RootCert, sm2Ca.certificate);
      created.push(paths.sm2RootCert);
    }
    const cross = await readCerts(paths.sm2RootCross).catch(() => [] as Buffer[]);
    // Kept while it is the ECDSA root's certificate of this SM2 root's key.
    const sm2Spki = createPublicKey(sm2Ca.privateKey).export({ type: 'spki', format: 'der' });
    const crossKey =
      cross[0] && new X509Certificate(cross[0]).publicKey.export({ type: 'spki', format: 'der' });
    if (cross[0] && crossKey && issuedBy(cross[0], ca) && Buffer.compare(crossKey, sm2Spki) === 0)
      reused.push(paths.sm2RootCross);
    else {
      await writePublic(paths.sm2RootCross, crossCertify(ca, sm2Ca, options));
      created.push(paths.sm2RootCross);
    }
  }

  if (options.sm2Tsa && sm2Ca) {
    const subject = { commonName: 'LianZheng Time-Stamp Authority (SM2)', organization: org };
    const current = (await exists(paths.tsaSm2Key))
      ? await readCerts(paths.tsaSm2Cert).catch(() => [] as Buffer[])
      : [];
    if (current[0] && issuedBy(current[0], sm2Ca)) reused.push(paths.tsaSm2Cert);
    else if (current[0]) {
      // Issued by the ECDSA root before the SM2 root existed: the same key, certified again by
      // the SM2 root. The old certificate retires (in certs.pem), so tokens that name it verify.
      await retireTsaCertificate(paths, current[0]);
      const key = createPublicKey(await readKey(paths.tsaSm2Key));
      await writePublic(paths.tsaSm2Cert, issueCertificate(sm2Ca, 'tsa', subject, key, options));
      created.push(paths.tsaSm2Cert);
    } else {
      const { privateKey, publicKey } = sm2Key();
      await writeSecret(paths.tsaSm2Key, privateKey);
      await writePublic(paths.tsaSm2Cert, issueCertificate(sm2Ca, 'tsa', subject, publicKey, options));
      created.push(paths.tsaSm2Cert);
    }
  }

  const sm2Cn = 'LianZheng Receipt and Checkpoint Signing (SM2)';
  const keyCerts: [string, KeyObject | undefined, string, 'receipt' | 'checkpoint', CertificateAuthority][] =
    [
      [paths.receiptCert, options.receiptPublicKey, 'LianZheng Receipt Signing', 'receipt', ca],
      [paths.checkpointCert, options.checkpointPublicKey, 'LianZheng Checkpoint Signing', 'checkpoint', ca],
    ];
  if (sm2Ca) {
    keyCerts.push([paths.sm2Cert, options.sm2PublicKey, sm2Cn, 'checkpoint', sm2Ca]);
    const first =
      options.sm2PublicKey && publicKeyOf(options.sm2PublicKey).export({ type: 'spki', format: 'der' });
    const rotated = [
      ...(options.sm2ReceiptPublicKeys ?? []).map((k) => ({ ...k, role: 'receipt' as const })),
      ...(options.sm2CheckpointPublicKeys ?? []).map((k) => ({ ...k, role: 'checkpoint' as const })),
    ];
    for (const { kid, publicKey, role } of rotated) {
      // A kid is an RFC 7638 thumbprint (base64url); anything else does not become a file name.
      if (!/^[A-Za-z0-9_-]{1,128}$/.test(kid))
        throw new PkiError('PKI_BAD_NAME', `SM2 ${role} key id ${kid}`);
      if (first && Buffer.compare(first, publicKey.export({ type: 'spki', format: 'der' })) === 0) continue;
      const dir = role === 'receipt' ? paths.sm2ReceiptCertsDir : paths.sm2CheckpointCertsDir;
      const cn =
        role === 'receipt' ? 'LianZheng Receipt Signing (SM2)' : 'LianZheng Checkpoint Signing (SM2)';
      keyCerts.push([path.join(dir, `${kid}.cert.pem`), publicKey, cn, role, sm2Ca]);
    }
  }
  for (const [file, key, cn, purpose, issuer] of keyCerts) {
    if (!key) continue;
    const current = await readCerts(file).catch(() => [] as Buffer[]);
    const spki = publicKeyOf(key).export({ type: 'spki', format: 'der' });
    const same =
      current[0] && new X509Certificate(current[0]).publicKey.export({ type: 'spki', format: 'der' });
    // Reissued when the key changed, or (SM2 keys) when an earlier version's ECDSA root issued it.
    if (same && Buffer.compare(same, spki) === 0 && issuedBy(current[0]!, issuer)) {
      reused.push(file);
      continue;
    }
    await writePublic(
      file,
      issueCertificate(issuer, purpose, { commonName: cn, organization: org }, key, options),
    );
    created.push(file);
  }

  await writePublishedCertificates(options.dir);
  return { paths, created, reused };
}

async function issueTsaFiles(ca: CertificateAuthority, paths: PkiPaths, options: PkiOptions): Promise<void> {
  const { privateKey, publicKey } = ecKey();
  const cert = issueCertificate(
    ca,
    'tsa',
    { commonName: 'LianZheng Time-Stamp Authority', organization: options.organization ?? 'LianZheng' },
    publicKey,
    options,
  );
  await writeSecret(paths.tsaKey, privateKey);
  await writePublic(paths.tsaCert, cert);
}

/**
 * `lianzheng pki rotate-tsa`: a new TSA key and certificate. The old certificate moves to
 * tsa/retired/ and stays in certs.pem, so tokens it signed keep verifying (they also carry the
 * certificate themselves when certReq was set, and both chain to the same root). The old private
 * key is deleted: nothing needs it any more. `algorithm: 'sm2'` rotates the SM2 (GM/T 0033) TSA
 * key instead, under the SM2 root, the same way.
 */
export async function rotateTsaKey(
  dir: string,
  options: PkiOptions & { algorithm?: 'ecdsa' | 'sm2' } = {},
): Promise<{ retired: string; certificate: string }> {
  const paths = pkiPaths(dir);
  if (options.algorithm === 'sm2') {
    if (!(await exists(paths.tsaSm2Key)))
      throw new PkiError(
        'PKI_NOT_INITIALISED',
        `${paths.tsaSm2Key} is missing (CRYPTO_SUITE dual or gm makes it)`,
      );
    const sm2Ca = await loadSm2RootCa(dir);
    const retired = await retireTsaCertificate(paths, (await readCerts(paths.tsaSm2Cert))[0]!);
    await fs.rm(paths.tsaSm2Key, { force: true });
    const { privateKey, publicKey } = sm2Key();
    const subject = {
      commonName: 'LianZheng Time-Stamp Authority (SM2)',
      organization: options.organization ?? 'LianZheng',
    };
    await writeSecret(paths.tsaSm2Key, privateKey);
    await writePublic(paths.tsaSm2Cert, issueCertificate(sm2Ca, 'tsa', subject, publicKey, options));
    await writePublishedCertificates(dir);
    return { retired, certificate: paths.tsaSm2Cert };
  }
  const ca = await loadRootCa(dir);
  const retired = await retireTsaCertificate(paths, (await readCerts(paths.tsaCert))[0]!);
  await fs.rm(paths.tsaKey, { force: true });
  await issueTsaFiles(ca, paths, options);
  await writePublishedCertificates(dir);
  return { retired, certificate: paths.tsaCert };
}

/** A partner's mTLS client certificate (key generated here unless the partner sent a public key). */
export async function issueClientCertificate(
  dir: string,
  client: { name: string; organization: string; publicKey?: KeyObject; dnsNames?: string[] },
  options: PkiOptions = {},
): Promise<{ certPath: string; keyPath?: string }> {
  if (!/^[a-z0-9][a-z0-9_-]{0,62}$/.test(client.name)) throw new PkiError('PKI_BAD_NAME', client.name);
  const paths = pkiPaths(dir);
  const ca = await loadRootCa(dir);
  let publicKey = client.publicKey;
  let keyPath: string | undefined;
  if (!publicKey) {
    const pair = ecKey();
    publicKey = pair.publicKey;
    keyPath = path.join(paths.clientsDir, `${client.name}.key.pem`);
    await writeSecret(keyPath, pair.privateKey);
  }
  const cert = issueCertificate(
    ca,
    'client',
    { commonName: client.name, organization: client.organization, organizationalUnit: 'partner' },
    publicKey,
    { ...options, dnsNames: client.dnsNames },
  );
  const certPath = path.join(paths.clientsDir, `${client.name}.cert.pem`);
  await writePublic(certPath, cert);
  return { certPath, keyPath };
}

/**
 * The gateway's own TLS certificate from the local root, for HTTPS and partners' mTLS without an
 * outside CA (development, a closed network): `pki/server/server.{key,cert}.pem`, replaced when
 * asked again. Its chain is the root, which clients must trust (`pki/root/ca.cert.pem`).
 */
export async function issueServerCertificate(
  dir: string,
  names: { dnsNames: string[]; ipAddresses: string[] },
  options: PkiOptions = {},
): Promise<{ certPath: string; keyPath: string }> {
  if (names.dnsNames.length + names.ipAddresses.length === 0) {
    throw new PkiError('PKI_BAD_NAME', 'a server certificate needs at least one DNS name or IP address');
  }
  const paths = pkiPaths(dir);
  const ca = await loadRootCa(dir);
  const pair = ecKey();
  const cert = issueCertificate(
    ca,
    'server',
    {
      commonName: names.dnsNames[0] ?? names.ipAddresses[0]!,
      organization: 'LianZheng',
      organizationalUnit: 'gateway',
    },
    pair.publicKey,
    { ...options, dnsNames: names.dnsNames, ipAddresses: names.ipAddresses },
  );
  await writeSecret(paths.serverKey, pair.privateKey);
  await writePublic(paths.serverCert, cert);
  return { certPath: paths.serverCert, keyPath: paths.serverKey };
}

/**
 * The document-signing key and certificate (pki/documents/), issued under the local root when
 * missing or when the certificate expires within 30 days. Signs the gateway's PDFs (PAdES).
 */
export async function loadDocumentSigningFiles(
  dir: string,
  options: PkiOptions = {},
): Promise<{ privateKey: KeyObject; certificate: Buffer; chain: Buffer[] }> {
  const paths = pkiPaths(dir);
  const ca = await loadRootCa(dir);
  const now = options.now ?? new Date();
  const current = (await exists(paths.documentKey))
    ? await readCerts(paths.documentCert).catch(() => [] as Buffer[])
    : [];
  const fresh =
    current[0] && new Date(new X509Certificate(current[0]).validTo).getTime() - now.getTime() > 30 * DAY;
  if (!fresh) {
    const pair = ecKey();
    const cert = issueCertificate(
      ca,
      'document',
      { commonName: 'LianZheng Document Signing', organization: options.organization ?? 'LianZheng' },
      pair.publicKey,
      options,
    );
    await writeSecret(paths.documentKey, pair.privateKey);
    await writePublic(paths.documentCert, cert);
    await writePublishedCertificates(dir);
  }
  const [certificate] = await readCerts(paths.documentCert);
  return { privateKey: await readKey(paths.documentKey), certificate: certificate!, chain: [ca.certificate] };
}

/**
 * Roots (ECDSA, and SM2 with its cross certificate), current and retired TSA certificates, and the
 * key certificates (SM2 receipt keys made by rotation too), as one PEM file.
 */
export async function writePublishedCertificates(dir: string): Promise<string> {
  const paths = pkiPaths(dir);
  const files = [
    paths.rootCert,
    paths.sm2RootCert,
    paths.sm2RootCross,
    paths.tsaCert,
    paths.tsaSm2Cert,
    paths.receiptCert,
    paths.checkpointCert,
    paths.sm2Cert,
    paths.documentCert,
  ];
  const inDir = async (d: string) =>
    (await fs.readdir(d).catch(() => [] as string[]))
      .filter((f) => f.endsWith('.cert.pem'))
      .sort()
      .map((f) => path.join(d, f));
  files.push(
    ...(await inDir(paths.sm2ReceiptCertsDir)),
    ...(await inDir(paths.sm2CheckpointCertsDir)),
    ...(await inDir(paths.tsaRetiredDir)),
  );
  const parts: string[] = [];
  for (const f of files) {
    for (const der of await readCerts(f).catch(() => [] as Buffer[])) parts.push(toPem(der));
  }
  const text = parts.join('');
  await fs.writeFile(paths.published, text);
  return text;
}

// ---------------------------------------------------------------------------------------------
// Loading a signer

export interface LoadSignerOptions
  extends Omit<TimeStampSignerOptions, 'privateKey' | 'certificate' | 'chain'> {
  /** PEM private key (PKCS#8, or SEC1/PKCS#1 as node:crypto reads them). */
  keyPath: string;
  /** PEM: the TSA certificate first, then any intermediates. */
  certPath: string;
  /** More PEM intermediates, e.g. from an external CA. */
  chainPaths?: string[];
}

/** Check that a certificate may sign time-stamps with this key (RFC 3161 §2.3). */
export function checkTsaCertificate(certificate: Uint8Array, privateKey: KeyObject): void {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certificate);
  } catch (err) {
    throw new PkiError('PKI_BAD_CERTIFICATE', (err as Error).message);
  }
  if (!x509.checkPrivateKey(privateKey))
    throw new PkiError('PKI_KEY_MISMATCH', 'key does not match certificate');
  const eku = readExtensions(certificate).find((e) => e.oid === OID.extKeyUsage);
  if (!eku?.critical || !x509.keyUsage?.includes(OID.ekuTimeStamping) || x509.keyUsage.length !== 1) {
    throw new PkiError('PKI_NOT_TIMESTAMPING', 'the certificate needs a critical EKU of only timeStamping');
  }
}

export async function loadTimeStampSignerFromFiles(options: LoadSignerOptions): Promise<TimeStampSigner> {
  const { keyPath, certPath, chainPaths, ...rest } = options;
  const privateKey = await readKey(keyPath);
  const [certificate, ...chain] = await readCerts(certPath);
  for (const p of chainPaths ?? []) chain.push(...(await readCerts(p)));
  checkTsaCertificate(certificate!, privateKey);
  return createTimeStampSigner({ ...rest, privateKey, certificate: certificate!, chain });
}

/**
 * The SM2 (GM/T 0033) signer of a `pki init`ed directory made with `sm2Tsa`. Its chain is the SM2
 * root's cross certificate, so a token with certReq reaches the ECDSA root as well as the SM2 one.
 */
export async function loadLocalSm2TimeStampSigner(
  dir: string,
  options: Omit<LoadSignerOptions, 'keyPath' | 'certPath'> & { nextSerial: NextSerial },
): Promise<TimeStampSigner> {
  const p = pkiPaths(dir);
  const chainPaths = [
    ...(options.chainPaths ?? []),
    ...((await exists(p.sm2RootCross)) ? [p.sm2RootCross] : []),
  ];
  return loadTimeStampSignerFromFiles({
    ...options,
    chainPaths,
    keyPath: p.tsaSm2Key,
    certPath: p.tsaSm2Cert,
  });
}

/** The signer of a `pki init`ed directory. */
export function loadLocalTimeStampSigner(
  dir: string,
  options: Omit<LoadSignerOptions, 'keyPath' | 'certPath'> & { nextSerial: NextSerial },
): Promise<TimeStampSigner> {
  const p = pkiPaths(dir);
  return loadTimeStampSignerFromFiles({ ...options, keyPath: p.tsaKey, certPath: p.tsaCert });
}
