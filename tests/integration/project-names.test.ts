// Display names (issue #21): a project's and its milestones' names in Chinese and English and its
// owner's name, set at registration and corrected later by PATCH; organisations name themselves
// (PUT /v1/organisations/{id}); GET /v1/projects/{id} answers them. The ledger's project stays as
// registered (an identical re-registration is still a repeat), bad names are problem+json, and only
// the owning unit (or an admin; an organisation itself for its name) may change them.

import { createHash } from 'node:crypto';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../gateway/src/auth/api-keys.ts';
import { run } from '../../gateway/src/cli/main.ts';
import type { Config } from '../../gateway/src/config.ts';
import { pdftotext } from '../../gateway/src/documents/poppler.ts';
import { MEMBERS } from '../../gateway/src/evidence-package/checks.ts';
import { readZip } from '../../gateway/src/evidence-package/zip.ts';
import { startGatewayFixture } from './gateway-fixture.ts';
import { demoProject, type TestDatabase } from './pipeline-support.ts';

let db: TestDatabase;
let app: FastifyInstance;
let config: Config;
const auth: Record<string, Record<string, string>> = {};
const base = demoProject();
const project = {
  ...base,
  name: '城关镇五星村村道硬化工程',
  nameEn: 'Wuxing village road surfacing',
  ownerOrgName: { zh: '五星村村民委员会', en: 'Wuxing Village Committee' },
  milestones: [
    { id: 'm1', name: '路基', nameEn: 'Subgrade', dueDate: '2099-06-30' },
    { id: 'm2', name: '路面', dueDate: '2099-09-30' },
  ],
};

function as(who: string, opts: InjectOptions): Promise<LightMyRequestResponse> {
  return app.inject({ ...opts, headers: { ...(opts.headers as Record<string, string>), ...auth[who] } });
}
const patch = (who: string, payload: unknown) =>
  as(who, { method: 'PATCH', url: `/v1/projects/${project.id}`, payload: payload as object });

beforeAll(async () => {
  const fixture = await startGatewayFixture();
  ({ db, app, config } = fixture);
  const { bearer } = fixture;
  auth.anonymous = {};
  auth.owner = await bearer({ role: 'unit', org: project.ownerOrg });
  auth.otherUnit = await bearer({ role: 'unit', org: 'another-town' });
  auth.inspector = await bearer({ role: 'inspector', region: '620100' });
  auth.admin = await bearer({ role: 'admin' });
  auth.partner = { 'x-api-key': (await createApiKey(db.pool, { org: 'finance-platform' })).key };
  const res = await as('owner', { method: 'POST', url: '/v1/projects', payload: project });
  expect(res.statusCode, res.body).toBe(201);
  expect(res.json().project).toMatchObject({ nameEn: project.nameEn, ownerOrgName: project.ownerOrgName });
});

afterAll(async () => {
  await app?.close();
  await db?.stop();
});

