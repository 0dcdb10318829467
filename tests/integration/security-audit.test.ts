// `lianzheng audit` against a real gateway's PostgreSQL and embedded ledger: clean after real
// traffic, then rows edited behind the gateway's back — each edit is caught with its code, and the
// command exits 1 while it is there and 0 once it is undone.

import { randomBytes } from 'node:crypto';
import { canonicalJson, sha256, toHex } from '@lianzheng/proof';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../gateway/src/app.ts';
import { type AuditCode, auditDatabase } from '../../gateway/src/audit/audit.ts';
import { issueDevToken, loadDevIssuerKey } from '../../gateway/src/auth/dev-issuer.ts';
import { cmdAudit } from '../../gateway/src/cli/audit.ts';
import { type Config, testConfig } from '../../gateway/src/config.ts';
import { createCompositeKey, keyBytes, privateDataKey } from '../../gateway/src/ledger/pg-stub.ts';
import { demoProject, startTestDatabase, type TestDatabase } from './pipeline-support.ts';

let db: TestDatabase;
let app: FastifyInstance;
let config: Config;
let unit = '';
const project = demoProject();
const ids: string[] = [];

async function submitMany(n: number): Promise<void> {
  const batch = await app.inject({
    method: 'POST',
    url: '/v1/evidence/batch',
    headers: { authorization: `Bearer ${unit}` },
    payload: {
      items: Array.from({ length: n }, (_, i) => ({
        sha256: toHex(sha256(randomBytes(32))),
        projectId: project.id,
        kind: 'construction_log',
        visibility: i % 2 ? 'public' : 'restricted',
        title: `log ${i}`,
      })),
    },
  });
  expect(batch.statusCode, batch.body).toBe(202);
  for (const r of batch.json().results) ids.push(r.id);
}

async function codes(): Promise<AuditCode[]> {
  const keys = { checkpointKeys: app.keys.checkpointKeys(), jwks: app.keys.jwks() };
  const report = await auditDatabase(db.pool, { ...keys, pageSize: 7, replay: true });
  return report.differences.map((d) => d.code);
}

async function cli(): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const code = await cmdAudit(
    ['--replay'],
    { DATA_DIR: db.dir, DATABASE_URL: dbUrl() },
    {
      log: (s) => lines.push(s),
      error: (s) => lines.push(s),
    },
  );
  return { code, out: lines.join('\n') };
}

function dbUrl(): string {
  const opts = (db.pool as unknown as { options: { connectionString: string } }).options;
  return opts.connectionString;
}

/** Applies an edit, runs `check`, and always undoes the edit. */
async function tampered(edit: string[], undo: string[], check: () => Promise<void>): Promise<void> {
  for (const sql of edit) await db.pool.query(sql);
  try {
    await check();
  } finally {
    for (const sql of undo) await db.pool.query(sql);
  }
}

async function leafRow(index: number) {
  const { rows } = await db.pool.query(
    'select id::text, sha256, record_json, seq from submission_states where leaf_index = $1',
    [index],
  );
  return rows[0] as { id: string; sha256: string; record_json: string; seq: string };
}

beforeAll(async () => {
  db = await startTestDatabase();
  config = testConfig({
    dataDir: db.dir,
    sealIntervalMs: 20,
    sealMaxItems: 9,
    rateLimitPublicPerMin: 100_000,
  });
  app = buildApp({ config, db: db.pool });
  await app.ready();
  const key = await loadDevIssuerKey(config.keysDir);
  unit = await issueDevToken(key, { role: 'unit', org: project.ownerOrg, audience: config.oidc.audience });
  const reg = await app.inject({
    method: 'POST',
    url: '/v1/projects',
    headers: { authorization: `Bearer ${unit}` },
    payload: project,
  });
  expect(reg.statusCode, reg.body).toBe(201);
  // Several batches (at most 9 leaves each), so there are many checkpoints and blocks.
  await submitMany(20);
  await app.pipeline.batcher.waitForRecorded(20);
  await submitMany(13);
  await app.pipeline.batcher.waitForRecorded(33);
  // Stop sealing so that nothing moves while rows are edited.
  await app.pipeline.batcher.stop();
});

afterAll(async () => {
  await app?.close();
  await db?.stop();
});

