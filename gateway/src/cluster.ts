// API_WORKERS > 1: one Node process serves HTTP on one core, so a machine with more cores runs
// the gateway as several processes. This module is both halves of that arrangement:
//
// - the supervisor (`runSupervisor`, the process `npm start` runs): it starts the embedded
//   PostgreSQL when DATABASE_URL is unset, then one `GATEWAY_ROLE=sealer` process (it migrates,
//   makes the keys, and runs the batcher and the anchorer, as in the two-process split), then
//   API_WORKERS `GATEWAY_ROLE=api` processes that share PORT through node:cluster, which hands
//   each new connection to the next worker in turn. It restarts a worker that dies, stops them
//   all on SIGINT/SIGTERM (api workers first, so nothing is accepted that the sealer will not
//   see), then stops PostgreSQL. It serves nothing itself;
// - the workers' side of `/metrics` (`clusterMetricsText`): each process has its own registry,
//   so a worker asks the supervisor, which collects every process's metrics (prom-client's
//   AggregatorRegistry) and answers with the sum.
//
// Known limit of node:cluster: a connection the primary hands to a worker in the instant that
// worker dies (before its exit is seen) waits until the client gives up; connections made after
// go to the surviving workers (tests/e2e/gateway-api-workers.test.ts).
//
// What is per process, and therefore per worker: the group commit (each worker commits its own
// requests), the caches (bundles, hot verify answers), and the public rate limit, which is kept
// in memory; the supervisor gives each worker RATE_LIMIT_PUBLIC_PER_MIN / API_WORKERS (and the
// same share of TSA_RATE_LIMIT_PER_MIN and AUTH_FAILURES_PER_MIN; rounded up), so an address never gets more than the
// configured limit in all, however its connections are spread.
import cluster, { type Worker } from 'node:cluster';
import os from 'node:os';
import type pino from 'pino';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { Config } from './config.ts';
import { embeddedPostgresDir } from './storage/db-plugin.ts';
import { type EmbeddedPostgres, startEmbeddedPostgres } from './storage/embedded-postgres.ts';
import {
  type EmbeddedPostgresWatchdog,
  watchEmbeddedPostgres,
} from './storage/embedded-postgres-watchdog.ts';

const METRICS_REQUEST = 'lianzheng:metrics-request';
const METRICS_RESPONSE = 'lianzheng:metrics-response';

/** A worker dying sooner than this after its start counts as a crash loop: back off. */
const QUICK_DEATH_MS = 10_000;
const MAX_BACKOFF_MS = 30_000;
const STOP_TIMEOUT_MS = 30_000;

type Role = 'sealer' | 'api';

interface WorkerSlot {
  role: Role;
  worker?: Worker;
  startedAt: number;
  backoffMs: number;
}

export interface Supervisor {
  /**
   * Resolves true once every worker listens, false if stop() was called first (a SIGTERM while
   * starting is a stop, not a failed start); rejects if the sealer or a worker fails to start.
   */
  ready: Promise<boolean>;
  /** Stops the workers (api first), then the embedded PostgreSQL. */
  stop(): Promise<void>;
}

/**
 * Starts the supervised gateway described in this module's header. `entry` is the script the
 * workers run (server.ts); `execArgv` a worker's Node flags by its role (`--import tsx`, node-flags.ts).
 */