describe('display names of a project, its milestones and organisations', () => {
  it('GET answers the names given at registration, to anyone', async () => {
    const res = await as('anonymous', { method: 'GET', url: `/v1/projects/${project.id}` });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.project).toMatchObject({
      id: project.id,
      name: '城关镇五星村村道硬化工程',
      nameEn: 'Wuxing village road surfacing',
      ownerOrg: project.ownerOrg,
      ownerOrgName: { zh: '五星村村民委员会', en: 'Wuxing Village Committee' },
    });
    expect(body.project.registeredName).toBeUndefined();
    expect(body.project.milestones).toEqual([
      { id: 'm1', name: '路基', nameEn: 'Subgrade', dueDate: '2099-06-30' },
      { id: 'm2', name: '路面', dueDate: '2099-09-30' },
    ]);
    expect(body.organisations).toEqual({ [project.ownerOrg]: project.ownerOrgName });
  });

  it('the ledger keeps the registered project only: the same registration is a repeat, English names and all', async () => {
    const again = await as('owner', { method: 'POST', url: '/v1/projects', payload: project });
    expect(again.statusCode, again.body).toBe(200);
    expect(again.json().repeated).toBe(true);
    // The same project with other English names is the same ledger payload too.
    const renamed = await as('owner', {
      method: 'POST',
      url: '/v1/projects',
      payload: { ...project, nameEn: 'Wuxing road' },
    });
    expect(renamed.statusCode, renamed.body).toBe(200);
    expect(renamed.json().project.nameEn).toBe('Wuxing road');
    const stored = await db.pool.query<{ record: { project: Record<string, unknown> } }>(
      'select record from projects where id = $1',
      [project.id],
    );
    const onLedger = stored.rows[0]?.record.project ?? {};
    expect(onLedger.name).toBe('城关镇五星村村道硬化工程');
    expect(JSON.stringify(onLedger)).not.toContain('Subgrade');
    expect(JSON.stringify(onLedger)).not.toContain('Wuxing');
  });

  it('PATCH changes display names; the ledger’s name is answered beside a changed one; null restores it', async () => {
    const res = await patch('owner', {
      name: '五星村村道硬化',
      nameEn: 'Wuxing village road surfacing',
      milestones: [{ id: 'm2', name: '路面铺设', nameEn: 'Surface' }],
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().project).toMatchObject({
      name: '五星村村道硬化',
      registeredName: '城关镇五星村村道硬化工程',
      nameEn: 'Wuxing village road surfacing',
    });
    expect(res.json().project.milestones).toEqual([
      { id: 'm1', name: '路基', nameEn: 'Subgrade', dueDate: '2099-06-30' },
      { id: 'm2', name: '路面铺设', nameEn: 'Surface', dueDate: '2099-09-30', registeredName: '路面' },
    ]);
    // A second change keeps what the first set and it does not name.
    const cleared = await patch('admin', { name: null, milestones: [{ id: 'm1', nameEn: null }] });
    expect(cleared.statusCode, cleared.body).toBe(200);
    const p = cleared.json().project;
    expect(p.name).toBe('城关镇五星村村道硬化工程');
    expect(p.registeredName).toBeUndefined();
    expect(p.nameEn).toBe('Wuxing village road surfacing');
    expect(p.milestones[0]).toEqual({ id: 'm1', name: '路基', dueDate: '2099-06-30' });
    expect(p.milestones[1]).toMatchObject({ name: '路面铺设', nameEn: 'Surface' });
  });

  it('only the owning unit or an admin changes a project’s names', async () => {
    for (const [who, status] of [
      ['anonymous', 401],
      ['otherUnit', 403],
      ['inspector', 403],
      ['partner', 403],
    ] as const) {
      const res = await patch(who, { nameEn: 'taken over' });
      expect(res.statusCode, `${who}: ${res.body}`).toBe(status);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
    const get = await as('anonymous', { method: 'GET', url: `/v1/projects/${project.id}` });
    expect(get.json().project.nameEn).toBe('Wuxing village road surfacing');
  });

  it('bad names are problem+json with a stable type: empty, blank, too long, unknown fields or milestones', async () => {
    const cases: [unknown, string][] = [
      [{}, 'VALIDATION_FAILED'],
      [{ name: '' }, 'VALIDATION_FAILED'],
      [{ nameEn: '   ' }, 'VALIDATION_FAILED'],
      [{ nameEn: 'x'.repeat(501) }, 'VALIDATION_FAILED'],
      [{ id: 'other' }, 'VALIDATION_FAILED'],
      [{ milestones: [{ id: 'm9', name: '不存在' }] }, 'VALIDATION_FAILED'],
      [{ ownerOrgName: { en: 'no Chinese name' } }, 'VALIDATION_FAILED'],
      [{ name: 'bad\u0000nul' }, 'VALIDATION_FAILED'],
    ];
    for (const [payload, code] of cases) {
      const res = await patch('owner', payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json().code, JSON.stringify(payload)).toBe(code);
    }
    const unknownProject = await as('owner', {
      method: 'PATCH',
      url: '/v1/projects/no-such-project',
      payload: { nameEn: 'x' },
    });
    expect(unknownProject.statusCode).toBe(404);
  });

  it('an organisation names itself (or an admin names it); anyone reads the name; others are refused', async () => {
    const put = (who: string, id: string, payload: unknown) =>
      as(who, { method: 'PUT', url: `/v1/organisations/${id}`, payload: payload as object });
    const partner = await put('partner', 'finance-platform', {
      name: '县财政资金监管平台',
      nameEn: 'County finance platform',
    });
    expect(partner.statusCode, partner.body).toBe(200);
    expect(partner.json()).toMatchObject({ id: 'finance-platform', name: '县财政资金监管平台' });
    expect((await put('otherUnit', 'finance-platform', { name: '冒名' })).statusCode).toBe(403);
    expect((await put('anonymous', 'finance-platform', { name: '冒名' })).statusCode).toBe(401);
    expect((await put('inspector', 'finance-platform', { name: '冒名' })).statusCode).toBe(403);
    expect((await put('admin', 'another-town', { name: '另一镇' })).statusCode).toBe(200);
    const bad = await put('partner', 'finance-platform', { name: 'x'.repeat(201) });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('VALIDATION_FAILED');
    const read = await as('anonymous', { method: 'GET', url: '/v1/organisations/finance-platform' });
    expect(read.statusCode).toBe(200);
    expect(read.json()).toMatchObject({ name: '县财政资金监管平台', nameEn: 'County finance platform' });
    expect((await as('anonymous', { method: 'GET', url: '/v1/organisations/nobody' })).statusCode).toBe(404);
    // A delegate's name comes with the project, so a page names the records' submitters.
    const granted = await as('owner', {
      method: 'POST',
      url: `/v1/projects/${project.id}/delegates`,
      payload: { org: 'finance-platform' },
    });
    expect(granted.statusCode, granted.body).toBe(201);
    const get = await as('anonymous', { method: 'GET', url: `/v1/projects/${project.id}` });
    expect(get.json().organisations['finance-platform']).toEqual({
      zh: '县财政资金监管平台',
      en: 'County finance platform',
    });
  });
});

describe('lianzheng verify names the project, organisation and milestone', () => {
  it('prints the record line with names and ids, against a listening gateway', async () => {
    const sha256 = createHash('sha256').update(`names ${project.id}`).digest('hex');
    const posted = await as('owner', {
      method: 'POST',
      url: '/v1/evidence',
      payload: {
        projectId: project.id,
        sha256,
        kind: 'acceptance',
        visibility: 'public',
        milestone: 'm1',
        result: 'passed',
      },
    });
    expect(posted.statusCode, posted.body).toBe(202);
    await app.pipeline.batcher.waitForRecorded(1);
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const lines: string[] = [];
    const code = await run(
      ['verify', '--sha256', sha256, '--gateway', address],
      { DATA_DIR: config.dataDir, LOG_LEVEL: 'silent' },
      { log: (l) => lines.push(l), error: (l) => lines.push(l) },
    );
    expect(code, lines.join('\n')).toBe(0);
    const line = lines.find((l) => l.startsWith('  record: ')) ?? '';
    // The milestone's English name was cleared above; the owner's was set at registration.
    expect(line).toBe(
      `  record: acceptance in 城关镇五星村村道硬化工程 / Wuxing village road surfacing [${project.id}], ` +
        `submitted by 五星村村民委员会 / Wuxing Village Committee [${project.ownerOrg}], milestone 路基 [m1]`,
    );
  });

  it('the audit report (report.pdf) prints the submitter and the milestone by name, the id beside', async () => {
    const res = await as('owner', { method: 'GET', url: `/v1/projects/${project.id}/report.pdf` });
    expect(res.statusCode, res.body.slice(0, 300)).toBe(200);
    // Drawing order, spaces dropped: a table cell may wrap anywhere.
    const flat = (await pdftotext(res.rawPayload, { raw: true })).replace(/\s+/g, '');
    expect(flat).toContain(`五星村村民委员会/WuxingVillageCommittee(${project.ownerOrg})`);
    expect(flat).toContain('节点milestone路基(m1)');
  });

  it("the evidence package's certificate.pdf prints the project, the submitter and the milestone by name", async () => {
    const sha256 = createHash('sha256').update(`names ${project.id}`).digest('hex');
    const id = (await as('anonymous', { method: 'GET', url: `/v1/verify/${sha256}` })).json().records[0].id;
    const res = await as('owner', { method: 'GET', url: `/v1/evidence/${id}/package` });
    expect(res.statusCode, res.body.slice(0, 300)).toBe(200);
    const certificate = (await readZip(res.rawPayload)).get(MEMBERS.certificate)!;
    const flat = (await pdftotext(certificate, { raw: true })).replace(/\s+/g, '');
    expect(flat).toContain(`城关镇五星村村道硬化工程/Wuxingvillageroadsurfacing(${project.id})`);
    expect(flat).toContain(`五星村村民委员会/WuxingVillageCommittee(${project.ownerOrg})`);
    expect(flat).toContain('路基(m1)');
  });
});
