import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { readMigrations, runMigrations } from './migrate.ts';

/**
 * A backup of the gateway's database, and its restore into an empty one.
 *
 * The embedded PostgreSQL ships no pg_dump, and an operator of the zero-setup default still needs
 * a copy of the evidence that survives the disk: the log's leaves and subtrees, the receipts, the
 * checkpoints, the embedded ledger's blocks. The ledger and the anchors hold only roots, so
 * without this copy a lost disk loses the records they vouch for.
 *
 * A backup is a folder: one file per table in PostgreSQL's binary COPY format, taken in a single
 * repeatable-read snapshot (so it is consistent while the gateway keeps accepting), and
 * `manifest.json`, written last, with each file's row count, size and SHA-256, the schema's
 * migrations and the sequences. A folder without a manifest is an unfinished backup.
 *
 * A restore checks every file against the manifest before it touches the database, refuses a
 * database that already holds records, rebuilds the backup's schema with the migrations it names,
 * loads every table in one transaction, sets the sequences, and then applies the migrations that
 * came after the backup. The keys under DATA_DIR/keys and DATA_DIR/pki are files, not rows, and
 * are not in it (they include private keys: back them up apart, encrypted).
 */

export const BACKUP_FORMAT = 'lianzheng-backup/1';
const MANIFEST = 'manifest.json';
/** Table names become file names and go into COPY statements unquoted by the user: ours only. */
const TABLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export interface BackupManifest {
  format: typeof BACKUP_FORMAT;
  createdAt: string;
  /** `server_version` of the PostgreSQL it was taken from. */
  server: string;
  migrations: { version: number; name: string; checksum: string }[];
  tables: { name: string; file: string; rows: number; bytes: number; sha256: string }[];
  /** Each sequence's last value (null: never used); set again after a restore. */
  sequences: { name: string; lastValue: string | null }[];
}

export type BackupErrorCode = 'OUT_NOT_EMPTY' | 'BAD_BACKUP' | 'TARGET_NOT_EMPTY' | 'NEWER_SCHEMA';

export class BackupError extends Error {
  constructor(
    readonly code: BackupErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'BackupError';
  }
}

/** Passes bytes through while counting them and hashing them. */
function measuring() {
  const hash = createHash('sha256');
  let bytes = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  return { stream, bytes: () => bytes, sha256: () => hash.digest('hex') };
}

async function fsyncPath(p: string): Promise<void> {
  const handle = await fs.open(p, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function ourTables(client: pg.PoolClient): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    'select tablename as name from pg_tables where schemaname = current_schema() order by tablename',
  );
  for (const { name } of rows) {
    if (!TABLE_NAME.test(name))
      throw new BackupError('BAD_BACKUP', `unexpected table name ${JSON.stringify(name)}`);
  }
  return rows.map((r) => r.name);
}

/**
 * Writes a backup of the database `pool` reaches into `outDir` (created; it must be empty).
 * Safe while the gateway runs: everything is read in one snapshot.
 */
