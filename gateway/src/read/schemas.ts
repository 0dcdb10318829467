import { DOCUMENT_KINDS } from '@lianzheng/proof';
import { type Static, Type } from '@sinclair/typebox';

// Response schemas of the pipeline's read routes. They drive Fastify's serialiser, which drops
// properties a schema does not name: the record and the bundle are listed field by field, so a
// bundle leaves the gateway exactly as proof/'s verifyBundle expects it.

export const SHA256_PATTERN = '^[0-9a-f]{64}$';
export const RECORD_ID_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
export const PROJECT_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$';

const Hex = Type.String({ pattern: '^[0-9a-f]*$' });
const Kind = Type.Union(
  DOCUMENT_KINDS.map((k) => Type.Literal(k)),
  { description: 'document kind' },
);
export const Status = Type.Union(
  [Type.Literal('accepted'), Type.Literal('recorded'), Type.Literal('anchored'), Type.Literal('rejected')],
  { description: 'accepted → recorded → anchored; rejected when the ledger refused the record' },
);

export const EvidenceRecordSchema = Type.Object(
  {
    v: Type.Literal(1),
    id: Type.String(),
    projectId: Type.String(),
    kind: Kind,
    digests: Type.Object({ sha256: Type.String(), sm3: Type.Optional(Type.String()) }),
    cid: Type.String(),
    visibility: Type.Union([Type.Literal('public'), Type.Literal('restricted')]),
    submitter: Type.Object({ org: Type.String() }),
    acceptedAt: Type.String(),
    supersedes: Type.Optional(Type.String()),
    refs: Type.Optional(Type.Array(Type.String())),
    detailsDigest: Type.String(),
  },
  { description: 'the record exactly as hashed into the log (RFC 8785 canonical JSON)' },
);

export const RecordDetailsSchema = Type.Object(
  {
    salt: Type.String(),
    title: Type.Optional(Type.String()),
    amount: Type.Optional(Type.String()),
    milestone: Type.Optional(Type.String()),
    result: Type.Optional(Type.Union([Type.Literal('passed'), Type.Literal('failed')])),
    reason: Type.Optional(Type.String()),
  },
  { description: 'disclosed details; restricted ones only to the owning organisation and inspectors' },
);

export const ProofBundleSchema = Type.Object(
  {
    version: Type.Literal('lianzheng-bundle/1'),
    record: EvidenceRecordSchema,
    details: Type.Optional(RecordDetailsSchema),
    receipt: Type.String({
      description: 'the receipt the gateway returned with the 202 (a JWS, or a group receipt `<JWS>~<item>`)',
    }),
    receiptSm2: Type.Optional(
      Type.String({
        description:
          'CRYPTO_SUITE dual: the same claims signed with SM2 (alg SM2-with-SM3), in the same form as receipt (docs/gm-crypto.md)',
      }),
    ),
    inclusion: Type.Optional(
      Type.Object({
        index: Type.Integer(),
        size: Type.Integer(),
        path: Type.Array(Hex),
        checkpoint: Type.String({ description: 'C2SP signed note' }),
      }),
    ),
    ledger: Type.Optional(
      Type.Object({
        network: Type.Union([Type.Literal('embedded'), Type.Literal('fabric')]),
        channel: Type.Optional(Type.String()),
        chaincode: Type.Optional(Type.String()),
        txId: Type.String(),
        block: Type.Integer(),
        size: Type.Integer(),
        root: Hex,
        validation: Type.Optional(
          Type.String({ description: "Fabric's validation code of the transaction" }),
        ),
        endorsers: Type.Optional(
          Type.Array(Type.String(), { description: 'MSP ids of the endorsing organisations' }),
        ),
        note: Type.Optional(Type.String()),
      }),
    ),
    anchor: Type.Optional(
      Type.Object({
        chainId: Type.String(),
        contract: Type.String(),
        txHash: Type.String(),
        block: Type.Integer(),
        size: Type.Integer(),
        root: Hex,
        consistency: Type.Array(Hex),
      }),
    ),
    timestamp: Type.Optional(Type.Object({ token: Type.String() })),
    cosignatures: Type.Optional(
      Type.Array(Type.String(), {
        description:
          "Witnesses' C2SP cosignature/v1 lines over inclusion.checkpoint (docs/witnesses.md), without the newline",
      }),
    ),
    witnessed: Type.Optional(
      Type.Object(
        {
          checkpoint: Type.String(),
          cosignatures: Type.Array(Type.String()),
          consistency: Type.Array(Type.String()),
        },
        {
          description:
            'A later checkpoint witnesses cosigned, with their lines and the consistency proof from inclusion.checkpoint to it: for a record whose own checkpoint is below the witness quorum (docs/witnesses.md)',
        },
      ),
    ),
  },
  { description: 'proof bundle lianzheng-bundle/1; verify it with @lianzheng/proof verifyBundle' },
);

