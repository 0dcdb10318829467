// X.509 v3 certificates built with forge's ASN.1 and signed with node:crypto. forge.pki can only
// sign with its own RSA keys; the gateway's keys are ECDSA P-256 (receipts, the TSA) and Ed25519
// (checkpoints), so the TBSCertificate is assembled here and the signature comes from node:crypto
// — or, for the SM2 root (CRYPTO_SUITE dual and gm), from proof/'s SM2 (sm2-key.ts).

import { createHash, createPublicKey, sign as cryptoSign, type KeyObject, randomBytes } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import forge from 'node-forge';
import {
  type Asn1,
  bitString,
  bool,
  certificateTime,
  explicit,
  fromBinary,
  fromDer,
  implicitPrimitive,
  integer,
  nullValue,
  octets,
  oid,
  printable,
  seq,
  toBinary,
  toDer,
  utf8,
} from './der.ts';
import { OID } from './oids.ts';
import { isSm2Key, sm2SignDer } from './sm2-key.ts';

export interface DistinguishedName {
  commonName: string;
  organization?: string;
  organizationalUnit?: string;
  /** ISO 3166 two-letter code, e.g. CN. */
  country?: string;
}

export function nameAsn1(name: DistinguishedName): Asn1 {
  const rdn = (type: string, value: Asn1) =>
    forge.asn1.create(forge.asn1.Class.UNIVERSAL, forge.asn1.Type.SET, true, [seq([oid(type), value])]);
  return seq([
    name.country ? rdn(OID.countryName, printable(name.country)) : undefined,
    name.organization ? rdn(OID.organizationName, utf8(name.organization)) : undefined,
    name.organizationalUnit ? rdn(OID.organizationalUnitName, utf8(name.organizationalUnit)) : undefined,
    rdn(OID.commonName, utf8(name.commonName)),
  ]);
}

export interface Extension {
  oid: string;
  critical: boolean;
  /** DER of the extension's value (the content of extnValue's OCTET STRING). */
  value: Uint8Array;
}

const extension = (e: Extension): Asn1 =>
  seq([oid(e.oid), e.critical ? bool(true) : undefined, octets(e.value)]);

/** KeyUsage / named BIT STRING: DER drops trailing zero bits (X.690 §11.2.2). */
export function namedBitString(bits: number[]): Asn1 {
  const top = Math.max(...bits);
  const bytes = new Uint8Array(Math.floor(top / 8) + 1);
  for (const b of bits) bytes[b >> 3]! |= 0x80 >> (b & 7);
  return bitString(bytes, 7 - (top & 7));
}

export const KEY_USAGE = { digitalSignature: 0, nonRepudiation: 1, keyCertSign: 5, cRLSign: 6 } as const;

export const ext = {
  basicConstraints: (ca: boolean, pathLen?: number): Extension => ({
    oid: OID.basicConstraints,
    critical: true,
    value: toDer(
      seq([ca ? bool(true) : undefined, ca && pathLen !== undefined ? integer(pathLen) : undefined]),
    ),
  }),
  keyUsage: (bits: number[]): Extension => ({
    oid: OID.keyUsage,
    critical: true,
    value: toDer(namedBitString(bits)),
  }),
  extKeyUsage: (oids: string[], critical: boolean): Extension => ({
    oid: OID.extKeyUsage,
    critical,
    value: toDer(seq(oids.map((o) => oid(o)))),
  }),
  subjectKeyIdentifier: (keyId: Uint8Array): Extension => ({
    oid: OID.subjectKeyIdentifier,
    critical: false,
    value: toDer(octets(keyId)),
  }),
  authorityKeyIdentifier: (keyId: Uint8Array): Extension => ({
    oid: OID.authorityKeyIdentifier,
    critical: false,
    value: toDer(seq([implicitPrimitive(0, toBinary(keyId))])),
  }),
  /** RFC 5280 §4.2.1.6: dNSName [2] IA5String, iPAddress [7] the address's 4 or 16 octets. */
  subjectAltName: ({ dns = [], ips = [] }: { dns?: string[]; ips?: string[] }): Extension => ({
    oid: OID.subjectAltName,
    critical: false,
    value: toDer(
      seq([
        ...dns.map((n) => implicitPrimitive(2, n)),
        ...ips.map((ip) => implicitPrimitive(7, toBinary(ipOctets(ip)))),
      ]),
    ),
  }),
};

/** An IPv4 or IPv6 address as its network-order octets; throws on anything else. */
export function ipOctets(address: string): Uint8Array {
  if (isIPv4(address)) return Uint8Array.from(address.split('.').map(Number));
  if (!isIPv6(address) || address.includes('.')) throw new Error(`not an IP address: ${address}`);
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined];
  const groups = (part: string | undefined) => (part ? part.split(':') : []);
  const left = groups(head);
  const right = groups(tail);
  const all =
    tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    const v = Number.parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  return out;
}

/** The public half of a key (node:crypto refuses createPublicKey on a public KeyObject). */
export const publicKeyOf = (key: KeyObject): KeyObject =>
  key.type === 'public' ? key : createPublicKey(key);

// SubjectPublicKeyInfo of an SM2 key up to the key itself: id-ecPublicKey with the SM2 curve
// (1.2.156.10197.1.301), then the BIT STRING of the 65-byte uncompressed point.
const SM2_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a811ccf5501822d034200', 'hex');

