// PAdES baseline B-T signatures (ETSI EN 319 142-1) on the gateway's PDFs.
//
// - The byte range and the /Contents placeholder are @signpdf's (placeholder-plain adds an
//   AcroForm signature field to any classic-xref PDF, signpdf fills the placeholder).
// - The CMS SignedData (RFC 5652, CAdES profile ETSI EN 319 122-1) is built here from DER pieces
//   with the same node-forge ASN.1 helpers the TSA uses, and signed by node:crypto: forge's pkcs7
//   cannot sign with ECDSA, and the TSA's code already knows how to write a SignerInfo.
//   Detached (no eContent), signed attributes contentType = id-data, messageDigest = SHA-256 of
//   the byte ranges, and ESS signingCertificateV2 (CAdES-B requires it); no signingTime attribute
//   (PAdES puts the claimed time in the signature dictionary's /M instead).
// - B-T: an RFC 3161 token over the SHA-256 of the signature value, from the gateway's own TSA,
//   goes into the SignerInfo as the unsigned attribute id-aa-signatureTimeStampToken (RFC 3161
//   Appendix A). Readers (pdfsig, Adobe, Foxit) then show a time-stamped signature.
import { createHash, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { plainAddPlaceholder } from '@signpdf/placeholder-plain';
import { SignPdf } from '@signpdf/signpdf';
import { Signer, SUBFILTER_ETSI_CADES_DETACHED } from '@signpdf/utils';
import {
  certificateParts,
  explicit,
  OID,
  octets,
  oid,
  seq,
  type TimeStampSigner,
  tlv,
  toDer,
} from '../tsa/index.ts';

export interface DocumentSigner {
  /** The document-signing key (EC P-256). */
  privateKey: KeyObject;
  /** Its certificate (DER), issued for document signing (pki.ts, purpose 'document'). */
  certificate: Uint8Array;
  /** The rest of the chain (DER), the root last; carried in the CMS so a reader can build it. */
  chain: readonly Uint8Array[];
  /** The TSA that stamps the signature value (B-T). */
  tsa: TimeStampSigner;
}

export interface SignOptions {
  /** Shown by readers as the signature's reason and signer name; ASCII keeps old readers happy. */
  reason: string;
  name?: string;
  location?: string;
  contactInfo?: string;
  signingTime?: Date;
}

/** Room for the CMS: two certificates, the signature and a token with the TSA certificate. */
const SIGNATURE_BYTES = 12_288;

const attribute = (type: string, ...valuesDer: Uint8Array[]): Buffer =>
  tlv(0x30, toDer(oid(type)), tlv(0x31, ...valuesDer));

/** A detached CAdES SignedData over `content` with a signature time-stamp. */
export async function createCadesSignature(signer: DocumentSigner, content: Uint8Array): Promise<Buffer> {
  const certificate = Buffer.from(signer.certificate);
  const parts = certificateParts(certificate);
  const sha256 = toDer(seq([oid(OID.sha256)]));
  const essCertIdV2 = seq([
    octets(createHash('sha256').update(certificate).digest()),
    seq([seq([explicit(4, parts.issuer)]), parts.serial]),
  ]);
  const signedAttrs = [
    attribute(OID.contentType, toDer(oid(OID.data))),
    attribute(OID.messageDigest, toDer(octets(createHash('sha256').update(content).digest()))),
    attribute(OID.signingCertificateV2, toDer(seq([seq([essCertIdV2])]))),
  ].sort(Buffer.compare); // DER SET OF: in the order of the encodings
  // Signed as a SET OF (0x31); carried in the SignerInfo as [0] IMPLICIT (RFC 5652 §5.4).
  const signature = cryptoSign('sha256', tlv(0x31, ...signedAttrs), signer.privateKey);
  const token = await signer.tsa.timestamp(createHash('sha256').update(signature).digest(), {
    hashAlgorithm: 'sha256',
    certReq: true,
  });
  const signerInfo = tlv(
    0x30,
    tlv(0x02, Buffer.from([1])), // version 1: issuerAndSerialNumber
    toDer(seq([parts.issuer, parts.serial])),
    sha256,
    tlv(0xa0, ...signedAttrs),
    toDer(seq([oid(OID.ecdsaWithSha256)])),
    tlv(0x04, signature),
    tlv(0xa1, attribute(OID.signatureTimeStampToken, token)),
  );
  const signedData = tlv(
    0x30,
    tlv(0x02, Buffer.from([1])), // version 1: id-data content, issuerAndSerialNumber only
    tlv(0x31, sha256),
    tlv(0x30, toDer(oid(OID.data))), // detached: no eContent
    tlv(0xa0, certificate, ...signer.chain.map((c) => Buffer.from(c))),
    tlv(0x31, signerInfo),
  );
  return tlv(0x30, toDer(oid(OID.signedData)), tlv(0xa0, signedData));
}

class CadesSigner extends Signer {
  constructor(private readonly signer: DocumentSigner) {
    super();
  }
  override async sign(content: Buffer): Promise<Buffer> {
    return createCadesSignature(this.signer, content);
  }
}

/** Sign a PDF (classic cross-reference table, as pdfkit writes) with a PAdES B-T signature. */
export async function signPdf(pdf: Buffer, signer: DocumentSigner, options: SignOptions): Promise<Buffer> {
  const signingTime = options.signingTime ?? new Date();
  const withPlaceholder = plainAddPlaceholder({
    pdfBuffer: pdf,
    reason: options.reason,
    name: options.name ?? 'LianZheng gateway',
    location: options.location ?? '',
    contactInfo: options.contactInfo ?? '',
    signingTime,
    signatureLength: SIGNATURE_BYTES,
    subFilter: SUBFILTER_ETSI_CADES_DETACHED,
    appName: 'LianZheng',
  });
  return new SignPdf().sign(withPlaceholder, new CadesSigner(signer), signingTime);
}
