// The time-stamp authority core: TimeStampReq in, TimeStampResp out. No HTTP, no database: the
// serial numbers come from an injected `nextSerial()` and the clock from an injected `now()`.
//
// The structures are built with node-forge's ASN.1 (forge.pkcs7 cannot produce a SignedData over
// an id-ct-TSTInfo eContent with ECDSA and ESSCertIDv2), and the signature itself is computed by
// node:crypto, which is both faster than forge's pure-JS RSA and able to do ECDSA at all.
import { createHash, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { sm2Sign, sm3 } from '@lianzheng/proof';
import forge from 'node-forge';
import {
  type Asn1,
  bitString,
  explicit,
  formatGeneralizedTimeMillis,
  fromDer,
  generalizedTime,
  implicitPrimitive,
  integer,
  integerContent,
  integerRaw,
  nullValue,
  octets,
  oid,
  seq,
  tlv,
  toBinary,
  toDer,
  utcTime,
  utf8,
} from './der.ts';
import { DEFAULT_TSA_POLICY_OID, OID, SHA2_IMPRINTS, type TsaHashAlgorithm } from './oids.ts';
import {
  imprintAlgorithmOf,
  PKI_FAILURE_BITS,
  type PkiFailure,
  parseTimeStampRequest,
  type TimeStampRequest,
} from './request.ts';
import { ecPrivateScalar, isSm2Key, sm2SignatureDer } from './sm2-key.ts';

export interface TimeStampSignerOptions {
  /**
   * The TSA's private key (EC P-256, EC P-384 or RSA; or an EC key on the SM2 curve, which makes a
   * GM/T 0033 TSA: SM3 imprints only, SM3 digests and an SM2-with-SM3 signature).
   */
  privateKey: KeyObject;
  /** The TSA certificate (DER); it must carry extendedKeyUsage timeStamping, critical. */
  certificate: Uint8Array;
  /** Intermediate CA certificates (DER), sent with the TSA certificate when certReq is set. */
  chain?: Uint8Array[];
  /** Unique, strictly increasing serial numbers. See serial.ts. */
  nextSerial: () => bigint | Promise<bigint>;
  /** The TSA policy; defaults to DEFAULT_TSA_POLICY_OID (a placeholder arc, see oids.ts). */
  policyOid?: string;
  /** Further policies a client may ask for in reqPolicy (we answer under the one asked for). */
  acceptedPolicies?: string[];
  /** The accuracy claimed for genTime, in milliseconds (default 1000). */
  accuracyMillis?: number;
  /** Include the TSA's subject as the `tsa` GeneralName in TSTInfo (default true). */
  includeTsaName?: boolean;
  /** Include a signingTime signed attribute (default true). */
  includeSigningTime?: boolean;
  now?: () => Date;
}

export interface TimeStampOptions {
  hashAlgorithm?: TsaHashAlgorithm;
  nonce?: Uint8Array;
  certReq?: boolean;
  policy?: string;
}

export interface TimeStampSigner {
  readonly policyOid: string;
  /** The TSA certificate followed by the chain, DER. */
  readonly certificates: readonly Uint8Array[];
  /** Answer a DER TimeStampReq with a DER TimeStampResp. Never throws: failures are rejections. */
  respond(requestDer: Uint8Array): Promise<TimeStampResponse>;
  /** Issue a TimeStampToken (DER ContentInfo) over a digest the caller already has. */
  timestamp(imprint: Uint8Array, options?: TimeStampOptions): Promise<Uint8Array>;
}

export interface TimeStampResponse {
  der: Buffer;
  status: 'granted' | 'rejection';
  failure?: PkiFailure;
  detail?: string;
  serialNumber?: bigint;
}

const HASH_OID: Record<TsaHashAlgorithm, string> = {
  sha256: OID.sha256,
  sha384: OID.sha384,
  sha512: OID.sha512,
  sm3: OID.sm3,
};
const HASH_LENGTH: Record<TsaHashAlgorithm, number> = { sha256: 32, sha384: 48, sha512: 64, sm3: 32 };

/** A digest by name: SM3 from proof/ (OpenSSL builds may lack it), the rest from node:crypto. */
const digestOf = (algorithm: TsaHashAlgorithm, data: Uint8Array): Buffer =>
  algorithm === 'sm3' ? Buffer.from(sm3(data)) : createHash(algorithm).update(data).digest();

const algorithmId = (dotted: string, withNull = false): Asn1 =>
  seq([oid(dotted), withNull ? nullValue() : undefined]);

interface SignatureProfile {
  digest: TsaHashAlgorithm;
  signatureAlgorithm: Asn1;
  /** The signature over the DER of the signed attributes. */
  sign(data: Buffer): Buffer;
  /** The imprints this key answers. */
  imprints: readonly TsaHashAlgorithm[];
}

function signatureProfile(key: KeyObject): SignatureProfile {
  if (key.type !== 'private') throw new TypeError('TSA key must be a private key');
  const withNode = (digest: TsaHashAlgorithm, signatureAlgorithm: Asn1): SignatureProfile => ({
    digest,
    signatureAlgorithm,
    sign: (data) => cryptoSign(digest, data, key),
    imprints: SHA2_IMPRINTS,
  });
  if (isSm2Key(key)) {
    // GM/T 0033: SM3 throughout and an SM2 signature with Z over the default ID (GM/T 0010),
    // made by proof/ — node:crypto would make plain ECDSA with this key (docs/gm-crypto.md).
    const d = ecPrivateScalar(key);
    return {
      digest: 'sm3',
      signatureAlgorithm: algorithmId(OID.sm2WithSm3),
      sign: (data) => sm2SignatureDer(sm2Sign(d, data)),
      imprints: ['sm3'],
    };
  }
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1' || curve === 'P-256')
      return withNode('sha256', algorithmId(OID.ecdsaWithSha256));
    if (curve === 'secp384r1' || curve === 'P-384')
      return withNode('sha384', algorithmId(OID.ecdsaWithSha384));
    throw new TypeError(`unsupported EC curve ${curve}`);
  }
  if (key.asymmetricKeyType === 'rsa') return withNode('sha256', algorithmId(OID.sha256WithRsa, true));
  throw new TypeError(`unsupported TSA key type ${key.asymmetricKeyType}`);
}

