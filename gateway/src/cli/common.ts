import { ConfigError, loadConfig } from '../config.ts';
import { createPool, embeddedPostgresDir } from '../storage/db-plugin.ts';
import { startEmbeddedPostgres } from '../storage/embedded-postgres.ts';
import { runMigrations } from '../storage/migrate.ts';

// What every `lianzheng` command shares: exit codes, the error that carries one, where output
// goes, the configuration, and the database.

/** Exit codes a script can rely on. */
export const EXIT = {
  OK: 0,
  /** `verify`: a check failed, or the digest is not notarised; `restore`: a damaged backup, or
   * differences found by the audit after it. */
  VERIFICATION_FAILED: 1,
  USAGE: 2,
  /** The gateway could not be reached or answered 5xx. */
  NETWORK: 3,
  /** The gateway refused the request (4xx problem). */
  REFUSED: 4,
  /** `verify`: genuine evidence of a withdrawn record (no record of the digest still stands). */
  WITHDRAWN: 5,
  /** `verify`: genuine evidence of a superseded record (no record of the digest still stands). */
  SUPERSEDED: 6,
  /** `verify --trust`: the gateway publishes a key the pinned trust file does not name. */
  TRUST_MISMATCH: 7,
} as const;

/** Ends a command with `exitCode` and a message for the user. */
export class CliError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

export type Out = { log(s: string): void; error(s: string): void };
export const defaultOut: Out = {
  log: (s) => process.stdout.write(`${s}\n`),
  error: (s) => process.stderr.write(`${s}\n`),
};

export function loadCliConfig(env: Record<string, string | undefined>) {
  try {
    return loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(EXIT.USAGE, `configuration error: ${e.message}`);
    throw e;
  }
}

/** A pool on DATABASE_URL or the embedded PostgreSQL (started, or adopted when the gateway runs it). */
export async function withDatabase<T>(
  env: Record<string, string | undefined>,
  fn: (pool: import('pg').Pool) => Promise<T>,
  { migrate = true }: { migrate?: boolean } = {},
) {
  const config = loadCliConfig(env);
  let stop: (() => Promise<void>) | undefined;
  let url = config.databaseUrl;
  if (!url) {
    const pgServer = await startEmbeddedPostgres({ dir: embeddedPostgresDir(config) });
    url = pgServer.url;
    if (!pgServer.adopted) stop = () => pgServer.stop();
  }
  const pool = createPool(url, config);
  try {
    if (migrate) await runMigrations(pool);
    return await fn(pool);
  } finally {
    await pool.end();
    await stop?.();
  }
}
