// Verifying an RFC 3161 TimeStampToken (CMS SignedData over a TSTInfo, RFC 5816 ESSCertIDv2) in
// Node and in the browser: a hand-written DER reader and WebCrypto, no node:crypto, no ASN.1
// library (the verifier page's JavaScript budget is small; see README.md beside this file).

import { sm2Verify } from '../lib/sm2.ts';
import { sm3 } from '../lib/sm3.ts';
import {
  bytesEqual,
  children,
  content,
  ctx,
  ctxPrim,
  DerError,
  expect,
  parseDer,
  pemCertificates,
  raw,
  readOid,
  readTime,
  readUint,
  seqOf,
  TAG,
  type Tlv,
} from './_der.ts';

export type TimestampFailureCode =
  | 'TSA_MALFORMED'
  | 'TSA_NOT_TSTINFO'
  | 'TSA_IMPRINT_MISMATCH'
  | 'TSA_NONCE_MISMATCH'
  | 'TSA_POLICY_NOT_ACCEPTED'
  | 'TSA_MESSAGE_DIGEST_MISMATCH'
  | 'TSA_SIGNER_CERT_MISSING'
  | 'TSA_CERT_ID_MISSING'
  | 'TSA_CERT_ID_MISMATCH'
  | 'TSA_UNSUPPORTED_ALGORITHM'
  | 'TSA_BAD_SIGNATURE'
  | 'TSA_BAD_EKU'
  | 'TSA_UNTRUSTED'
  | 'TSA_CERT_NOT_VALID_AT_GENTIME'
  | 'TSA_NO_WEBCRYPTO'
  | 'TSA_NO_TRUSTED_ROOTS';

export interface TimestampCheck {
  step: 'timestamp';
  status: 'pass' | 'fail' | 'skipped';
  code?: TimestampFailureCode;
  detail?: string;
  /** RFC 3339 UTC with milliseconds, when the token could be parsed. */
  genTime?: string;
  /** Hex. */
  serialNumber?: string;
  policy?: string;
}

export interface VerifyTimestampOptions {
  /** PEM certificates to use when the token does not carry them (TSA certificate, intermediates). */
  certificates?: string[];
  /** The imprint's expected hash algorithm; by default any of SHA-256/384/512 of the right length. */
  hashAlgorithm?: 'sha256' | 'sha384' | 'sha512' | 'sm3';
  /** The nonce the request carried, if the caller wants it checked. */
  nonce?: bigint;
  /** Acceptable TSA policy OIDs; by default any. */
  policies?: string[];
}

const O = {
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
  sm3: '1.2.156.10197.1.401',
  sm2Curve: '1.2.156.10197.1.301',
  sm2WithSm3: '1.2.156.10197.1.501',
  signedData: '1.2.840.113549.1.7.2',
  tstInfo: '1.2.840.113549.1.9.16.1.4',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingCertificate: '1.2.840.113549.1.9.16.2.12',
  signingCertificateV2: '1.2.840.113549.1.9.16.2.47',
  ecPublicKey: '1.2.840.10045.2.1',
  rsaEncryption: '1.2.840.113549.1.1.1',
  ed25519: '1.3.101.112',
  basicConstraints: '2.5.29.19',
  extKeyUsage: '2.5.29.37',
  timeStamping: '1.3.6.1.5.5.7.3.8',
} as const;

