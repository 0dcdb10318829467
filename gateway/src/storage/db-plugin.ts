import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import pg from 'pg';
import { Counter } from 'prom-client';
import type { Config } from '../config.ts';
import { type EmbeddedPostgres, startEmbeddedPostgres } from './embedded-postgres.ts';
import { type EmbeddedPostgresWatchdog, watchEmbeddedPostgres } from './embedded-postgres-watchdog.ts';
import { runMigrations } from './migrate.ts';

declare module 'fastify' {
  interface FastifyInstance {
    db: pg.Pool;
  }
}

export interface DbPluginOptions {
  /** Use this pool (tests); it is not ended when the app closes. */
  pool?: pg.Pool;
  /** Skip migrations (unit tests with a fake pool). */
  migrate?: boolean;
}

/**
 * A pool with the settings the gateway relies on: bounded waits, errors logged not thrown.
 * `service` marks the gateway's own pool, whose queries are all point lookups and small batches:
 * it never uses parallel query. When a table has grown faster than autovacuum re-analyses it, the
 * planner's row estimates for a digest lookup run into the thousands and it starts parallel
 * workers for a query that reads two rows — measured at 4.8 ms a lookup instead of ~0.3 ms with
 * 90,000 fresh submissions. The CLI's audit keeps parallel scans for its whole-table reads.
 */
export function createPool(
  url: string,
  config: Config,
  log?: (err: Error) => void,
  { service = false }: { service?: boolean } = {},
): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    idleTimeoutMillis: 30_000,
    // A database that is down must turn into a quick 503, not a hung request.
    connectionTimeoutMillis: Math.min(config.requestTimeoutMs, 5000),
    application_name: 'lianzheng-gateway',
    ...(service ? { options: '-c max_parallel_workers_per_gather=0' } : {}),
  });
  // An idle client losing its connection (database restarted) must not crash the process.
  pool.on('error', (err) => log?.(err));
  // Nor a checked-out one: pg emits a lost connection as an 'error' event on the client too, and
  // pg-pool listens only while the client is idle. Whoever holds it learns of the loss from the
  // query it had running (or its next one), and pg-pool drops the client when it comes back
  // unqueryable, so there is nothing to do here but keep the event from being unhandled — which
  // would throw it at the process (seen when PostgreSQL was killed under an embedded-ledger
  // transaction).
  pool.on('connect', (client) => client.on('error', ignoreHandledElsewhere));
  return pool;
}

function ignoreHandledElsewhere(): void {}

/** Where the embedded PostgreSQL keeps its files under DATA_DIR. */
export function embeddedPostgresDir(config: Config): string {
  return path.join(config.dataDir, 'pg');
}

/**
 * `app.db`: a pg Pool on DATABASE_URL, or on a PostgreSQL of our own under DATA_DIR/pg when
 * DATABASE_URL is unset. Migrations run before the app is ready.
 */
async function dbPlugin(app: FastifyInstance, opts: DbPluginOptions): Promise<void> {
  const config = app.config;
  let embedded: EmbeddedPostgres | undefined;
  let watchdog: EmbeddedPostgresWatchdog | undefined;
  let closing = false;
  let pool = opts.pool;
  if (!pool) {
    let url = config.databaseUrl;
    if (!url) {
      embedded = await startEmbeddedPostgres({
        dir: embeddedPostgresDir(config),
        log: (msg) => app.log.info({ component: 'embedded-postgres' }, msg),
      });
      url = embedded.url;
      // In the app's registry when there is one (the metrics plugin comes first in app.ts).
      const restarts = app.hasDecorator('metrics')
        ? new Counter({
            name: 'embedded_postgres_restarts_total',
            help: 'Times the gateway restarted its embedded PostgreSQL after it died',
            registers: [app.metrics],
          })
        : undefined;
      watchdog = watchEmbeddedPostgres(embedded, { log: app.log, onRestart: () => restarts?.inc() });
    }
    pool = createPool(
      url,
      config,
      (err) => {
        if (!closing)
          app.log.warn(
            { code: (err as { code?: string }).code, reason: err.message },
            'idle database client error',
          );
      },
      { service: true },
    );
  }
  const owned = !opts.pool;
  app.decorate('db', pool);
  if (opts.migrate !== false) {
    await runMigrations(pool, { log: (msg) => app.log.info({ component: 'migrations' }, msg) });
  }
  app.addHook('onClose', async () => {
    closing = true;
    await watchdog?.stop();
    if (owned) await pool.end();
    await embedded?.stop();
  });
}

export default fp(dbPlugin, { name: 'db', dependencies: ['config'], fastify: '5.x' });
