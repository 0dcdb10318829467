// Delegation (issue #22): a project's owning unit lets a partner organisation submit for the
// project and takes it back — grant, use (single and batch), revoke, refused after revoke, refused
// for another project, only the owner (or an admin) grants — with the history kept and shown in the
// project's answer, and the CLI (`lianzheng project delegate`) against a listening gateway.

import { randomBytes } from 'node:crypto';
import { sha256, toHex } from '@lianzheng/proof';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { markAnchored } from '../../gateway/src/anchor/anchorer.ts';
import { createApiKey } from '../../gateway/src/auth/api-keys.ts';
import { run } from '../../gateway/src/cli/main.ts';
import { enqueueAnchored } from '../../gateway/src/webhooks/outbox.ts';
import { startGatewayFixture } from './gateway-fixture.ts';
import { demoProject, type TestDatabase } from './pipeline-support.ts';

let db: TestDatabase;
let app: FastifyInstance;
const project = demoProject();
const other = demoProject();
const PARTNER = 'finance-platform';
const auth: Record<string, Record<string, string>> = {};

const digest = () => toHex(sha256(randomBytes(16)));
const item = (projectId = project.id) => ({
  sha256: digest(),
  projectId,
  kind: 'notice',
  visibility: 'public',
});

function as(who: string, opts: InjectOptions): Promise<import('fastify').LightMyRequestResponse> {
  return app.inject({ ...opts, headers: { ...(opts.headers as Record<string, string>), ...auth[who] } });
}
const grant = (who: string, org = PARTNER, id = project.id) =>
  as(who, { method: 'POST', url: `/v1/projects/${id}/delegates`, payload: { org } });
const revoke = (who: string, org = PARTNER, id = project.id) =>
  as(who, { method: 'DELETE', url: `/v1/projects/${id}/delegates/${encodeURIComponent(org)}` });
const submit = (who: string, payload: object = item()) =>
  as(who, { method: 'POST', url: '/v1/evidence', payload });

beforeAll(async () => {
  const fixture = await startGatewayFixture();
  ({ db, app } = fixture);
  const { bearer } = fixture;
  auth.anonymous = {};
  auth.owner = await bearer({ role: 'unit', org: project.ownerOrg, subject: 'clerk-wang' });
  auth.ownerPartner = { 'x-api-key': (await createApiKey(db.pool, { org: project.ownerOrg })).key };
  auth.otherUnit = await bearer({ role: 'unit', org: 'another-town' });
  auth.admin = await bearer({ role: 'admin', subject: 'ops' });
  auth.inspectorIn = await bearer({ role: 'inspector', region: '620100' });
  auth.inspectorOut = await bearer({ role: 'inspector', region: '630000' });
  auth.partner = { 'x-api-key': (await createApiKey(db.pool, { org: PARTNER, label: 'ERP' })).key };
  auth.partnerUnit = await bearer({ role: 'unit', org: PARTNER });
  for (const p of [project, other]) {
    const res = await as('owner', { method: 'POST', url: '/v1/projects', payload: p });
    expect(res.statusCode, res.body).toBe(201);
  }
});

afterAll(async () => {
  await app?.close();
  await db?.stop();
});