export const FlagSchema = Type.Object(
  {
    code: Type.String({ description: 'stable rule code, e.g. ADVANCE_OVER_LIMIT' }),
    rule: Type.Optional(
      Type.String({ description: 'the rule and its version, e.g. MILESTONE_OVERDUE_30_DAYS@1' }),
    ),
    recordId: Type.String(),
    projectId: Type.Optional(Type.String()),
    raisedAt: Type.Optional(Type.String()),
    refs: Type.Optional(
      Type.Array(Type.String(), {
        description:
          'the other records the flag rests on (the contract, the other live contracts); facts, so public only where the facts are',
      }),
    ),
    resolvedBy: Type.Optional(
      Type.String({
        description:
          'a later record that answered the flag (a passed acceptance of an overdue milestone): the flag stays, shown as resolved',
      }),
    ),
    resolvedAt: Type.Optional(Type.String({ description: 'when it was resolved (the ledger time)' })),
    detail: Type.Optional(
      Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()]), {
        description: 'facts behind the flag (amounts); only for the owning organisation and inspectors',
      }),
    ),
  },
  { description: 'a rule flag the ledger raised ("flag, never hide")' },
);
export type FlagJson = Static<typeof FlagSchema>;

export const StandingSchema = Type.Union(
  [
    Type.Object({ state: Type.Literal('standing') }),
    Type.Object({
      state: Type.Literal('withdrawn'),
      by: Type.String({ description: 'the withdrawal record' }),
      reason: Type.Optional(
        Type.String({
          description: "the withdrawal's reason (absent when it is restricted from this reader)",
        }),
      ),
      at: Type.Optional(Type.String({ description: 'when the withdrawal was accepted (RFC 3339)' })),
    }),
    Type.Object({
      state: Type.Literal('superseded'),
      by: Type.String({ description: 'the record of the newer version' }),
      at: Type.Optional(Type.String({ description: 'when the newer version was accepted (RFC 3339)' })),
    }),
  ],
  {
    description:
      'Whether the record still stands. A withdrawn or superseded record is genuine, but the document no longer stands: say so before anything else',
  },
);

export const AssuranceSchema = Type.Object(
  {
    ledger: Type.Union([
      Type.Object({ level: Type.Literal('none') }),
      Type.Object({ level: Type.Literal('embedded') }),
      Type.Object({
        level: Type.Literal('fabric'),
        endorsers: Type.Array(Type.String()),
        channel: Type.Optional(Type.String()),
      }),
    ]),
    anchoring: Type.Union([
      Type.Object({ level: Type.Literal('none') }),
      Type.Object({ level: Type.Literal('pending') }),
      Type.Object({
        level: Type.Literal('unconfirmed'),
        chainId: Type.String(),
        block: Type.Integer(),
        txHash: Type.String(),
      }),
      Type.Object({
        level: Type.Literal('anchored'),
        chainId: Type.String(),
        block: Type.Integer(),
        txHash: Type.String(),
        contract: Type.String(),
      }),
    ]),
    time: Type.Union([
      Type.Object({ level: Type.Literal('gateway-clock') }),
      Type.Object({ level: Type.Literal('operator-tsa'), name: Type.Optional(Type.String()) }),
      Type.Object({ level: Type.Literal('outside-tsa'), name: Type.String(), root: Type.String() }),
    ]),
    witnesses: Type.Union([
      Type.Object({ level: Type.Literal('none') }),
      Type.Object({
        level: Type.Union([Type.Literal('quorum'), Type.Literal('below-quorum')]),
        quorum: Type.Integer({ description: 'How many of the witnesses must cosign' }),
        of: Type.Integer({ description: 'How many witnesses the operator names' }),
        cosigned: Type.Array(
          Type.Object({
            name: Type.String({ description: "The witness's C2SP key name" }),
            displayName: Type.Optional(Type.String()),
            displayNameZh: Type.Optional(Type.String()),
            at: Type.String({ description: 'When it cosigned (ISO 8601, from its cosignature)' }),
            size: Type.Optional(
              Type.Integer({
                description:
                  "The size of the later checkpoint it cosigned (bundle.witnessed), consistent with the record's; absent for the record's own checkpoint",
              }),
            ),
          }),
          {
            description:
              "Witnesses whose cosignature over the record's checkpoint, or over the later checkpoint in bundle.witnessed, verifies",
          },
        ),
      }),
    ]),
    onChain: Type.Boolean({
      description: 'true only for a Fabric ledger or an anchor on a public chain (never the embedded ledger)',
    }),
  },
  {
    description:
      "What the evidence is worth: the ledger, the anchoring, who vouches for the time, witnesses (docs/assurance.md; @lianzheng/proof deriveAssurance). It is the gateway's reading of the bundle; a verifier re-derives it from the steps that passed",
  },
);