describe('lianzheng audit', () => {
  it('is clean after real traffic, with every part counted and every signature checked', async () => {
    const keys = { checkpointKeys: app.keys.checkpointKeys(), jwks: app.keys.jwks() };
    const report = await auditDatabase(db.pool, { ...keys, pageSize: 7, replay: true });
    expect(report.differences).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.counts.recorded).toBe(33);
    expect(report.counts.leaves).toBe(33);
    expect(report.counts.ledgerRecords).toBe(33);
    expect(report.counts.checkpoints).toBeGreaterThanOrEqual(4);
    expect(report.counts.blocks).toBeGreaterThanOrEqual(report.counts.batches + 2);
    expect(report.skipped).toEqual([]);
    const run = await cli();
    expect(run.code, run.out).toBe(0);
  });

  it('catches a changed digest column', async () => {
    const row = await leafRow(3);
    const other = toHex(sha256(randomBytes(8)));
    await tampered(
      [`update submissions set sha256 = '${other}' where id = '${row.id}'`],
      [`update submissions set sha256 = '${row.sha256}' where id = '${row.id}'`],
      async () => {
        expect(await codes()).toContain('DIGEST_MISMATCH');
        expect((await cli()).code).toBe(1);
      },
    );
    expect(await codes()).toEqual([]);
  });

  it('catches a record whose digest was rewritten consistently (record, column, CID)', async () => {
    const row = await leafRow(5);
    const record = JSON.parse(row.record_json);
    const other = toHex(sha256(randomBytes(8)));
    const forged = canonicalJson({ ...record, digests: { sha256: other } });
    await tampered([], [], async () => {
      await db.pool.query('update submissions set sha256 = $2, record_json = $3 where id = $1', [
        row.id,
        other,
        forged,
      ]);
      try {
        const found = await codes();
        expect(found).toContain('LEAF_HASH_MISMATCH');
        expect(found).toContain('RECEIPT_MISMATCH');
        expect(found).toContain('LEDGER_RECORD_MISMATCH');
        expect(found).toContain('CID_MISMATCH');
      } finally {
        await db.pool.query('update submissions set sha256 = $2, record_json = $3 where id = $1', [
          row.id,
          row.sha256,
          row.record_json,
        ]);
      }
    });
    expect(await codes()).toEqual([]);
  });

  it('catches a deleted record', async () => {
    const row = await leafRow(8);
    const { rows } = await db.pool.query('select * from submissions where id = $1', [row.id]);
    const saved = rows[0];
    await db.pool.query('delete from submissions where id = $1', [row.id]);
    try {
      const found = await codes();
      expect(found).toContain('LEAF_MISSING');
      expect(found).toContain('LEDGER_RECORD_UNKNOWN');
      expect((await cli()).code).toBe(1);
    } finally {
      const cols = Object.keys(saved);
      await db.pool.query(
        `insert into submissions (${cols.join(', ')}) values (${cols.map((_, i) => `$${i + 1}`).join(', ')})`,
        cols.map((c) => saved[c]),
      );
    }
    expect(await codes()).toEqual([]);
  });

  it('catches a recorded record put back in the sealing queue', async () => {
    const row = await leafRow(4);
    await tampered(
      [`insert into seal_queue (seq) values (${row.seq})`],
      [`delete from seal_queue where seq = ${row.seq}`],
      async () => {
        expect(await codes()).toContain('STALE_IN_QUEUE');
        expect((await cli()).code).toBe(1);
      },
    );
    expect(await codes()).toEqual([]);
  });

  it('catches reordered leaves', async () => {
    const a = await leafRow(10);
    const b = await leafRow(11);
    await tampered(
      [
        `update log_leaves set leaf_index = -1 where seq = ${a.seq}`,
        `update log_leaves set leaf_index = 10 where seq = ${b.seq}`,
        `update log_leaves set leaf_index = 11 where seq = ${a.seq}`,
      ],
      [
        `update log_leaves set leaf_index = -1 where seq = ${a.seq}`,
        `update log_leaves set leaf_index = 11 where seq = ${b.seq}`,
        `update log_leaves set leaf_index = 10 where seq = ${a.seq}`,
      ],
      async () => {
        const found = await codes();
        expect(found.filter((c) => c === 'LEAF_HASH_MISMATCH')).toHaveLength(2);
        expect(found).toContain('LEAF_ORDER');
        expect(found).toContain('LEDGER_INDEX_MISMATCH');
      },
    );
    expect(await codes()).toEqual([]);
  });

  it('catches a broken block hash and a broken link', async () => {
    const { rows } = await db.pool.query<{ hash: Buffer; prev_hash: Buffer }>(
      'select hash, prev_hash from ledger_blocks where number = 2',
    );
    const saved = rows[0]!;
    await db.pool.query('update ledger_blocks set hash = $1 where number = 2', [randomBytes(32)]);
    try {
      expect(await codes()).toContain('BLOCK_CHAIN_BROKEN');
    } finally {
      await db.pool.query('update ledger_blocks set hash = $1 where number = 2', [saved.hash]);
    }
    await db.pool.query('update ledger_blocks set prev_hash = $1 where number = 2', [randomBytes(32)]);
    try {
      expect(await codes()).toContain('BLOCK_CHAIN_BROKEN');
    } finally {
      await db.pool.query('update ledger_blocks set prev_hash = $1 where number = 2', [saved.prev_hash]);
    }
    expect(await codes()).toEqual([]);
  });

  it('catches a checkpoint whose root or signature was changed', async () => {
    const { rows } = await db.pool.query<{ size: string; root: Buffer; note: string }>(
      'select size, root, note from checkpoints order by size limit 1',
    );
    const cp = rows[0]!;
    await db.pool.query('update checkpoints set root = $2 where size = $1', [cp.size, randomBytes(32)]);
    try {
      const found = await codes();
      expect(found).toContain('CHECKPOINT_ROOT_MISMATCH');
      expect(found).toContain('CHECKPOINT_NOTE_MISMATCH');
      expect(found).toContain('LEDGER_CHECKPOINT_MISMATCH');
    } finally {
      await db.pool.query('update checkpoints set root = $2 where size = $1', [cp.size, cp.root]);
    }
    // One byte of the signature line flipped.
    const lines = cp.note.split('\n');
    const sig = lines[lines.length - 2]!;
    const flipped = `${sig.slice(0, -3)}${sig.at(-3) === 'A' ? 'B' : 'A'}${sig.slice(-2)}`;
    lines[lines.length - 2] = flipped;
    await db.pool.query('update checkpoints set note = $2 where size = $1', [cp.size, lines.join('\n')]);
    try {
      expect(await codes()).toContain('CHECKPOINT_SIGNATURE_INVALID');
    } finally {
      await db.pool.query('update checkpoints set note = $2 where size = $1', [cp.size, cp.note]);
    }
    expect(await codes()).toEqual([]);
  });

  it('catches an edited subtree, frontier and batch root', async () => {
    // Subtree 2/1's hash is a 32-byte slice of its tile (migration 0990).
    const tile = 'level = 0 and idx = 0';
    const { rows } = await db.pool.query<{ hashes: Buffer }>(`select hashes from log_tiles where ${tile}`);
    const saved = rows[0]!.hashes;
    await db.pool.query(
      `update log_tiles set hashes = overlay(hashes placing $1 from lz_tile_offset(2, 1) + 1) where ${tile}`,
      [randomBytes(32)],
    );
    try {
      expect(await codes()).toContain('SUBTREE_MISMATCH');
    } finally {
      await db.pool.query(`update log_tiles set hashes = $1 where ${tile}`, [saved]);
    }
    const state = (await db.pool.query<{ frontier: Buffer[] }>('select frontier from log_state')).rows[0]!;
    await db.pool.query('update log_state set frontier = $1::bytea[]', [
      [randomBytes(32), ...state.frontier.slice(1)],
    ]);
    try {
      expect(await codes()).toContain('FRONTIER_MISMATCH');
    } finally {
      await db.pool.query('update log_state set frontier = $1::bytea[]', [state.frontier]);
    }
    const batch = (
      await db.pool.query<{ from_size: string; root: Buffer }>(
        'select from_size, root from ledger_batches order by from_size limit 1',
      )
    ).rows[0]!;
    await db.pool.query('update ledger_batches set root = $2 where from_size = $1', [
      batch.from_size,
      randomBytes(32),
    ]);
    try {
      const found = await codes();
      expect(found).toContain('BATCH_ROOT_MISMATCH');
      expect(found).toContain('LEDGER_TX_MISMATCH');
    } finally {
      await db.pool.query('update ledger_batches set root = $2 where from_size = $1', [
        batch.from_size,
        batch.root,
      ]);
    }
    expect(await codes()).toEqual([]);
  });

  it("catches the ledger's world state edited: a record removed, a checkpoint changed", async () => {
    // A batch's records are one world-state value: take one record out of it.
    const id = ids[4]!;
    const holder = (
      await db.pool.query<{ key: Buffer; value: Buffer }>(
        'select key, value from world_state where key >= $1 and key < $2 and position($3 in value) > 0',
        [
          keyBytes(createCompositeKey('batch', [])),
          Buffer.concat([keyBytes(createCompositeKey('batch', [])), Buffer.from([0xff])]),
          Buffer.from(id),
        ],
      )
    ).rows[0]!;
    const stored = JSON.parse(holder.value.toString()) as { records: { record: { id: string } }[] };
    const without = Buffer.from(
      canonicalJson({ ...stored, records: stored.records.filter((r) => r.record.id !== id) }),
    );
    await db.pool.query('update world_state set value = $2 where key = $1', [holder.key, without]);
    try {
      expect(await codes()).toContain('LEDGER_RECORD_MISSING');
    } finally {
      await db.pool.query('update world_state set value = $2 where key = $1', [holder.key, holder.value]);
    }
    const cpKey = keyBytes(createCompositeKey('checkpoint', ['9'.padStart(16, '0')]));
    const cp = (
      await db.pool.query<{ value: Buffer }>('select value from world_state where key = $1', [cpKey])
    ).rows[0]!.value;
    const forged = Buffer.from(canonicalJson({ ...JSON.parse(cp.toString()), root: '00'.repeat(32) }));
    await db.pool.query('update world_state set value = $2 where key = $1', [cpKey, forged]);
    try {
      expect(await codes()).toContain('LEDGER_CHECKPOINT_MISMATCH');
    } finally {
      await db.pool.query('update world_state set value = $2 where key = $1', [cpKey, cp]);
    }
    expect(await codes()).toEqual([]);
  });

  it('with --replay, catches an edited block input and an edited world-state value', async () => {
    // A RecordBatch block whose input names another digest for one record.
    const block = (
      await db.pool.query<{ number: string; payload: Buffer }>(
        "select number, payload from ledger_blocks where fn = 'RecordBatch' order by number limit 1",
      )
    ).rows[0]!;
    const payload = JSON.parse(block.payload.toString());
    const batch = JSON.parse(payload.args[0]);
    batch.records[0].record.digests.sha256 = toHex(sha256(randomBytes(4)));
    const forged = Buffer.from(JSON.stringify({ ...payload, args: [JSON.stringify(batch)] }));
    await db.pool.query('update ledger_blocks set payload = $2 where number = $1', [block.number, forged]);
    try {
      const found = await codes();
      expect(found.some((c) => c === 'BLOCK_DATA_MISMATCH' || c === 'BLOCK_REPLAY_FAILED')).toBe(true);
    } finally {
      await db.pool.query('update ledger_blocks set payload = $2 where number = $1', [
        block.number,
        block.payload,
      ]);
    }
    // A project's summary (its private value) edited in world state: nothing but the replay looks at it.
    const summaryKey = keyBytes(
      privateDataKey('restrictedDetails', createCompositeKey('project', [project.id])),
    );
    const saved = (
      await db.pool.query<{ value: Buffer }>('select value from world_state where key = $1', [summaryKey])
    ).rows[0]!.value;
    const book = JSON.parse(saved.toString());
    const edited = Buffer.from(canonicalJson({ ...book, summary: { ...book.summary, edited: true } }));
    await db.pool.query('update world_state set value = $2 where key = $1', [summaryKey, edited]);
    try {
      expect(await codes()).toEqual(['WORLD_STATE_MISMATCH']);
    } finally {
      await db.pool.query('update world_state set value = $2 where key = $1', [summaryKey, saved]);
    }
    expect(await codes()).toEqual([]);
  });

  it('exits 2 on bad arguments and 3 when the database cannot be reached', async () => {
    const out = { log: () => {}, error: () => {} };
    expect(await cmdAudit(['--max-differences', 'x'], { DATA_DIR: db.dir, DATABASE_URL: dbUrl() }, out)).toBe(
      2,
    );
    expect(
      await cmdAudit([], { DATA_DIR: db.dir, DATABASE_URL: 'postgres://nobody:x@127.0.0.1:1/none' }, out),
    ).toBe(3);
  });
});
