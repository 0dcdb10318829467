import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { type SubmissionRow, sha256sOfSm3 } from '../../intake/submission-store.ts';
import { SHA256_PATTERN, VerifyResponse } from '../../read/schemas.ts';
import { linkedRecords, recordAssurance, recordStanding } from '../../read/standing.ts';
import { recordEntry } from '../../read/views.ts';
import { problemResponses } from '../../schemas.ts';

/**
 * GET /v1/verify/{sha256}: every record of a digest with its proof bundle. Lookups made at the
 * same time share one indexed query (pipeline.digests: submissions by sha256 = any(…), joined to
 * their batch, flags and links), and their proofs' subtree hashes one more (the log's
 * CachedSubtreeStore); the bundles of recorded submissions are cached, so a hot lookup costs no
 * proof work.
 */
export default async function verifyRoutes(app: FastifyInstance): Promise<void> {
  // Hot digests (a notice's QR code scanned by many people) are answered from a one-second cache
  // of the serialised public answer. Only answers whose records are all recorded or anchored are
  // kept: an 'accepted' record is what clients poll for, so that answer is always fresh. The
  // public answer already allows browsers and shared caches five seconds (max-age=5).
  const hot = new Map<string, { until: number; body: Buffer }>();
  const HOT_TTL_MS = 1000;
  const HOT_MAX = 10_000;
  // An answer is kept from its digest's second public lookup within the TTL: most digests are
  // looked up once (a record checked by the people it concerns), and copying each of those
  // answers into the cache only to drop it unused cost allocation and garbage collection.
  const askedOnce = new Map<string, number>();

  /** The records of a lookup, as the caller may see them, each with its bundle. */
  async function answer(rows: SubmissionRow[], principal: Parameters<typeof recordEntry>[1]) {
    const linked = await linkedRecords(app.db, rows);
    return Promise.all(
      rows.map(async (row) => {
        const { entry, record, privileged } = recordEntry(row, principal);
        const bundle = await app.pipeline.bundles.bundle(row, record.visibility === 'public' || privileged);
        return {
          id: entry.id,
          status: entry.status,
          projectId: entry.projectId,
          kind: entry.kind,
          acceptedAt: entry.acceptedAt,
          submitter: entry.submitter,
          ...(entry.supersededBy ? { supersededBy: entry.supersededBy } : {}),
          ...(entry.withdrawnBy ? { withdrawnBy: entry.withdrawnBy } : {}),
          standing: recordStanding(row, linked, principal),
          assurance: recordAssurance(app, bundle),
          flags: entry.flags,
          bundle,
        };
      }),
    );
  }

  // GET /v1/verify/sm3/{hex}: the same answer for the records that carry this SM3 (digests.sm3),
  // found through their SHA-256s (migration 0921 indexes the SM3s) so the rows, bundles and
  // visibility rules are exactly those of the SHA-256 lookup. Not cached: SM3 lookups are rare.
  const MAX_SM3_DIGESTS = 100;
  app.get<{ Params: { sm3: string } }>(
    '/v1/verify/sm3/:sm3',
    {
      schema: {
        tags: ['verify'],
        summary:
          'Every record that carries this SM3 (GB/T 32905) digest, answered as GET /v1/verify/{sha256}',
        params: Type.Object({
          sm3: Type.String({ pattern: SHA256_PATTERN, description: '64 lowercase hex digits' }),
        }),
        response: {
          200: Type.Object({ sm3: Type.String(), records: VerifyResponse.properties.records }),
          ...problemResponses(400, 429, 503),
        },
      },
    },
    async (request, reply) => {
      const { sm3 } = request.params;
      const digests = await sha256sOfSm3(app.db, sm3, MAX_SM3_DIGESTS);
      const rows = (await Promise.all(digests.map((sha256) => app.pipeline.digests.load(sha256))))
        .flat()
        .filter((row) => (JSON.parse(row.record_json) as { digests: { sm3?: string } }).digests.sm3 === sm3);
      reply.header(
        'cache-control',
        request.principal.role === 'public' ? 'public, max-age=5' : 'private, no-store',
      );
      return { sm3, records: await answer(rows, request.principal) };
    },
  );
  app.get<{ Params: { sha256: string } }>(
    '/v1/verify/:sha256',
    {
      schema: {
        tags: ['verify'],
        summary:
          'Every record of this SHA-256: whether it still stands (withdrawn, superseded), what its evidence is worth (assurance), flags and proof bundles',
        params: Type.Object({
          sha256: Type.String({ pattern: SHA256_PATTERN, description: '64 lowercase hex digits' }),
        }),
        response: { 200: VerifyResponse, ...problemResponses(400, 429, 503) },
      },
    },
    async (request, reply) => {
      const { sha256 } = request.params;
      const isPublic = request.principal.role === 'public';
      if (isPublic) {
        const hit = hot.get(sha256);
        if (hit !== undefined && hit.until > Date.now()) {
          reply.header('cache-control', 'public, max-age=5').type('application/json; charset=utf-8');
          return hit.body;
        }
      }
      const records = await answer(await app.pipeline.digests.load(sha256), request.principal);
      // Public answers may be cached briefly by the browser; a status changes within seconds.
      if (!isPublic) {
        reply.header('cache-control', 'private, no-store');
        return { sha256, records };
      }
      reply.header('cache-control', 'public, max-age=5');
      if (records.length === 0 || !records.every((r) => r.status === 'recorded' || r.status === 'anchored'))
        return { sha256, records };
      const now = Date.now();
      if ((askedOnce.get(sha256) ?? 0) <= now) {
        if (askedOnce.size >= HOT_MAX) askedOnce.clear();
        askedOnce.set(sha256, now + HOT_TTL_MS);
        return { sha256, records };
      }
      askedOnce.delete(sha256);
      // Kept as bytes: each hit then writes them as they are, without encoding ~5 KB of text again.
      const body = Buffer.from(reply.serialize({ sha256, records }) as string);
      if (hot.size >= HOT_MAX) hot.clear();
      hot.set(sha256, { until: now + HOT_TTL_MS, body });
      reply.type('application/json; charset=utf-8');
      return body;
    },
  );
}
