// The TSA's one door for the rest of the gateway: everything outside tsa/ imports from here, so
// what the time-stamp authority and the local PKI offer is this list, and their files can move.
export { createTimestampToken } from './checkpoint-token.ts';
// ASN.1 DER building and reading (node-forge), which the signed documents use too.
export { type Asn1, explicit, fromBinary, fromDer, octets, oid, seq, tlv, toDer } from './der.ts';
export { localPkiOptions } from './local-pki.ts';
export { DEFAULT_TSA_POLICY_OID, OID } from './oids.ts';
export {
  type CertificateAuthority,
  checkTsaCertificate,
  type InitPkiOptions,
  type InitPkiResult,
  initPki,
  issueClientCertificate,
  issueServerCertificate,
  type LoadSignerOptions,
  loadDocumentSigningFiles,
  loadLocalTimeStampSigner,
  loadRootCa,
  loadTimeStampSignerFromFiles,
  PkiError,
  type PkiPaths,
  pkiPaths,
  rotateTsaKey,
  writePublishedCertificates,
} from './pki.ts';
export { MAX_REQUEST_BYTES, type PkiFailure, type TimeStampRequest } from './request.ts';
export { createClockSerial, createPgSerial, type NextSerial } from './serial.ts';
export {
  certificateParts,
  createTimeStampSigner,
  type TimeStampOptions,
  type TimeStampResponse,
  type TimeStampSigner,
  type TimeStampSignerOptions,
} from './signer.ts';
export { default as timestampsPlugin, type Timestamps } from './timestamps-plugin.ts';