/** One record as the read routes list it. */
export const RecordEntrySchema = Type.Object({
  id: Type.String(),
  status: Status,
  projectId: Type.String(),
  kind: Kind,
  sha256: Type.String(),
  cid: Type.String(),
  visibility: Type.Union([Type.Literal('public'), Type.Literal('restricted')]),
  acceptedAt: Type.String(),
  submitter: Type.Object({ org: Type.String() }),
  leafIndex: Type.Optional(Type.Integer()),
  rejectCode: Type.Optional(Type.String()),
  supersedes: Type.Optional(Type.String()),
  refs: Type.Optional(Type.Array(Type.String())),
  supersededBy: Type.Optional(Type.String()),
  withdrawnBy: Type.Optional(Type.String()),
  flags: Type.Array(FlagSchema),
  details: Type.Optional(RecordDetailsSchema),
});

export const EvidenceResponse = Type.Composite([
  RecordEntrySchema,
  Type.Object({
    record: EvidenceRecordSchema,
    bundle: ProofBundleSchema,
    standing: StandingSchema,
    assurance: AssuranceSchema,
  }),
]);

export const VerifyResponse = Type.Object({
  sha256: Type.String(),
  records: Type.Array(
    Type.Object({
      id: Type.String(),
      status: Status,
      projectId: Type.String(),
      kind: Kind,
      acceptedAt: Type.String(),
      submitter: Type.Object({ org: Type.String() }),
      supersededBy: Type.Optional(Type.String()),
      withdrawnBy: Type.Optional(Type.String()),
      standing: StandingSchema,
      assurance: AssuranceSchema,
      flags: Type.Array(FlagSchema),
      bundle: ProofBundleSchema,
    }),
  ),
});

export const MILESTONE_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';

// Display names (issue #21, migration 0900): what a page shows instead of an id. At least one
// character that is not white space; Chinese names as registered, English ones beside them.
const displayText = (maxLength: number, description: string) =>
  Type.String({ minLength: 1, maxLength, pattern: '\\S', description });

/** An organisation's display name: Chinese, and English where its unit gave one. */
export const DisplayNameSchema = Type.Object(
  {
    zh: displayText(200, 'the Chinese name'),
    en: Type.Optional(displayText(200, 'the English name')),
  },
  { additionalProperties: false },
);

export const MilestoneSchema = Type.Object({
  id: Type.String({ pattern: MILESTONE_ID_PATTERN }),
  name: Type.String({ minLength: 1, maxLength: 500, description: 'the Chinese name (on the ledger)' }),
  nameEn: Type.Optional(
    displayText(500, 'the English name: a display name kept beside the ledger, not on it'),
  ),
  dueDate: Type.String({
    pattern: '^\\d{4}-\\d{2}-\\d{2}$',
    description: 'YYYY-MM-DD (China Standard Time)',
  }),
});

/** A milestone as answered: its display names, and the ledger's name where the display differs. */
const MilestoneView = Type.Composite([
  MilestoneSchema,
  Type.Object({
    registeredName: Type.Optional(
      Type.String({ description: 'the name on the ledger, when the display name was changed since' }),
    ),
  }),
]);

export const ProjectBody = Type.Object(
  {
    id: Type.String({ pattern: PROJECT_ID_PATTERN }),
    name: Type.String({ minLength: 1, maxLength: 500 }),
    regionCode: Type.String({
      pattern: '^[1-9][0-9]{5}$',
      description: '6-digit administrative division code',
    }),
    ownerOrg: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: "defaults to the unit's own organisation" }),
    ),
    budget: Type.String({
      pattern: '^(0|[1-9][0-9]{0,29})$',
      description: 'integer fen as a decimal string',
    }),
    milestones: Type.Optional(Type.Array(MilestoneSchema, { maxItems: 200 })),
    nameEn: Type.Optional(
      displayText(500, 'the English name: a display name kept beside the ledger, not on it'),
    ),
    ownerOrgName: Type.Optional(DisplayNameSchema),
  },
  { additionalProperties: false },
);
export type ProjectBody = Static<typeof ProjectBody>;

