// Intake refuses, before its 202, every record the ledger would refuse for a reason it can know at
// submit time, with the ledger's own code — and what it accepts, the ledger records. Real
// PostgreSQL, the real gateway with its embedded ledger running the chaincode's EvidenceContract;
// the batcher is driven step by step so a test decides when records move from accepted to recorded.

import { randomBytes } from 'node:crypto';
import type { DocumentKind } from '@lianzheng/proof';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../gateway/src/app.ts';
import { issueDevToken, loadDevIssuerKey } from '../../gateway/src/auth/dev-issuer.ts';
import { testConfig } from '../../gateway/src/config.ts';
import { LedgerError } from '../../gateway/src/ledger/ledger.ts';
import { demoProject, makeEntry, startTestDatabase, type TestDatabase } from './pipeline-support.ts';

let db: TestDatabase;
let app: FastifyInstance;
let unit: string;
const project = demoProject();
const other = demoProject();

type Body = Record<string, unknown>;

function hex(): string {
  return randomBytes(32).toString('hex');
}

async function post(body: Body, options: { app?: FastifyInstance; key?: string } = {}) {
  return (options.app ?? app).inject({
    method: 'POST',
    url: '/v1/evidence',
    headers: { authorization: `Bearer ${unit}`, ...(options.key ? { 'idempotency-key': options.key } : {}) },
    payload: { sha256: hex(), projectId: project.id, visibility: 'restricted', ...body },
  });
}

async function accepted(body: Body): Promise<string> {
  const res = await post(body);
  expect(res.statusCode, res.body).toBe(202);
  return res.json().id;
}

/** Records everything accepted so far; returns the records the ledger refused (must be none). */
async function recordAll(): Promise<{ id: string; code: string }[]> {
  const rejected: { id: string; code: string }[] = [];
  for (let i = 0; i < 1000; i++) {
    const outcome = await app.pipeline.batcher.step();
    if (outcome.action === 'idle') return rejected;
    if (outcome.action === 'rejected') rejected.push({ id: outcome.rejectedId!, code: outcome.rejectCode! });
    if (outcome.action === 'halted' || outcome.action === 'retry')
      throw new Error(`batcher ${outcome.action}`);
  }
  throw new Error('the batcher never went idle');
}

async function statuses(): Promise<Map<string, { status: string; reject_code: string | null }>> {
  const { rows } = await db.pool.query<{ id: string; status: string; reject_code: string | null }>(
    'select id::text, status, reject_code from submission_states',
  );
  return new Map(rows.map((r) => [r.id, r]));
}

/** What the ledger says to the submission as a record, at its current state: a code or undefined. */
async function ledgerVerdict(body: Body): Promise<string | undefined> {
  const kind = body.kind as DocumentKind;
  const details: Record<string, string> = {};
  for (const f of ['amount', 'milestone', 'result', 'reason'] as const)
    if (typeof body[f] === 'string') details[f] = body[f] as string;
  const entry = makeEntry({
    projectId: (body.projectId as string | undefined) ?? project.id,
    kind,
    details,
    ...(body.refs ? { refs: body.refs as string[] } : {}),
    ...(body.supersedes ? { supersedes: body.supersedes as string } : {}),
  });
  const head = await app.pipeline.ledger.getCheckpoint();
  try {
    await app.pipeline.ledger.simulateBatch({ fromSize: head?.size ?? 0, records: [entry] });
    return undefined;
  } catch (error) {
    if (error instanceof LedgerError) return error.code;
    throw error;
  }
}

beforeAll(async () => {
  db = await startTestDatabase();
  // The seal loop is stopped right after start; tests drive `batcher.step()` themselves.
  const config = testConfig({ dataDir: db.dir, sealIntervalMs: 3_600_000, rateLimitPublicPerMin: 100_000 });
  app = buildApp({ config, db: db.pool });
  await app.ready();
  await app.pipeline.batcher.stop();
  const key = await loadDevIssuerKey(config.keysDir);
  unit = await issueDevToken(key, { role: 'unit', org: project.ownerOrg, audience: config.oidc.audience });
  for (const p of [project, other]) {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/projects',
      headers: { authorization: `Bearer ${unit}` },
      payload: p,
    });
    expect(res.statusCode, res.body).toBe(201);
  }
}, 120_000);