type Hash = 'SHA-1' | 'SHA-256' | 'SHA-384' | 'SHA-512' | 'SM3';
const HASHES: Record<string, Hash> = {
  [O.sha1]: 'SHA-1',
  [O.sha256]: 'SHA-256',
  [O.sha384]: 'SHA-384',
  [O.sha512]: 'SHA-512',
  [O.sm3]: 'SM3',
};
const IMPRINT_NAMES: Record<string, 'sha256' | 'sha384' | 'sha512' | 'sm3'> = {
  [O.sha256]: 'sha256',
  [O.sha384]: 'sha384',
  [O.sha512]: 'sha512',
  [O.sm3]: 'sm3',
};
/** Signature algorithm OID → kind and hash (undefined hash: taken from the CMS digestAlgorithm). */
const SIGNATURE_ALGS: Record<string, { kind: 'ecdsa' | 'rsa' | 'ed25519' | 'sm2'; hash?: Hash }> = {
  // GM/T 0033 tokens: SM2 with SM3 and Z over the default ID (GM/T 0010), checked by proof/'s SM2.
  [O.sm2WithSm3]: { kind: 'sm2', hash: 'SM3' },
  '1.2.840.10045.4.3.2': { kind: 'ecdsa', hash: 'SHA-256' },
  '1.2.840.10045.4.3.3': { kind: 'ecdsa', hash: 'SHA-384' },
  '1.2.840.10045.4.3.4': { kind: 'ecdsa', hash: 'SHA-512' },
  '1.2.840.113549.1.1.11': { kind: 'rsa', hash: 'SHA-256' },
  '1.2.840.113549.1.1.12': { kind: 'rsa', hash: 'SHA-384' },
  '1.2.840.113549.1.1.13': { kind: 'rsa', hash: 'SHA-512' },
  [O.rsaEncryption]: { kind: 'rsa' },
  [O.ed25519]: { kind: 'ed25519' },
};
const CURVES: Record<string, { name: string; size: number }> = {
  '1.2.840.10045.3.1.7': { name: 'P-256', size: 32 },
  '1.3.132.0.34': { name: 'P-384', size: 48 },
  '1.3.132.0.35': { name: 'P-521', size: 66 },
};

/** A check that failed: carries its code up to the one place that turns it into a result. */
class Failure extends Error {
  constructor(
    readonly code: TimestampFailureCode,
    detail: string,
  ) {
    super(detail);
  }
}
const fail = (code: TimestampFailureCode, detail: string): never => {
  throw new Failure(code, detail);
};

interface Certificate {
  der: Uint8Array;
  tbs: Uint8Array;
  serial: Uint8Array;
  issuer: Uint8Array;
  subject: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  spki: Tlv;
  signatureAlgorithm: string;
  signature: Uint8Array;
  extensions: { oid: string; critical: boolean; value: Tlv }[];
}

function parseCertificate(der: Uint8Array): Certificate {
  const [tbsT, algT, sigT] = seqOf(parseDer(der), 'Certificate');
  const tbs = seqOf(tbsT, 'TBSCertificate');
  let i = tbs[0]?.tag === ctx(0) ? 1 : 0;
  const serial = content(expect(tbs[i++], TAG.INTEGER, 'serial'));
  i++; // signature algorithm (repeated outside the TBS)
  const issuer = raw(expect(tbs[i++], TAG.SEQUENCE, 'issuer'));
  const [nb, na] = seqOf(tbs[i++], 'validity');
  const subject = raw(expect(tbs[i++], TAG.SEQUENCE, 'subject'));
  const spki = expect(tbs[i++], TAG.SEQUENCE, 'subjectPublicKeyInfo');
  const extensions: Certificate['extensions'] = [];
  for (; i < tbs.length; i++) {
    if (tbs[i]!.tag !== ctx(3)) continue;
    for (const e of seqOf(children(tbs[i]!)[0], 'extensions')) {
      const parts = seqOf(e, 'extension');
      const critical = parts.length === 3 && parts[1]!.tag === TAG.BOOLEAN && content(parts[1]!)[0] !== 0;
      const value = expect(parts[parts.length - 1], TAG.OCTET_STRING, 'extnValue');
      extensions.push({ oid: readOid(parts[0]), critical, value: parseDer(content(value)) });
    }
  }
  const sigBits = content(expect(sigT, TAG.BIT_STRING, 'signature'));
  if (sigBits[0] !== 0) throw new DerError('signature bit string has unused bits');
  return {
    der,
    tbs: raw(tbsT!),
    serial,
    issuer,
    subject,
    notBefore: readTime(nb),
    notAfter: readTime(na),
    spki,
    signatureAlgorithm: readOid(seqOf(algT, 'signatureAlgorithm')[0]),
    signature: sigBits.subarray(1),
    extensions,
  };
}

