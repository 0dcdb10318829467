// The project audit report (issue #22): GET /v1/projects/{id}/report.pdf — a signed PDF whose
// text poppler extracts (Chinese included), whose signature pdfsig accepts and our offline
// verifier checks, restricted details exactly for those who may read them, and problem+json for
// whoever may not have it.
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pdfsig, pdftotext } from '../../gateway/src/documents/poppler.ts';
import { verifyPdfSignature } from '../../gateway/src/documents/verify.ts';
import { type GatewayFixture, seedProject, startGatewayFixture } from './gateway-fixture.ts';
import { demoProject, type TestDatabase } from './pipeline-support.ts';

let db: TestDatabase;
let app: FastifyInstance;
let fixture: GatewayFixture;
const project = { ...demoProject(), name: '村道硬化工程', nameEn: 'Village road hardening' };
const auth: Record<string, Record<string, string>> = {};
let ids: Record<string, string> = {};
const SECRET_TITLE = '进度款审批机密';
const SECRET_AMOUNT = '7310000000123';
const PUBLIC_TITLE = '开工公告 第一期';

const as = (who: string, opts: InjectOptions): Promise<LightMyRequestResponse> =>
  app.inject({ ...opts, headers: { ...(opts.headers as Record<string, string>), ...auth[who] } });
/**
 * pdftotext gives back a table cell's wrapped lines, and drops the hyphen a line ends with
 * (it takes it for a word break): compare without white space and hyphens.
 */
const squeeze = (text: string) => text.replace(/[\s-]+/g, '');

beforeAll(async () => {
  fixture = await startGatewayFixture();
  ({ db, app } = fixture);
  const { bearer } = fixture;
  auth.anonymous = {};
  auth.owner = await bearer({ role: 'unit', org: project.ownerOrg });
  auth.otherUnit = await bearer({ role: 'unit', org: 'another-town' });
  auth.inspectorIn = await bearer({ role: 'inspector', region: '620100' });
  auth.inspectorOut = await bearer({ role: 'inspector', region: '630000' });
  ids = await seedProject(app, auth.owner, project, {
    notice: { kind: 'notice', visibility: 'public', title: PUBLIC_TITLE },
    // A payment approval without a contract: restricted details and a flag resting on it.
    payment: {
      kind: 'payment_approval',
      visibility: 'restricted',
      title: SECRET_TITLE,
      amount: SECRET_AMOUNT,
      milestone: 'm1',
    },
  });
});

afterAll(async () => {
  await app?.close();
  await db?.stop();
});

describe('GET /v1/projects/{id}/report.pdf', () => {
  let ownerPdf: Buffer;

  it('answers a signed PDF, never cached, that pdfsig and the offline verifier accept', async () => {
    const res = await as('owner', { method: 'GET', url: `/v1/projects/${project.id}/report.pdf` });
    expect(res.statusCode, res.body.slice(0, 300)).toBe(200);
    expect(res.headers['content-type']).toBe('application/pdf');
    expect(res.headers['cache-control']).toBe('private, no-store');
    expect(res.headers['content-disposition']).toBe(`attachment; filename="${project.id}-report.pdf"`);
    ownerPdf = res.rawPayload;
    expect(ownerPdf.subarray(0, 5).toString()).toBe('%PDF-');
    const roots = app.timestamps!.roots;
    const sig = await pdfsig(ownerPdf, roots);
    expect(sig.signature).toBe('Signature is Valid.');
    expect(sig.certificate).toBe('Certificate is Trusted.');
    expect(sig.subFilter).toBe('ETSI.CAdES.detached');
    expect(sig.totalDocumentSigned).toBe(true);
    const check = await verifyPdfSignature(ownerPdf, roots);
    expect(check).toMatchObject({ ok: true, signer: 'LianZheng Document Signing' });
  });

  it('holds the project, every record with status and proof, the flag and its record, and assurance', async () => {
    const text = await pdftotext(ownerPdf);
    // Ids are checked in drawing order (-raw): reading order may interleave neighbouring cells.
    const flat = squeeze(await pdftotext(ownerPdf, { raw: true }));
    expect(text).toContain('项目审计报告 Project Audit Report');
    expect(text).toContain('村道硬化工程');
    expect(flat).toContain(squeeze(project.id));
    expect(flat).toContain(squeeze(ids.notice!));
    expect(flat).toContain(squeeze(ids.payment!));
    expect(text).toContain(PUBLIC_TITLE);
    // The owner reads its restricted record's title and amount.
    expect(flat).toContain(squeeze(SECRET_TITLE));
    expect(flat).toContain(SECRET_AMOUNT);
    expect(text).toContain('已记账 recorded');
    expect(text).toMatch(/leaf 0 \/ \d+/);
    // The payment without a contract raises a flag; the report names it with its record.
    const flags = (await as('owner', { method: 'GET', url: `/v1/projects/${project.id}/flags` })).json()
      .flags;
    expect(flags.length).toBeGreaterThan(0);
    for (const f of flags) expect(flat).toContain(f.code);
    // The assurance of the embedded ledger with the operator's own TSA, in words.
    expect(text).toContain('embedded/');
    expect(flat).toContain(squeeze('网关内置账本（单一运营方）'));
    expect(text).toContain('生成时间 Generated');
  });

  it("leaves restricted details out for another region's inspector, in for the region's", async () => {
    const out = await as('inspectorOut', { method: 'GET', url: `/v1/projects/${project.id}/report.pdf` });
    expect(out.statusCode).toBe(200);
    const outText = squeeze(await pdftotext(out.rawPayload, { raw: true }));
    expect(outText).toContain(squeeze(ids.payment!));
    expect(outText).toContain(squeeze(PUBLIC_TITLE));
    expect(outText).not.toContain(squeeze(SECRET_TITLE));
    expect(outText).not.toContain(SECRET_AMOUNT);
    const inside = await as('inspectorIn', { method: 'GET', url: `/v1/projects/${project.id}/report.pdf` });
    expect(inside.statusCode).toBe(200);
    expect(squeeze(await pdftotext(inside.rawPayload, { raw: true }))).toContain(SECRET_AMOUNT);
  });

  it('limits each caller to 20 documents a minute, credentialed callers included', async () => {
    const headers = await fixture.bearer({ role: 'inspector', region: '440300' });
    const codes: number[] = [];
    for (let i = 0; i < 21; i++) {
      codes.push(
        (await app.inject({ method: 'GET', url: '/v1/projects/no-such-project-y/report.pdf', headers }))
          .statusCode,
      );
    }
    expect(codes.slice(0, 20).every((c) => c === 404)).toBe(true);
    expect(codes[20]).toBe(429);
    // Another caller is not held up by the first.
    const other = await as('inspectorIn', {
      method: 'GET',
      url: '/v1/projects/no-such-project-y/report.pdf',
    });
    expect(other.statusCode).toBe(404);
  });

  it('refuses the public, other organisations and unknown projects with problem+json', async () => {
    const cases: [string, string, number, string][] = [
      ['anonymous', project.id, 401, 'UNAUTHENTICATED'],
      ['otherUnit', project.id, 403, 'FORBIDDEN'],
      ['owner', 'no-such-project-x', 404, 'NOT_FOUND'],
      ['owner', 'Bad Id!', 400, 'VALIDATION_FAILED'],
    ];
    for (const [who, id, status, code] of cases) {
      const res = await as(who, { method: 'GET', url: `/v1/projects/${encodeURIComponent(id)}/report.pdf` });
      expect(res.statusCode, `${who} ${id}`).toBe(status);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json().code, `${who} ${id}`).toBe(code);
    }
  });
});
