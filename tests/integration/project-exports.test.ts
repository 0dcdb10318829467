// CSV exports of a project's trail and flags (issue #22): GET /v1/projects/{id}/records.csv and
// …/flags.csv, parsed back with a CSV parser — the byte-order mark, RFC 4180 quoting of titles with
// commas, quotes and line breaks, Chinese text, formula cells neutralised, restricted columns
// exactly for those who may read them, who may export at all — and the CLI's `project trail|flags`
// against a listening gateway.

import type { AddressInfo } from 'node:net';
import { parse } from 'csv-parse/sync';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../gateway/src/auth/api-keys.ts';
import { run } from '../../gateway/src/cli/main.ts';
import type { Config } from '../../gateway/src/config.ts';
import { FLAG_COLUMNS, RECORD_COLUMNS } from '../../gateway/src/routes/projects/exports.ts';
import { type DevClaims, randomDigest, seedProject, startGatewayFixture } from './gateway-fixture.ts';
import { demoProject, type TestDatabase } from './pipeline-support.ts';

let db: TestDatabase;
let app: FastifyInstance;
let config: Config;
let gateway = '';
const project = demoProject();
const auth: Record<string, Record<string, string>> = {};
const tokens: Record<string, string> = {};

// A title a spreadsheet would mangle in every way at once, and one it would run as a formula.
const TRICKY_TITLE = '村道硬化, 第一期 "路基"\n验收';
const FORMULA_TITLE = '=HYPERLINK("https://evil.example","点击")';
const SECRET_AMOUNT = '7310000000123';
let ids: Record<string, string> = {};

function as(who: string, opts: InjectOptions): Promise<LightMyRequestResponse> {
  return app.inject({ ...opts, headers: { ...(opts.headers as Record<string, string>), ...auth[who] } });
}

function rowsOf(res: LightMyRequestResponse): Record<string, string>[] {
  return parse(res.rawPayload, { bom: true, columns: true, skip_empty_lines: true });
}

beforeAll(async () => {
  const fixture = await startGatewayFixture();
  ({ db, app, config } = fixture);
  await app.listen({ port: 0, host: '127.0.0.1' });
  gateway = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const bearer = async (who: string, claims: DevClaims) => {
    tokens[who] = await fixture.token(claims);
    return { authorization: `Bearer ${tokens[who]}` };
  };
  auth.anonymous = {};
  auth.owner = await bearer('owner', { role: 'unit', org: project.ownerOrg });
  auth.ownerPartner = { 'x-api-key': (await createApiKey(db.pool, { org: project.ownerOrg })).key };
  auth.otherUnit = await bearer('otherUnit', { role: 'unit', org: 'another-town' });
  auth.otherPartner = { 'x-api-key': (await createApiKey(db.pool, { org: 'another-town' })).key };
  auth.inspectorIn = await bearer('inspectorIn', { role: 'inspector', region: '620100' });
  auth.inspectorOut = await bearer('inspectorOut', { role: 'inspector', region: '630000' });
  auth.admin = await bearer('admin', { role: 'admin' });
  ids = await seedProject(app, auth.owner, project, {
    tricky: { kind: 'notice', visibility: 'public', title: TRICKY_TITLE },
    formula: { kind: 'notice', visibility: 'public', title: FORMULA_TITLE },
    // A restricted payment approval without a contract: restricted details, and a flag whose facts
    // are restricted too.
    restricted: {
      kind: 'payment_approval',
      visibility: 'restricted',
      title: '进度款审批',
      amount: SECRET_AMOUNT,
      milestone: 'm1',
    },
  });
});

afterAll(async () => {
  await app?.close();
  await db?.stop();
});

