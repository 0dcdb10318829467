// Flags that follow the facts, through the gateway on the embedded ledger: an overdue milestone's
// flag is shown resolved (by which acceptance, and when) once a passed acceptance of it is
// recorded, reopened when that acceptance is withdrawn; a restricted acceptance's resolution only
// to those who may read it; a second and a third live contract raise MULTIPLE_LIVE_CONTRACTS;
// every flag names its rule and version.
import { randomBytes } from 'node:crypto';
import { sha256, toHex } from '@lianzheng/proof';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../gateway/src/app.ts';
import { issueDevToken, loadDevIssuerKey } from '../../gateway/src/auth/dev-issuer.ts';
import { testConfig } from '../../gateway/src/config.ts';
import { demoProject, startTestDatabase, type TestDatabase } from './pipeline-support.ts';

let db: TestDatabase;
let app: FastifyInstance;
const tokens: Record<string, string> = {};
// m2-surface was due long ago: the first record of the project finds it overdue.
const project = {
  ...demoProject(),
  milestones: [
    { id: 'm1-base', name: 'Subgrade', dueDate: '2099-06-30' },
    { id: 'm2-surface', name: 'Surface', dueDate: '2020-08-31' },
  ],
};

const auth = (who?: string) => (who ? { authorization: `Bearer ${tokens[who]}` } : {});

