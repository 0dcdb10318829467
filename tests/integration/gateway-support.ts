// Shared by the gateway intake's integration tests: one real PostgreSQL per test file (the
// embedded one in a temp DATA_DIR, or a fresh database on DATABASE_URL when set), apps built on
// it, dev tokens, and a project registered straight into the `projects` mirror. Not a test file.

import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { type BuildAppOptions, buildApp } from '../../gateway/src/app.ts';
import { issueDevToken, loadDevIssuerKey } from '../../gateway/src/auth/dev-issuer.ts';
import type { Role } from '../../gateway/src/auth/principal.ts';
import { type Config, testConfig } from '../../gateway/src/config.ts';
import { startEmbeddedPostgres } from '../../gateway/src/storage/embedded-postgres.ts';
import { runMigrations } from '../../gateway/src/storage/migrate.ts';

export interface GatewayTestEnv {
  dataDir: string;
  pool: pg.Pool;
  url: string;
  config(overrides?: Partial<Config>): Config;
  app(options?: Partial<BuildAppOptions>): Promise<FastifyInstance>;
  token(
    role: Exclude<Role, 'public'>,
    claims?: { org?: string; region?: string; ttl?: number },
  ): Promise<string>;
  registerProject(id: string, ownerOrg: string, regionCode?: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startGatewayTestEnv(): Promise<GatewayTestEnv> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'lz-gw-'));
  let url: string;
  let stopDb: () => Promise<void>;
  const external = process.env.DATABASE_URL;
  if (external) {
    const name = `lz_gw_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: external });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    const u = new URL(external);
    u.pathname = `/${name}`;
    url = u.toString();
    stopDb = async () => {
      const c = new pg.Client({ connectionString: external });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    };
  } else {
    const server = await startEmbeddedPostgres({ dir: path.join(dataDir, 'pg') });
    url = server.url;
    stopDb = () => server.stop();
  }
  const pool = new pg.Pool({ connectionString: url, max: 8 });
  await runMigrations(pool);
  const apps: FastifyInstance[] = [];
  const config = (overrides: Partial<Config> = {}) => testConfig({ dataDir, ...overrides });
  return {
    dataDir,
    pool,
    url,
    config,
    async app(options = {}) {
      const app = buildApp({ config: config(), db: pool, pipeline: false, ...options });
      apps.push(app);
      await app.ready();
      return app;
    },
    async token(role, claims = {}) {
      const key = await loadDevIssuerKey(path.join(dataDir, 'keys'));
      return issueDevToken(key, { role, audience: 'lianzheng', ...claims });
    },
    async registerProject(id, ownerOrg, regionCode = '620102') {
      await pool.query(
        `insert into projects (id, owner_org, region_code, level, record) values ($1, $2, $3, 'C', $4)
         on conflict (id) do nothing`,
        [id, ownerOrg, regionCode, JSON.stringify({ id, ownerOrg, regionCode })],
      );
    },
    async stop() {
      for (const a of apps) await a.close().catch(() => {});
      await pool.end();
      await stopDb();
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

export function hex(n = 32): string {
  return randomBytes(n).toString('hex');
}

/** A multipart body, parts in the given order; `file` parts carry bytes. */
export function multipartBody(
  parts: ({ name: string; value: string } | { name: string; filename: string; data: Buffer })[],
  boundary = `----lz${randomBytes(8).toString('hex')}`,
): { body: Buffer; contentType: string } {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    if ('data' in p) {
      chunks.push(
        Buffer.from(
          `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"; filename="${p.filename}"\r\n` +
            'Content-Type: application/octet-stream\r\n\r\n',
        ),
        p.data,
        Buffer.from('\r\n'),
      );
    } else {
      chunks.push(
        Buffer.from(
          `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"\r\n\r\n${p.value}\r\n`,
        ),
      );
    }
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}
