// Backup and restore of the gateway's database (gateway/src/storage/backup.ts) on real
// PostgreSQL: a backup taken while submissions keep arriving restores into an empty database as
// a consistent whole (the audit finds nothing, bundles verify from outside, the gateway goes on
// accepting on it); one taken at rest restores row for row; damaged backups and occupied targets
// are refused before anything is written.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type ProofBundle, sha256, toHex, verifyBundle } from '@lianzheng/proof';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../gateway/src/app.ts';
import { auditDatabase } from '../../gateway/src/audit/audit.ts';
import { issueDevToken, loadDevIssuerKey } from '../../gateway/src/auth/dev-issuer.ts';
import { testConfig } from '../../gateway/src/config.ts';
import {
  BackupError,
  backupDatabase,
  checkBackup,
  restoreDatabase,
} from '../../gateway/src/storage/backup.ts';
import { readMigrations, runMigrations } from '../../gateway/src/storage/migrate.ts';
import { demoProject, startTestDatabase, type TestDatabase } from './pipeline-support.ts';

let source: TestDatabase;
const targets: TestDatabase[] = [];
const apps: FastifyInstance[] = [];
let app: FastifyInstance;
let unitToken = '';
let workDir = '';
const project = demoProject();

function gatewayOn(db: TestDatabase): FastifyInstance {
  // The same DATA_DIR (keys) as the source's gateway: a restore brings rows, not keys.
  const config = testConfig({ dataDir: source.dir, sealIntervalMs: 20, rateLimitPublicPerMin: 100_000 });
  const built = buildApp({ config, db: db.pool });
  apps.push(built);
  return built;
}

async function submit(on: FastifyInstance, n = 1): Promise<string[]> {
  const digests = Array.from({ length: n }, () => toHex(sha256(randomBytes(32))));
  const res =
    n === 1
      ? await on.inject({
          method: 'POST',
          url: '/v1/evidence',
          headers: { authorization: `Bearer ${unitToken}` },
          payload: { projectId: project.id, kind: 'notice', visibility: 'public', sha256: digests[0] },
        })
      : await on.inject({
          method: 'POST',
          url: '/v1/evidence/batch',
          headers: { authorization: `Bearer ${unitToken}` },
          payload: {
            items: digests.map((d) => ({
              projectId: project.id,
              kind: 'notice',
              visibility: 'public',
              sha256: d,
            })),
          },
        });
  expect(res.statusCode, res.body).toBe(202);
  return digests;
}

async function waitAllRecorded(pool: pg.Pool): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const { rows } = await pool.query<{ n: string }>(
      "select count(*) as n from submission_states where status = 'accepted'",
    );
    if (rows[0]?.n === '0') return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('submissions were not recorded');
}

/** Every table's rows, as PostgreSQL spells them, in a stable order. */
async function contents(pool: pg.Pool): Promise<Record<string, string[]>> {
  const { rows: tables } = await pool.query<{ name: string }>(
    'select tablename as name from pg_tables where schemaname = current_schema() order by 1',
  );
  const out: Record<string, string[]> = {};
  for (const { name } of tables) {
    // applied_at is when a migration ran on that server; everything else must be equal.
    const columns = name === 'schema_migrations' ? '(version, name, checksum)' : 't';
    const { rows } = await pool.query<{ r: string }>(
      `select ${columns}::text as r from ${name} t order by 1`,
    );
    out[name] = rows.map((r) => r.r);
  }
  return out;
}

async function verifyOutside(on: FastifyInstance, digest: string) {
  const res = await on.inject({ method: 'GET', url: `/v1/verify/${digest}` });
  expect(res.statusCode, res.body).toBe(200);
  const bundle = res.json().records[0].bundle as ProofBundle;
  const keys = (await on.inject({ method: 'GET', url: '/v1/keys' })).json();
  return verifyBundle(bundle, {
    sha256: digest,
    keys: { jwks: keys.jwks, checkpointKeys: keys.checkpointKeys },
    getLedgerTx: async (ref) => (await on.inject({ method: 'GET', url: `/v1/ledger/tx/${ref.txId}` })).json(),
  });
}

beforeAll(async () => {
  workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'lz-backup-'));
  source = await startTestDatabase();
  app = gatewayOn(source);
  await app.ready();
  const key = await loadDevIssuerKey(path.join(source.dir, 'keys'));
  unitToken = await issueDevToken(key, { role: 'unit', org: project.ownerOrg, audience: 'lianzheng' });
  const registered = await app.inject({
    method: 'POST',
    url: '/v1/projects',
    headers: { authorization: `Bearer ${unitToken}` },
    payload: { ...project, ownerOrg: undefined },
  });
  expect(registered.statusCode, registered.body).toBe(201);
  await submit(app, 200);
  for (let i = 0; i < 10; i++) await submit(app);
  await waitAllRecorded(source.pool);
});

afterAll(async () => {
  for (const a of apps) await a.close().catch(() => {});
  for (const t of targets) await t.stop().catch(() => {});
  await source?.stop();
  if (workDir) await fs.rm(workDir, { recursive: true, force: true });
});

async function emptyTarget(migrate = false): Promise<TestDatabase> {
  const t = await startTestDatabase({ migrate });
  targets.push(t);
  return t;
}

