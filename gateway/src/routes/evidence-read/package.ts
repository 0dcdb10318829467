import fs from 'node:fs/promises';
import path from 'node:path';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { DOCUMENT_RATE_LIMIT, documentService } from '../../documents/service.ts';
import { AppError } from '../../errors.ts';
import { buildEvidencePackage } from '../../evidence-package/build.ts';
import { type LedgerFlagJson, submissionById } from '../../intake/submission-store.ts';
import type { LedgerProject } from '../../ledger/ledger.ts';
import { RECORD_ID_PATTERN } from '../../read/schemas.ts';
import { linkedRecords, recordAssurance, recordStanding } from '../../read/standing.ts';
import { flagView, recordEntry } from '../../read/views.ts';
import { problemResponses } from '../../schemas.ts';
import { pkiPaths } from '../../tsa/index.ts';
import { publishedKeys } from '../keys/index.ts';
import { loadOrganisationNames, loadProjectNames, projectView } from '../projects/names.ts';

// GET /v1/evidence/{id}/package (issue #24): the record's evidence package, a ZIP anyone can check
// offline (`lianzheng verify-package`). Authorised like GET /v1/evidence/{id}: everyone gets the
// record and its proof; the restricted details (title, amount, …) are inside only for those who
// may read them (the owning organisation, inspectors of the region, admins).

/**
 * The record as the ledger holds it, cut to what this reader may see: the gateway reads the
 * ledger as a member, so its view carries restricted details and the facts behind flags.
 */
function ledgerView(view: Record<string, unknown> | undefined, withDetails: boolean, privileged: boolean) {
  if (!view) return undefined;
  const { details, flags, ...rest } = view;
  return {
    ...rest,
    ...(withDetails && details !== undefined ? { details } : {}),
    ...(Array.isArray(flags)
      ? { flags: (flags as LedgerFlagJson[]).map((f) => flagView(f, privileged)) }
      : {}),
  };
}