/** PATCH /v1/projects/{id}: display names only — the ledger's project never changes. */
export const ProjectNamesBody = Type.Object(
  {
    name: Type.Optional(
      Type.Union([displayText(500, 'the Chinese display name'), Type.Null()], {
        description: 'null: show the name registered on the ledger again',
      }),
    ),
    nameEn: Type.Optional(Type.Union([displayText(500, 'the English display name'), Type.Null()])),
    milestones: Type.Optional(
      Type.Array(
        Type.Object(
          {
            id: Type.String({ pattern: MILESTONE_ID_PATTERN }),
            name: Type.Optional(Type.Union([displayText(500, 'the Chinese display name'), Type.Null()])),
            nameEn: Type.Optional(Type.Union([displayText(500, 'the English display name'), Type.Null()])),
          },
          { additionalProperties: false },
        ),
        { maxItems: 200 },
      ),
    ),
    ownerOrgName: Type.Optional(DisplayNameSchema),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type ProjectNamesBody = Static<typeof ProjectNamesBody>;

export const OrganisationBody = Type.Object(
  { name: displayText(200, 'the Chinese name'), nameEn: Type.Optional(displayText(200, 'the English name')) },
  { additionalProperties: false },
);
export type OrganisationBody = Static<typeof OrganisationBody>;

export const OrganisationResponse = Type.Object({
  id: Type.String(),
  name: Type.String(),
  nameEn: Type.Optional(Type.String()),
  updatedAt: Type.String(),
});

export const ProjectSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  regionCode: Type.String(),
  ownerOrg: Type.String(),
  budget: Type.String(),
  level: Type.String({ description: 'A above 100 million CNY, B from 5 million, C below' }),
  milestones: Type.Array(MilestoneView),
  nameEn: Type.Optional(Type.String()),
  registeredName: Type.Optional(
    Type.String({ description: 'the name on the ledger, when the display name was changed since' }),
  ),
  ownerOrgName: Type.Optional(DisplayNameSchema),
});

/** Who granted or revoked a delegation: the caller's role, organisation and subject. */
export const CallerSchema = Type.Object({
  role: Type.String(),
  org: Type.Optional(Type.String()),
  subject: Type.Optional(Type.String({ description: 'JWT `sub`, `apikey:<id>` or `cert:<name>`' })),
});

export const DelegateSchema = Type.Object({
  org: Type.String({ description: 'the partner organisation that may submit for the project' }),
  active: Type.Boolean({ description: 'false once revoked' }),
  grantedAt: Type.String(),
  revokedAt: Type.Union([Type.String(), Type.Null()]),
  /** Who granted and who revoked it: shown to the owner, inspectors of the region and admins. */
  grantedBy: Type.Optional(CallerSchema),
  revokedBy: Type.Optional(Type.Union([CallerSchema, Type.Null()])),
});

export const ProjectResponse = Type.Object({
  project: ProjectSchema,
  ledger: Type.Object({ txId: Type.String(), block: Type.Integer() }),
  registeredAt: Type.String(),
  records: Type.Integer({ description: 'records accepted for the project (not rejected)' }),
  flags: Type.Integer({ description: 'rule flags raised on its records' }),
  organisations: Type.Optional(
    Type.Record(Type.String(), DisplayNameSchema, {
      description: 'display names of the owning organisation and its delegates, where they gave one',
    }),
  ),
  delegates: Type.Array(DelegateSchema, {
    description:
      'every delegation of the project, oldest first, revoked ones included: the organisations its owning unit let submit for it (who granted and revoked only for the owner, inspectors of the region and admins)',
  }),
});

export const RegisterProjectResponse = Type.Object({
  project: ProjectSchema,
  ledger: Type.Object({ txId: Type.String(), block: Type.Integer() }),
  repeated: Type.Boolean({ description: 'an identical project was already registered' }),
});

export const ProjectRecordsResponse = Type.Object({
  projectId: Type.String(),
  records: Type.Array(RecordEntrySchema),
  /** Pass as `after` for the next page. */
  next: Type.Optional(Type.String()),
});

export const ProjectFlagsResponse = Type.Object({
  projectId: Type.String(),
  flags: Type.Array(FlagSchema),
});
