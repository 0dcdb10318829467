// First: sets the chaincode logger's level before anything imports the chaincode (see entry-env.ts).
import './entry-env.ts';
import cluster from 'node:cluster';
import fs from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { buildApp } from './app.ts';
import { runSupervisor } from './cluster.ts';
import { type Config, ConfigError, loadConfig } from './config.ts';
import { AppError } from './errors.ts';
import { loggerOptions } from './logger.ts';
import { withGatewayNodeFlags } from './node-flags.ts';
import { logUncaughtExceptionsWith } from './process-guards.ts';

export interface RunningServer {
  app: FastifyInstance;
  config: Config;
  url: string;
  close(): Promise<void>;
}

/** What a `sealer` process answers: the operators' routes; everything else is the `api`'s. */
const SEALER_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Limits a `sealer` to the operators' routes (404 problem+json otherwise), so that a load
 * balancer pointed at it by mistake cannot make it accept submissions beside its sealing.
 */
export function restrictToSealerRoutes(app: FastifyInstance): void {
  app.addHook('onRequest', async (request) => {
    const path = request.url.split('?', 1)[0]!;
    if (!SEALER_ROUTES.has(path)) {
      throw new AppError('NOT_FOUND', 'this gateway process is a sealer (GATEWAY_ROLE=sealer)');
    }
  });
}

/**
 * Reads the configuration, builds the app, listens, and installs graceful shutdown: on SIGINT or
 * SIGTERM the server stops accepting, lets in-flight requests (and their group commits) finish,
 * stops the pipeline, the pool and the embedded PostgreSQL, then exits. A second signal exits at once.
 * GATEWAY_ROLE decides what runs here (process-role.ts): `all` (default) everything; `api` HTTP
 * without the batcher and the anchorer; `sealer` those two and the operators' routes only.
 */
export async function startServer(
  env: Record<string, string | undefined> = process.env,
): Promise<RunningServer> {
  const config = loadConfig(env);
  // V8 reads this flag each time it sets the next full-GC limit, so setting it at start-up takes
  // effect without a command-line flag (which NODE_OPTIONS cannot carry). See config.ts.
  if (config.heapGrowingPercent > 0)
    v8.setFlagsFromString(`--heap-growing-percent=${config.heapGrowingPercent}`);
  const logger = pino(loggerOptions(config));
  const tls = config.tls ? await readTls(config.tls, logger) : undefined;
  const app = buildApp({ config, logger, tls });
  if (!app.duties.serveApi) restrictToSealerRoutes(app);
  try {
    await app.ready();
    await app.listen({ port: config.port, host: config.host });
  } catch (err) {
    logger.fatal({ err }, 'the gateway did not start');
    await app.close().catch(() => {});
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `${tls ? 'https' : 'http'}://${config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host}:${port}`;
  logger.info(
    { url, dataDir: config.dataDir, ledger: config.ledger, role: config.role },
    'gateway listening',
  );
  return { app, config, url, close: () => app.close() };
}

/**
 * The files config.tls names, read at boot: a missing or unreadable one stops the boot naming its
 * variable. The client CA is optional unless TLS_CLIENT_CA_FILE names it: by default it is the
 * local root (`lianzheng pki init`), and without it no client certificate is asked for.
 */
async function readTls(
  tls: NonNullable<Config['tls']>,
  logger: pino.Logger,
): Promise<{ key: Buffer; cert: Buffer; clientCa?: Buffer }> {
  const read = (file: string, variable: string) =>
    fs.readFile(file).catch((e: Error) => {
      throw new ConfigError(variable, `cannot read ${file}: ${e.message}`);
    });
  const cert = await read(tls.certFile, 'TLS_CERT_FILE');
  const key = await read(tls.keyFile, 'TLS_KEY_FILE');
  let clientCa: Buffer | undefined;
  if (tls.clientCaExplicit) clientCa = await read(tls.clientCaFile, 'TLS_CLIENT_CA_FILE');
  else clientCa = await fs.readFile(tls.clientCaFile).catch(() => undefined);
  logger.info(
    { clientCa: clientCa ? tls.clientCaFile : null },
    clientCa ? 'HTTPS, with client certificates chaining to the client CA' : 'HTTPS, no client certificates',
  );
  return { cert, key, ...(clientCa ? { clientCa } : {}) };
}

/**
 * On SIGINT or SIGTERM: `stop`, then exit 0 (1 if it fails or takes longer than `forceAfterMs`).
 * Ctrl-C reaches both `npm start`'s wrapper and this process, and the wrapper forwards it: one
 * keypress can arrive twice. Only a signal a second later means "exit now".
 */
function exitOnStopSignals(
  log: Pick<pino.BaseLogger, 'info' | 'warn' | 'error'>,
  message: string,
  stop: () => Promise<void>,
  forceAfterMs: number,
): void {
  let stopping = 0;
  const onSignal = async (signal: string) => {
    if (stopping && Date.now() - stopping < 1000) return;
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = Date.now();
    log.info({ signal }, message);
    const force = setTimeout(() => {
      log.error(`shutdown took longer than ${forceAfterMs / 1000} s; exiting`);
      process.exit(1);
    }, forceAfterMs);
    force.unref();
    try {
      await stop();
      process.exit(0);
    } catch (err) {
      log.error({ err }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGINT', () => void onSignal('SIGINT'));
  process.on('SIGTERM', () => void onSignal('SIGTERM'));
}

/**
 * API_WORKERS > 1 (cluster.ts): supervise a sealer and that many api processes instead of serving.
 * Stops them on SIGINT/SIGTERM; a second signal exits at once.
 */
async function supervise(config: Config): Promise<void> {
  const logger = pino(loggerOptions(config));
  logUncaughtExceptionsWith(logger);
  // The workers run this file, TypeScript: through tsx, which `npm start` loads with --import
  // but `lianzheng serve` registers in-process (scripts/lianzheng.mjs), leaving no flag to inherit.
  const inherited = process.execArgv.some((a) => a.includes('tsx'))
    ? process.execArgv
    : [...process.execArgv, '--import', 'tsx'];
  const supervisor = await runSupervisor(config, process.env, logger, {
    exec: fileURLToPath(import.meta.url),
    // Each worker the flags of its role (node-flags.ts: the sealer's young generation is larger).
    execArgv: (role) => withGatewayNodeFlags(inherited, role),
  });
  // Each worker gets 30 s to stop before it is killed, then PostgreSQL stops: allow for both.
  exitOnStopSignals(logger, 'shutting down the gateway processes', () => supervisor.stop(), 60_000);
  try {
    // false: a stop signal came while the workers were starting; the handler above finishes the
    // stop and exits 0, as it would after a full start.
    await supervisor.ready;
  } catch (err) {
    logger.fatal({ err }, 'the gateway did not start');
    await supervisor.stop();
    process.exit(1);
  }
}

/** The process entry: start, then stop cleanly on a signal. Exit codes: 0 clean, 1 failed, 2 bad config. */
export async function main(): Promise<void> {
  let server: RunningServer;
  try {
    if (cluster.isPrimary) {
      const config = loadConfig(process.env);
      if (config.apiWorkers > 1) return await supervise(config);
    }
    server = await startServer();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`lianzheng: configuration error: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`lianzheng: the gateway did not start: ${(err as Error).message}\n`);
    process.exit(1);
  }
  logUncaughtExceptionsWith(server.app.log);
  exitOnStopSignals(server.app.log, 'shutting down', () => server.close(), 30_000);
  process.on('unhandledRejection', (err) => server.app.log.error({ err }, 'unhandled rejection'));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void main();
}