afterAll(async () => {
  await app?.close();
  await db?.stop();
});

interface Step {
  name: string;
  /** The submission, given the ids saved by earlier steps. */
  body: (ids: Record<string, string>) => Body;
  /** 202, or the problem code intake answers. */
  expect: number | string;
  /** The code the ledger refuses the same record with, when it differs from `expect`. */
  ledger?: string;
  /** Save the accepted id under this name. */
  as?: string;
}

// Each phase builds its own records; in the 'recorded' phase every accepted step is recorded
// before the next, so targets are judged from record_links instead of the pending queue.
const steps: Step[] = [
  { name: 'a contract', body: () => ({ kind: 'contract', amount: '1000000' }), expect: 202, as: 'c1' },
  { name: 'a notice', body: () => ({ kind: 'notice', visibility: 'public' }), expect: 202, as: 'n1' },
  { name: 'notice 2', body: () => ({ kind: 'notice' }), expect: 202, as: 'n2' },
  { name: 'notice 3', body: () => ({ kind: 'notice' }), expect: 202, as: 'n3' },
  {
    name: 'a contract of the other project',
    body: () => ({ kind: 'contract', amount: '5', projectId: other.id }),
    expect: 202,
    as: 'x1',
  },
  // Per-kind fields.
  {
    name: 'a contract without amount',
    body: () => ({ kind: 'contract' }),
    expect: 'VALIDATION_FAILED',
    ledger: 'BAD_DETAILS',
  },
  {
    name: 'a payment of 0',
    body: (i) => ({ kind: 'payment_approval', amount: '0', refs: [i.c1!] }),
    expect: 'VALIDATION_FAILED',
    ledger: 'BAD_DETAILS',
  },
  {
    name: 'an acceptance without result',
    body: (i) => ({ kind: 'acceptance', refs: [i.c1!] }),
    expect: 'VALIDATION_FAILED',
    ledger: 'BAD_DETAILS',
  },
  {
    name: 'a withdrawal without reason',
    body: (i) => ({ kind: 'withdrawal', refs: [i.n3!] }),
    expect: 'VALIDATION_FAILED',
    ledger: 'BAD_DETAILS',
  },
  {
    name: 'a withdrawal of two records',
    body: (i) => ({ kind: 'withdrawal', reason: 'x', refs: [i.n2!, i.n3!] }),
    expect: 'VALIDATION_FAILED',
    ledger: 'BAD_REFERENCE',
  },
  {
    name: 'a change order of -0 fen',
    body: () => ({ kind: 'change_order', amount: '-0' }),
    expect: 'VALIDATION_FAILED',
    ledger: 'BAD_DETAILS',
  },
  // Ref kinds and projects.
  {
    name: 'a payment that refs the contract',
    body: (i) => ({ kind: 'payment_approval', amount: '300000', refs: [i.c1!] }),
    expect: 202,
  },
  {
    name: 'a payment that refs a notice',
    body: (i) => ({ kind: 'payment_approval', amount: '1', refs: [i.n1!] }),
    expect: 'BAD_REFERENCE',
  },
  {
    name: 'a change order that refs a notice',
    body: (i) => ({ kind: 'change_order', amount: '-5', refs: [i.n1!] }),
    expect: 'BAD_REFERENCE',
  },
  {
    name: 'an acceptance that refs a notice',
    body: (i) => ({ kind: 'acceptance', result: 'passed', refs: [i.n1!] }),
    expect: 'BAD_REFERENCE',
  },
  {
    name: 'a ref into another project',
    body: (i) => ({ kind: 'payment_approval', amount: '1', refs: [i.x1!] }),
    expect: 'BAD_REFERENCE',
  },
  {
    name: 'a ref to a record that does not exist',
    body: () => ({ kind: 'notice', refs: ['01890000-0000-7000-8000-000000000000'] }),
    expect: 'BAD_REFERENCE',
  },
  // Milestones.
  {
    name: 'an acceptance of a planned milestone',
    body: (i) => ({ kind: 'acceptance', result: 'passed', milestone: 'm1', refs: [i.c1!] }),
    expect: 202,
  },
  {
    name: 'an acceptance of a milestone not in the plan',
    body: (i) => ({ kind: 'acceptance', result: 'passed', milestone: 'm9', refs: [i.c1!] }),
    expect: 'BAD_MILESTONE',
  },
  // Supersedes.
  {
    name: 'a notice that supersedes the contract',
    body: (i) => ({ kind: 'notice', supersedes: i.c1! }),
    expect: 'BAD_SUPERSEDE',
  },
  {
    name: 'a contract that supersedes another project’s contract',
    body: (i) => ({ kind: 'contract', amount: '5', supersedes: i.x1! }),
    expect: 'BAD_SUPERSEDE',
  },
  {
    name: 'a supersede of a record that does not exist',
    body: () => ({ kind: 'notice', supersedes: '01890000-0000-7000-8000-000000000000' }),
    expect: 'BAD_SUPERSEDE',
  },
  {
    name: 'contract v2',
    body: (i) => ({ kind: 'contract', amount: '1100000', supersedes: i.c1! }),
    expect: 202,
    as: 'c2',
  },
  {
    name: 'contract v2 again, of the superseded v1',
    body: (i) => ({ kind: 'contract', amount: '1200000', supersedes: i.c1! }),
    expect: 'BAD_SUPERSEDE',
  },
  {
    name: 'a payment that refs the superseded v1 (refs need not be live)',
    body: (i) => ({ kind: 'payment_approval', amount: '1', refs: [i.c1!] }),
    expect: 202,
  },
  {
    name: 'a withdrawal of the superseded v1',
    body: (i) => ({ kind: 'withdrawal', reason: 'wrong', refs: [i.c1!] }),
    expect: 'BAD_REFERENCE',
  },
  {
    name: 'contract v3 of v2',
    body: (i) => ({ kind: 'contract', amount: '1', supersedes: i.c2! }),
    expect: 202,
  },
  // Withdrawals.
  {
    name: 'a withdrawal of notice 2',
    body: (i) => ({ kind: 'withdrawal', reason: 'posted by mistake', refs: [i.n2!] }),
    expect: 202,
    as: 'w1',
  },
  {
    name: 'notice 2 withdrawn again',
    body: (i) => ({ kind: 'withdrawal', reason: 'again', refs: [i.n2!] }),
    expect: 'BAD_REFERENCE',
  },
  {
    name: 'a supersede of the withdrawn notice 2',
    body: (i) => ({ kind: 'notice', supersedes: i.n2! }),
    expect: 'BAD_SUPERSEDE',
  },
  {
    name: 'a withdrawal of the withdrawal',
    body: (i) => ({ kind: 'withdrawal', reason: 'undo', refs: [i.w1!] }),
    expect: 'BAD_REFERENCE',
  },
  {
    name: 'a withdrawal that also supersedes',
    body: (i) => ({ kind: 'withdrawal', reason: 'x', refs: [i.n3!], supersedes: i.n3! }),
    expect: 'VALIDATION_FAILED',
    ledger: 'BAD_SUPERSEDE',
  },
  { name: 'a supersede of notice 3', body: (i) => ({ kind: 'notice', supersedes: i.n3! }), expect: 202 },
];

