// Object identifiers used by the TSA and the PKI, in one place so the request parser, the token
// builder and the certificate builder cannot disagree about a number.

/**
 * The default TSA policy. 1.3.6.1.4.1.55555 is NOT a registered IANA Private Enterprise Number of
 * this project: it is a placeholder arc for development. A deployment must replace it (config
 * `policyOid`) with an OID under its own registered arc before its tokens are relied on.
 */
export const DEFAULT_TSA_POLICY_OID = '1.3.6.1.4.1.55555.3161.1';

export const OID = {
  // hash algorithms (NIST)
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
  /** SM3 (GB/T 32905; GM/T 0006). */
  sm3: '1.2.156.10197.1.401',
  // signature algorithms
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  ecdsaWithSha512: '1.2.840.10045.4.3.4',
  rsaEncryption: '1.2.840.113549.1.1.1',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  sha384WithRsa: '1.2.840.113549.1.1.12',
  sha512WithRsa: '1.2.840.113549.1.1.13',
  ed25519: '1.3.101.112',
  ecPublicKey: '1.2.840.10045.2.1',
  prime256v1: '1.2.840.10045.3.1.7',
  secp384r1: '1.3.132.0.34',
  /** The SM2 curve (GB/T 32918.5; GM/T 0006), the parameters of an id-ecPublicKey SM2 key. */
  sm2Curve: '1.2.156.10197.1.301',
  /** SM2 signature with SM3 (GM/T 0006 `SM2-with-SM3`): GB/T 32918.2 over SM3 with Z. */
  sm2WithSm3: '1.2.156.10197.1.501',
  // CMS and RFC 3161 / 5816
  signedData: '1.2.840.113549.1.7.2',
  tstInfo: '1.2.840.113549.1.9.16.1.4',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  signingCertificate: '1.2.840.113549.1.9.16.2.12',
  signingCertificateV2: '1.2.840.113549.1.9.16.2.47',
  // X.509
  commonName: '2.5.4.3',
  countryName: '2.5.4.6',
  organizationName: '2.5.4.10',
  organizationalUnitName: '2.5.4.11',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  ekuServerAuth: '1.3.6.1.5.5.7.3.1',
  ekuClientAuth: '1.3.6.1.5.5.7.3.2',
  ekuTimeStamping: '1.3.6.1.5.5.7.3.8',
  ekuEmailProtection: '1.3.6.1.5.5.7.3.4',
  /** RFC 9336 id-kp-documentSigning. */
  ekuDocumentSigning: '1.3.6.1.5.5.7.3.36',
  // CAdES / PAdES (RFC 5126, ETSI EN 319 122): the time-stamp over a signature value.
  signatureTimeStampToken: '1.2.840.113549.1.9.16.2.14',
  data: '1.2.840.113549.1.7.1',
} as const;

export type TsaHashAlgorithm = 'sha256' | 'sha384' | 'sha512' | 'sm3';

/**
 * The imprint algorithms a TSA may accept, with their digest lengths. SHA-1 is refused (badAlg).
 * Each signer accepts a subset (`SHA2_IMPRINTS` for ECDSA/RSA keys, SM3 for an SM2 key).
 */
export const IMPRINT_ALGORITHMS: Record<string, { name: TsaHashAlgorithm; length: number }> = {
  [OID.sha256]: { name: 'sha256', length: 32 },
  [OID.sha384]: { name: 'sha384', length: 48 },
  [OID.sha512]: { name: 'sha512', length: 64 },
  [OID.sm3]: { name: 'sm3', length: 32 },
};

/** What an ECDSA or RSA TSA key answers: the SHA-2 imprints (as before SM3 existed). */
export const SHA2_IMPRINTS: readonly TsaHashAlgorithm[] = ['sha256', 'sha384', 'sha512'];