function subtle(): SubtleCrypto {
  const s = globalThis.crypto?.subtle;
  if (!s) return fail('TSA_NO_WEBCRYPTO', 'WebCrypto (crypto.subtle) is not available');
  return s;
}

async function digest(hash: Hash, data: Uint8Array): Promise<Uint8Array> {
  if (hash === 'SM3') return sm3(data); // WebCrypto has no SM3
  return new Uint8Array(await subtle().digest(hash, data as Uint8Array<ArrayBuffer>));
}

/** ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } → r‖s, each `size` bytes (WebCrypto's form). */
function ecdsaRawSignature(der: Uint8Array, size: number): Uint8Array {
  const [r, s] = seqOf(parseDer(der), 'ECDSA signature');
  const out = new Uint8Array(size * 2);
  for (const [k, part] of [r, s].entries()) {
    let c = content(expect(part, TAG.INTEGER, 'ECDSA integer'));
    while (c.length > size && c[0] === 0) c = c.subarray(1);
    if (c.length > size) throw new DerError('ECDSA integer too long');
    out.set(c, k * size + (size - c.length));
  }
  return out;
}

/** Verify `signature` over `data` with the key in `spki`, by the signature algorithm's OID. */
async function verifySignature(
  spki: Tlv,
  algorithmOid: string,
  signature: Uint8Array,
  data: Uint8Array,
  cmsHash?: Hash,
): Promise<boolean> {
  const alg = SIGNATURE_ALGS[algorithmOid];
  if (!alg) return fail('TSA_UNSUPPORTED_ALGORITHM', `signature algorithm ${algorithmOid}`);
  const [keyAlg] = seqOf(spki, 'SubjectPublicKeyInfo');
  const [keyOidT, paramT] = seqOf(keyAlg, 'AlgorithmIdentifier');
  const keyOid = readOid(keyOidT);
  const spkiDer = raw(spki) as Uint8Array<ArrayBuffer>;
  const s = subtle();
  const data2 = data as Uint8Array<ArrayBuffer>;
  try {
    if (alg.kind === 'sm2' && keyOid === O.ecPublicKey && readOid(paramT) === O.sm2Curve) {
      const [, bits] = seqOf(spki, 'SubjectPublicKeyInfo');
      const publicKey = content(expect(bits, TAG.BIT_STRING, 'subjectPublicKey')).subarray(1);
      return sm2Verify(publicKey, data, ecdsaRawSignature(signature, 32));
    }
    if (alg.kind === 'ecdsa' && keyOid === O.ecPublicKey) {
      const curve = CURVES[readOid(paramT)];
      if (!curve) return fail('TSA_UNSUPPORTED_ALGORITHM', 'EC curve');
      const key = await s.importKey('spki', spkiDer, { name: 'ECDSA', namedCurve: curve.name }, false, [
        'verify',
      ]);
      const sig = ecdsaRawSignature(signature, curve.size) as Uint8Array<ArrayBuffer>;
      return await s.verify({ name: 'ECDSA', hash: alg.hash as Exclude<Hash, 'SM3'> }, key, sig, data2);
    }
    if (alg.kind === 'rsa' && keyOid === O.rsaEncryption) {
      const hash = alg.hash ?? cmsHash;
      if (!hash || hash === 'SHA-1') return fail('TSA_UNSUPPORTED_ALGORITHM', 'RSA hash');
      const key = await s.importKey('spki', spkiDer, { name: 'RSASSA-PKCS1-v1_5', hash }, false, ['verify']);
      return await s.verify('RSASSA-PKCS1-v1_5', key, signature as Uint8Array<ArrayBuffer>, data2);
    }
    if (alg.kind === 'ed25519' && keyOid === O.ed25519) {
      const key = await s.importKey('spki', spkiDer, { name: 'Ed25519' }, false, ['verify']);
      return await s.verify('Ed25519', key, signature as Uint8Array<ArrayBuffer>, data2);
    }
  } catch (err) {
    if (err instanceof Failure || err instanceof DerError) throw err;
    // importKey refuses keys and algorithms a browser does not implement (e.g. Ed25519 in older ones).
    return fail('TSA_UNSUPPORTED_ALGORITHM', `${algorithmOid}: ${(err as Error).name}`);
  }
  return fail('TSA_UNSUPPORTED_ALGORITHM', `${algorithmOid} with key ${keyOid}`);
}