describe('GET /v1/projects/{id}/records.csv', () => {
  it('is UTF-8 with a byte-order mark, a header row and one row per record, parsed back intact', async () => {
    const res = await as('owner', { method: 'GET', url: `/v1/projects/${project.id}/records.csv` });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/csv; charset=utf-8/);
    expect(res.headers['content-disposition']).toBe(`attachment; filename="${project.id}-records.csv"`);
    expect(res.headers['cache-control']).toBe('private, no-store');
    expect([...res.rawPayload.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const header = parse(res.rawPayload, { bom: true, to: 1 })[0];
    expect(header).toEqual([...RECORD_COLUMNS]);
    const rows = rowsOf(res);
    expect(rows.map((r) => r.id)).toEqual([ids.tricky, ids.formula, ids.restricted]);
    const byId = Object.fromEntries(rows.map((r) => [r.id, r]));
    // Commas, quotes and a line break inside one cell survive the round trip.
    expect(byId[ids.tricky!]!.title).toBe(TRICKY_TITLE);
    // A cell a spreadsheet would evaluate starts with an apostrophe; nothing else is touched.
    expect(byId[ids.formula!]!.title).toBe(`'${FORMULA_TITLE}`);
    const r = byId[ids.restricted!]!;
    expect(r).toMatchObject({
      status: 'recorded',
      kind: 'payment_approval',
      visibility: 'restricted',
      title: '进度款审批',
      amount: SECRET_AMOUNT,
      milestone: 'm1',
      submitterOrg: project.ownerOrg,
      certificate: `/r/${ids.restricted}`,
    });
    expect(r.flags.split(' ').length).toBeGreaterThan(0);
    expect(r.flags).toMatch(/^[A-Z0-9_ ]+$/);
    expect(r.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(Number(r.leafIndex)).toBeGreaterThanOrEqual(0);
  });

  it('fills restricted columns exactly for the owning organisation, inspectors of the region and admins', async () => {
    for (const who of ['owner', 'ownerPartner', 'inspectorIn', 'admin', 'inspectorOut']) {
      const res = await as(who, { method: 'GET', url: `/v1/projects/${project.id}/records.csv` });
      expect(res.statusCode, `${who}: ${res.body}`).toBe(200);
      const rows = rowsOf(res);
      expect(rows).toHaveLength(3);
      const r = rows.find((x) => x.id === ids.restricted)!;
      const privileged = who !== 'inspectorOut';
      expect(r.amount, who).toBe(privileged ? SECRET_AMOUNT : '');
      expect(r.title, who).toBe(privileged ? '进度款审批' : '');
      expect(r.milestone, who).toBe(privileged ? 'm1' : '');
      if (!privileged) expect(res.body).not.toContain(SECRET_AMOUNT);
      // Public records' details are public: the other region's inspector sees them too.
      expect(rows.find((x) => x.id === ids.tricky)!.title).toBe(TRICKY_TITLE);
    }
  });

  it('is refused to the public (401) and to other organisations (403), with problem+json', async () => {
    for (const [who, status, code] of [
      ['anonymous', 401, 'UNAUTHENTICATED'],
      ['otherUnit', 403, 'FORBIDDEN'],
      ['otherPartner', 403, 'FORBIDDEN'],
    ] as const) {
      for (const file of ['records.csv', 'flags.csv']) {
        const res = await as(who, { method: 'GET', url: `/v1/projects/${project.id}/${file}` });
        expect(res.statusCode, `${who} ${file}`).toBe(status);
        expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(res.json().code).toBe(code);
        expect(res.body).not.toContain(SECRET_AMOUNT);
      }
    }
  });

  it('answers 404 for a project that does not exist and 400 for an ill-formed id', async () => {
    const missing = await as('inspectorIn', {
      method: 'GET',
      url: '/v1/projects/no-such-project/records.csv',
    });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().code).toBe('NOT_FOUND');
    const bad = await as('inspectorIn', { method: 'GET', url: '/v1/projects/%2Fetc/flags.csv' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('VALIDATION_FAILED');
  });
});

describe('a large trail', () => {
  it('streams every record of a project with more than one page (2,500 records), in acceptance order', async () => {
    const big = demoProject();
    expect((await as('owner', { method: 'POST', url: '/v1/projects', payload: big })).statusCode).toBe(201);
    const accepted: string[] = [];
    for (let b = 0; b < 3; b++) {
      const items = Array.from({ length: b < 2 ? 1000 : 500 }, (_, i) => ({
        sha256: randomDigest(),
        projectId: big.id,
        kind: 'notice',
        visibility: 'public',
        title: `公示 ${b}-${i}`,
      }));
      const res = await as('owner', { method: 'POST', url: '/v1/evidence/batch', payload: { items } });
      expect(res.statusCode, res.body.slice(0, 300)).toBe(202);
      accepted.push(...res.json().results.map((r: { id: string }) => r.id));
    }
    const { rows } = await db.pool.query<{ n: string }>('select count(*)::text as n from submissions');
    await app.pipeline.batcher.waitForRecorded(Number(rows[0]!.n));
    const started = performance.now();
    const res = await as('inspectorIn', { method: 'GET', url: `/v1/projects/${big.id}/records.csv` });
    const ms = performance.now() - started;
    expect(res.statusCode).toBe(200);
    const parsed = rowsOf(res);
    expect(parsed).toHaveLength(2500);
    // Acceptance order is the order of the answers (seq), across the 1,000-row pages.
    expect(parsed.map((r) => r.id)).toEqual(accepted);
    expect(parsed[2499]!.title).toBe('公示 2-499');
    console.info(`records.csv: 2,500 records, ${res.rawPayload.length} bytes in ${ms.toFixed(0)} ms`);
  }, 120_000);
});

describe('GET /v1/projects/{id}/flags.csv', () => {
  it("lists the project's flags with the facts behind them for those who may read them", async () => {
    const json = (await as('inspectorIn', { method: 'GET', url: `/v1/projects/${project.id}/flags` })).json();
    expect(json.flags.length).toBeGreaterThan(0);
    const res = await as('inspectorIn', { method: 'GET', url: `/v1/projects/${project.id}/flags.csv` });
    expect(res.statusCode, res.body).toBe(200);
    expect([...res.rawPayload.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    expect(parse(res.rawPayload, { bom: true, to: 1 })[0]).toEqual([...FLAG_COLUMNS]);
    const rows = rowsOf(res);
    expect(rows.map((r) => [r.code, r.recordId])).toEqual(
      json.flags.map((f: { code: string; recordId: string }) => [f.code, f.recordId]),
    );
    const withFacts = rows.filter((r) => r.detail !== '');
    expect(withFacts.length).toBeGreaterThan(0);
    for (const r of withFacts) expect(JSON.parse(r.detail!)).toEqual(expect.any(Object));
  });

  it('keeps the restricted facts from an inspector of another region', async () => {
    const inside = rowsOf(await as('admin', { method: 'GET', url: `/v1/projects/${project.id}/flags.csv` }));
    const res = await as('inspectorOut', { method: 'GET', url: `/v1/projects/${project.id}/flags.csv` });
    expect(res.statusCode).toBe(200);
    const outside = rowsOf(res);
    expect(outside.map((r) => r.code)).toEqual(inside.map((r) => r.code));
    // The payment approval's flag rests on restricted facts: none of them in the other region's copy.
    const flagged = outside.filter((r) => r.recordId === ids.restricted);
    expect(flagged.length).toBeGreaterThan(0);
    for (const r of flagged) expect(r.detail).toBe('');
    expect(inside.filter((r) => r.recordId === ids.restricted).some((r) => r.detail !== '')).toBe(true);
  });
});

describe('lianzheng project trail|flags', () => {
  const cli = async (argv: string[]) => {
    const lines: string[] = [];
    const errors: string[] = [];
    const code = await run(
      argv,
      { DATA_DIR: config.dataDir, LIANZHENG_GATEWAY: gateway },
      {
        log: (s) => lines.push(s),
        error: (s) => errors.push(s),
      },
    );
    return { code, text: lines.join('\n'), errors: errors.join('\n') };
  };

  it('trail --csv prints the export with its byte-order mark, parsed back as the route answers it', async () => {
    const out = await cli(['project', 'trail', project.id, '--csv', '--token', tokens.inspectorIn!]);
    expect(out.code, out.errors).toBe(0);
    expect(out.text.startsWith('\uFEFF')).toBe(true);
    const rows: Record<string, string>[] = parse(out.text, { bom: true, columns: true });
    expect(rows.map((r) => r.id)).toEqual([ids.tricky, ids.formula, ids.restricted]);
    expect(rows[2]!.amount).toBe(SECRET_AMOUNT);
  });

  it('trail --json has every record and the delegations; without credentials no restricted detail', async () => {
    const granted = await as('owner', {
      method: 'POST',
      url: `/v1/projects/${project.id}/delegates`,
      payload: { org: 'finance-platform' },
    });
    expect(granted.statusCode, granted.body).toBe(201);
    const full = await cli(['project', 'trail', project.id, '--json', '--as', project.ownerOrg]);
    expect(full.code, full.errors).toBe(0);
    const records = JSON.parse(full.text).records as { id: string; details?: { amount?: string } }[];
    expect(records.map((r) => r.id)).toEqual([ids.tricky, ids.formula, ids.restricted]);
    expect(records[2]!.details?.amount).toBe(SECRET_AMOUNT);
    expect(JSON.parse(full.text).delegates).toMatchObject([{ org: 'finance-platform', active: true }]);
    const open = await cli(['project', 'trail', project.id]);
    expect(open.code, open.errors).toBe(0);
    const lines = open.text.split('\n');
    expect(lines[0]).toMatch(/^delegated to finance-platform from \S+ \(active\)$/);
    expect(lines.slice(1)).toHaveLength(3);
    expect(open.text).toContain('(restricted)');
    expect(open.text).not.toContain(SECRET_AMOUNT);
  });

  it('flags prints one line per flag, --json the answer; --csv without credentials is a usage error', async () => {
    const lines = await cli(['project', 'flags', project.id, '--token', tokens.inspectorIn!]);
    expect(lines.code, lines.errors).toBe(0);
    expect(lines.text).toContain(ids.restricted);
    const json = await cli(['project', 'flags', project.id, '--json']);
    expect(JSON.parse(json.text).flags.length).toBe(lines.text.split('\n').length);
    const refused = await cli(['project', 'flags', project.id, '--csv']);
    expect(refused.code).toBe(2);
    const other = await cli(['project', 'flags', project.id, '--csv', '--token', tokens.otherUnit!]);
    expect(other.code).not.toBe(0);
    expect(other.errors).toContain('FORBIDDEN');
  });
});
