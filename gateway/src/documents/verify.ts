// Checks a PAdES signature made by sign.ts without any outside program, for `lianzheng
// verify-package` (offline: no network, no poppler needed) and for tests beside pdfsig. It is
// deliberately narrow: one signature that covers the whole file, a detached CMS with
// contentType/messageDigest signed attributes, a signer certificate chaining to a trusted root,
// and the RFC 3161 signature time-stamp (checked by @lianzheng/proof's verifyTimestampToken, the
// same code that checks checkpoint tokens).
import { createHash, verify as cryptoVerify, X509Certificate } from 'node:crypto';
import { verifyTimestampToken } from '@lianzheng/proof';
import forge from 'node-forge';
import { type Asn1, fromBinary, fromDer, OID, toDer } from '../tsa/index.ts';

export type PdfCheckCode =
  | 'PDF_NO_SIGNATURE'
  | 'PDF_PARTIAL_COVERAGE'
  | 'PDF_MALFORMED_SIGNATURE'
  | 'PDF_DIGEST_MISMATCH'
  | 'PDF_BAD_SIGNATURE'
  | 'PDF_UNTRUSTED_SIGNER'
  | 'PDF_NO_TIMESTAMP'
  | 'PDF_BAD_TIMESTAMP';

export interface PdfSignatureCheck {
  ok: boolean;
  code?: PdfCheckCode;
  detail?: string;
  /** The signer certificate's common name. */
  signer?: string;
  /** SHA-256 (hex) of the signer certificate's DER. */
  signerFingerprint?: string;
  /** genTime of the signature time-stamp (ISO 8601). */
  timestamp?: string;
  /** The RFC 3161 token (DER) and the imprint it stamps: SHA-256 of the signature value, hex. */
  timestampToken?: Buffer;
  signatureValueSha256?: string;
}

class Failure extends Error {
  constructor(
    readonly code: PdfCheckCode,
    message: string,
  ) {
    super(message);
  }
}

const children = (node: Asn1 | undefined): Asn1[] =>
  Array.isArray(node?.value) ? (node.value as Asn1[]) : [];
const oidOf = (node: Asn1 | undefined): string =>
  node && typeof node.value === 'string' ? forge.asn1.derToOid(node.value) : '';
const bytesOf = (node: Asn1 | undefined): Buffer =>
  node && typeof node.value === 'string' ? fromBinary(node.value) : Buffer.alloc(0);

/** The one signature's byte ranges and CMS; the signature must cover every other byte. */
function locateSignature(pdf: Buffer): { signed: Buffer; cms: Buffer } {
  const text = pdf.toString('latin1');
  const matches = [...text.matchAll(/\/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]/g)];
  if (matches.length === 0) throw new Failure('PDF_NO_SIGNATURE', 'no /ByteRange');
  if (matches.length > 1) throw new Failure('PDF_PARTIAL_COVERAGE', 'more than one signature');
  const [a, b, c, d] = matches[0]!.slice(1).map(Number) as [number, number, number, number];
  if (a !== 0 || c + d !== pdf.length || b >= c || pdf[b] !== 0x3c || pdf[c - 1] !== 0x3e) {
    throw new Failure('PDF_PARTIAL_COVERAGE', `byte range [${a} ${b} ${c} ${d}] of ${pdf.length}`);
  }
  const hex = text.slice(b + 1, c - 1);
  if (!/^[0-9a-fA-F]*$/.test(hex)) throw new Failure('PDF_MALFORMED_SIGNATURE', '/Contents is not hex');
  const padded = Buffer.from(hex, 'hex');
  // The placeholder is zero-padded; the CMS is as long as its outer DER length says.
  const cms = padded.subarray(0, derLength(padded));
  return { signed: Buffer.concat([pdf.subarray(a, a + b), pdf.subarray(c, c + d)]), cms };
}

function derLength(der: Buffer): number {
  if (der[0] !== 0x30) throw new Failure('PDF_MALFORMED_SIGNATURE', 'CMS is not a SEQUENCE');
  const first = der[1] ?? 0;
  if (first < 0x80) return 2 + first;
  const n = first & 0x7f;
  if (n < 1 || n > 4) throw new Failure('PDF_MALFORMED_SIGNATURE', 'CMS length');
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + (der[2 + i] ?? 0);
  if (2 + n + len > der.length) throw new Failure('PDF_MALFORMED_SIGNATURE', 'CMS longer than /Contents');
  return 2 + n + len;
}

function attribute(attrs: Asn1[], type: string): Asn1 | undefined {
  const found = attrs.find((a) => oidOf(children(a)[0]) === type);
  return children(children(found)[1])[0];
}