function attributeValue(attrs: Tlv[], oid: string): Tlv | undefined {
  for (const a of attrs) {
    const [t, values] = seqOf(a, 'Attribute');
    if (readOid(t) === oid) {
      const vs = seqOf(values, 'AttributeValues', TAG.SET);
      if (vs.length !== 1) throw new DerError('attribute must have one value');
      return vs[0];
    }
  }
  return undefined;
}

/**
 * Verify an RFC 3161 TimeStampToken over `expectedImprint` (the digest that was time-stamped;
 * for a checkpoint, the 32-byte root itself). Checks the imprint, the messageDigest and
 * contentType signed attributes, ESSCertIDv2 (or v1) against the signer's certificate, the
 * signature, the certificate's critical timeStamping EKU, and the chain to one of the trusted
 * roots with every certificate valid at genTime. Never throws: every problem is a coded `fail`.
 */
export async function verifyTimestampToken(
  tokenDer: Uint8Array,
  expectedImprint: Uint8Array,
  trustedRootsPem: string[],
  opts: VerifyTimestampOptions = {},
): Promise<TimestampCheck> {
  const result: TimestampCheck = { step: 'timestamp', status: 'fail' };
  try {
    const roots = trustedRootsPem.flatMap(pemCertificates);
    await check(tokenDer, expectedImprint, roots, opts, result);
    result.status = 'pass';
    if (roots.length === 0) {
      result.status = 'skipped';
      result.code = 'TSA_NO_TRUSTED_ROOTS';
      result.detail = 'no trusted TSA root configured';
    }
    return result;
  } catch (err) {
    if (err instanceof Failure) return { ...result, status: 'fail', code: err.code, detail: err.message };
    if (err instanceof DerError)
      return { ...result, status: 'fail', code: 'TSA_MALFORMED', detail: err.message };
    return {
      ...result,
      status: 'fail',
      code: 'TSA_MALFORMED',
      detail: String((err as Error)?.message ?? err),
    };
  }
}

