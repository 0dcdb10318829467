// A verify lookup must stay a plain index probe however fast the submissions table grows: the
// gateway's pool never starts parallel workers, which PostgreSQL chose for this two-row lookup
// while its statistics lagged behind a burst of submissions. Checked on real PostgreSQL with
// the plan it actually chooses.
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIGEST_LOOKUP } from '../../gateway/src/intake/submission-store.ts';
import { createPool } from '../../gateway/src/storage/db-plugin.ts';
import { type GatewayTestEnv, startGatewayTestEnv } from './gateway-support.ts';

const ROWS = 20_000;
const digest = (i: number) => i.toString(16).padStart(64, '0');

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Plan Rows': number;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

/**
 * The plan of the lookup on one connection of `pool`, with parallel plans made as cheap as they
 * get: what the planner does when its estimates make parallel workers look worth it (as stale
 * statistics after a burst of submissions did, 4.8 ms a lookup instead of ~0.3 ms).
 */
async function planOf(pool: pg.Pool, digests: string[]): Promise<string[]> {
  return (await planNodesOf(pool, digests)).map(
    (n) => n['Node Type'] + (n['Relation Name'] ? ` on ${n['Relation Name']}` : ''),
  );
}

async function planNodesOf(pool: pg.Pool, digests: string[]): Promise<PlanNode[]> {
  const client = await pool.connect();
  try {
    for (const setting of [
      'parallel_setup_cost = 0',
      'parallel_tuple_cost = 0',
      'min_parallel_table_scan_size = 0',
      'min_parallel_index_scan_size = 0',
    ])
      await client.query(`set ${setting}`);
    const { rows } = await client.query(`explain (format json) ${DIGEST_LOOKUP}`, [digests]);
    return nodes((rows[0]['QUERY PLAN'] as { Plan: PlanNode }[])[0]!.Plan);
  } finally {
    client.release(true);
  }
}

let env: GatewayTestEnv;
let service: pg.Pool;

beforeAll(async () => {
  env = await startGatewayTestEnv();
  service = createPool(env.url, env.config(), undefined, { service: true });
  // A burst of submissions, recorded, that no ANALYZE has seen yet.
  await env.pool.query(
    `with s as (
       insert into submissions (id, project_id, sha256, kind, record_json, details_json, receipt, accepted_at)
       select gen_random_uuid(), 'p', lpad(to_hex(i), 64, '0'), 'notice', '{}', '{}', 'r', now()
         from generate_series(1, $1::int) as i
       returning seq)
     insert into log_leaves (leaf_index, seq) select row_number() over (order by seq) - 1, seq from s`,
    [ROWS],
  );
}, 120_000);

afterAll(async () => {
  await service?.end();
  await env?.stop();
});

describe('the digest lookup behind GET /v1/verify', () => {
  it('runs without parallel workers on the gateway pool, however cheap the planner thinks they are', async () => {
    const { rows } = await service.query('show max_parallel_workers_per_gather');
    expect(rows[0].max_parallel_workers_per_gather).toBe('0');
    const plan = await planOf(service, [digest(ROWS / 2)]);
    expect(plan).not.toContain('Gather');
    expect(plan).not.toContain('Gather Merge');
    const found = await service.query(DIGEST_LOOKUP, [[digest(ROWS / 2)]]);
    expect(found.rows).toHaveLength(1);
  });

  it('probes the digest index for each of the 128 digests of a coalesced lookup, never walking the table', async () => {
    // Found right after a burst: with no statistics yet, a `sha256 = any(…)` filter looked
    // unselective, and the planner walked the whole table in seq order through its primary key
    // (229 ms for 64 digests at 75,000 rows) to save sorting the answer.
    const digests = Array.from({ length: 128 }, (_, i) => digest(1 + i * 150));
    const plan = await planNodesOf(service, digests);
    const onSubmissions = plan.filter(
      (n) => n['Relation Name'] === 'submissions' || n['Index Name']?.startsWith('submissions'),
    );
    const shown = plan
      .map((n) => `${n['Node Type']} ${n['Relation Name'] ?? ''} ${n['Index Name'] ?? ''}`)
      .join(' > ');
    expect(onSubmissions.length, shown).toBeGreaterThan(0);
    for (const node of onSubmissions) {
      expect(node['Node Type'], shown).not.toBe('Seq Scan');
      if (node['Index Name']) expect(node['Index Name'], shown).toBe('submissions_sha256');
    }
    expect(
      onSubmissions.some((n) => n['Index Name'] === 'submissions_sha256'),
      shown,
    ).toBe(true);
    // Each record's state is one probe per table by its seq (submission_states, migration 0700):
    // with no statistics the planner once hashed the whole of log_leaves for one lookup (30 ms at
    // 300,000 records).
    for (const node of plan) {
      if (['log_leaves', 'submission_rejections', 'seal_queue'].includes(node['Relation Name'] ?? '')) {
        expect(node['Node Type'], shown).not.toBe('Seq Scan');
      }
    }
    const found = await service.query(DIGEST_LOOKUP, [digests]);
    expect(found.rows.map((r) => r.sha256).sort()).toEqual([...digests].sort());
  });

  it('finds nothing for a digest that is not 64 lowercase hex digits, beside one it finds (the index holds bytes, migration 0991)', async () => {
    const known = digest(0xabc); // has letters, so its upper case differs
    const found = await service.query(DIGEST_LOOKUP, [
      [known.toUpperCase(), 'zz'.repeat(32), known.slice(1), known, `${known}00`],
    ]);
    expect(found.rows.map((r) => r.sha256)).toEqual([known]);
  });

  it('would start them on a pool without the setting (what the setting prevents)', async () => {
    const tool = createPool(env.url, env.config());
    try {
      const plan = await planOf(tool, [digest(ROWS / 2)]);
      expect(
        plan.some((node) => node.startsWith('Gather')),
        plan.join(' > '),
      ).toBe(true);
    } finally {
      await tool.end();
    }
  });

  it('the tools keep their defaults (the audit reads whole tables)', async () => {
    const tool = createPool(env.url, env.config());
    try {
      const { rows } = await tool.query('show max_parallel_workers_per_gather');
      expect(rows[0].max_parallel_workers_per_gather).not.toBe('0');
    } finally {
      await tool.end();
    }
  });
});