export async function backupDatabase(
  pool: pg.Pool,
  outDir: string,
  { log = () => {} }: { log?: (msg: string) => void } = {},
): Promise<BackupManifest> {
  await fs.mkdir(outDir, { recursive: true, mode: 0o700 });
  if ((await fs.readdir(outDir)).length > 0) {
    throw new BackupError('OUT_NOT_EMPTY', `${outDir} is not empty; a backup goes into a new folder`);
  }
  const client = await pool.connect();
  let manifest: BackupManifest;
  try {
    await client.query('begin isolation level repeatable read read only');
    const server = (await client.query<{ server_version: string }>('show server_version')).rows[0]!
      .server_version;
    const tables = await ourTables(client);
    if (!tables.includes('schema_migrations')) {
      throw new BackupError(
        'BAD_BACKUP',
        'this database has no gateway schema (schema_migrations is missing)',
      );
    }
    const migrations = (
      await client.query<{ version: number; name: string; checksum: string }>(
        'select version, name, checksum from schema_migrations order by version',
      )
    ).rows;
    const written: BackupManifest['tables'] = [];
    for (const name of tables) {
      const file = `${name}.pgcopy`;
      const target = path.join(outDir, file);
      const measure = measuring();
      const copy = client.query(copyTo(`copy ${name} to stdout (format binary)`));
      await pipeline(copy, measure.stream, createWriteStream(target, { mode: 0o600 }));
      await fsyncPath(target);
      written.push({ name, file, rows: copy.rowCount, bytes: measure.bytes(), sha256: measure.sha256() });
      log(`${name}: ${copy.rowCount} rows, ${measure.bytes()} bytes`);
    }
    // Sequences are outside the snapshot and only grow: read after the rows, their values cover them.
    const sequences = (
      await client.query<{ name: string; last_value: string | null }>(
        `select sequencename as name, last_value::text from pg_sequences
          where schemaname = current_schema() order by sequencename`,
      )
    ).rows.map((r) => ({ name: r.name, lastValue: r.last_value }));
    await client.query('commit');
    manifest = {
      format: BACKUP_FORMAT,
      createdAt: new Date().toISOString(),
      server,
      migrations,
      tables: written,
      sequences,
    };
  } catch (e) {
    await client.query('rollback').catch(() => {});
    throw e;
  } finally {
    client.release();
  }
  // The manifest last, atomically: its presence says the backup is whole.
  const temporary = path.join(outDir, `${MANIFEST}.partial`);
  await fs.writeFile(temporary, `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
  await fsyncPath(temporary);
  await fs.rename(temporary, path.join(outDir, MANIFEST));
  await fsyncPath(outDir);
  return manifest;
}

/** Reads a backup's manifest and checks every file's size and SHA-256 against it. */
export async function checkBackup(dir: string): Promise<BackupManifest> {
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(await fs.readFile(path.join(dir, MANIFEST), 'utf8')) as BackupManifest;
  } catch (e) {
    throw new BackupError('BAD_BACKUP', `${dir} has no readable ${MANIFEST} (${(e as Error).message})`);
  }
  if (
    manifest?.format !== BACKUP_FORMAT ||
    !Array.isArray(manifest.tables) ||
    !Array.isArray(manifest.migrations)
  ) {
    throw new BackupError('BAD_BACKUP', `${MANIFEST} is not a ${BACKUP_FORMAT} manifest`);
  }
  for (const t of manifest.tables) {
    if (!TABLE_NAME.test(t.name) || t.file !== `${t.name}.pgcopy`) {
      throw new BackupError(
        'BAD_BACKUP',
        `${MANIFEST} names an unexpected table or file: ${JSON.stringify(t)}`,
      );
    }
    const measure = measuring();
    try {
      await pipeline(createReadStream(path.join(dir, t.file)), measure.stream, async (source) => {
        for await (const _ of source);
      });
    } catch (e) {
      throw new BackupError('BAD_BACKUP', `${t.file}: ${(e as Error).message}`);
    }
    const [bytes, digest] = [measure.bytes(), measure.sha256()];
    if (bytes !== t.bytes || digest !== t.sha256) {
      throw new BackupError(
        'BAD_BACKUP',
        `${t.file} is not the file the backup wrote (${bytes} bytes, SHA-256 ${digest}; the manifest says ${t.bytes}, ${t.sha256})`,
      );
    }
  }
  return manifest;
}

/**
 * Restores the backup in `dir` into the database `pool` reaches, which must hold no records.
 * Returns the manifest and the rows loaded.
 */
export async function restoreDatabase(
  pool: pg.Pool,
  dir: string,
  { log = () => {} }: { log?: (msg: string) => void } = {},
): Promise<{ manifest: BackupManifest; rows: number }> {
  const manifest = await checkBackup(dir);
  const known = new Map((await readMigrations()).map((m) => [m.version, m]));
  const newer = manifest.migrations.filter((m) => !known.has(m.version));
  if (newer.length > 0) {
    throw new BackupError(
      'NEWER_SCHEMA',
      `the backup's schema has migrations this gateway does not know (${newer.map((m) => `${m.version}_${m.name}`).join(', ')}): restore it with the version that took it, or a newer one`,
    );
  }
  const versions = new Set(manifest.migrations.map((m) => m.version));
  await refuseUnlessEmpty(pool, versions);

  await runMigrations(pool, { only: versions, log });
  const client = await pool.connect();
  let rows = 0;
  try {
    await client.query('begin');
    const present = new Set(await ourTables(client));
    const missing = manifest.tables.filter((t) => !present.has(t.name)).map((t) => t.name);
    if (missing.length > 0) {
      throw new BackupError(
        'BAD_BACKUP',
        `the backup has tables its migrations do not make: ${missing.join(', ')}`,
      );
    }
    // What the migrations seeded (schema_migrations, log_state's first row) is replaced by the
    // backup's rows, so the restored database is the one backed up, row for row.
    await client.query(`truncate ${manifest.tables.map((t) => t.name).join(', ')}`);
    for (const t of manifest.tables) {
      const copy = client.query(copyFrom(`copy ${t.name} from stdin (format binary)`));
      await pipeline(createReadStream(path.join(dir, t.file)), copy);
      if (copy.rowCount !== t.rows) {
        throw new BackupError(
          'BAD_BACKUP',
          `${t.file}: loaded ${copy.rowCount} rows, the manifest says ${t.rows}`,
        );
      }
      rows += t.rows;
      log(`${t.name}: ${t.rows} rows`);
    }
    for (const s of manifest.sequences ?? []) {
      if (s.lastValue === null) continue; // never used: as the migration left it
      if (!TABLE_NAME.test(s.name) || !/^-?\d+$/.test(s.lastValue)) {
        throw new BackupError('BAD_BACKUP', `${MANIFEST} names an unexpected sequence: ${JSON.stringify(s)}`);
      }
      await client.query('select setval($1::regclass, $2::bigint, true)', [s.name, s.lastValue]);
    }
    await client.query('commit');
  } catch (e) {
    await client.query('rollback').catch(() => {});
    throw e;
  } finally {
    client.release();
  }
  // Migrations newer than the backup, applied to its data as to any older database.
  await runMigrations(pool, { log });
  return { manifest, rows };
}