/** Check the PDF's signature against trusted roots (PEM). Never throws. */
export async function verifyPdfSignature(
  pdf: Uint8Array,
  trustedRootsPem: string[],
): Promise<PdfSignatureCheck> {
  const result: PdfSignatureCheck = { ok: false };
  try {
    const { signed, cms } = locateSignature(Buffer.from(pdf));
    let root: Asn1;
    try {
      root = fromDer(cms);
    } catch (err) {
      throw new Failure('PDF_MALFORMED_SIGNATURE', (err as Error).message);
    }
    const [type, wrapped] = children(root);
    if (oidOf(type) !== OID.signedData) throw new Failure('PDF_MALFORMED_SIGNATURE', 'not SignedData');
    const sd = children(children(wrapped)[0]);
    const certNode = sd.find((n) => n.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC && n.type === 0);
    const certificates = children(certNode).map((c) => new X509Certificate(toDer(c)));
    const signerInfos = children(sd[sd.length - 1]);
    if (signerInfos.length !== 1) throw new Failure('PDF_MALFORMED_SIGNATURE', 'one SignerInfo expected');
    const si = children(signerInfos[0]);
    const serialHex = bytesOf(children(si[1])[1]).toString('hex').replace(/^0+/, '').toUpperCase();
    const signedAttrsNode = si.find((n) => n.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC && n.type === 0);
    const unsignedNode = si.find((n) => n.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC && n.type === 1);
    const signatureNode = si.find((n) => n.tagClass === forge.asn1.Class.UNIVERSAL && n.type === 4);
    if (!signedAttrsNode || !signatureNode) throw new Failure('PDF_MALFORMED_SIGNATURE', 'SignerInfo fields');
    const signedAttrs = children(signedAttrsNode);
    const digest = bytesOf(attribute(signedAttrs, OID.messageDigest));
    if (!digest.equals(createHash('sha256').update(signed).digest())) {
      throw new Failure('PDF_DIGEST_MISMATCH', 'the signed bytes do not match the messageDigest');
    }
    const signerCert = certificates.find(
      (c) => c.serialNumber.replace(/^0+/, '').toUpperCase() === serialHex,
    );
    if (!signerCert) throw new Failure('PDF_MALFORMED_SIGNATURE', 'signer certificate not in the CMS');
    result.signer = /CN=([^\n]+)/.exec(signerCert.subject)?.[1];
    result.signerFingerprint = createHash('sha256').update(signerCert.raw).digest('hex');
    // The signature covers the attributes as a DER SET OF (tag 0x31), not as [0] (RFC 5652 §5.4).
    const attrsDer = toDer(signedAttrsNode);
    attrsDer[0] = 0x31;
    const signature = bytesOf(signatureNode);
    if (!cryptoVerify('sha256', attrsDer, signerCert.publicKey, signature)) {
      throw new Failure('PDF_BAD_SIGNATURE', 'the CMS signature does not verify');
    }
    result.signatureValueSha256 = createHash('sha256').update(signature).digest('hex');

    // Who signed before when: an untrusted signer is named as such, whatever its time-stamp says.
    const chain = chainToRoot(signerCert, certificates, trustedRootsPem);

    const tokenNode = attribute(children(unsignedNode), OID.signatureTimeStampToken);
    if (!tokenNode) throw new Failure('PDF_NO_TIMESTAMP', 'no signature time-stamp (PAdES B-T)');
    const token = toDer(tokenNode);
    result.timestampToken = token;
    const stamp = await verifyTimestampToken(
      token,
      createHash('sha256').update(signature).digest(),
      trustedRootsPem,
    );
    if (stamp.status !== 'pass') throw new Failure('PDF_BAD_TIMESTAMP', `${stamp.code}: ${stamp.detail}`);
    result.timestamp = stamp.genTime;

    // Every certificate of the chain was valid when the signature was time-stamped (B-T).
    const at = Date.parse(stamp.genTime!);
    for (const c of chain) {
      if (Date.parse(c.validFrom) > at || at > Date.parse(c.validTo)) {
        throw new Failure('PDF_UNTRUSTED_SIGNER', `${c.subject} not valid at ${stamp.genTime}`);
      }
    }
    result.ok = true;
    return result;
  } catch (err) {
    if (err instanceof Failure) return { ...result, ok: false, code: err.code, detail: err.message };
    return { ...result, ok: false, code: 'PDF_MALFORMED_SIGNATURE', detail: (err as Error).message };
  }
}

/** The chain from the signer's certificate (through the CMS's certificates) to a trusted root. */
function chainToRoot(leaf: X509Certificate, pool: X509Certificate[], rootsPem: string[]): X509Certificate[] {
  const roots = rootsPem.flatMap((pem) =>
    [...pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)].map(
      (m) => new X509Certificate(m[0]),
    ),
  );
  const chain = [leaf];
  let current = leaf;
  for (let depth = 0; depth < 5; depth++) {
    const root = roots.find((r) => current.checkIssued(r) && current.verify(r.publicKey));
    if (root) return [...chain, root];
    const issuer = pool.find(
      (c) => c !== current && c.ca && current.checkIssued(c) && current.verify(c.publicKey),
    );
    if (!issuer) break;
    chain.push(issuer);
    current = issuer;
  }
  throw new Failure('PDF_UNTRUSTED_SIGNER', 'the signer certificate does not chain to a trusted root');
}
