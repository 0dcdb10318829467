import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../errors.ts';
import { loadSubmissions } from '../../notary/bundle.ts';
import { EvidenceResponse, RECORD_ID_PATTERN } from '../../pipeline/schemas.ts';
import { recordEntry } from '../../pipeline/views.ts';
import { problemResponses } from '../../schemas.ts';

/** GET /v1/evidence/{id}: the record, its status, flags and proof bundle. */
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
      const [row] = await loadSubmissions(app.db, 's.id = $1', [request.params.id], '', 'lz-evidence-by-id', {
        inclusion: true,
      });
      if (!row) throw new AppError('NOT_FOUND', `no record ${request.params.id}`);
      const { entry, record, privileged } = recordEntry(row, request.principal);
      const bundle = await app.pipeline.bundles.bundle(row, record.visibility === 'public' || privileged);
      return { ...entry, record, bundle };
    },
  );
}
