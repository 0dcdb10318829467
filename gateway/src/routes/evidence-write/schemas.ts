import {
  FEN_PATTERN,
  MAX_REFS,
  MAX_TEXT,
  MILESTONE_ID_PATTERN,
  PROJECT_ID_PATTERN,
  RECORD_ID_PATTERN,
} from '@lianzheng/chaincode';
import { DOCUMENT_KINDS } from '@lianzheng/proof';
import { type Static, Type } from '@sinclair/typebox';

// The chaincode's own alphabets, so intake never answers 202 for a record the ledger would refuse
// for its shape (`isSha256Hex` in proof/ is the same 64 lowercase hex).
export const SHA256_HEX = '^[0-9a-f]{64}$';
export const RECORD_ID = RECORD_ID_PATTERN;
export const PROJECT_ID = PROJECT_ID_PATTERN;
export const MILESTONE_ID = MILESTONE_ID_PATTERN;
/** Integer fen: no leading zeros and no `-0`, as the chaincode's `isFen`. */
export const FEN = FEN_PATTERN;
export { MAX_REFS, MAX_TEXT };

const Sha256 = Type.String({ pattern: SHA256_HEX, description: 'SHA-256 of the document, 64 lowercase hex' });
const RecordId = Type.String({ pattern: RECORD_ID, description: 'a record id (UUIDv7)' });

const Sm3 = Type.String({
  pattern: SHA256_HEX,
  description:
    'SM3 (GB/T 32905-2016) of the document, 64 lowercase hex, recorded beside the SHA-256 as digests.sm3',
});

export const EvidenceSubmission = Type.Object(
  {
    sha256: Sha256,
    sm3: Type.Optional(Sm3),
    projectId: Type.String({ pattern: PROJECT_ID, description: 'a registered project' }),
    kind: Type.Union(
      DOCUMENT_KINDS.map((k) => Type.Literal(k)),
      { description: 'document kind' },
    ),
    title: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_TEXT })),
    visibility: Type.Union([Type.Literal('public'), Type.Literal('restricted')], {
      description: 'restricted details reach only the owning unit and inspectors of the region',
    }),
    supersedes: Type.Optional(RecordId),
    refs: Type.Optional(Type.Array(RecordId, { maxItems: MAX_REFS, uniqueItems: true })),
    amount: Type.Optional(
      Type.String({
        pattern: FEN,
        description: 'integer fen as a decimal string; change orders may be negative',
      }),
    ),
    milestone: Type.Optional(Type.String({ pattern: MILESTONE_ID })),
    result: Type.Optional(Type.Union([Type.Literal('passed'), Type.Literal('failed')])),
    reason: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_TEXT })),
  },
  { additionalProperties: false },
);
export type EvidenceSubmission = Static<typeof EvidenceSubmission>;

/** The multipart form, for the OpenAPI document (the file part is streamed, never buffered). */
export const EvidenceUpload = Type.Object(
  {
    file: Type.String({ format: 'binary', description: 'the document; hashed as it streams in' }),
    projectId: Type.String(),
    kind: Type.String(),
    visibility: Type.String(),
    title: Type.Optional(Type.String()),
    supersedes: Type.Optional(Type.String()),
    refs: Type.Optional(Type.String({ description: 'repeat the field, or comma-separated ids' })),
    amount: Type.Optional(Type.String()),
    milestone: Type.Optional(Type.String()),
    result: Type.Optional(Type.String()),
    reason: Type.Optional(Type.String()),
    sha256: Type.Optional(Type.String({ description: 'if given, must equal the digest of the file' })),
    sm3: Type.Optional(
      Type.String({
        description:
          'if given, must equal the SM3 of the file (computed as it streams in unless UPLOAD_SM3=false)',
      }),
    ),
  },
  { 'x-multipart': true },
);

export const SubmissionStatus = Type.Union([
  Type.Literal('accepted'),
  Type.Literal('recorded'),
  Type.Literal('anchored'),
  Type.Literal('rejected'),
]);