async function check(
  tokenDer: Uint8Array,
  expectedImprint: Uint8Array,
  roots: Uint8Array[],
  opts: VerifyTimestampOptions,
  result: TimestampCheck,
): Promise<void> {
  // ContentInfo { contentType, [0] EXPLICIT SignedData }
  const [ctT, sdWrap] = seqOf(parseDer(tokenDer), 'ContentInfo');
  if (readOid(ctT) !== O.signedData) fail('TSA_MALFORMED', 'not SignedData');
  const sd = seqOf(children(expect(sdWrap, ctx(0), '[0] content'))[0], 'SignedData');
  let i = 1; // version
  seqOf(sd[i++], 'digestAlgorithms', TAG.SET);
  const [eTypeT, eWrap] = seqOf(sd[i++], 'EncapsulatedContentInfo');
  if (readOid(eTypeT) !== O.tstInfo) fail('TSA_NOT_TSTINFO', 'eContentType is not id-ct-TSTInfo');
  const eContent = content(
    expect(children(expect(eWrap, ctx(0), 'eContent'))[0], TAG.OCTET_STRING, 'eContent'),
  );
  const tokenCerts: Uint8Array[] = [];
  if (sd[i]?.tag === ctx(0)) tokenCerts.push(...children(sd[i++]!).map(raw));
  if (sd[i]?.tag === ctx(1)) i++; // CRLs: not used
  const signerInfos = seqOf(sd[i++], 'signerInfos', TAG.SET);
  if (signerInfos.length !== 1) fail('TSA_MALFORMED', 'a token has exactly one SignerInfo');

  // TSTInfo
  const tst = seqOf(parseDer(eContent), 'TSTInfo');
  if (readUint(tst[0]) !== 1n) fail('TSA_MALFORMED', 'TSTInfo version');
  const policy = readOid(tst[1]);
  const [imprintAlgT, imprintT] = seqOf(tst[2], 'MessageImprint');
  const imprintAlg = readOid(seqOf(imprintAlgT, 'hashAlgorithm')[0]);
  const imprint = content(expect(imprintT, TAG.OCTET_STRING, 'hashedMessage'));
  result.serialNumber = readUint(tst[3]).toString(16);
  const genTime = readTime(expect(tst[4], TAG.GENERALIZED_TIME, 'genTime'));
  result.genTime = genTime.toISOString();
  result.policy = policy;
  let nonce: bigint | undefined;
  for (const f of tst.slice(5)) if (f.tag === TAG.INTEGER) nonce = readUint(f);

  const algName = IMPRINT_NAMES[imprintAlg];
  if (!algName || (opts.hashAlgorithm && opts.hashAlgorithm !== algName)) {
    fail('TSA_IMPRINT_MISMATCH', `imprint algorithm ${imprintAlg}`);
  }
  if (!bytesEqual(imprint, expectedImprint)) fail('TSA_IMPRINT_MISMATCH', 'the token is over another digest');
  if (opts.nonce !== undefined && nonce !== opts.nonce) fail('TSA_NONCE_MISMATCH', 'nonce');
  if (opts.policies && !opts.policies.includes(policy)) fail('TSA_POLICY_NOT_ACCEPTED', policy);

  // SignerInfo { version, sid, digestAlgorithm, [0] signedAttrs, signatureAlgorithm, signature }
  const si = seqOf(signerInfos[0], 'SignerInfo');
  const sid = si[1]!;
  const digestOid = readOid(seqOf(si[2], 'digestAlgorithm')[0]);
  const cmsHash = HASHES[digestOid];
  if (!cmsHash || cmsHash === 'SHA-1') fail('TSA_UNSUPPORTED_ALGORITHM', `digest ${digestOid}`);
  const signedAttrsT = expect(si[3], ctx(0), 'signedAttrs');
  const attrs = children(signedAttrsT);
  const sigAlg = readOid(seqOf(si[4], 'signatureAlgorithm')[0]);
  const signature = content(expect(si[5], TAG.OCTET_STRING, 'signature'));

  const ct = attributeValue(attrs, O.contentType);
  if (!ct || readOid(ct) !== O.tstInfo) fail('TSA_NOT_TSTINFO', 'contentType attribute');
  const md = attributeValue(attrs, O.messageDigest);
  if (!md) return fail('TSA_MESSAGE_DIGEST_MISMATCH', 'no messageDigest attribute');
  const mdValue = content(expect(md, TAG.OCTET_STRING, 'messageDigest'));
  if (!bytesEqual(mdValue, await digest(cmsHash!, eContent))) {
    fail('TSA_MESSAGE_DIGEST_MISMATCH', 'messageDigest does not match the TSTInfo');
  }

  // The signer's certificate: carried in the token, or supplied by the caller.
  const extra = (opts.certificates ?? []).flatMap(pemCertificates);
  const pool = [...tokenCerts, ...extra].map(parseCertificate);
  const signer = pool.find((c) => matchesSid(c, sid));
  if (!signer)
    return fail('TSA_SIGNER_CERT_MISSING', 'the TSA certificate is neither in the token nor given');

  // RFC 5816 SigningCertificateV2, or RFC 2634 SigningCertificate (SHA-1) from older TSAs.
  const v2 = attributeValue(attrs, O.signingCertificateV2);
  const v1 = v2 ? undefined : attributeValue(attrs, O.signingCertificate);
  if (!v2 && !v1) fail('TSA_CERT_ID_MISSING', 'no signingCertificate(V2) attribute');
  const certIds = seqOf(seqOf(v2 ?? v1, 'SigningCertificate')[0], 'certs');
  const first = seqOf(certIds[0], 'ESSCertID');
  let k = 0;
  let idHash: Hash = v2 ? 'SHA-256' : 'SHA-1';
  if (v2 && first[0]?.tag === TAG.SEQUENCE) {
    const h = HASHES[readOid(seqOf(first[k++], 'hashAlgorithm')[0])];
    if (!h) fail('TSA_UNSUPPORTED_ALGORITHM', 'ESSCertIDv2 hash');
    idHash = h!;
  }
  const certHash = content(expect(first[k++], TAG.OCTET_STRING, 'certHash'));
  if (!bytesEqual(certHash, await digest(idHash, signer.der))) {
    fail('TSA_CERT_ID_MISMATCH', 'ESSCertID hash is not the signer certificate');
  }
  if (first[k]) {
    const [, serialT] = seqOf(first[k], 'IssuerSerial');
    if (!bytesEqual(content(expect(serialT, TAG.INTEGER, 'serial')), signer.serial)) {
      fail('TSA_CERT_ID_MISMATCH', 'ESSCertID serial');
    }
  }

  // The signature is over the DER of the attributes as a SET OF: the same bytes with tag 0x31.
  // A copy (Uint8Array.from, not .slice(): on a Node Buffer .slice() would alias the caller's bytes).
  const signed = Uint8Array.from(raw(signedAttrsT));
  signed[0] = TAG.SET;
  if (!(await verifySignature(signer.spki, sigAlg, signature, signed, cmsHash))) {
    fail('TSA_BAD_SIGNATURE', 'the SignerInfo signature does not verify');
  }

  // RFC 3161 §2.3: the TSA certificate's only EKU is timeStamping, and it is critical.
  const eku = signer.extensions.find((e) => e.oid === O.extKeyUsage);
  const ekuOids = eku ? children(eku.value).map((t) => readOid(t)) : [];
  if (!eku?.critical || ekuOids.length !== 1 || ekuOids[0] !== O.timeStamping) {
    fail('TSA_BAD_EKU', 'the signer certificate is not a critical timeStamping-only certificate');
  }

  if (roots.length > 0) await checkChain(signer, pool, roots.map(parseCertificate), genTime);
}

