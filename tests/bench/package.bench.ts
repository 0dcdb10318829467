// Evidence packages (issue #24): how long the gateway takes to make a record's package (two signed
// PDFs, four RFC 3161 tokens, the manifest's JWS) and how big it is, beside the record's own answer
// (GET /v1/evidence/{id}, the bundle the package wraps) measured in the same run; verify-package's
// offline check; a project's signed audit report (report.pdf).
import { randomBytes } from 'node:crypto';
import { sha256, toHex } from '@lianzheng/proof';
import { buildApp } from '../../gateway/src/app.ts';
import { issueDevToken, loadDevIssuerKey } from '../../gateway/src/auth/dev-issuer.ts';
import { testConfig } from '../../gateway/src/config.ts';
import { verifyEvidencePackage } from '../../gateway/src/evidence-package/verify.ts';
import { demoProject, startTestDatabase } from '../integration/pipeline-support.ts';
import { type BenchContext, type BenchResult, compare, measureRates, median } from './harness.ts';

export async function run(ctx: BenchContext): Promise<BenchResult[]> {
  const db = await startTestDatabase();
  const config = testConfig({ dataDir: db.dir, sealIntervalMs: 20 });
  const app = buildApp({ config, db: db.pool });
  try {
    await app.ready();
    const project = demoProject();
    const key = await loadDevIssuerKey(config.keysDir);
    // The document routes allow 20 a minute per caller: each request here is a caller of its own.
    let n = 0;
    const owner = async () => ({
      authorization: `Bearer ${await issueDevToken(key, {
        role: 'unit',
        org: project.ownerOrg,
        subject: `bench-${n++}`,
        audience: config.oidc.audience,
      })}`,
    });
    await app.inject({ method: 'POST', url: '/v1/projects', headers: await owner(), payload: project });
    const records = ctx.quick ? 20 : 200;
    const ids: string[] = [];
    for (let i = 0; i < records; i++) {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/evidence',
        headers: await owner(),
        payload: {
          sha256: toHex(sha256(randomBytes(16))),
          projectId: project.id,
          kind: 'notice',
          visibility: i % 2 ? 'public' : 'restricted',
          title: `公告 第${i}号`,
        },
      });
      ids.push(res.json().id);
    }
    await app.pipeline.batcher.waitForRecorded(records);

    let sizes: number[] = [];
    let at = 0;
    const rates = await measureRates(
      ctx,
      {
        package: async () => {
          const res = await app.inject({
            method: 'GET',
            url: `/v1/evidence/${ids[at++ % ids.length]}/package`,
            headers: await owner(),
          });
          if (res.statusCode !== 200) throw new Error(`package: ${res.statusCode} ${res.body.slice(0, 200)}`);
          sizes.push(res.rawPayload.length);
          return 1;
        },
        record: async () => {
          const res = await app.inject({
            method: 'GET',
            url: `/v1/evidence/${ids[at++ % ids.length]}`,
            headers: await owner(),
          });
          if (res.statusCode !== 200) throw new Error(`record: ${res.statusCode}`);
          return 1;
        },
      },
      { durationMs: ctx.quick ? 3000 : 12_000, rounds: ctx.quick ? 3 : 5 },
    );
    const baseline = { name: 'GET /v1/evidence/{id} (the bundle)', value: rates.record, unit: 'answers/s' };
    const zip = (
      await app.inject({ method: 'GET', url: `/v1/evidence/${ids[1]}/package`, headers: await owner() })
    ).rawPayload;
    const verifyTimes: number[] = [];
    for (let i = 0; i < 5; i++) {
      const start = performance.now();
      const result = await verifyEvidencePackage(zip);
      verifyTimes.push(performance.now() - start);
      if (!result.ok) throw new Error('verify-package refused a fresh package');
    }
    const reportTimes: number[] = [];
    let reportBytes = 0;
    for (let i = 0; i < 3; i++) {
      const start = performance.now();
      const res = await app.inject({
        method: 'GET',
        url: `/v1/projects/${project.id}/report.pdf`,
        headers: await owner(),
      });
      reportTimes.push(performance.now() - start);
      reportBytes = res.rawPayload.length;
    }
    sizes = sizes.sort((a, b) => a - b);
    return [
      compare(
        { name: 'evidence package, made per request', value: rates.package, unit: 'packages/s' },
        baseline,
      ),
      { name: 'evidence package, time each', value: 1000 / rates.package, unit: 'ms' },
      { name: 'evidence package, size (median)', value: median(sizes) / 1024, unit: 'KiB' },
      { name: 'verify-package (offline, in process)', value: median(verifyTimes), unit: 'ms' },
      { name: `report.pdf, project of ${records} records`, value: median(reportTimes), unit: 'ms' },
      { name: `report.pdf, size (${records} records)`, value: reportBytes / 1024, unit: 'KiB' },
    ];
  } finally {
    await app.close();
    await db.stop();
  }
}
