import type { EvidenceRecord } from '@lianzheng/proof';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../errors.ts';
import { submissionById, submissionsByIds } from '../../intake/submission-store.ts';
import { maySeeDetails } from '../../read/bundle.ts';
import { EvidenceResponse, FlagSchema, RECORD_ID_PATTERN, Status } from '../../read/schemas.ts';
import { linkedRecords, recordAssurance, recordStanding } from '../../read/standing.ts';
import { flagView, mayReadRow, projectScope, recordEntry } from '../../read/views.ts';
import { problemResponses } from '../../schemas.ts';
import { typeboxValidatorCompiler } from '../../validation.ts';

/** The most ids one POST /v1/evidence/status asks about. */
export const STATUS_MAX_IDS = 1000;

const RECORD_ID = new RegExp(RECORD_ID_PATTERN);

const StatusBody = Type.Object(
  {
    ids: Type.Array(
      Type.String({ pattern: RECORD_ID_PATTERN, description: 'a record id (lowercase UUID)' }),
      {
        minItems: 1,
        maxItems: STATUS_MAX_IDS,
      },
    ),
  },
  { additionalProperties: false },
);
/** What the route checks up front: the length and each id are then refused with their own words. */
const StatusOuter = Type.Object(
  { ids: Type.Array(Type.Unknown(), { minItems: 1 }) },
  { additionalProperties: false },
);

const StatusEntry = Type.Union([
  Type.Object({
    id: Type.String(),
    status: Status,
    projectId: Type.String(),
    leafIndex: Type.Optional(Type.Integer({ description: 'its place in the log, once recorded' })),
    rejectCode: Type.Optional(Type.String()),
    supersededBy: Type.Optional(Type.String()),
    withdrawnBy: Type.Optional(Type.String()),
    flags: Type.Array(FlagSchema),
  }),
  Type.Object({
    id: Type.String(),
    status: Type.Literal('not_found', {
      description: 'no such record, or a restricted one the caller may not read: the two are not told apart',
    }),
  }),
]);
const StatusResponse = Type.Object({
  results: Type.Array(StatusEntry, { description: 'one per id, in request order' }),
});

/**
 * GET /v1/evidence/{id}: the record, its status, flags and proof bundle; POST /v1/evidence/status:
 * the status of many records at once.
 */
export default async function evidenceReadRoutes(app: FastifyInstance): Promise<void> {
  app.get<{ Params: { id: string } }>(
    '/v1/evidence/:id',
    {
      schema: {
        tags: ['evidence'],
        summary: 'A record with its status, flags and proof bundle (details only for those allowed)',
        params: Type.Object({ id: Type.String({ pattern: RECORD_ID_PATTERN }) }),
        response: { 200: EvidenceResponse, ...problemResponses(400, 404, 429, 503) },
      },
    },
    async (request) => {
      const row = await submissionById(app.db, request.params.id, { name: 'lz-evidence-by-id' });
      if (!row) throw new AppError('NOT_FOUND', `no record ${request.params.id}`);
      const { entry, record, privileged } = recordEntry(row, request.principal);
      const bundle = await app.pipeline.bundles.bundle(row, record.visibility === 'public' || privileged);
      const standing = recordStanding(row, await linkedRecords(app.db, [row]), request.principal);
      return { ...entry, record, bundle, standing, assurance: recordAssurance(app, bundle) };
    },
  );

  app.post<{ Body: Static<typeof StatusBody> }>(
    '/v1/evidence/status',
    {
      validatorCompiler: typeboxValidatorCompiler((_schema, part) =>
        part === 'body' ? StatusOuter : undefined,
      ),
      schema: {
        tags: ['evidence'],
        summary: `The status, leaf index and flags of up to ${STATUS_MAX_IDS} records in one call, in request order`,
        description:
          'For a partner system polling what it submitted. Each id is answered as GET /v1/evidence/{id} would ' +
          "answer its status, with the facts behind a flag only for those who may read the project's restricted " +
          'details (the owning organisation, the submitter, inspectors of the region, admins). An id that does ' +
          'not exist, and a restricted record the caller may not read, are both `{id, status: "not_found"}`: ' +
          'the answer does not tell them apart. Anonymous callers are rate-limited as on the other read routes.',
        security: [{}, { bearer: [] }, { apiKey: [] }, { mutualTLS: [] }],
        body: StatusBody,
        response: { 200: StatusResponse, ...problemResponses(400, 401, 413, 415, 429, 503) },
      },
    },
    async (request) => {
      const ids = request.body.ids as unknown[];
      if (ids.length > STATUS_MAX_IDS) {
        throw new AppError(
          'VALIDATION_FAILED',
          `at most ${STATUS_MAX_IDS} ids a request, got ${ids.length}: split them`,
          {
            limit: STATUS_MAX_IDS,
            errors: [{ path: 'body/ids', message: `at most ${STATUS_MAX_IDS} items` }],
          },
        );
      }
      const bad = ids.findIndex((id) => typeof id !== 'string' || !RECORD_ID.test(id));
      if (bad >= 0) {
        throw new AppError('VALIDATION_FAILED', `body/ids/${bad} is not a record id (a lowercase UUID)`, {
          errors: [{ path: `body/ids/${bad}`, message: `must match ${RECORD_ID_PATTERN}` }],
        });
      }
      const wanted = [...new Set(ids as string[])];
      const rows = await submissionsByIds(app.db, wanted, 'lz-evidence-status');
      const principal = request.principal;
      const found = new Map(rows.map((r) => [r.id, r]));
      const results = (ids as string[]).map((id) => {
        const row = found.get(id);
        if (!row) return { id, status: 'not_found' as const };
        const record = JSON.parse(row.record_json) as EvidenceRecord;
        if (!maySeeDetails(principal, record.visibility, projectScope(row), record.submitter.org))
          return { id, status: 'not_found' as const };
        const privileged = mayReadRow(principal, row, record);
        return {
          id,
          status: row.status,
          projectId: row.project_id,
          ...(row.leaf_index !== null ? { leafIndex: Number(row.leaf_index) } : {}),
          ...(row.reject_code ? { rejectCode: row.reject_code } : {}),
          ...(row.superseded_by ? { supersededBy: row.superseded_by } : {}),
          ...(row.withdrawn_by ? { withdrawnBy: row.withdrawn_by } : {}),
          flags: row.flags.map((f) => flagView(f, privileged)),
        };
      });
      return { results };
    },
  );
}