function matchesSid(cert: Certificate, sid: Tlv): boolean {
  if (sid.tag === TAG.SEQUENCE) {
    const [issuer, serial] = children(sid);
    return bytesEqual(raw(issuer!), cert.issuer) && bytesEqual(content(serial!), cert.serial);
  }
  if (sid.tag === ctxPrim(0)) {
    const ski = cert.extensions.find((e) => e.oid === '2.5.29.14');
    return !!ski && bytesEqual(content(ski.value), content(sid));
  }
  return false;
}

const validAt = (c: Certificate, t: Date) => c.notBefore <= t && t <= c.notAfter;

function isCa(c: Certificate): boolean {
  const bc = c.extensions.find((e) => e.oid === O.basicConstraints);
  if (!bc) return false;
  const f = children(bc.value)[0];
  return f?.tag === TAG.BOOLEAN && content(f)[0] !== 0;
}

/** Walk issuer links from the signer up to a trusted root; every certificate valid at genTime. */
async function checkChain(
  signer: Certificate,
  pool: Certificate[],
  roots: Certificate[],
  at: Date,
): Promise<void> {
  let cert = signer;
  for (let depth = 0; depth < 6; depth++) {
    if (!validAt(cert, at))
      fail('TSA_CERT_NOT_VALID_AT_GENTIME', `certificate not valid at ${at.toISOString()}`);
    const candidates = [...roots, ...pool].filter((c) => c !== cert && bytesEqual(c.subject, cert.issuer));
    let issuer: Certificate | undefined;
    for (const c of candidates) {
      if (!isCa(c)) continue;
      if (
        await verifySignature(c.spki, cert.signatureAlgorithm, cert.signature, cert.tbs).catch(() => false)
      ) {
        issuer = c;
        break;
      }
    }
    if (!issuer) return fail('TSA_UNTRUSTED', 'no trusted issuer for the TSA certificate');
    if (roots.includes(issuer)) {
      if (!validAt(issuer, at)) fail('TSA_CERT_NOT_VALID_AT_GENTIME', 'root not valid at genTime');
      return;
    }
    cert = issuer;
  }
  fail('TSA_UNTRUSTED', 'certificate chain too long');
}

