import { Readable } from 'node:stream';
import { type Static, Type } from '@sinclair/typebox';
import { stringify } from 'csv-stringify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../errors.ts';
import { projectSubmissions } from '../../intake/submission-store.ts';
import { mayReadRestricted } from '../../read/bundle.ts';
import { PROJECT_ID_PATTERN } from '../../read/schemas.ts';
import { recordEntry } from '../../read/views.ts';
import { problemResponses } from '../../schemas.ts';
import { loadProjectFlags } from './flags.ts';

// CSV exports of a project's trail and flags (issue #22), for inspectors (纪检监察, auditors) and
// the owning unit, who open them in Excel or WPS. The JSON routes answer the same facts; these
// exist because a spreadsheet is where an inspector's working papers live.
//
// - UTF-8 with a byte-order mark: without it Excel reads the file as the locale's code page and
//   Chinese titles turn to mojibake.
// - RFC 4180 quoting by csv-stringify (quotes, commas and line breaks inside titles are common).
// - Formula injection (OWASP "CSV injection"): a submitter chooses titles, so a cell that starts
//   with = + - @ tab or CR would be run as a formula by a spreadsheet. Such cells get a leading
//   apostrophe, which spreadsheets show as text and do not evaluate.
// - Restricted details (title, amount, milestone, result, reason; the facts behind a flag) are
//   filled in exactly where the JSON routes would show them to the same caller; otherwise empty.

const ProjectParams = Type.Object({ id: Type.String({ pattern: PROJECT_ID_PATTERN }) });
type Params = Static<typeof ProjectParams>;

/** Rows read from PostgreSQL per query while the file streams out. */
const PAGE = 1000;

const FORMULA_START = /^[=+\-@\t\r]/;

/** A cell as written: text that a spreadsheet would evaluate gets a leading apostrophe. */
export function csvCell(value: unknown): string {
  if (value === undefined || value === null) return '';
  const text = typeof value === 'string' ? value : String(value);
  return FORMULA_START.test(text) ? `'${text}` : text;
}

export const RECORD_COLUMNS = [
  'id',
  'acceptedAt',
  'status',
  'kind',
  'visibility',
  'sha256',
  'cid',
  'submitterOrg',
  'leafIndex',
  'supersedes',
  'supersededBy',
  'withdrawnBy',
  'refs',
  'flags',
  'title',
  'amount',
  'milestone',
  'result',
  'reason',
  'certificate',
] as const;

export const FLAG_COLUMNS = [
  'code',
  'rule',
  'recordId',
  'raisedAt',
  'resolvedBy',
  'resolvedAt',
  'refs',
  'detail',
] as const;

const csvResponse = (what: string) => ({
  description: `${what} as CSV (UTF-8 with BOM, RFC 4180, a header row; cells that a spreadsheet would evaluate start with an apostrophe)`,
  content: { 'text/csv': { schema: { type: 'string' } } },
});

/**
 * The project, if the caller may export it: an inspector (restricted columns only within the
 * region), the owning organisation's unit or partner, or an admin. Shared by the CSV exports and
 * the PDF audit report (report.ts).
 */
export async function exportableProject(
  app: FastifyInstance,
  request: FastifyRequest<{ Params: { id: string } }>,
): Promise<{ id: string; owner_org: string; region_code: string }> {
  const { rows } = await app.db.query<{ id: string; owner_org: string; region_code: string }>(
    'select id, owner_org, region_code from projects where id = $1',
    [request.params.id],
  );
  const p = rows[0];
  if (!p) throw new AppError('NOT_FOUND', `no project ${request.params.id}`);
  const who = request.principal;
  const allowed =
    who.role === 'admin' ||
    who.role === 'inspector' ||
    ((who.role === 'unit' || who.role === 'partner') && who.org === p.owner_org);
  if (!allowed) {
    throw new AppError(
      'FORBIDDEN',
      `the exports of project ${p.id} are for inspectors, ${p.owner_org} (which owns it) and admins`,
      { reason: 'NOT_PROJECT_OWNER', projectId: p.id, ownerOrg: p.owner_org },
    );
  }
  return p;
}