async function submit(body: Record<string, unknown>): Promise<{ id: string; sha256: string }> {
  const sha = toHex(sha256(randomBytes(32)));
  const res = await app.inject({
    method: 'POST',
    url: '/v1/evidence',
    headers: auth('unit'),
    payload: { projectId: project.id, visibility: 'public', ...body, sha256: sha },
  });
  expect(res.statusCode, res.body).toBe(202);
  const id = res.json().id as string;
  for (let i = 0; i < 200; i++) {
    const got = await app.inject({ method: 'GET', url: `/v1/evidence/${id}`, headers: auth('admin') });
    if (got.json().status !== 'accepted') return { id, sha256: sha };
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${id} was not recorded`);
}

type Flag = {
  code: string;
  rule?: string;
  recordId: string;
  refs?: string[];
  detail?: Record<string, unknown>;
  resolvedBy?: string;
  resolvedAt?: string;
};

async function projectFlags(who?: string): Promise<Flag[]> {
  const res = await app.inject({
    method: 'GET',
    url: `/v1/projects/${project.id}/flags`,
    headers: auth(who),
  });
  expect(res.statusCode).toBe(200);
  return res.json().flags;
}

beforeAll(async () => {
  db = await startTestDatabase();
  const config = testConfig({ dataDir: db.dir, sealIntervalMs: 20, rateLimitPublicPerMin: 100_000 });
  app = buildApp({ config, db: db.pool });
  await app.ready();
  const key = await loadDevIssuerKey(config.keysDir);
  const audience = config.oidc.audience;
  tokens.unit = await issueDevToken(key, { role: 'unit', org: 'village-committee', audience });
  tokens.admin = await issueDevToken(key, { role: 'admin', audience });
  const created = await app.inject({
    method: 'POST',
    url: '/v1/projects',
    headers: auth('unit'),
    payload: { ...project, ownerOrg: undefined },
  });
  expect(created.statusCode, created.body).toBe(201);
});

afterAll(async () => {
  await app?.close();
  await db?.stop();
});

describe('flags that follow the facts', () => {
  let contract: { id: string; sha256: string };

  it('an overdue milestone is flagged once, naming its rule', async () => {
    contract = await submit({ kind: 'contract', amount: '150000000', title: 'Contract' });
    await submit({ kind: 'construction_log', title: 'Site log' });
    const flags = await projectFlags();
    expect(flags).toEqual([
      {
        code: 'MILESTONE_OVERDUE_30_DAYS',
        rule: 'MILESTONE_OVERDUE_30_DAYS@1',
        recordId: contract.id,
        projectId: project.id,
        raisedAt: expect.any(String),
        refs: [],
        detail: { milestone: 'm2-surface', dueDate: '2020-08-31', daysOverdue: expect.any(Number) },
      },
    ]);
  });

  it('a passed acceptance of m2-surface shows the flag resolved, everywhere it is shown', async () => {
    const acceptance = await submit({
      kind: 'acceptance',
      milestone: 'm2-surface',
      result: 'passed',
      refs: [contract.id],
      title: 'Surface acceptance',
    });
    const [flag] = await projectFlags();
    expect(flag).toMatchObject({
      code: 'MILESTONE_OVERDUE_30_DAYS',
      recordId: contract.id,
      resolvedBy: acceptance.id,
    });
    expect(Date.parse(flag!.resolvedAt!)).not.toBeNaN();
    // On the flagged record itself (the verify answer and the certificate's route).
    const verified = (await app.inject({ method: 'GET', url: `/v1/verify/${contract.sha256}` })).json();
    expect(verified.records[0].flags[0]).toMatchObject({ resolvedBy: acceptance.id });
    const evidence = (await app.inject({ method: 'GET', url: `/v1/evidence/${contract.id}` })).json();
    expect(evidence.flags[0]).toMatchObject({ resolvedBy: acceptance.id, resolvedAt: flag!.resolvedAt });
    const status = (
      await app.inject({ method: 'POST', url: '/v1/evidence/status', payload: { ids: [contract.id] } })
    ).json();
    expect(status.results[0].flags[0]).toMatchObject({ resolvedBy: acceptance.id });
    // The ledger answers the same (GetFlags).
    const onLedger = await app.pipeline.ledger.getFlags(project.id);
    expect(onLedger[0]).toMatchObject({ resolvedBy: acceptance.id, resolvedAt: flag!.resolvedAt });

    // Withdrawing the acceptance reopens the flag.
    await submit({ kind: 'withdrawal', refs: [acceptance.id], reason: 'signed by the wrong party' });
    const [reopened] = await projectFlags();
    expect(reopened!.resolvedBy).toBeUndefined();
    expect((await app.pipeline.ledger.getFlags(project.id))[0]!.resolvedBy).toBeUndefined();
  });

  it('a restricted acceptance resolves it only for those who may read it', async () => {
    const acceptance = await submit({
      kind: 'acceptance',
      visibility: 'restricted',
      milestone: 'm2-surface',
      result: 'passed',
      refs: [contract.id],
    });
    expect((await projectFlags())[0]!.resolvedBy).toBeUndefined();
    expect((await projectFlags('admin'))[0]).toMatchObject({ resolvedBy: acceptance.id });
    expect((await projectFlags('unit'))[0]).toMatchObject({ resolvedBy: acceptance.id });
  });

  it('a second live contract raises MULTIPLE_LIVE_CONTRACTS, naming the first', async () => {
    const second = await submit({ kind: 'contract', amount: '20000000', title: 'Second contract' });
    const flags = await projectFlags();
    const multiple = flags.filter((f) => f.code === 'MULTIPLE_LIVE_CONTRACTS');
    expect(multiple).toEqual([
      expect.objectContaining({
        rule: 'MULTIPLE_LIVE_CONTRACTS@1',
        recordId: second.id,
        refs: [contract.id],
        detail: { liveContracts: 2 },
      }),
    ]);
    // A payment now counts against no one contract: its flag's facts (and refs) stay restricted.
    await submit({ kind: 'payment_approval', amount: '1000000', title: 'Payment' });
    const ambiguous = (await projectFlags()).find((f) => f.code === 'PAYMENT_WITHOUT_CONTRACT');
    expect(ambiguous).toMatchObject({ rule: 'PAYMENT_WITHOUT_CONTRACT@1' });
    expect(ambiguous!.refs).toBeUndefined();
    expect(ambiguous!.detail).toBeUndefined();
    const privileged = (await projectFlags('admin')).find((f) => f.code === 'PAYMENT_WITHOUT_CONTRACT');
    expect(privileged!.refs).toEqual([contract.id, second.id].sort());
  });
});