/** The parts of an X.509 certificate the CMS SignerInfo and ESSCertIDv2 refer to. */
export interface CertificateParts {
  issuer: Asn1;
  subject: Asn1;
  serial: Asn1;
}

export function certificateParts(certDer: Uint8Array): CertificateParts {
  const cert = fromDer(certDer);
  const tbs = (cert.value as Asn1[])[0]!;
  const fields = tbs.value as Asn1[];
  // tbsCertificate: [0] version (explicit, optional), serial, signature, issuer, validity, subject
  const o = fields[0]!.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC ? 1 : 0;
  return { serial: fields[o]!, issuer: fields[o + 2]!, subject: fields[o + 4]! };
}

export function createTimeStampSigner(options: TimeStampSignerOptions): TimeStampSigner {
  const profile = signatureProfile(options.privateKey);
  const policyOid = options.policyOid ?? DEFAULT_TSA_POLICY_OID;
  const accepted = [policyOid, ...(options.acceptedPolicies ?? [])];
  const accuracyMillis = options.accuracyMillis ?? 1000;
  if (!Number.isInteger(accuracyMillis) || accuracyMillis < 1) throw new RangeError('accuracyMillis');
  const now = options.now ?? (() => new Date());
  const includeTsaName = options.includeTsaName ?? true;
  const includeSigningTime = options.includeSigningTime ?? true;
  const certificate = Buffer.from(options.certificate);
  const chain = (options.chain ?? []).map((c) => Buffer.from(c));
  const parts = certificateParts(certificate);

  // Everything that does not change between tokens is encoded once, and the token's outer layers
  // are assembled from DER bytes (tlv) so forge does not re-encode the certificates every time.
  const accuracy = accuracyAsn1(accuracyMillis);
  const tsaName = includeTsaName ? explicit(0, explicit(4, parts.subject)) : undefined;
  const digestAlgorithm = toDer(algorithmId(HASH_OID[profile.digest]));
  const signatureAlgorithm = toDer(profile.signatureAlgorithm);
  const signerId = toDer(seq([parts.issuer, parts.serial]));
  const certsField = tlv(0xa0, certificate, ...chain);
  // RFC 5816 SigningCertificateV2 { certs SEQUENCE OF ESSCertIDv2 }; ESSCertIDv2's hashAlgorithm
  // is omitted because SHA-256 is its DEFAULT (DER forbids encoding a default). An SM2 TSA names
  // the certificate by its SM3 hash, stated explicitly (SM3 throughout, GM/T 0033).
  const essCertIdV2 = seq([
    profile.digest === 'sm3' ? algorithmId(OID.sm3) : undefined,
    octets(digestOf(profile.digest === 'sm3' ? 'sm3' : 'sha256', certificate)),
    seq([seq([explicit(4, parts.issuer)]), parts.serial]),
  ]);
  const signingCertificateV2 = toDer(attribute(OID.signingCertificateV2, seq([seq([essCertIdV2])])));
  const contentTypeAttr = toDer(attribute(OID.contentType, oid(OID.tstInfo)));
  const v1 = toDer(integer(1));
  const v3 = toDer(integer(3));
  const digestAlgorithms = tlv(0x31, digestAlgorithm);
  const tstInfoType = toDer(oid(OID.tstInfo));
  const signedDataType = toDer(oid(OID.signedData));

  async function issue(
    request: TimeStampRequest,
    policy: string,
  ): Promise<{ token: Buffer; serial: bigint }> {
    const serial = await options.nextSerial();
    if (typeof serial !== 'bigint' || serial < 1n) throw new RangeError('TSA_BAD_SERIAL');
    const genTime = now();
    const tstInfo = seq([
      integer(1),
      oid(policy),
      seq([algorithmId(HASH_OID[request.hashAlgorithm]), octets(request.imprint)]),
      integer(serial),
      generalizedTime(formatGeneralizedTimeMillis(genTime)),
      accuracy,
      // ordering: DEFAULT FALSE, so omitted
      request.nonce ? integerRaw(request.nonce) : undefined,
      tsaName,
    ]);
    const tstInfoDer = toDer(tstInfo);
    const signedAttrs = [
      contentTypeAttr,
      toDer(attribute(OID.messageDigest, octets(digestOf(profile.digest, tstInfoDer)))),
      includeSigningTime
        ? toDer(attribute(OID.signingTime, utcTime(forge.asn1.dateToUtcTime(genTime))))
        : undefined,
      signingCertificateV2,
    ]
      .filter((a): a is Buffer => a !== undefined)
      .sort(Buffer.compare); // DER SET OF: members in the order of their encodings
    // The signature covers the attributes DER-encoded as a SET OF (tag 0x31), while the SignerInfo
    // carries the same content under [0] IMPLICIT (RFC 5652 §5.4).
    const signature = profile.sign(tlv(0x31, ...signedAttrs));
    const signerInfo = tlv(
      0x30,
      v1,
      signerId,
      digestAlgorithm,
      tlv(0xa0, ...signedAttrs),
      signatureAlgorithm,
      tlv(0x04, signature),
    );
    const signedData = tlv(
      0x30,
      v3,
      digestAlgorithms,
      tlv(0x30, tstInfoType, tlv(0xa0, tlv(0x04, tstInfoDer))),
      request.certReq ? certsField : Buffer.alloc(0),
      tlv(0x31, signerInfo),
    );
    return { token: tlv(0x30, signedDataType, tlv(0xa0, signedData)), serial };
  }

  return {
    policyOid,
    certificates: [certificate, ...chain],

    async respond(requestDer) {
      const parsed = parseTimeStampRequest(requestDer, accepted, profile.imprints);
      if (!parsed.ok) {
        return {
          der: rejectionResponse(parsed.failure, parsed.detail),
          status: 'rejection',
          failure: parsed.failure,
          detail: parsed.detail,
        };
      }
      try {
        const { token, serial } = await issue(parsed.request, parsed.request.reqPolicy ?? policyOid);
        const der = tlv(0x30, GRANTED, token);
        return { der, status: 'granted', serialNumber: serial };
      } catch (err) {
        // A broken serial source or key must still produce a reply a client can read.
        const detail = err instanceof Error ? err.message : 'internal error';
        return {
          der: rejectionResponse('systemFailure', 'system failure'),
          status: 'rejection',
          failure: 'systemFailure',
          detail,
        };
      }
    },

    async timestamp(imprint, opts = {}) {
      const hashAlgorithm = opts.hashAlgorithm ?? profile.imprints[0]!;
      if (!profile.imprints.includes(hashAlgorithm)) throw new RangeError('TSA_BAD_ALG');
      if (imprint.length !== HASH_LENGTH[hashAlgorithm]) throw new RangeError('TSA_BAD_IMPRINT_LENGTH');
      const policy = opts.policy ?? policyOid;
      if (!accepted.includes(policy)) throw new RangeError('TSA_UNACCEPTED_POLICY');
      const { token } = await issue(
        { hashAlgorithm, imprint, nonce: opts.nonce, certReq: opts.certReq ?? true },
        policy,
      );
      return token;
    },
  };
}

