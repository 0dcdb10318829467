import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { auditReportSpec, type ReportRecord } from '../../documents/audit-report.ts';
import { renderPdf } from '../../documents/render.ts';
import { DOCUMENT_RATE_LIMIT, documentService } from '../../documents/service.ts';
import { projectRecordCount, projectSubmissions } from '../../intake/submission-store.ts';
import type { LedgerProject } from '../../ledger/ledger.ts';
import { mayReadRestricted } from '../../read/bundle.ts';
import { PROJECT_ID_PATTERN } from '../../read/schemas.ts';
import { recordAssurance } from '../../read/standing.ts';
import { recordEntry } from '../../read/views.ts';
import { problemResponses } from '../../schemas.ts';
import { exportableProject } from './exports.ts';
import { loadProjectFlags } from './flags.ts';
import { loadOrganisationNames, loadProjectNames, projectView } from './names.ts';

// GET /v1/projects/{id}/report.pdf (issue #22): the project's trail as a signed PDF for the
// people the CSV exports are for (inspectors, the owning organisation, admins) — the same
// authorisation (exportableProject) and the same visibility of restricted details.

/**
 * The most records one report lists. A report is read by a person; beyond this it says it is
 * truncated and points to records.csv. It also bounds the work of one request (each record's
 * bundle is read for its proof and assurance).
 */
export const REPORT_MAX_RECORDS = 2000;
const PAGE = 500;

export default async function projectReportRoutes(app: FastifyInstance): Promise<void> {
  app.get<{ Params: { id: string } }>(
    '/v1/projects/:id/report.pdf',
    {
      onRequest: app.requireRole('unit', 'partner', 'inspector', 'admin'),
      // A report builds and signs a PDF (~0.1–1 s of CPU): far fewer per client than reads.
      config: { rateLimit: DOCUMENT_RATE_LIMIT },
      schema: {
        tags: ['projects'],
        summary: "A project's audit report as a signed PDF (inspectors, the owning organisation, admins)",
        description:
          'The project, every record (first 2,000) with its status, proof (leaf, checkpoint size, ledger block and ' +
          'transaction, time-stamp) and assurance, the flags with the records they rest on, and when it was made; ' +
          "Chinese with English, the CJK font embedded. Signed PAdES B-T (ETSI.CAdES.detached) by the gateway's " +
          'document-signing certificate under its PKI root (/.well-known/lianzheng/certs.pem) with an RFC 3161 ' +
          'time-stamp of the signature: `pdfsig report.pdf` checks it. Restricted details only where the caller may read them.',
        security: [{ bearer: [] }, { apiKey: [] }, { mutualTLS: [] }],
        params: Type.Object({ id: Type.String({ pattern: PROJECT_ID_PATTERN }) }),
        response: {
          200: {
            description: 'The signed report',
            content: { 'application/pdf': { schema: { type: 'string', format: 'binary' } } },
          },
          ...problemResponses(400, 401, 403, 404, 429, 503),
        },
      },
    },
    async (request, reply) => {
      const p = await exportableProject(app, request);
      const documents = await documentService(app);
      const principal = request.principal;
      const privileged = mayReadRestricted(principal, { ownerOrg: p.owner_org, regionCode: p.region_code });

      const { rows: projectRows } = await app.db.query<{
        record: { project: LedgerProject; registeredAt?: string };
        tx_id: string | null;
      }>('select record, tx_id from projects where id = $1', [p.id]);
      const ledgerProject = projectRows[0]!.record.project;
      const [names, organisations, counted] = await Promise.all([
        loadProjectNames(app.db, p.id),
        loadOrganisationNames(app.db, [p.owner_org]),
        projectRecordCount(app.db, p.id),
      ]);

      const records: ReportRecord[] = [];
      let after = '0';
      while (records.length < REPORT_MAX_RECORDS) {
        const page = await projectSubmissions(
          app.db,
          p.id,
          after,
          Math.min(PAGE, REPORT_MAX_RECORDS - records.length),
          { inclusion: true },
        );
        for (const row of page) {
          const { entry } = recordEntry(row, principal);
          // Details are not needed for proof or assurance: the bundle without them is the cached one.
          const bundle = await app.pipeline.bundles.bundle(row, false);
          records.push({
            entry,
            assurance: recordAssurance(app, bundle),
            ...(bundle.inclusion
              ? {
                  proof: {
                    index: bundle.inclusion.index,
                    size: bundle.inclusion.size,
                    block: bundle.ledger?.block,
                    txId: bundle.ledger?.txId,
                    timestamped: Boolean(bundle.timestamp),
                  },
                }
              : {}),
          });
        }
        const last = page[page.length - 1];
        if (page.length < PAGE || !last) break;
        after = last.seq;
      }
      const flags = await loadProjectFlags(app.db, p.id, privileged);
      const totalRecords = counted;
      // The submitting organisations' names (public, as GET /v1/projects/{id} answers them).
      const submitters = await loadOrganisationNames(app.db, [
        ...new Set(records.map((r) => r.entry.submitter.org).filter((o) => !organisations[o])),
      ]);
      const generatedAt = new Date();
      const spec = auditReportSpec({
        project: {
          id: p.id,
          name: names?.zh ?? ledgerProject.name,
          ...(names?.en ? { nameEn: names.en } : {}),
          ownerOrg: p.owner_org,
          ...(organisations[p.owner_org] ? { ownerOrgName: organisations[p.owner_org]!.zh } : {}),
          regionCode: p.region_code,
          level: ledgerProject.level,
          budget: ledgerProject.budget,
          ...(projectRows[0]!.record.registeredAt
            ? { registeredAt: projectRows[0]!.record.registeredAt }
            : {}),
          ...(projectRows[0]!.tx_id ? { ledgerTx: projectRows[0]!.tx_id } : {}),
        },
        records,
        truncated: totalRecords > records.length,
        totalRecords,
        flags,
        generatedAt,
        generatedFor: [principal.role, principal.org, principal.region].filter(Boolean).join(' · '),
        privileged,
        names: {
          organisations: { ...organisations, ...submitters },
          // As GET /v1/projects/{id} shows them: a changed name over the registered one.
          milestones: Object.fromEntries(
            projectView(ledgerProject, names).milestones.map((m) => [
              m.id,
              { zh: m.name, ...(m.nameEn ? { en: m.nameEn } : {}) },
            ]),
          ),
        },
      });
      const pdf = await documents.sign(await renderPdf(spec, documents.font), {
        reason: `LianZheng audit report of project ${p.id}`,
        signingTime: generatedAt,
      });
      return (
        reply
          .header('content-type', 'application/pdf')
          .header('content-disposition', `attachment; filename="${p.id}-report.pdf"`)
          // An answer to credentials, possibly with restricted details: never kept by any cache.
          .header('cache-control', 'private, no-store')
          .send(pdf)
      );
    },
  );
}