describe('delegating a project to a partner organisation', () => {
  it('before any delegation, the partner is refused with a problem naming the organisation and project', async () => {
    const res = await submit('partner');
    expect(res.statusCode).toBe(403);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    const p = res.json();
    expect(p).toMatchObject({
      code: 'FORBIDDEN',
      type: 'https://lianzheng.dev/problems/forbidden',
      reason: 'NOT_DELEGATED',
      org: PARTNER,
      projectId: project.id,
      ownerOrg: project.ownerOrg,
    });
    expect(p.detail).toContain(PARTNER);
    expect(p.detail).toContain(project.id);
    expect(p.detail).toContain(`/v1/projects/${project.id}/delegates`);
  });

  it('only the owning unit or an admin may grant: a partner, another unit and inspectors may not', async () => {
    expect((await grant('anonymous')).statusCode).toBe(401);
    for (const who of ['partner', 'ownerPartner', 'inspectorIn', 'inspectorOut']) {
      const res = await grant(who);
      expect(res.statusCode, who).toBe(403);
      expect(res.json().code).toBe('FORBIDDEN');
    }
    const res = await grant('otherUnit');
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ reason: 'NOT_PROJECT_OWNER', ownerOrg: project.ownerOrg });
    expect((await grant('owner', PARTNER, 'no-such-project')).statusCode).toBe(404);
    const self = await grant('owner', project.ownerOrg);
    expect(self.statusCode).toBe(400);
    expect(self.json().errors[0].path).toBe('body/org');
    expect((await db.pool.query('select count(*)::int as n from project_delegates')).rows[0].n).toBe(0);
  });

  it('the owner grants (201, then 200 when already granted); the partner submits alone and in batches', async () => {
    const first = await grant('owner');
    expect(first.statusCode, first.body).toBe(201);
    expect(first.json()).toMatchObject({
      projectId: project.id,
      org: PARTNER,
      active: true,
      revokedAt: null,
      grantedBy: { role: 'unit', org: project.ownerOrg, subject: 'clerk-wang' },
    });
    const again = await grant('admin');
    expect(again.statusCode).toBe(200);
    expect(again.json().grantedAt).toBe(first.json().grantedAt);

    const one = await submit('partner');
    expect(one.statusCode, one.body).toBe(202);
    const record = (await app.inject({ method: 'GET', url: `/v1/evidence/${one.json().id}` })).json();
    expect(record.submitter).toEqual({ org: PARTNER });
    // A unit credential of the delegated organisation works as well.
    expect((await submit('partnerUnit')).statusCode).toBe(202);
    const batch = await as('partner', {
      method: 'POST',
      url: '/v1/evidence/batch',
      payload: { items: [item(), item()] },
    });
    expect(batch.statusCode, batch.body).toBe(202);
    expect(batch.json().accepted).toBe(2);
  });

  it('is for that project only: another project of the same owner stays refused', async () => {
    const res = await submit('partner', item(other.id));
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ reason: 'NOT_DELEGATED', projectId: other.id, org: PARTNER });
    const batch = await as('partner', {
      method: 'POST',
      url: '/v1/evidence/batch',
      payload: { items: [item(), item(other.id)] },
    });
    expect(batch.statusCode).toBe(207);
    expect(batch.json().results.map((r: { status: string }) => r.status)).toEqual(['accepted', 'invalid']);
    expect(batch.json().results[1].problem).toMatchObject({ code: 'FORBIDDEN', reason: 'NOT_DELEGATED' });
  });

  it('the owner, inspectors of the region and admins list the delegations; nobody else', async () => {
    const expected = {
      anonymous: 401,
      owner: 200,
      ownerPartner: 200,
      otherUnit: 403,
      admin: 200,
      inspectorIn: 200,
      inspectorOut: 403,
      partner: 403,
    } as Record<string, number>;
    for (const [who, status] of Object.entries(expected)) {
      const res = await as(who, { method: 'GET', url: `/v1/projects/${project.id}/delegates` });
      expect(res.statusCode, who).toBe(status);
      if (status === 200) {
        expect(res.json().delegates).toEqual([
          expect.objectContaining({ org: PARTNER, active: true, grantedBy: expect.any(Object) }),
        ]);
      }
    }
  });

  it('revoked: the partner is refused with DELEGATION_REVOKED, and the trail keeps both facts', async () => {
    expect((await revoke('partner')).statusCode).toBe(403);
    expect((await revoke('otherUnit')).statusCode).toBe(403);
    const res = await revoke('owner');
    expect(res.statusCode, res.body).toBe(204);
    expect((await revoke('owner')).statusCode).toBe(404);

    const refused = await submit('partner');
    expect(refused.statusCode).toBe(403);
    const p = refused.json();
    expect(p).toMatchObject({
      code: 'FORBIDDEN',
      reason: 'DELEGATION_REVOKED',
      org: PARTNER,
      projectId: project.id,
    });
    expect(p.detail).toMatch(new RegExp(`${PARTNER}.*${project.id}.*revoked at`));
    const batch = await as('partner', {
      method: 'POST',
      url: '/v1/evidence/batch',
      payload: { items: [item()] },
    });
    expect(batch.statusCode).toBe(207);
    expect(batch.json().results[0].problem.reason).toBe('DELEGATION_REVOKED');

    // The project's answer: everyone sees the delegation and its end; who did it, the privileged.
    const open = (await app.inject({ method: 'GET', url: `/v1/projects/${project.id}` })).json();
    expect(open.delegates).toEqual([
      { org: PARTNER, active: false, grantedAt: expect.any(String), revokedAt: expect.any(String) },
    ]);
    const owned = (await as('inspectorIn', { method: 'GET', url: `/v1/projects/${project.id}` })).json();
    expect(owned.delegates[0]).toMatchObject({
      grantedBy: { role: 'unit', org: project.ownerOrg, subject: 'clerk-wang' },
      revokedBy: { role: 'unit', org: project.ownerOrg, subject: 'clerk-wang' },
    });
  });

  it('granted again: a new row beside the revoked one (rows are never deleted), and it works again', async () => {
    expect((await grant('admin')).statusCode).toBe(201);
    expect((await submit('partner')).statusCode).toBe(202);
    const { rows } = await db.pool.query(
      'select org, revoked_at is not null as revoked, granted_by from project_delegates order by id',
    );
    expect(rows).toEqual([
      {
        org: PARTNER,
        revoked: true,
        granted_by: { role: 'unit', org: project.ownerOrg, subject: 'clerk-wang' },
      },
      { org: PARTNER, revoked: false, granted_by: { role: 'admin', subject: 'ops' } },
    ]);
    const listed = (await as('owner', { method: 'GET', url: `/v1/projects/${project.id}/delegates` })).json();
    expect(listed.delegates.map((d: { active: boolean }) => d.active)).toEqual([false, true]);
  });
});