export const Accepted = Type.Object({
  id: Type.String({ description: 'record id (UUIDv7)' }),
  sha256: Type.String(),
  cid: Type.String({ description: 'CIDv1 (raw, sha2-256, base32)' }),
  status: SubmissionStatus,
  receipt: Type.String({
    description:
      "A plain compact JWS (ES256, typ lianzheng-receipt+jwt, `kid` in /.well-known/jwks.json) whose payload names this record (`sub` = id, `sha256`, `cid`, `projectId`, `kind`, `leaf`), however many requests were committed with it: any JOSE library verifies it. (An Idempotency-Key replay answers the receipt first given, which a gateway before 2026-12 may have made a group receipt `<JWS>~<item>`; proof/'s verifyReceipt checks both forms.)",
  }),
  receiptSm2: Type.Optional(
    Type.String({
      description:
        "CRYPTO_SUITE dual only: the same claims (same `iat`) signed with SM2 — alg SM2-with-SM3 (GB/T 32918.2, SM3, Z over ID 1234567812345678), kid of the SM2 key in /.well-known/jwks.json. One SM2 signature serves the single submissions committed together: a group receipt `<JWS>~<item>`, or a plain compact JWS when the group held one record (and for receipts made before 2026-12-07); proof/'s verifyReceipt checks both forms (docs/gm-crypto.md). With CRYPTO_SUITE gm, receipt itself is signed SM2-with-SM3.",
    }),
  ),
  acceptedAt: Type.String({ description: 'RFC 3339 UTC with milliseconds' }),
});
export type Accepted = Static<typeof Accepted>;

/** What the batch route validates up front; each item is then checked on its own. */
export function batchOuter(maxItems: number) {
  return Type.Object(
    { items: Type.Array(Type.Unknown(), { minItems: 1, maxItems }) },
    { additionalProperties: false, 'x-batch-outer': true },
  );
}

/** The batch body as documented. */
export function batchBody(maxItems: number) {
  return Type.Object(
    { items: Type.Array(EvidenceSubmission, { minItems: 1, maxItems }) },
    { additionalProperties: false },
  );
}

const ItemProblem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    code: Type.String(),
    detail: Type.Optional(Type.String()),
    errors: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
  },
  { additionalProperties: true },
);

/** An accepted item of a batch answer. */
export const BatchAcceptedItem = Type.Object({
  index: Type.Integer(),
  status: SubmissionStatus,
  id: Type.String(),
  sha256: Type.String(),
  cid: Type.String(),
  receipt: Type.String({
    description:
      "a group receipt `<JWS>~<item>`: one ES256 signature over the Merkle root of the records committed together, and this record's claims with its path to that root (docs/FORMATS.md §6; proof/'s verifyReceipt). A plain JWS when the group held one record, or for every item with RECEIPT_GROUPS=false",
  }),
  receiptSm2: Type.Optional(
    Type.String({
      description:
        "CRYPTO_SUITE dual only: the same receipt signed with SM2 (alg SM2-with-SM3). When it signs the same payload and carries the same `~item` as `receipt` (always, from 2026-12-07), only its header and signature: `<header>..<signature>` (RFC 7515 Appendix F's detached form); the whole receipt is `<header>.<receipt's payload>.<signature>` followed by `receipt`'s `~item` (proof/'s attachReceipt), as GET /v1/evidence/{id}'s bundle carries it",
    }),
  ),
  acceptedAt: Type.String(),
});
export type BatchAcceptedItem = Static<typeof BatchAcceptedItem>;

export const BatchResult = Type.Object({
  accepted: Type.Integer(),
  rejected: Type.Integer(),
  results: Type.Array(
    Type.Union([
      BatchAcceptedItem,
      Type.Object({ index: Type.Integer(), status: Type.Literal('invalid'), problem: ItemProblem }),
    ]),
  ),
});