export async function runSupervisor(
  config: Config,
  env: Record<string, string | undefined>,
  log: pino.Logger,
  entry: { exec: string; execArgv: (role: Role) => string[] },
): Promise<Supervisor> {
  let embedded: EmbeddedPostgres | undefined;
  let watchdog: EmbeddedPostgresWatchdog | undefined;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    embedded = await startEmbeddedPostgres({
      dir: embeddedPostgresDir(config),
      log: (msg) => log.info({ component: 'embedded-postgres' }, msg),
    });
    databaseUrl = embedded.url;
    watchdog = watchEmbeddedPostgres(embedded, { log });
  }
  cluster.setupPrimary({ exec: entry.exec, silent: false });
  // Every worker's own metrics, summed on request (see clusterMetricsText).
  const aggregator = new AggregatorRegistry();
  const share = (perMin: number) => String(Math.ceil(perMin / config.apiWorkers));
  const baseEnv = { ...env, DATABASE_URL: databaseUrl, API_WORKERS: '1' };
  const envOf = (role: Role): Record<string, string | undefined> =>
    role === 'sealer'
      ? { ...baseEnv, GATEWAY_ROLE: 'sealer', HOST: '127.0.0.1', PORT: String(config.sealerPort) }
      : {
          ...baseEnv,
          GATEWAY_ROLE: 'api',
          RATE_LIMIT_PUBLIC_PER_MIN: share(config.rateLimitPublicPerMin),
          TSA_RATE_LIMIT_PER_MIN: share(config.tsa.rateLimitPerMin),
          AUTH_FAILURES_PER_MIN: share(config.authFailuresPerMin),
        };

  let stopping = false;
  const slots: WorkerSlot[] = [
    { role: 'sealer', startedAt: 0, backoffMs: 1000 },
    ...Array.from({ length: config.apiWorkers }, () => ({
      role: 'api' as const,
      startedAt: 0,
      backoffMs: 1000,
    })),
  ];

  const fork = (slot: WorkerSlot): Worker => {
    slot.startedAt = Date.now();
    // The settings apply to the next fork: this worker's flags are its role's.
    cluster.setupPrimary({ execArgv: entry.execArgv(slot.role) });
    const worker = cluster.fork(envOf(slot.role));
    slot.worker = worker;
    if (slot.role === 'api' && config.apiWorkersNice > 0) {
      // Sealing before accepting when the cores are short (see Config.apiWorkersNice).
      worker.once('online', () => {
        try {
          os.setPriority(
            worker.process.pid!,
            Math.min(19, os.getPriority(process.pid) + config.apiWorkersNice),
          );
        } catch (err) {
          log.warn({ reason: (err as Error).message }, 'could not lower the api process priority');
        }
      });
    }
    worker.on('message', (message: { type?: string; id?: number }) => {
      if (message?.type !== METRICS_REQUEST) return;
      aggregator.clusterMetrics().then(
        (text) => worker.send({ type: METRICS_RESPONSE, id: message.id, text }),
        (err: Error) => worker.send({ type: METRICS_RESPONSE, id: message.id, error: err.message }),
      );
    });
    worker.on('exit', (code, signal) => {
      if (slot.worker === worker) slot.worker = undefined;
      if (stopping) return;
      const quick = Date.now() - slot.startedAt < QUICK_DEATH_MS;
      slot.backoffMs = quick ? Math.min(slot.backoffMs * 2, MAX_BACKOFF_MS) : 1000;
      log.error(
        { role: slot.role, workerPid: worker.process.pid, code, signal, restartInMs: slot.backoffMs },
        'gateway worker exited; restarting it',
      );
      setTimeout(() => {
        if (!stopping) fork(slot);
      }, slot.backoffMs).unref();
    });
    return worker;
  };

  /** The port the slot's new worker listens on, or undefined if it was stopped before it did. */
  const listening = (slot: WorkerSlot): Promise<number | undefined> =>
    new Promise((resolve, reject) => {
      const worker = fork(slot);
      worker.once('listening', (address) => resolve(address.port));
      worker.once('exit', (code, signal) => {
        if (stopping) return resolve(undefined);
        reject(new Error(`the ${slot.role} process exited (${signal ?? code}) before it listened`));
      });
    });

  const stop = async (): Promise<void> => {
    stopping = true;
    const stopRole = async (role: Role) => {
      const workers = slots.filter((s) => s.role === role && s.worker).map((s) => s.worker!);
      await Promise.all(
        workers.map(
          (worker) =>
            new Promise<void>((resolve) => {
              if (worker.isDead()) return resolve();
              const force = setTimeout(() => worker.process.kill('SIGKILL'), STOP_TIMEOUT_MS);
              worker.once('exit', () => {
                clearTimeout(force);
                resolve();
              });
              worker.process.kill('SIGTERM');
            }),
        ),
      );
    };
    await stopRole('api');
    await stopRole('sealer');
    await watchdog?.stop();
    await embedded?.stop();
  };

  const ready = (async () => {
    // The sealer first: it runs the migrations and creates the keys the api workers load.
    const sealerPort = await listening(slots[0]!);
    if (sealerPort === undefined || stopping) return false;
    const ports = await Promise.all(slots.slice(1).map(listening));
    if (stopping || ports.some((p) => p === undefined)) return false;
    const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
    const scheme = config.tls ? 'https' : 'http';
    const url = `${scheme}://${host}:${ports[0]}`;
    log.info(
      {
        url,
        apiWorkers: config.apiWorkers,
        sealer: `${scheme}://127.0.0.1:${sealerPort}`,
        role: 'supervisor',
      },
      'gateway listening',
    );
    return true;
  })();
  ready.catch(() => {});
  return { ready, stop };
}

let nextRequest = 0;
let listeningForReplies = false;
const pending = new Map<number, (reply: { text?: string; error?: string }) => void>();

/**
 * A worker's `/metrics`: the whole gateway's metrics, summed by the supervisor over every process.
 * If the supervisor does not answer, this process's own metrics, with a comment saying so.
 */
export async function clusterMetricsText(local: Registry, timeoutMs = 5000): Promise<string> {
  if (!cluster.isWorker || !process.send) return local.metrics();
  if (!listeningForReplies) {
    listeningForReplies = true;
    process.on('message', (message: { type?: string; id?: number; text?: string; error?: string }) => {
      if (message?.type !== METRICS_RESPONSE || message.id === undefined) return;
      pending.get(message.id)?.(message);
    });
  }
  const id = ++nextRequest;
  const reply = await new Promise<{ text?: string; error?: string }>((resolve) => {
    const timer = setTimeout(() => resolve({ error: 'the supervisor did not answer' }), timeoutMs);
    pending.set(id, (r) => {
      clearTimeout(timer);
      resolve(r);
    });
    process.send!({ type: METRICS_REQUEST, id });
  });
  pending.delete(id);
  if (reply.text !== undefined) return reply.text;
  return `# lianzheng: metrics of this worker (pid ${process.pid}) only: ${reply.error}\n${await local.metrics()}`;
}

/**
 * In a supervised worker: makes this process's registry the one the supervisor collects (by
 * default prom-client would answer with its global registry, which the gateway does not use).
 */
export function shareMetricsWithSupervisor(local: Registry): void {
  if (!cluster.isWorker) return;
  // prom-client installs a worker's answering listener when an AggregatorRegistry is made (once).
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([local]);
}