describe('intake refuses what the ledger would refuse, with its codes', () => {
  for (const phase of ['pending', 'recorded'] as const) {
    it(`with the records named ${phase === 'pending' ? 'accepted but not yet recorded' : 'recorded'}`, async () => {
      const ids: Record<string, string> = {};
      const refused: { step: Step; body: Body }[] = [];
      const acceptedIds: string[] = [];
      for (const step of steps) {
        const body = step.body(ids);
        const res = await post(body);
        if (step.expect === 202) {
          expect(res.statusCode, `${step.name}: ${res.body}`).toBe(202);
          acceptedIds.push(res.json().id);
          if (step.as) ids[step.as] = res.json().id;
          if (phase === 'recorded') expect(await recordAll()).toEqual([]);
        } else {
          expect(res.headers['content-type'], step.name).toContain('application/problem+json');
          expect(res.json().code, `${step.name}: ${res.body}`).toBe(step.expect);
          expect(res.json().type).toBe(
            `https://lianzheng.dev/problems/${(step.expect as string).toLowerCase().replaceAll('_', '-')}`,
          );
          expect(res.statusCode).toBe(step.expect === 'VALIDATION_FAILED' ? 400 : 422);
          refused.push({ step, body });
        }
      }
      // What intake accepted, the ledger records: not one rejection.
      expect(await recordAll()).toEqual([]);
      const now = await statuses();
      for (const id of acceptedIds) expect(now.get(id)?.status).toBe('recorded');
      // And what intake refused, the ledger refuses too, with the same code (or, for a missing
      // per-kind field, the ledger's code for it).
      for (const { step, body } of refused) {
        expect(await ledgerVerdict(body), step.name).toBe(step.ledger ?? step.expect);
      }
    }, 120_000);
  }
});