/**
 * The imprint algorithm a token states (its TSTInfo's messageImprint), or undefined when the token
 * cannot be read that far (verifyTimestampToken then says why).
 */
export function timestampImprintAlgorithm(
  tokenDer: Uint8Array,
): 'sha256' | 'sha384' | 'sha512' | 'sm3' | undefined {
  try {
    const [, sdWrap] = seqOf(parseDer(tokenDer), 'ContentInfo');
    const sd = seqOf(children(expect(sdWrap, ctx(0), '[0] content'))[0], 'SignedData');
    const [, eWrap] = seqOf(sd[2], 'EncapsulatedContentInfo');
    const eContent = content(
      expect(children(expect(eWrap, ctx(0), 'eContent'))[0], TAG.OCTET_STRING, 'eContent'),
    );
    const [imprintAlgT] = seqOf(seqOf(parseDer(eContent), 'TSTInfo')[2], 'MessageImprint');
    return IMPRINT_NAMES[readOid(seqOf(imprintAlgT, 'hashAlgorithm')[0])];
  } catch {
    return undefined;
  }
}

/**
 * The imprint a checkpoint's time-stamp is over: the 32-byte root itself for SHA-256 (it is a
 * SHA-256 output, so `openssl ts -verify -digest <root hex>` checks it), and SM3 of the root's 32
 * bytes for an SM3 (GM/T 0033) token, CRYPTO_SUITE gm.
 */
export function checkpointTimestampImprint(rootHash: Uint8Array, algorithm: 'sha256' | 'sm3'): Uint8Array {
  return algorithm === 'sm3' ? sm3(rootHash) : rootHash;
}

/**
 * The shape `verifyBundle`'s `verifyTimestamp` option takes: the bundle's base64 token over the
 * checkpoint root (the 32-byte root is the SHA-256 imprint; an SM3 token is over SM3 of the root,
 * `checkpointTimestampImprint`), checked against `tsaRoots`.
 */
export async function verifyCheckpointTimestamp(
  tokenBase64: string,
  rootHash: Uint8Array,
  tsaRoots: string[],
): Promise<TimestampCheck> {
  let der: Uint8Array;
  try {
    const bin = atob(tokenBase64);
    der = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) der[i] = bin.charCodeAt(i);
  } catch {
    return { step: 'timestamp', status: 'fail', code: 'TSA_MALFORMED', detail: 'the token is not base64' };
  }
  // The token says which imprint it carries; only SHA-256 (the root) and SM3 (of the root) are a
  // checkpoint's. Anything else is checked as SHA-256, and refused as an imprint mismatch.
  const hashAlgorithm = timestampImprintAlgorithm(der) === 'sm3' ? 'sm3' : 'sha256';
  return verifyTimestampToken(der, checkpointTimestampImprint(rootHash, hashAlgorithm), tsaRoots, {
    hashAlgorithm,
  });
}