/** Tables a migration seeds with one row: empty means that row as the migration left it. */
const SEEDED_ROWS: Record<string, string> = {
  log_state: 'where size <> 0',
  log_anchored: 'where size <> 0',
};

/**
 * Refuses a target that holds anything a gateway wrote: rows in any table other than the
 * migrations' own bookkeeping and the seeded rows above as the migrations left them, or a migration
 * the backup's schema does not have (its tables would be there twice once the newer migrations
 * run after the load).
 */

async function refuseUnlessEmpty(pool: pg.Pool, versions: ReadonlySet<number>): Promise<void> {
  const client = await pool.connect();
  try {
    for (const name of await ourTables(client)) {
      if (name === 'schema_migrations') {
        const { rows } = await client.query<{ version: number }>('select version from schema_migrations');
        const extra = rows.map((r) => r.version).filter((v) => !versions.has(v));
        if (extra.length > 0) {
          throw new BackupError(
            'TARGET_NOT_EMPTY',
            `the target database has migrations the backup's schema does not (${extra.join(', ')}): restore into an empty database`,
          );
        }
        continue;
      }
      const condition = SEEDED_ROWS[name] ?? '';
      const { rows } = await client.query<{ any: boolean }>(
        `select exists (select 1 from ${name} ${condition}) as any`,
      );
      if (rows[0]?.any) {
        throw new BackupError(
          'TARGET_NOT_EMPTY',
          `the target database already holds data (table ${name}): restore into an empty database`,
        );
      }
    }
  } finally {
    client.release();
  }
}