export default async function exportRoutes(app: FastifyInstance): Promise<void> {
  const security: { [scheme: string]: string[] }[] = [{ bearer: [] }, { apiKey: [] }, { mutualTLS: [] }];

  const exportable = (request: FastifyRequest<{ Params: Params }>) => exportableProject(app, request);

  const sendCsv = (
    reply: FastifyReply,
    filename: string,
    columns: readonly string[],
    rows: AsyncIterable<unknown[]>,
  ) => {
    reply
      .header('content-type', 'text/csv; charset=utf-8; header=present')
      .header('content-disposition', `attachment; filename="${filename}"`)
      // An answer to credentials, with restricted columns: never kept by a shared or local cache.
      .header('cache-control', 'private, no-store');
    const out = stringify({ bom: true, header: true, columns: [...columns], record_delimiter: 'windows' });
    // Rows are read page by page as the client takes them: a large project never sits in memory.
    Readable.from(rows)
      .on('error', (err) => out.destroy(err))
      .pipe(out);
    return reply.send(out);
  };

  app.get<{ Params: Params }>(
    '/v1/projects/:id/records.csv',
    {
      onRequest: app.requireRole('unit', 'partner', 'inspector', 'admin'),
      schema: {
        tags: ['projects'],
        summary: "A project's evidence trail as a spreadsheet (inspectors, the owning organisation, admins)",
        description:
          'One row per accepted record in acceptance order, with its status, digests, links and flag codes. ' +
          'title, amount, milestone, result and reason are filled in where the caller may read them (public ' +
          "records; restricted ones for the owning organisation, inspectors of the project's region and admins). " +
          "`certificate` is the path of the record's printable certificate on this gateway.",
        security,
        params: ProjectParams,
        response: { 200: csvResponse('The trail'), ...problemResponses(400, 401, 403, 404, 429, 503) },
      },
    },
    async (request, reply) => {
      const p = await exportable(request);
      const principal = request.principal;
      async function* rows() {
        let after = '0';
        for (;;) {
          const page = await projectSubmissions(app.db, p.id, after, PAGE);
          for (const row of page) {
            const { entry } = recordEntry(row, principal);
            const d = entry.details;
            yield [
              entry.id,
              entry.acceptedAt,
              entry.status,
              entry.kind,
              entry.visibility,
              entry.sha256,
              entry.cid,
              entry.submitter.org,
              entry.leafIndex,
              entry.supersedes,
              entry.supersededBy,
              entry.withdrawnBy,
              entry.refs?.join(' '),
              entry.flags.map((f) => f.code).join(' '),
              d?.title,
              d?.amount,
              d?.milestone,
              d?.result,
              d?.reason,
              `/r/${entry.id}`,
            ].map(csvCell);
          }
          const last = page[page.length - 1];
          if (page.length < PAGE || !last) return;
          after = last.seq;
        }
      }
      return sendCsv(reply, `${p.id}-records.csv`, RECORD_COLUMNS, rows());
    },
  );

  app.get<{ Params: Params }>(
    '/v1/projects/:id/flags.csv',
    {
      onRequest: app.requireRole('unit', 'partner', 'inspector', 'admin'),
      schema: {
        tags: ['projects'],
        summary: "A project's rule flags as a spreadsheet (inspectors, the owning organisation, admins)",
        description:
          'One row per flag in the order of the records that raised them. `detail` (JSON) and `refs` carry the ' +
          "facts behind a flag for the owning organisation, inspectors of the project's region and admins; " +
          'others see only the facts that are public for that rule.',
        security,
        params: ProjectParams,
        response: { 200: csvResponse('The flags'), ...problemResponses(400, 401, 403, 404, 429, 503) },
      },
    },
    async (request, reply) => {
      const p = await exportable(request);
      const privileged = mayReadRestricted(request.principal, {
        ownerOrg: p.owner_org,
        regionCode: p.region_code,
      });
      const flags = await loadProjectFlags(app.db, p.id, privileged);
      async function* lines() {
        for (const f of flags) {
          yield [
            f.code,
            f.rule,
            f.recordId,
            f.raisedAt,
            f.resolvedBy,
            f.resolvedAt,
            f.refs?.join(' '),
            f.detail ? JSON.stringify(f.detail) : undefined,
          ].map(csvCell);
        }
      }
      return sendCsv(reply, `${p.id}-flags.csv`, FLAG_COLUMNS, lines());
    },
  );
}