/** A public KeyObject of a raw SM2 public key (04 ‖ x ‖ y), e.g. the gateway's, to certify it. */
export function sm2PublicKeyObject(publicKey: Uint8Array): KeyObject {
  if (publicKey.length !== 65 || publicKey[0] !== 0x04)
    throw new TypeError('an SM2 public key is 04 ‖ x ‖ y');
  return createPublicKey({ key: Buffer.concat([SM2_SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING's bits. */
export function keyIdentifier(publicKey: KeyObject): Buffer {
  const spki = fromDer(publicKeyOf(publicKey).export({ type: 'spki', format: 'der' }));
  const bits = (spki.value as Asn1[])[1]!.value as string;
  return createHash('sha1').update(fromBinary(bits).subarray(1)).digest();
}

/** The signature algorithm a key signs certificates with, and the signature over the TBS. */
function signingProfile(key: KeyObject): { algorithm: Asn1; sign(tbs: Uint8Array): Uint8Array } {
  const withNode = (algorithm: Asn1, digest: string | null) => ({
    algorithm,
    sign: (tbs: Uint8Array) => cryptoSign(digest, tbs, key),
  });
  // Before the 'ec' case: an SM2 key is an EC key to Node (or no type at all, read from PEM), and
  // node:crypto would make plain ECDSA with it. GM/T 0015 certificates: SM2-with-SM3
  // (1.2.156.10197.1.501, no parameters), Z over the default ID, the signature DER SEQUENCE {r, s}.
  if (isSm2Key(key)) return { algorithm: seq([oid(OID.sm2WithSm3)]), sign: (tbs) => sm2SignDer(key, tbs) };
  const type = key.asymmetricKeyType;
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'secp384r1') return withNode(seq([oid(OID.ecdsaWithSha384)]), 'sha384');
    return withNode(seq([oid(OID.ecdsaWithSha256)]), 'sha256');
  }
  if (type === 'rsa') return withNode(seq([oid(OID.sha256WithRsa), nullValue()]), 'sha256');
  if (type === 'ed25519') return withNode(seq([oid(OID.ed25519)]), null);
  throw new TypeError(`PKI_UNSUPPORTED_KEY: ${type}`);
}

export interface CertificateSpec {
  /** A name, or a subject already encoded (a cross certificate keeps its CA's name byte for byte). */
  subject: DistinguishedName | Asn1;
  publicKey: KeyObject;
  issuer: { name: DistinguishedName | Asn1; privateKey: KeyObject; keyId?: Uint8Array };
  notBefore: Date;
  notAfter: Date;
  extensions: Extension[];
  serial?: bigint;
}

/** A random positive 127-bit serial (RFC 5280 allows up to 20 octets; CAs use ≥ 64 random bits). */
export function randomSerial(): bigint {
  const b = randomBytes(16);
  b[0]! &= 0x7f;
  b[0]! |= 0x01; // never a leading zero octet, so the INTEGER is always 16 octets
  return BigInt(`0x${b.toString('hex')}`);
}

export function buildCertificate(spec: CertificateSpec): Buffer {
  const profile = signingProfile(spec.issuer.privateKey);
  const issuerName = 'commonName' in spec.issuer.name ? nameAsn1(spec.issuer.name) : spec.issuer.name;
  const publicKey = publicKeyOf(spec.publicKey);
  const tbs = seq([
    explicit(0, integer(2)),
    integer(spec.serial ?? randomSerial()),
    profile.algorithm,
    issuerName,
    seq([certificateTime(spec.notBefore), certificateTime(spec.notAfter)]),
    'commonName' in spec.subject ? nameAsn1(spec.subject) : spec.subject,
    fromDer(publicKey.export({ type: 'spki', format: 'der' })),
    spec.extensions.length ? explicit(3, seq(spec.extensions.map(extension))) : undefined,
  ]);
  return toDer(seq([tbs, profile.algorithm, bitString(profile.sign(toDer(tbs)))]));
}

/** The extensions of a certificate, with their criticality, for checks on loaded certificates. */
export function readExtensions(certDer: Uint8Array): Extension[] {
  const tbs = ((fromDer(certDer).value as Asn1[])[0]!.value as Asn1[]).slice();
  const last = tbs[tbs.length - 1]!;
  if (last.tagClass !== forge.asn1.Class.CONTEXT_SPECIFIC || last.type !== 3) return [];
  const list = (last.value as Asn1[])[0]!.value as Asn1[];
  return list.map((e) => {
    const parts = e.value as Asn1[];
    const critical = parts.length === 3 && parts[1]!.value === '\xff';
    return {
      oid: forge.asn1.derToOid(parts[0]!.value as string),
      critical,
      value: fromBinary(parts[parts.length - 1]!.value as string),
    };
  });
}

export function certificateSubjectAsn1(certDer: Uint8Array): Asn1 {
  const tbs = (fromDer(certDer).value as Asn1[])[0]!.value as Asn1[];
  const o = tbs[0]!.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC ? 1 : 0;
  return tbs[o + 4]!;
}

export function toPem(der: Uint8Array, label = 'CERTIFICATE'): string {
  const b64 = Buffer.from(der).toString('base64');
  return `-----BEGIN ${label}-----\n${b64.replace(/.{1,64}/g, '$&\n')}-----END ${label}-----\n`;
}

/** Every PEM block with the label, in order, as DER. */
export function fromPemAll(text: string, label = 'CERTIFICATE'): Buffer[] {
  const re = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`, 'g');
  return [...text.matchAll(re)].map((m) => Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
}
