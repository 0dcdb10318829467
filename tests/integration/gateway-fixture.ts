// What the project-level integration tests share: the whole gateway app on a fresh real PostgreSQL
// (pipeline-support.ts), development tokens its own dev issuer signs, and a project registered
// with records submitted and recorded. Not a test file itself.

import { randomBytes } from 'node:crypto';
import { sha256, toHex } from '@lianzheng/proof';
import type { FastifyInstance } from 'fastify';
import { expect } from 'vitest';
import { type BuildAppOptions, buildApp } from '../../gateway/src/app.ts';
import { issueDevToken, loadDevIssuerKey } from '../../gateway/src/auth/dev-issuer.ts';
import { type Config, testConfig } from '../../gateway/src/config.ts';
import { startTestDatabase, type TestDatabase } from './pipeline-support.ts';

/** A development token's claims; the audience is always the app's own. */
export type DevClaims = Omit<Parameters<typeof issueDevToken>[1], 'audience'>;

export interface GatewayFixture {
  db: TestDatabase;
  config: Config;
  app: FastifyInstance;
  /** A token the app accepts, from its own development issuer. */
  token(claims: DevClaims): Promise<string>;
  /** The same token as an Authorization header. */
  bearer(claims: DevClaims): Promise<Record<string, string>>;
}

/**
 * The app on a fresh database, ready (not listening), sealing batches every 20 ms so tests wait
 * little for records; `config` overrides more settings, `logger` is buildApp's. The database is
 * stopped again when the app fails to start.
 */
export async function startGatewayFixture(
  options: { config?: Partial<Config>; logger?: BuildAppOptions['logger'] } = {},
): Promise<GatewayFixture> {
  const db = await startTestDatabase();
  try {
    const config = testConfig({ sealIntervalMs: 20, ...options.config, dataDir: db.dir });
    const app = buildApp({
      config,
      db: db.pool,
      ...(options.logger !== undefined ? { logger: options.logger } : {}),
    });
    await app.ready();
    const key = await loadDevIssuerKey(config.keysDir);
    const audience = config.oidc.audience;
    const token = (claims: DevClaims) => issueDevToken(key, { ...claims, audience });
    return {
      db,
      config,
      app,
      token,
      bearer: async (claims) => ({ authorization: `Bearer ${await token(claims)}` }),
    };
  } catch (e) {
    await db.stop();
    throw e;
  }
}

/** A fresh random SHA-256, for a record whose document's bytes do not matter. */
export const randomDigest = () => toHex(sha256(randomBytes(16)));

/**
 * Registers `project` as `headers` (its owner), submits the records in order — a random digest
 * unless one is given — and waits until all of them are recorded. Returns their ids by name.
 */
export async function seedProject(
  app: FastifyInstance,
  headers: Record<string, string>,
  project: { id: string },
  records: Record<string, Record<string, unknown>>,
): Promise<Record<string, string>> {
  const reg = await app.inject({ method: 'POST', url: '/v1/projects', headers, payload: project });
  expect(reg.statusCode, reg.body).toBe(201);
  const ids: Record<string, string> = {};
  for (const [name, record] of Object.entries(records)) {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/evidence',
      headers,
      payload: { sha256: randomDigest(), projectId: project.id, ...record },
    });
    expect(res.statusCode, res.body).toBe(202);
    ids[name] = res.json().id;
  }
  await app.pipeline.batcher.waitForRecorded(Object.keys(records).length);
  return ids;
}
