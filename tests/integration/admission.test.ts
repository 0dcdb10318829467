// Intake's admission (gateway/src/intake/admission.ts) against a real PostgreSQL and a real sealer:
// a gateway whose pipeline is off fills the queue past MAX_SEAL_BACKLOG; the next submission waits,
// then is refused with 503 BACKLOG_FULL (problem+json, Retry-After) and nothing of it is stored;
// a submission held while a sealing gateway starts on the same database is accepted once the
// sealer has taken the queue, and recorded.

import { randomBytes } from 'node:crypto';
import { sha256, toHex } from '@lianzheng/proof';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../gateway/src/app.ts';
import { issueDevToken, loadDevIssuerKey } from '../../gateway/src/auth/dev-issuer.ts';
import { type Config, testConfig } from '../../gateway/src/config.ts';
import { demoProject, startTestDatabase, type TestDatabase } from './pipeline-support.ts';

let db: TestDatabase;
let token = '';
const project = demoProject();
const apps: FastifyInstance[] = [];

async function start(overrides: Partial<Config>, pipeline: boolean): Promise<FastifyInstance> {
  const config = testConfig({ dataDir: db.dir, sealIntervalMs: 20, ...overrides });
  const app = buildApp({ config, db: db.pool, ...(pipeline ? {} : { pipeline: false as const }) });
  apps.push(app);
  await app.ready();
  return app;
}

const digest = () => toHex(sha256(randomBytes(32)));

function post(app: FastifyInstance) {
  return app.inject({
    method: 'POST',
    url: '/v1/evidence',
    headers: { authorization: `Bearer ${token}` },
    payload: { projectId: project.id, kind: 'notice', visibility: 'public', sha256: digest() },
  });
}

function postBatch(app: FastifyInstance, n: number) {
  return app.inject({
    method: 'POST',
    url: '/v1/evidence/batch',
    headers: { authorization: `Bearer ${token}` },
    payload: {
      items: Array.from({ length: n }, () => ({
        projectId: project.id,
        kind: 'notice',
        visibility: 'public',
        sha256: digest(),
      })),
    },
  });
}

const count = async (table: string) =>
  Number((await db.pool.query(`select count(*)::int as n from ${table}`)).rows[0].n);

beforeAll(async () => {
  db = await startTestDatabase();
  // The project is registered through a gateway that records (on the embedded ledger), then that
  // gateway stops: the queue fills with nothing taking from it.
  const sealing = await start({}, true);
  const config = testConfig({ dataDir: db.dir });
  const key = await loadDevIssuerKey(config.keysDir);
  token = await issueDevToken(key, { role: 'unit', org: project.ownerOrg, audience: config.oidc.audience });
  const registered = await sealing.inject({
    method: 'POST',
    url: '/v1/projects',
    headers: { authorization: `Bearer ${token}` },
    payload: { ...project, ownerOrg: undefined },
  });
  expect(registered.statusCode, registered.body).toBe(201);
  await sealing.close();
});

afterAll(async () => {
  for (const app of apps) await app.close().catch(() => {});
  await db?.stop();
});

describe('intake admission (MAX_SEAL_BACKLOG)', () => {
  it('accepts under the bound, then holds and refuses with 503 BACKLOG_FULL, storing nothing of the refused', async () => {
    const intake = await start({ admission: { maxBacklog: 5, maxWaitMs: 400, pollMs: 20 } }, false);
    expect((await postBatch(intake, 4)).statusCode).toBe(202);
    // 4 queued, under 5: the whole batch of 3 goes in (a batch is never split).
    const second = await postBatch(intake, 3);
    expect(second.statusCode, second.body).toBe(202);
    expect(await count('seal_queue')).toBe(7);
    // Past the next reading (pollMs), the queue's 7 hold the next one back.
    await new Promise((r) => setTimeout(r, 30));
    const started = performance.now();
    const refused = await post(intake);
    const waited = performance.now() - started;
    expect(refused.statusCode, refused.body).toBe(503);
    expect(refused.headers['content-type']).toContain('application/problem+json');
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.json()).toMatchObject({
      type: 'https://lianzheng.dev/problems/backlog-full',
      code: 'BACKLOG_FULL',
      status: 503,
      retryAfterSeconds: 1,
    });
    expect(waited).toBeGreaterThanOrEqual(390);
    const refusedBatch = await postBatch(intake, 2);
    expect(refusedBatch.statusCode).toBe(503);
    expect(await count('submissions')).toBe(7);
    expect(await count('seal_queue')).toBe(7);
    const metrics = await intake.metricsText();
    expect(metrics).toMatch(/intake_admission_wait_seconds_count\{outcome="refused"\} 2/);
  });

  it('lets a held submission in once a sealer has taken the queue, and it is recorded', async () => {
    const intake = await start({ admission: { maxBacklog: 5, maxWaitMs: 60_000, pollMs: 20 } }, false);
    expect(await count('seal_queue')).toBe(7);
    // A process that starts on a full queue learns of it from its first commit (a request alone
    // never makes it read the database): this one goes in, and the next is held.
    expect((await post(intake)).statusCode).toBe(202);
    await new Promise((r) => setTimeout(r, 30));
    let answered = false;
    const held = post(intake).then((res) => {
      answered = true;
      return res;
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(answered).toBe(false);
    // A sealing gateway on the same database (as GATEWAY_ROLE=sealer beside api processes).
    const sealing = await start({}, true);
    const res = await held;
    expect(res.statusCode, res.body).toBe(202);
    const { id } = res.json();
    for (let i = 0; i < 400; i++) {
      const status = (await sealing.inject({ method: 'GET', url: `/v1/evidence/${id}` })).json().status;
      if (status === 'recorded') break;
      await new Promise((r) => setTimeout(r, 25));
    }
    const { rows } = await db.pool.query('select count(*)::int as n from log_leaves');
    expect(rows[0].n).toBe(9);
    expect(await count('seal_queue')).toBe(0);
    expect(await intake.metricsText()).toMatch(/intake_admission_wait_seconds_count\{outcome="admitted"\} 1/);
  });
});