describe('backup and restore', () => {
  it('restores a backup taken under load as a consistent whole, on which the gateway goes on', async () => {
    // Submissions keep arriving (and being sealed and recorded) while the backup reads.
    let writing = true;
    const writer = (async () => {
      let n = 0;
      while (writing) {
        await submit(app, n % 5 === 0 ? 50 : 1);
        n++;
      }
      return n;
    })();
    const dir = path.join(workDir, 'under-load');
    const manifest = await backupDatabase(source.pool, dir);
    writing = false;
    expect(await writer).toBeGreaterThan(0);
    expect(manifest.tables.find((t) => t.name === 'submissions')?.rows).toBeGreaterThanOrEqual(210);
    expect((await fs.stat(path.join(dir, 'submissions.pgcopy'))).mode & 0o077).toBe(0);

    const target = await emptyTarget();
    const { rows } = await restoreDatabase(target.pool, dir);
    expect(rows).toBe(manifest.tables.reduce((sum, t) => sum + t.rows, 0));

    const restored = gatewayOn(target);
    await restored.ready();
    const keys = (await restored.inject({ method: 'GET', url: '/v1/keys' })).json();
    // Whatever was accepted but not yet recorded at the snapshot is recorded now, by the
    // restored gateway's pipeline; then the whole log and ledger must audit clean.
    await waitAllRecorded(target.pool);
    const report = await auditDatabase(target.pool, {
      checkpointKeys: keys.checkpointKeys,
      jwks: keys.jwks,
      replay: true,
    });
    expect(report.differences).toEqual([]);
    expect(report.ok).toBe(true);

    const { rows: some } = await target.pool.query<{ sha256: string }>(
      'select sha256 from submissions order by seq limit 1',
    );
    const verdict = await verifyOutside(restored, some[0]!.sha256);
    expect(verdict.ok, JSON.stringify(verdict.steps)).toBe(true);

    // Sequences came back: new submissions get new seqs and are recorded after the old ones.
    const [fresh] = await submit(restored);
    await waitAllRecorded(target.pool);
    expect((await verifyOutside(restored, fresh!)).ok).toBe(true);
    const after = await auditDatabase(target.pool, { checkpointKeys: keys.checkpointKeys, jwks: keys.jwks });
    expect(after.differences).toEqual([]);
  });

  it('restores a backup taken at rest row for row, into a database the migrations already made', async () => {
    await waitAllRecorded(source.pool);
    const dir = path.join(workDir, 'at-rest');
    await backupDatabase(source.pool, dir);
    // A gateway started once on an empty database has run its migrations: still empty.
    const target = await emptyTarget(true);
    await restoreDatabase(target.pool, dir);
    expect(await contents(target.pool)).toEqual(await contents(source.pool));
    const { rows: seqs } = await source.pool.query<{ last_value: string }>(
      "select last_value::text from pg_sequences where sequencename = 'submissions_seq_seq'",
    );
    const { rows: restoredSeqs } = await target.pool.query<{ last_value: string }>(
      "select last_value::text from pg_sequences where sequencename = 'submissions_seq_seq'",
    );
    expect(restoredSeqs).toEqual(seqs);
  });

  it('restores a backup from before later migrations, then applies them', async () => {
    // As a gateway of session 7 would have left it: before client certificates (0002) and
    // webhooks (0600–0699), numbered below and above what it had.
    const old = await emptyTarget();
    const all = await readMigrations();
    const before = new Set(all.map((m) => m.version).filter((v) => v !== 2 && (v < 600 || v > 699)));
    await runMigrations(old.pool, { only: before });
    await old.pool.query(`insert into api_keys (id, key_hash, org) values ($1, $2, 'finance-bureau')`, [
      '0192f3a0-0000-7000-8000-000000000001',
      'a'.repeat(64),
    ]);
    const dir = path.join(workDir, 'older-schema');
    const manifest = await backupDatabase(old.pool, dir);
    expect(manifest.tables.map((t) => t.name)).not.toContain('webhooks');

    const target = await emptyTarget();
    await restoreDatabase(target.pool, dir);
    const { rows: applied } = await target.pool.query<{ version: number }>(
      'select version from schema_migrations order by version',
    );
    expect(applied.map((r) => r.version)).toEqual(all.map((m) => m.version));
    const { rows: keys } = await target.pool.query('select org from api_keys');
    expect(keys).toEqual([{ org: 'finance-bureau' }]);
    expect((await target.pool.query('select count(*)::int as n from webhooks')).rows[0].n).toBe(0);

    // A database already at the newer schema cannot take the older backup's tables.
    const newer = await emptyTarget(true);
    await expect(restoreDatabase(newer.pool, dir)).rejects.toMatchObject({ code: 'TARGET_NOT_EMPTY' });
  });

  it('refuses a database that holds data, and leaves it as it was', async () => {
    const dir = path.join(workDir, 'at-rest');
    const before = await contents(source.pool);
    await expect(restoreDatabase(source.pool, dir)).rejects.toMatchObject({ code: 'TARGET_NOT_EMPTY' });
    expect(await contents(source.pool)).toEqual(before);
  });

  it('refuses a damaged backup before writing anything', async () => {
    const good = path.join(workDir, 'at-rest');
    const bad = path.join(workDir, 'damaged');
    await fs.cp(good, bad, { recursive: true });
    const file = path.join(bad, 'submissions.pgcopy');
    const bytes = await fs.readFile(file);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    await fs.writeFile(file, bytes);
    const target = await emptyTarget();
    const refused = await restoreDatabase(target.pool, bad).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(BackupError);
    expect(refused).toMatchObject({
      code: 'BAD_BACKUP',
      message: expect.stringMatching(/submissions\.pgcopy/),
    });
    const { rows } = await target.pool.query(
      'select tablename from pg_tables where schemaname = current_schema()',
    );
    expect(rows).toEqual([]);

    await fs.rm(path.join(bad, 'manifest.json'));
    await expect(checkBackup(bad)).rejects.toMatchObject({ code: 'BAD_BACKUP' });
  });

  it('writes a backup only into a new or empty folder', async () => {
    await expect(backupDatabase(source.pool, path.join(workDir, 'at-rest'))).rejects.toMatchObject({
      code: 'OUT_NOT_EMPTY',
    });
  });
});
