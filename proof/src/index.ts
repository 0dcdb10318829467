// The public surface of @lianzheng/proof: named re-exports only.

export {
  ANCHORED_EVENT_TOPIC,
  AnchorReadError,
  type AnchorReadErrorCode,
  type AnchorTxRef,
  type ChainAnchor,
  decodeAnchoredEvent,
  type JsonRpcCall,
  JsonRpcError,
  type ReadAnchorOptions,
  ROOT_AT_SELECTOR,
  readAnchorFromChain,
  rootAtCallData,
} from './lib/anchor-rpc.ts';
export {
  type AnchorAssurance,
  type Assurance,
  type AssuranceKeys,
  assuranceSummary,
  deriveAssurance,
  type LedgerAssurance,
  type Standing,
  standingOf,
  standingVerdict,
  type TimeAssurance,
  VERDICT_EXIT_CODES,
  type WitnessAssurance,
} from './lib/assurance.ts';

export {
  type AnchorIdentity,
  type AnchorInfo,
  type AnchorRef,
  type AnchorSite,
  BUNDLE_VERSION,
  type BundleVerification,
  type InclusionRef,
  type LedgerRef,
  type LedgerTxInfo,
  type ProofBundle,
  type StepResult,
  type TimestampRef,
  VERIFY_STEPS,
  type VerifyBundleOptions,
  type VerifyStepName,
  verifyBundle,
} from './lib/bundle.ts';
export { canonicalBytes, canonicalJson } from './lib/canonical-json.ts';
export {
  type Checkpoint,
  type CheckpointSigner,
  deriveNotePublicKey,
  formatCheckpoint,
  type NoteAlgorithm,
  noteKeyAlgorithm,
  noteVerifierKey,
  parseCheckpoint,
  signCheckpoint,
  verifyCheckpoint,
} from './lib/checkpoint.ts';
export {
  acceptCosignatureLines,
  type Cosignature,
  type CosignatureCheck,
  type Cosigner,
  type CosignerKey,
  checkWitnessQuorum,
  cosignatureMessage,
  cosignCheckpoint,
  cosignerVerifierKey,
  deriveCosignerPublicKey,
  parseCosignerKey,
  type QuorumResult,
  verifyCosignatures,
} from './lib/cosignature.ts';
export { cidFromSha256, createSha256, type Sha256Hasher, sha256 } from './lib/digest.ts';
export { fromBase64, fromHex, isSha256Hex, toBase64, toHex } from './lib/encoding.ts';
export { isProofError, ProofError, type ProofErrorCode } from './lib/errors.ts';
export {
  checkTrustWithRotations,
  type FollowedKey,
  type FollowFailure,
  type FollowResult,
  followRotations,
  KEY_ROTATION_JWS_TYPE,
  KEY_ROTATION_TYPE,
  type KeyRotation,
  type KeyRotationClaims,
  keyRotationClaims,
  keyRotationPayload,
  type RotationKey,
} from './lib/key-rotation.ts';
export {
  appendLeaves,
  appendLeavesWithSubtrees,
  emptyFrontier,
  emptyRoot,
  type Frontier,
  type FrontierJson,
  frontierFromJson,
  frontierRoot,
  frontierToJson,
  leafHash,
  nodeHash,
  type SubtreeHash,
  treeWithPaths,
} from './lib/merkle.ts';
export {
  assertConsistency,
  assertInclusion,
  generateConsistencyProof,
  generateInclusionProof,
  MemorySubtreeStore,
  rootFromInclusionProof,
  type SubtreeRef,
  type SubtreeSource,
  verifyConsistency,
  verifyInclusion,
} from './lib/merkle-proof.ts';
export {
  buildReceiptGroup,
  decodeReceipt,
  type JSONWebKeySet,
  RECEIPT_ALG,
  RECEIPT_GROUP_TYPE,
  RECEIPT_SM2_ALG,
  RECEIPT_TYPE,
  type ReceiptClaims,
  type ReceiptGroup,
  type ReceiptGroupClaims,
  type ReceiptItemClaims,
  type Sm2ReceiptKey,
  signSm2Jws,
  signSm2ReceiptGroup,
  verifyReceipt,
} from './lib/receipt.ts';
export {
  DETAILS_FIELDS,
  DOCUMENT_KINDS,
  type DocumentKind,
  detailsDigest,
  type EvidenceRecord,
  isDocumentKind,
  RECORD_FIELDS,
  type RecordDetails,
  recordLeafHash,
  validateRecord,
} from './lib/record.ts';
export {
  SM2_DEFAULT_ID,
  type Sm2Options,
  sm2PublicKey,
  sm2RandomPrivateKey,
  sm2Sign,
  sm2Verify,
  sm2Z,
} from './lib/sm2.ts';
export { sm3 } from './lib/sm3.ts';
export {
  checkpointKeyFingerprint,
  checkTrust,
  jwkThumbprint,
  keyFingerprints,
  type PublishedKeys,
  TRUST_FORMAT,
  type TrustFile,
  trustOf,
} from './lib/trust.ts';
export { type CertificateInfo, certificateInfo } from './timestamp/certificate-info.ts';
export {
  type TimestampCheck,
  type TimestampFailureCode,
  type VerifyTimestampOptions,
  verifyCheckpointTimestamp,
  verifyTimestampToken,
} from './timestamp/index.ts';