const GRANTED = toDer(seq([integer(0)]));

/**
 * One TSA with two keys (CRYPTO_SUITE dual and gm, GM/T 0033): SM3 imprints are answered by the
 * SM2 signer, every other request by the ECDSA/RSA one (SHA-2 imprints keep today's token, and
 * anything else is its rejection). `timestamp()` picks by `hashAlgorithm` the same way.
 */
export function routeByImprint(sha2: TimeStampSigner, sm2: TimeStampSigner): TimeStampSigner {
  return {
    policyOid: sha2.policyOid,
    certificates: sha2.certificates,
    respond: (der) => (imprintAlgorithmOf(der) === 'sm3' ? sm2 : sha2).respond(der),
    timestamp: (imprint, opts = {}) => (opts.hashAlgorithm === 'sm3' ? sm2 : sha2).timestamp(imprint, opts),
  };
}

function attribute(type: string, value: Asn1): Asn1 {
  return seq([oid(type), forge.asn1.create(forge.asn1.Class.UNIVERSAL, forge.asn1.Type.SET, true, [value])]);
}

/** Accuracy ::= SEQUENCE { seconds INTEGER OPTIONAL, millis [0] 1..999 OPTIONAL, micros [1] OPTIONAL } */
function accuracyAsn1(totalMillis: number): Asn1 {
  const seconds = Math.floor(totalMillis / 1000);
  const millis = totalMillis % 1000;
  return seq([
    seconds > 0 ? integer(seconds) : undefined,
    millis > 0 ? implicitPrimitive(0, toBinary(integerContent(BigInt(millis)))) : undefined,
  ]);
}

/** PKIFailureInfo as a DER named-bit BIT STRING: trailing zero bits dropped (X.690 §11.2.2). */
export function failureInfoBits(failure: PkiFailure): Asn1 {
  const bit = PKI_FAILURE_BITS[failure];
  const bytes = new Uint8Array(Math.floor(bit / 8) + 1);
  bytes[bytes.length - 1] = 0x80 >> (bit % 8);
  return bitString(bytes, 7 - (bit % 8));
}

/** A TimeStampResp with status rejection (2), a status string and the failure bit. */
export function rejectionResponse(failure: PkiFailure, text: string): Buffer {
  return toDer(seq([seq([integer(2), seq([utf8(text)]), failureInfoBits(failure)])]));
}