describe('records superseded or withdrawn by submissions not yet recorded', () => {
  it('refuses the second of two concurrent supersedes of one record (this process)', async () => {
    const target = await accepted({ kind: 'notice' });
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, n) => post({ kind: 'notice', title: `v${n}`, supersedes: target })),
    );
    const codes = results.map((r) => (r.statusCode === 202 ? 202 : r.json().code));
    expect(codes.filter((c) => c === 202)).toHaveLength(1);
    expect(codes.filter((c) => c === 'BAD_SUPERSEDE')).toHaveLength(7);
    // A withdrawal racing a supersede: one of them wins.
    const t2 = await accepted({ kind: 'notice' });
    const [sup, wd] = await Promise.all([
      post({ kind: 'notice', supersedes: t2 }),
      post({ kind: 'withdrawal', reason: 'x', refs: [t2] }),
    ]);
    expect([sup!.statusCode, wd!.statusCode].sort()).toEqual([202, 422]);
    expect(await recordAll()).toEqual([]);
  });

  it('finds queued supersedes and withdrawals by their link_target', async () => {
    const notice = await accepted({ kind: 'notice' });
    const sup = await accepted({ kind: 'notice', supersedes: notice });
    const contract = await accepted({ kind: 'contract', amount: '100' });
    const wd = await accepted({ kind: 'withdrawal', reason: 'typo', refs: [contract] });
    const { rows } = await db.pool.query<{ id: string; link_target: string | null }>(
      'select id::text, link_target::text from submissions where id = any($1::uuid[]) order by seq',
      [[sup, wd]],
    );
    expect(rows.map((r) => r.link_target)).toEqual([notice, contract]);
    // (Rows queued before migration 0400 made the column: tests/integration/migrations.test.ts.)
    for (const body of [
      { kind: 'notice', supersedes: notice },
      { kind: 'withdrawal', reason: 'again', refs: [notice] },
      { kind: 'contract', amount: '5', supersedes: contract },
    ]) {
      const res = await post(body);
      expect(res.statusCode, res.body).toBe(422);
      expect(['BAD_SUPERSEDE', 'BAD_REFERENCE']).toContain(res.json().code);
    }
    expect(await recordAll()).toEqual([]);
  });

  it('refuses a later item of the same batch that names a target an earlier item took', async () => {
    const target = await accepted({ kind: 'notice' });
    const res = await app.inject({
      method: 'POST',
      url: '/v1/evidence/batch',
      headers: { authorization: `Bearer ${unit}` },
      payload: {
        items: [
          { sha256: hex(), projectId: project.id, visibility: 'public', kind: 'notice', supersedes: target },
          { sha256: hex(), projectId: project.id, visibility: 'public', kind: 'notice', supersedes: target },
          {
            sha256: hex(),
            projectId: project.id,
            visibility: 'public',
            kind: 'withdrawal',
            reason: 'x',
            refs: [target],
          },
          { sha256: hex(), projectId: project.id, visibility: 'public', kind: 'notice' },
        ],
      },
    });
    expect(res.statusCode).toBe(207);
    const results = res.json().results;
    expect(
      results.map((r: { status: string; problem?: { code: string } }) => r.problem?.code ?? r.status),
    ).toEqual(['accepted', 'BAD_SUPERSEDE', 'BAD_REFERENCE', 'accepted']);
    expect(await recordAll()).toEqual([]);
  });

  it('answers a concurrent retry of a supersede with the same Idempotency-Key with the first answer', async () => {
    const target = await accepted({ kind: 'notice' });
    const body = { kind: 'notice', sha256: hex(), supersedes: target };
    const key = `retry-${hex().slice(0, 16)}`;
    // Hold the target so that both attempts are past their idempotency lookup and waiting for
    // their turn on it when the first commits.
    const release = await app.intake.claims.claim([target]);
    const both = Promise.all([post(body, { key }), post(body, { key })]);
    await new Promise((r) => setTimeout(r, 300));
    release();
    const [a, b] = await both;
    expect([a!.statusCode, b!.statusCode].sort()).toEqual([200, 202]);
    expect(a!.json().id).toBe(b!.json().id);
    expect(await recordAll()).toEqual([]);
  });

  it('across two gateway processes a race can slip through: the batcher rejects the loser', async () => {
    // A second Intake on the same database, as a second gateway process would be: claims are
    // per process, so both may accept; the ledger then records the first in log order only.
    const second = buildApp({ config: app.config, db: db.pool, pipeline: false });
    await second.ready();
    try {
      const targets = await Promise.all(Array.from({ length: 5 }, () => accepted({ kind: 'notice' })));
      const answers = await Promise.all(
        targets.flatMap((t) => [
          post({ kind: 'notice', supersedes: t }),
          post({ kind: 'notice', supersedes: t }, { app: second }),
        ]),
      );
      const acceptedIds = answers.filter((r) => r.statusCode === 202).map((r) => r.json().id as string);
      for (const r of answers) if (r.statusCode !== 202) expect(r.json().code).toBe('BAD_SUPERSEDE');
      const rejected = await recordAll();
      const now = await statuses();
      // Per target exactly one superseder is recorded; any other that got a 202 is rejected by
      // the ledger with the same code intake would have answered.
      expect(acceptedIds.filter((id) => now.get(id)?.status === 'recorded')).toHaveLength(targets.length);
      expect(rejected.every((r) => r.code === 'BAD_SUPERSEDE')).toBe(true);
      expect(rejected).toHaveLength(acceptedIds.length - targets.length);
    } finally {
      await second.close();
    }
  });
});

