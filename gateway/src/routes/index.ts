// Every HTTP route of the gateway is registered here, in the order a reader meets them: intake,
// the read side, the parties around the log, the pages. A route group is left out when the part
// it serves is not in this process (no pipeline in intake-only tests, no TSA, no anchoring).
import type { FastifyInstance } from 'fastify';
import anchorRoutes from './anchor/index.ts';
import devSignInRoutes from './dev-sign-in/index.ts';
import docsRoutes from './docs/index.ts';
import evidenceReadRoutes from './evidence-read/index.ts';
import evidencePackageRoutes from './evidence-read/package.ts';
import evidenceWriteRoutes from './evidence-write/index.ts';
import keysRoutes from './keys/index.ts';
import jwksRoutes from './keys/jwks.ts';
import keyRotationRoutes from './keys/rotate.ts';
import ledgerRoutes from './ledger/index.ts';
import logRoutes from './log/index.ts';
import opsRoutes from './ops/index.ts';
import pagesRoutes from './pages/plugin.ts';
import projectExportRoutes from './projects/exports.ts';
import projectRoutes from './projects/index.ts';
import projectReportRoutes from './projects/report.ts';
import tsaRoutes from './tsa/index.ts';
import verifyRoutes from './verify/index.ts';
import webhookRoutes from './webhooks/index.ts';
import workspaceRoutes from './workspace/index.ts';

export interface RoutesOptions {
  /** Helmet's document headers for /docs (app.ts computes them once). */
  documentHeaders: Record<string, string>;
}

export default async function routes(app: FastifyInstance, opts: RoutesOptions): Promise<void> {
  // Health, readiness, metrics.
  await app.register(opsRoutes);
  // Intake: submissions in.
  await app.register(evidenceWriteRoutes);
  // DEVELOPMENT ONLY: the dev issuer's sign-in page for demos (config.ts allows it on loopback only).
  if (app.config.devSignIn) await app.register(devSignInRoutes);
  // Keys: the JWKS and the admin's rotation.
  await app.register(jwksRoutes);
  await app.register(keyRotationRoutes);
  // Trusted time: POST /tsa and the PKI's certificates.
  if (app.timestamps) {
    const { signer, certificatesPem } = app.timestamps;
    await app.register(tsaRoutes, {
      signer,
      certificatesPem,
      rateLimit: { max: app.config.tsa.rateLimitPerMin, timeWindow: 60_000 },
    });
  }
  // The read side: records, proofs, verification, projects, the log, the ledger.
  if (app.hasDecorator('pipeline')) {
    await app.register(evidenceReadRoutes);
    await app.register(evidencePackageRoutes);
    await app.register(verifyRoutes);
    await app.register(projectRoutes);
    await app.register(projectExportRoutes);
    await app.register(workspaceRoutes);
    await app.register(projectReportRoutes);
    await app.register(logRoutes);
    await app.register(keysRoutes);
    await app.register(ledgerRoutes);
  }
  // Partners' webhooks: told when their records are recorded or anchored.
  await app.register(webhookRoutes);
  // Anchoring: the read-only proxy to the chain, where anchoring is configured.
  if (app.hasDecorator('anchor')) await app.register(anchorRoutes);
  // The public verifier page (/, /p/{projectId}, /r/{id}), with its own strict CSP.
  await app.register(pagesRoutes);
  await app.register(docsRoutes, { documentHeaders: opts.documentHeaders });
}
