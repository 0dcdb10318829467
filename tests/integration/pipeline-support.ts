// Shared by the pipeline's integration tests: a real PostgreSQL (the embedded one, or
// DATABASE_URL when set) with the gateway's migrations, and submissions shaped as intake writes
// them. Not a test file itself.

import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { targetOf } from '@lianzheng/chaincode';
import {
  canonicalJson,
  cidFromSha256,
  type DocumentKind,
  detailsDigest,
  type EvidenceRecord,
  fromHex,
  type RecordDetails,
  recordLeafHash,
  sha256,
  toHex,
} from '@lianzheng/proof';
import pg from 'pg';
import { KeyRing } from '../../gateway/src/keys/key-ring.ts';
import { startEmbeddedPostgres } from '../../gateway/src/storage/embedded-postgres.ts';
import { runMigrations } from '../../gateway/src/storage/migrate.ts';

export interface TestDatabase {
  pool: pg.Pool;
  dir: string;
  stop(): Promise<void>;
}

/**
 * A fresh database: embedded PostgreSQL in a temp dir, or a new database on DATABASE_URL; with the
 * gateway's migrations applied unless `migrate` is false (an empty database, as a restore finds).
 */
export async function startTestDatabase({
  migrate = true,
}: {
  migrate?: boolean;
} = {}): Promise<TestDatabase> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lz-pipeline-'));
  const external = process.env.DATABASE_URL;
  if (external) {
    const name = `lz_test_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: external });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    const url = new URL(external);
    url.pathname = `/${name}`;
    const pool = new pg.Pool({ connectionString: url.toString(), max: 8 });
    if (migrate) await runMigrations(pool);
    return {
      pool,
      dir,
      async stop() {
        await pool.end();
        const c = new pg.Client({ connectionString: external });
        await c.connect();
        await c.query(`drop database if exists ${name} with (force)`);
        await c.end();
        await fs.rm(dir, { recursive: true, force: true });
      },
    };
  }
  const server = await startEmbeddedPostgres({ dir: path.join(dir, 'pg') });
  const pool = new pg.Pool({ connectionString: server.url, max: 8 });
  if (migrate) await runMigrations(pool);
  return {
    pool,
    dir,
    async stop() {
      await pool.end();
      await server.stop();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

export interface Entry {
  record: EvidenceRecord;
  details: RecordDetails;
}

/** Time-ordered ids (UUIDv7 layout), so tests sort like the gateway's. */
export function uuidv7(): string {
  const ms = BigInt(Date.now());
  const bytes = randomBytes(16);
  for (let i = 0; i < 6; i++) bytes[i] = Number((ms >> BigInt(8 * (5 - i))) & 0xffn);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const h = bytes.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function makeEntry(options: {
  projectId: string;
  kind: DocumentKind;
  org?: string;
  visibility?: 'public' | 'restricted';
  details?: Omit<RecordDetails, 'salt'>;
  refs?: string[];
  supersedes?: string;
  content?: Uint8Array;
  id?: string;
}): Entry {
  const content = options.content ?? randomBytes(64);
  const digest = sha256(content);
  const details: RecordDetails = { salt: randomBytes(16).toString('hex'), ...options.details };
  const record: EvidenceRecord = {
    v: 1,
    id: options.id ?? uuidv7(),
    projectId: options.projectId,
    kind: options.kind,
    digests: { sha256: toHex(digest) },
    cid: cidFromSha256(digest),
    visibility: options.visibility ?? 'public',
    submitter: { org: options.org ?? 'village-committee' },
    acceptedAt: new Date().toISOString(),
    ...(options.supersedes ? { supersedes: options.supersedes } : {}),
    ...(options.refs ? { refs: options.refs } : {}),
    detailsDigest: detailsDigest(details),
  };
  return { record, details };
}

/** Inserts entries as intake does (status accepted), with real receipts from `keys`. */
export async function insertSubmissions(pool: pg.Pool, keys: KeyRing, entries: Entry[]): Promise<void> {
  if (entries.length === 0) return;
  const cols = {
    id: [] as string[],
    project: [] as string[],
    sha: [] as string[],
    kind: [] as string[],
    record: [] as string[],
    details: [] as string[],
    receipt: [] as string[],
    at: [] as string[],
    target: [] as (string | null)[],
  };
  for (const { record, details } of entries) {
    cols.id.push(record.id);
    cols.project.push(record.projectId);
    cols.sha.push(record.digests.sha256);
    cols.kind.push(record.kind);
    cols.record.push(canonicalJson(record));
    cols.details.push(canonicalJson(details));
    cols.receipt.push(
      keys.receiptSigner.sign({
        iss: 'lianzheng.test',
        sub: record.id,
        iat: Math.floor(Date.parse(record.acceptedAt) / 1000),
        sha256: record.digests.sha256,
        cid: record.cid,
        projectId: record.projectId,
        kind: record.kind,
        leaf: toHex(recordLeafHash(record)),
        ledger: 'embedded',
      }),
    );
    cols.at.push(record.acceptedAt);
    cols.target.push(targetOf(record) ?? null);
  }
  await pool.query(
    `with inserted as (
       insert into submissions (id, project_id, sha256, kind, record_json, details_json, receipt, accepted_at, link_target)
       select * from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                            $8::timestamptz[], $9::uuid[])
       returning seq)
     insert into seal_queue (seq) select seq from inserted`,
    [
      cols.id,
      cols.project,
      cols.sha,
      cols.kind,
      cols.record,
      cols.details,
      cols.receipt,
      cols.at,
      cols.target,
    ],
  );
}

export async function loadKeys(dir: string): Promise<KeyRing> {
  return KeyRing.load(path.join(dir, 'keys'), { logOrigin: 'lianzheng.test/log' });
}

export function demoProject(id = `village-road-${randomUUID().slice(0, 8)}`) {
  return {
    id,
    name: 'Village road hardening',
    regionCode: '620102',
    ownerOrg: 'village-committee',
    budget: '180000000',
    milestones: [
      { id: 'm1', name: 'Subgrade', dueDate: '2099-06-30' },
      { id: 'm2', name: 'Surface', dueDate: '2099-09-30' },
    ],
  };
}

export { fromHex };