describe("the partner's webhook", () => {
  it('is told of the records it submitted for the delegated project; the owner’s of all of them', async () => {
    const recordAll = async () => {
      const { rows } = await db.pool.query<{ n: string }>('select count(*)::text as n from submissions');
      await app.pipeline.batcher.waitForRecorded(Number(rows[0]!.n));
    };
    await recordAll(); // the records of the tests before: notices go to webhooks live when recorded
    const hooks: Record<string, string> = {};
    for (const who of ['partner', 'owner']) {
      const res = await as(who, {
        method: 'POST',
        url: '/v1/webhooks',
        payload: { url: `https://erp.invalid/${who}` },
      });
      expect(res.statusCode, res.body).toBe(201);
      hooks[who] = res.json().id;
    }
    const mine = (await submit('partner')).json().id;
    const owners = (await submit('owner')).json().id;
    await recordAll();
    const notified = async (hook: string) => {
      const { rows: events } = await db.pool.query<{ event: { records?: { id: string }[] } }>(
        `select event from webhook_deliveries where webhook_id = $1 and event->>'type' = 'records.recorded'`,
        [hook],
      );
      return events.flatMap((e) => e.event.records ?? []).map((r) => r.id);
    };
    expect(await notified(hooks.partner!)).toEqual([mine]);
    expect(await notified(hooks.owner!)).toEqual([mine, owners]);
  });

  it('is told when the records it submitted are anchored (records.anchored), and of no others', async () => {
    const mine = (await submit('partner')).json().id;
    const owners = (await submit('owner')).json().id;
    const { rows: n } = await db.pool.query<{ n: string }>('select count(*)::text as n from submissions');
    await app.pipeline.batcher.waitForRecorded(Number(n[0]!.n));
    const { rows: leaves } = await db.pool.query<{ id: string; leaf_index: string }>(
      'select s.id, l.leaf_index from log_leaves l join submissions s on s.seq = l.seq where s.id = any($1) order by l.leaf_index',
      [[mine, owners]],
    );
    expect(leaves).toHaveLength(2);
    const { rows: hooks } = await db.pool.query<{ id: string; org: string }>(
      'select id, org from webhooks where deleted_at is null',
    );
    const hookOf = (org: string) => hooks.find((h) => h.org === org)!.id;
    // An anchor newly covering exactly these two leaves, as the anchorer marks it.
    const client = await db.pool.connect();
    try {
      await client.query('begin');
      await client.query('update log_anchored set size = $1', [Number(leaves[0]!.leaf_index)]);
      await markAnchored(client, Number(leaves[1]!.leaf_index) + 1, [enqueueAnchored]);
      await client.query('commit');
    } finally {
      client.release();
    }
    const anchored = async (hook: string) => {
      const { rows } = await db.pool.query<{ event: { records: { id: string }[] } }>(
        `select event from webhook_deliveries where webhook_id = $1 and event->>'type' = 'records.anchored'`,
        [hook],
      );
      return rows.flatMap((r) => r.event.records.map((x) => x.id));
    };
    expect(await anchored(hookOf(PARTNER))).toEqual([mine]);
    expect(await anchored(hookOf(project.ownerOrg))).toEqual(leaves.map((l) => l.id));
  });
});

describe('lianzheng project delegate', () => {
  it('grants, lists and revokes through a listening gateway; PORT picks the gateway', async () => {
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const port = new URL(address).port;
    const lines: string[] = [];
    const errors: string[] = [];
    const cli = (args: string[], env: Record<string, string> = {}) =>
      run(
        args,
        { DATA_DIR: db.dir, LOG_LEVEL: 'silent', ...env },
        {
          log: (s) => lines.push(s),
          error: (s) => errors.push(s),
        },
      );
    const owner = ['--as', project.ownerOrg];
    // No --gateway: http://localhost:$PORT.
    expect(
      await cli(['project', 'delegate', '--project', other.id, '--org', 'procurement-x', ...owner], {
        PORT: port,
      }),
    ).toBe(0);
    expect(JSON.parse(lines.pop()!)).toMatchObject({
      projectId: other.id,
      org: 'procurement-x',
      active: true,
    });
    const gw = ['--gateway', address];
    expect(await cli(['project', 'delegates', '--project', other.id, ...owner, ...gw])).toBe(0);
    expect(JSON.parse(lines.pop()!).delegates).toHaveLength(1);
    expect(
      await cli([
        'project',
        'delegate',
        '--project',
        other.id,
        '--org',
        'procurement-x',
        '--revoke',
        ...owner,
        ...gw,
      ]),
    ).toBe(0);
    expect(lines.pop()).toMatch(/revoked/);
    // Another organisation's unit is refused (exit 4, the problem's code printed).
    expect(
      await cli(['project', 'delegate', '--project', other.id, '--org', 'x', '--as', 'another-town', ...gw]),
    ).toBe(4);
    expect(errors.pop()).toMatch(/FORBIDDEN/);
    expect(await cli(['project', 'delegate', '--project', other.id, ...owner, ...gw])).toBe(2);
  });
});