describe('cost', () => {
  it('queries nothing for a hash-only submission beyond its insert, and caches recorded refs', async () => {
    const seen: string[] = [];
    const counting = new Proxy(db.pool, {
      get(target, prop, receiver) {
        if (prop === 'query') {
          return (q: string | { name?: string; text: string }, values?: unknown[]) => {
            const text = typeof q === 'string' ? q : q.text;
            seen.push(
              /^\s*with inserted as \(\s*insert into submissions/.test(text)
                ? 'insert'
                : text.includes('record_links')
                  ? 'facts'
                  : 'other',
            );
            return (target.query as (q: unknown, v?: unknown[]) => Promise<pg.QueryResult>)(q, values);
          };
        }
        const value = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const counted = buildApp({ config: app.config, db: counting as pg.Pool, pipeline: false });
    await counted.ready();
    try {
      const contract = await accepted({ kind: 'contract', amount: '100' });
      expect(await recordAll()).toEqual([]);
      const send = async (body: Body) => {
        seen.length = 0;
        const res = await post(body, { app: counted });
        expect(res.statusCode, res.body).toBe(202);
        return [...seen];
      };
      await send({ kind: 'notice' }); // warms the project cache
      expect(await send({ kind: 'notice' })).toEqual(['insert']);
      expect(await send({ kind: 'payment_approval', amount: '1', refs: [contract] })).toEqual([
        'facts',
        'insert',
      ]);
      // The contract is recorded: its project and kind are cached, no query for the ref.
      expect(await send({ kind: 'payment_approval', amount: '2', refs: [contract] })).toEqual(['insert']);
      // Liveness is always read fresh.
      const notice = await accepted({ kind: 'notice' });
      expect(await send({ kind: 'notice', supersedes: notice })).toEqual(['facts', 'insert']);
      expect(await recordAll()).toEqual([]);
    } finally {
      await counted.close();
    }
  });
});