export default async function evidencePackageRoutes(app: FastifyInstance): Promise<void> {
  app.get<{ Params: { id: string } }>(
    '/v1/evidence/:id/package',
    {
      // Signs a PDF, a manifest and asks the TSA three times (~0.2–0.5 s of CPU): a tighter limit
      // than reads, for everyone (the public may ask for a public record's package).
      config: { rateLimit: DOCUMENT_RATE_LIMIT },
      schema: {
        tags: ['evidence'],
        summary:
          "A record's evidence package (ZIP): certificate PDF, proof, keys, tokens, ledger evidence, report",
        description:
          'certificate.pdf (存证证书, PAdES B-T signed), bundle.json, record.tlog-proof (C2SP), keys/ (keys.json, ' +
          'trust.json, certificates.pem, root.pem, fingerprints.json), ledger/ (the recording transaction, the ' +
          'record and checkpoint as the ledger holds them; on Fabric block.pb, processed-transaction.pb, ' +
          'endorsements.json), anchor/anchor.json when anchored, timestamps/*.tst ' +
          '(every RFC 3161 token, DER), tools/verify_tlog_proof.py, verification-report.html (验证意见书) and ' +
          'manifest.json with the SHA-256 and SM3 of every file, signed (manifest.jws, ES256 with x5c) and ' +
          'time-stamped (manifest.tst). `lianzheng verify-package FILE.zip --trust trust.json` checks it offline. ' +
          'Restricted details only for those who may read them (docs/evidence-package.md).',
        params: Type.Object({ id: Type.String({ pattern: RECORD_ID_PATTERN }) }),
        response: {
          200: {
            description: 'The evidence package',
            content: { 'application/zip': { schema: { type: 'string', format: 'binary' } } },
          },
          ...problemResponses(400, 404, 409, 429, 503),
        },
      },
    },
    async (request, reply) => {
      const row = await submissionById(app.db, request.params.id);
      if (!row) throw new AppError('NOT_FOUND', `no record ${request.params.id}`);
      if (row.status === 'rejected') {
        throw new AppError('CONFLICT', 'a rejected submission has no evidence to package', {
          reason: 'REJECTED',
        });
      }
      const documents = await documentService(app);
      const { entry, record, privileged } = recordEntry(row, request.principal);
      const withDetails = record.visibility === 'public' || privileged;
      const bundle = await app.pipeline.bundles.bundle(row, withDetails);
      const standing = recordStanding(row, await linkedRecords(app.db, [row]), request.principal);
      const ledger = app.pipeline.ledger;
      let ledgerEvidence:
        | {
            transaction?: unknown;
            record?: unknown;
            checkpoint?: unknown;
            fabric?: { block: Uint8Array; processed: Uint8Array };
          }
        | undefined;
      if (bundle.ledger) {
        const ref = bundle.ledger;
        // The recording transaction is what the ledger step rests on: without it, no package.
        const tx = await ledger.getTx(ref.txId).catch(() => undefined);
        if (!tx)
          throw new AppError('LEDGER_UNAVAILABLE', `the ledger did not answer for transaction ${ref.txId}`);
        const { network, channel, chaincode, note } = ledger.info;
        ledgerEvidence = {
          transaction: {
            network,
            ...(channel ? { channel, chaincode } : {}),
            ...(note ? { note } : {}),
            ...tx,
          },
          record: ledgerView(
            await ledger.getRecord(record.id).catch(() => undefined),
            withDetails,
            privileged,
          ),
          checkpoint: await ledger.getCheckpoint(ref.size).catch(() => undefined),
        };
        // On Fabric the block and the processed transaction themselves (with the endorsement
        // signatures) go in too; a ledger that has them but does not answer makes no package.
        if (ledger.getTxEvidence) {
          const raw = await ledger.getTxEvidence(ref.txId).catch(() => undefined);
          if (raw) ledgerEvidence.fabric = raw;
          else if (ledger.kind === 'fabric')
            throw new AppError('LEDGER_UNAVAILABLE', `the ledger did not give the block of ${ref.txId}`);
        }
      }
      const certificatesPem = await fs
        .readFile(pkiPaths(path.join(app.config.dataDir, 'pki')).published, 'utf8')
        .catch(() => documents.rootsPem.join(''));
      // Names are public (GET /v1/projects/{id}); the certificate prints them beside the ids.
      const [names, organisations, registered] = await Promise.all([
        loadProjectNames(app.db, record.projectId),
        loadOrganisationNames(app.db, [record.submitter.org]),
        app.db.query<{ record: { project: LedgerProject } }>('select record from projects where id = $1', [
          record.projectId,
        ]),
      ]);
      // As GET /v1/projects/{id} shows them: a changed name over the registered one.
      const project = registered.rows[0] ? projectView(registered.rows[0].record.project, names) : undefined;
      const projectName = project?.name ?? names?.zh ?? undefined;
      const zip = await buildEvidencePackage(
        {
          bundle,
          status: entry.status,
          standing,
          flags: entry.flags,
          assurance: recordAssurance(app, bundle),
          ...(projectName ? { projectName } : {}),
          names: {
            ...(names?.en ? { projectEn: names.en } : {}),
            organisations,
            milestones: Object.fromEntries(
              (project?.milestones ?? []).map((m) => [
                m.id,
                { zh: m.name, ...(m.nameEn ? { en: m.nameEn } : {}) },
              ]),
            ),
          },
          keys: publishedKeys(app),
          certificatesPem,
          ...(ledgerEvidence ? { ledger: ledgerEvidence } : {}),
          generatedAt: new Date(),
          restrictedDetails: privileged && record.visibility === 'restricted',
        },
        documents,
      );
      return (
        reply
          .header('content-type', 'application/zip')
          .header('content-disposition', `attachment; filename="lianzheng-evidence-${record.id}.zip"`)
          // Each package is made (signed, time-stamped) for its request; an answer to credentials
          // becomes `private, no-store` in the auth plugin's onSend.
          .header('cache-control', 'no-store')
          .send(zip)
      );
    },
  );
}
