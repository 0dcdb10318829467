import type { ClusterState, EmbeddedPostgres } from './embedded-postgres.ts';

/**
 * Keeps the embedded PostgreSQL running for as long as the gateway that started (or adopted) it.
 *
 * Without it, a postmaster that died — killed, or exiting because crash recovery failed while
 * the disk was still full — stayed dead: every request answered 503 and /readyz said why, but
 * nothing brought the database back short of restarting the gateway.
 *
 * It restarts a server that *died*, not one that was *stopped*: PostgreSQL records a clean
 * shutdown in pg_control (`shut down`), so `pg_ctl stop` by an operator (a backup, a move) is
 * respected and only logged; they start it again, or restart the gateway. A death leaves
 * `in production` or `in crash recovery`, and the watchdog runs `pg_ctl start` on the same port
 * (the pools' URL names it) until it comes up, backing off while it cannot (the port taken, the
 * old backends still holding shared memory, the disk still full). PostgreSQL's own crash recovery
 * replays the WAL on that start, so every committed submission — every 202 — is still there.
 */
export interface EmbeddedPostgresWatchdog {
  /** Stops watching; waits for a restart in progress. Call before stopping the server. */
  stop(): Promise<void>;
  /** Restarts made since the watchdog began (for logs and tests). */
  readonly restarts: number;
}

export interface WatchdogLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface WatchdogOptions {
  log: WatchdogLog;
  /** How often to look at the postmaster (ms). Reading its pid file is all a look costs. */
  intervalMs?: number;
  /** The longest wait between two failed restarts (ms); the wait doubles from intervalMs. */
  maxBackoffMs?: number;
  /** Called after each successful restart (a metric for operators to alert on). */
  onRestart?: () => void;
}

/** pg_ctl's words and the end of the server's log (its reason) on one line. */
function brief(message: string): string {
  const lines = message.split('\n').filter((l) => l.trim() !== '');
  return (lines.length > 8 ? [...lines.slice(0, 3), '…', ...lines.slice(-4)] : lines).join(' | ');
}

type Server = Pick<EmbeddedPostgres, 'running' | 'clusterState' | 'start' | 'port'>;

const CLEAN: ReadonlySet<ClusterState> = new Set(['shut down', 'shut down in recovery']);

export function watchEmbeddedPostgres(server: Server, options: WatchdogOptions): EmbeddedPostgresWatchdog {
  const { log } = options;
  const intervalMs = options.intervalMs ?? 1000;
  const maxBackoffMs = options.maxBackoffMs ?? 30_000;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> = Promise.resolve();
  let restarts = 0;
  let backoffMs = intervalMs;
  let failedAttempts = 0;
  /** What was last reported, so a lasting condition is logged once, not every second. */
  let reported: 'running' | 'stopped' | 'dead' = 'running';

  const schedule = (ms: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      inFlight = look().catch((err: Error) => {
        log.error({ component: 'embedded-postgres', reason: err.message }, 'could not check PostgreSQL');
      });
      inFlight.finally(() => schedule(backoffMs));
    }, ms);
    // Never the reason the process stays up.
    timer.unref();
  };

  const look = async () => {
    if (await server.running()) {
      if (reported !== 'running') {
        log.info({ component: 'embedded-postgres', port: server.port }, 'PostgreSQL is running again');
      }
      reported = 'running';
      backoffMs = intervalMs;
      failedAttempts = 0;
      return;
    }
    if (stopped) return;
    const state = await server.clusterState().catch(() => 'unknown' as const);
    if (CLEAN.has(state)) {
      if (reported !== 'stopped') {
        log.warn(
          { component: 'embedded-postgres', state },
          'PostgreSQL was shut down cleanly by someone else; it is left stopped (start it, or restart the gateway)',
        );
      }
      reported = 'stopped';
      backoffMs = intervalMs;
      return;
    }
    if (reported !== 'dead') {
      log.error(
        { component: 'embedded-postgres', state },
        'PostgreSQL is not running and was not shut down cleanly; restarting it',
      );
    }
    reported = 'dead';
    try {
      await server.start();
      restarts += 1;
      options.onRestart?.();
      failedAttempts = 0;
      backoffMs = intervalMs;
      reported = 'running';
      // warn, not info: the operator should hear of it even at LOG_LEVEL=warn.
      log.warn({ component: 'embedded-postgres', port: server.port, restarts }, 'PostgreSQL restarted');
    } catch (err) {
      failedAttempts += 1;
      backoffMs = Math.min(backoffMs * 2, maxBackoffMs);
      log.error(
        {
          component: 'embedded-postgres',
          attempt: failedAttempts,
          retryInMs: backoffMs,
          reason: brief((err as Error).message),
        },
        'PostgreSQL did not restart; trying again',
      );
    }
  };

  schedule(intervalMs);
  return {
    get restarts() {
      return restarts;
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await inFlight;
    },
  };
}
