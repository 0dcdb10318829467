import { checkEntry } from '@lianzheng/chaincode';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { EvidenceSubmission } from '../routes/evidence-write/schemas.ts';
import {
  entryError,
  IntakeView,
  kindRuleProblem,
  namedRecords,
  RecordDirectory,
  TargetClaims,
} from './rules.ts';

const A = '01890000-0000-7000-8000-00000000000a';
const B = '01890000-0000-7000-8000-00000000000b';
const C = '01890000-0000-7000-8000-00000000000c';

function submission(extra: Partial<EvidenceSubmission>): EvidenceSubmission {
  return { sha256: '0'.repeat(64), projectId: 'p1', kind: 'notice', visibility: 'public', ...extra };
}

describe('kindRuleProblem', () => {
  it('names every missing field as a 400', () => {
    const error = kindRuleProblem(submission({ kind: 'withdrawal', refs: [A, B], supersedes: C }));
    expect(error?.code).toBe('VALIDATION_FAILED');
    expect(error?.status).toBe(400);
    const errors = (error?.extensions.errors ?? []) as { path: string }[];
    expect(errors.map((e) => e.path)).toEqual(['/reason', '/refs', '/supersedes']);
    expect(kindRuleProblem(submission({ kind: 'payment_approval', amount: '0' }))?.code).toBe(
      'VALIDATION_FAILED',
    );
    expect(kindRuleProblem(submission({ kind: 'payment_approval', amount: '1' }))).toBeUndefined();
    expect(kindRuleProblem(submission({}))).toBeUndefined();
  });
});

describe('entryError', () => {
  it('keeps the ledger’s code, as a 422 with the field', () => {
    for (const code of ['NO_SUCH_PROJECT', 'BAD_MILESTONE', 'BAD_REFERENCE', 'BAD_SUPERSEDE'] as const) {
      const error = entryError({ code, field: 'refs', detail: 'x' });
      expect(error.code).toBe(code);
      expect(error.status).toBe(422);
      expect(error.extensions.errors).toEqual([{ path: '/refs', message: 'x' }]);
    }
  });
});

describe('namedRecords', () => {
  it('collects refs and, as targets, what is superseded or withdrawn', () => {
    expect(
      namedRecords([
        submission({}),
        submission({ kind: 'payment_approval', refs: [A] }),
        submission({ supersedes: B, refs: [A] }),
        submission({ kind: 'withdrawal', refs: [C] }),
      ]),
    ).toEqual({ ids: [A, B, C], targets: [B, C] });
    expect(namedRecords([submission({}), submission({ title: 't' })])).toEqual({ ids: [], targets: [] });
  });
});

describe('IntakeView', () => {
  it('shows a target taken by an earlier item of the same request', () => {
    const view = new IntakeView(
      new Map([['p1', { id: 'p1' }]]),
      new Map([[A, { id: A, projectId: 'p1', kind: 'notice' }]]),
    );
    const first = checkEntry(submission({ supersedes: A }), {}, view);
    expect(first.ok).toBe(true);
    if (first.ok) view.mark(first.links.target!, first.links.mark!, B);
    const second = checkEntry(submission({ supersedes: A }), {}, view);
    expect(second.ok ? undefined : second.problem.code).toBe('BAD_SUPERSEDE');
    const withdrawal = checkEntry(submission({ kind: 'withdrawal', refs: [A] }), { reason: 'x' }, view);
    expect(withdrawal.ok ? undefined : withdrawal.problem.code).toBe('BAD_REFERENCE');
  });
});

describe('TargetClaims', () => {
  it('lets claims on one record run one after another, and others at once', async () => {
    const claims = new TargetClaims();
    const order: string[] = [];
    const first = await claims.claim([A]);
    const second = claims.claim([A, B]).then((release) => {
      order.push('second');
      return release;
    });
    const unrelated = await claims.claim([C]);
    order.push('unrelated');
    await new Promise((r) => setTimeout(r, 10));
    expect(order).toEqual(['unrelated']);
    first();
    const releaseSecond = await second;
    expect(order).toEqual(['unrelated', 'second']);
    releaseSecond();
    unrelated();
    expect(claims.size).toBe(0);
  });

  it('does not deadlock on overlapping sets claimed in opposite orders', async () => {
    const claims = new TargetClaims();
    const hold = await claims.claim([A, B]);
    const x = claims.claim([A, B]);
    const y = claims.claim([B, A]);
    hold();
    (await x)();
    (await y)();
    expect(claims.size).toBe(0);
  });
});

describe('RecordDirectory', () => {
  function fakePool(rows: Record<string, unknown>[]) {
    const calls: unknown[][] = [];
    const pool = {
      query: async (q: { values: unknown[] }) => {
        calls.push(q.values);
        const asked = new Set(q.values[0] as string[]);
        return { rows: rows.filter((r) => asked.has(r.id as string)) };
      },
    } as unknown as pg.Pool;
    return { pool, calls };
  }

  const row = (id: string, status: string, extra: Record<string, unknown> = {}) => ({
    id,
    project_id: 'p1',
    kind: 'contract',
    status,
    superseded_by: null,
    withdrawn_by: null,
    pending_by: null,
    pending_kind: null,
    ...extra,
  });

  it('asks nothing for no ids, and caches recorded records only for refs', async () => {
    const { pool, calls } = fakePool([
      row(A, 'recorded'),
      row(B, 'accepted'),
      row(C, 'anchored', { superseded_by: B }),
    ]);
    const records = new RecordDirectory(() => pool);
    expect((await records.load([], [])).size).toBe(0);
    expect(calls).toHaveLength(0);
    const first = await records.load([A, B, C], [C]);
    expect(first.get(C)).toEqual({ id: C, projectId: 'p1', kind: 'contract', supersededBy: B });
    expect(calls).toEqual([[[A, B, C], [C]]]);
    // A is recorded (cached); B is only accepted (it may still be rejected): asked again.
    await records.load([A, B], []);
    expect(calls[1]).toEqual([[B], []]);
    // As a target, even a cached record is asked again for its liveness.
    await records.load([A], [A]);
    expect(calls[2]).toEqual([[A], [A]]);
  });

  it('counts a supersede or withdrawal still in the queue', async () => {
    const { pool } = fakePool([
      row(A, 'recorded', { pending_by: B, pending_kind: 'contract' }),
      row(C, 'accepted', { pending_by: B, pending_kind: 'withdrawal' }),
    ]);
    const facts = await new RecordDirectory(() => pool).load([A, C], [A, C]);
    expect(facts.get(A)).toMatchObject({ supersededBy: B });
    expect(facts.get(A)?.withdrawnBy).toBeUndefined();
    expect(facts.get(C)).toMatchObject({ withdrawnBy: B });
  });

  it('turns a database failure into SERVICE_UNAVAILABLE', async () => {
    const pool = {
      query: async () => {
        throw Object.assign(new Error('down'), { code: 'ECONNREFUSED' });
      },
    } as unknown as pg.Pool;
    await expect(new RecordDirectory(() => pool).load([A], [])).rejects.toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
    });
  });
});
