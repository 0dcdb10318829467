import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type pg from 'pg';
import { Histogram, type Registry } from 'prom-client';
import { createLedger, routeFabricSdkLogs } from '../ledger/index.ts';
import { type Ledger, LedgerError } from '../ledger/ledger.ts';
import { LogStore } from '../log/log-store.ts';
import { BundleBuilder, digestLookups, type SubmissionRow } from '../read/bundle.ts';
import evidenceReadRoutes from '../routes/evidence-read/index.ts';
import evidencePackageRoutes from '../routes/evidence-read/package.ts';
import keysRoutes from '../routes/keys/index.ts';
import ledgerRoutes from '../routes/ledger/index.ts';
import logRoutes from '../routes/log/index.ts';
import projectExportRoutes from '../routes/projects/exports.ts';
import projectRoutes from '../routes/projects/index.ts';
import projectReportRoutes from '../routes/projects/report.ts';
import verifyRoutes from '../routes/verify/index.ts';
import workspaceRoutes from '../routes/workspace/index.ts';
import { Batcher } from './batcher.ts';
import { GuardedLedger } from './guarded-ledger.ts';

export interface Pipeline {
  /** The ledger; its `ready()` also fails while sealing is halted (readiness). */
  ledger: Ledger;
  batcher: Batcher;
  log: LogStore;
  bundles: BundleBuilder;
  /** The submissions of a digest, looked up together with the other lookups of the moment. */
  digests: { load(sha256: string): Promise<SubmissionRow[]> };
}

declare module 'fastify' {
  interface FastifyInstance {
    pipeline: Pipeline;
  }
}

export interface PipelineOptions {
  /** A ledger to use instead of the configured one (tests). */
  ledger?: Ledger;
  /** The MSP-like organisation id the gateway writes to the ledger as. */
  mspId?: string;
  /** Start the seal loop when the app is ready (default: unless `config.role` is `api`). */
  startBatcher?: boolean;
}

/** The PostgreSQL channel an `api` process notifies after each group commit (payload: rows). */
export const ACCEPTED_CHANNEL = 'lianzheng_accepted';

/**
 * An `api` process's view of the ledger's health: it seals nothing itself, so it judges the
 * sealer by its traces in the database — a batch sealed but not recorded, or an accepted
 * submission not sealed, for longer than `stallMs`, means no sealer is getting anywhere (stopped,
 * halted on a root mismatch, or cut off from the ledger). The reason itself is on the sealer's
 * own /readyz.
 */
export class SealerWatchLedger extends GuardedLedger {
  constructor(
    inner: Ledger,
    private readonly db: pg.Pool,
    private readonly stallMs: number,
  ) {
    super(inner, () => ({ ok: true }));
  }

  override async ready(): Promise<void> {
    await super.ready();
    const { rows } = await this.db.query<{ sealed: string | null; accepted: string | null }>(
      `select (select extract(epoch from now() - min(sealed_at)) * 1000
                 from ledger_batches where status = 'sealed') as sealed,
              (select extract(epoch from now() - accepted_at) * 1000
                 from seal_queue q join submissions s on s.seq = q.seq
                order by q.seq limit 1) as accepted`,
    );
    const sealed = Number(rows[0]?.sealed ?? 0);
    const accepted = Number(rows[0]?.accepted ?? 0);
    if (sealed > this.stallMs) {
      throw new LedgerError(
        'SEALER_STALLED',
        `a sealed batch has waited ${Math.round(sealed / 1000)} s for the ledger (see the sealer's /readyz)`,
      );
    }
    if (accepted > this.stallMs) {
      throw new LedgerError(
        'SEALER_STALLED',
        `the oldest accepted submission has waited ${Math.round(accepted / 1000)} s to be sealed: is a sealer running?`,
      );
    }
  }
}

/** At most one NOTIFY per this many ms: the sealer seals on its interval anyway (500 ms). */
const NOTIFY_EVERY_MS = 100;

/**
 * Wakes sealers in other processes after group commits with NOTIFY. The first commit after a
 * quiet spell is announced at once; commits within the next NOTIFY_EVERY_MS are summed into one
 * (a busy api commits ~100 times a second, and each NOTIFY is a round trip on a pool connection
 * the group commits also need). Best effort: a lost notification only means the sealer finds the
 * rows at its interval.
 */
function notifier(db: pg.Pool, log: FastifyInstance['log']): (rows: number) => void {
  let pending = 0;
  let scheduled = false;
  let lastSent = 0;
  const send = async () => {
    const rows = pending;
    pending = 0;
    lastSent = Date.now();
    try {
      await db.query('select pg_notify($1, $2)', [ACCEPTED_CHANNEL, String(rows)]);
    } catch (err) {
      log.debug({ err }, 'no NOTIFY after a group commit; the sealer finds the rows at its interval');
    } finally {
      scheduled = false;
      if (pending > 0) schedule();
    }
  };
  const schedule = () => {
    scheduled = true;
    const wait = lastSent + NOTIFY_EVERY_MS - Date.now();
    if (wait <= 0) void send();
    else setTimeout(() => void send(), wait).unref();
  };
  return (rows) => {
    pending += rows;
    if (!scheduled) schedule();
  };
}

/**
 * A sealer's LISTEN on `ACCEPTED_CHANNEL`, on a connection of its own (a pool client held for
 * good), re-established with backoff when it breaks. Until then the batcher seals on its interval.
 */
function listener(
  db: pg.Pool,
  onAccepted: (rows: number) => void,
  log: FastifyInstance['log'],
): { stop(): Promise<void> } {
  let client: pg.PoolClient | undefined;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;
  let delay = 500;
  const onNotification = (msg: pg.Notification) => {
    if (msg.channel === ACCEPTED_CHANNEL) onAccepted(Number(msg.payload) || 1);
  };
  const drop = (c: pg.PoolClient, err?: Error) => {
    c.off('notification', onNotification);
    c.release(err ?? true);
    if (client === c) client = undefined;
  };
  const connect = async () => {
    if (stopped) return;
    let c: pg.PoolClient | undefined;
    try {
      c = await db.connect();
      const current = c;
      current.on('error', (err: Error) => {
        log.warn({ err }, 'the LISTEN connection broke; sealing on the interval until it is back');
        drop(current, err);
        schedule();
      });
      current.on('notification', onNotification);
      await current.query(`listen ${ACCEPTED_CHANNEL}`);
      if (stopped) return drop(current);
      client = current;
      delay = 500;
    } catch (err) {
      if (c) drop(c, err as Error);
      log.warn({ err }, 'cannot LISTEN for accepted submissions yet; sealing on the interval');
      schedule();
    }
  };
  const schedule = () => {
    if (stopped || retry) return;
    retry = setTimeout(() => {
      retry = undefined;
      void connect();
    }, delay);
    retry.unref();
    delay = Math.min(delay * 2, 10_000);
  };
  void connect();
  return {
    async stop() {
      stopped = true;
      if (retry) clearTimeout(retry);
      const c = client;
      if (!c) return;
      client = undefined;
      await c.query(`unlisten ${ACCEPTED_CHANNEL}`).catch(() => {});
      drop(c);
    },
  };
}

function pipelineLedger(app: FastifyInstance, options: PipelineOptions): Ledger {
  if (options.ledger) return options.ledger;
  const configured = (app.config as { ledgerMspId?: string }).ledgerMspId;
  const mspId = options.mspId ?? configured;
  const log = app.log.child({ component: 'ledger' });
  if (app.config.ledger === 'fabric') routeFabricSdkLogs((level, msg) => log.debug({ sdk: level }, msg));
  return createLedger(app.config, app.db, {
    ...(mspId ? { mspId } : {}),
    onRetry: (info) => log.warn(info, 'ledger transaction retried'),
  });
}

/**
 * The pipeline: the Merkle log, the batcher that seals accepted submissions and records them on
 * the ledger, proof bundles, and the read routes (evidence, verify, projects, log, keys, ledger).
 */
async function pipelinePlugin(app: FastifyInstance, options: PipelineOptions): Promise<void> {
  const inner = pipelineLedger(app, options);
  const registry = (app as { metrics?: Registry }).metrics;
  // How well concurrent reads are gathered: keys per query of each coalesced read.
  const readKeys = registry
    ? new Histogram({
        name: 'lianzheng_read_batch_keys',
        help: 'Keys per coalesced read query: verify lookups by digest, proof subtree hashes',
        labelNames: ['read'] as const,
        buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096],
        registers: [registry],
      })
    : undefined;
  const log = new LogStore(app.db, { onSubtreeRead: (keys) => readKeys?.observe({ read: 'subtree' }, keys) });
  const digests = digestLookups(app.db, { onBatch: (keys) => readKeys?.observe({ read: 'digest' }, keys) });
  const role = app.config.role ?? 'all';
  const sealing = options.startBatcher ?? role !== 'api';
  let batcher: Batcher | undefined;
  // Readiness: a process with the batcher knows its health (also when tests drive it by hand);
  // an `api` process asks the database.
  const ledger =
    role === 'api'
      ? new SealerWatchLedger(inner, app.db, app.config.sealerStallMs ?? 60_000)
      : new GuardedLedger(inner, () => batcher?.health() ?? { ok: true });
  batcher = new Batcher(app.db, log, inner, {
    intervalMs: app.config.sealIntervalMs,
    maxItems: app.config.sealMaxItems,
    origin: app.config.logOrigin,
    signer: app.keys.checkpointSigners(),
    registry,
    logger: app.log.child({ component: 'batcher' }),
    ...(app.timestamps ? { timestamp: app.timestamps.tokenFor } : {}),
  });
  // With the TSA on, bundles carry the RFC 3161 token made for their checkpoint.
  const bundles = new BundleBuilder(log, inner.info, { timestamps: Boolean(app.timestamps) });
  app.decorate('pipeline', { ledger, batcher, log, bundles, digests });

  const intake = (app as { intake?: { onCommitted(fn: (rows: number) => void): void } }).intake;
  const seal = batcher;
  if (role === 'api') intake?.onCommitted(notifier(app.db, app.log));
  else intake?.onCommitted((rows) => seal.notifyAccepted(rows));
  let listening: { stop(): Promise<void> } | undefined;

  await app.register(evidenceReadRoutes);
  await app.register(evidencePackageRoutes);
  await app.register(verifyRoutes);
  await app.register(projectRoutes);
  await app.register(projectExportRoutes);
  await app.register(workspaceRoutes);
  await app.register(projectReportRoutes);
  await app.register(logRoutes);
  await app.register(keysRoutes);
  await app.register(ledgerRoutes);

  app.addHook('onReady', async () => {
    await inner.ready();
    if (!sealing) return;
    seal.start();
    // A separate `api` process accepts the submissions: its NOTIFY wakes this batcher.
    if (role === 'sealer') {
      listening = listener(
        app.db,
        (rows) => seal.notifyAccepted(rows),
        app.log.child({ component: 'batcher' }),
      );
    }
  });
  app.addHook('onClose', async () => {
    await listening?.stop();
    await seal.stop();
    await inner.close();
  });
}

export default fp(pipelinePlugin, {
  name: 'pipeline',
  dependencies: ['config', 'db', 'keys', 'auth'],
  // 'timestamps' is optional: when registered (before this plugin) checkpoints get RFC 3161 tokens.
  fastify: '5.x',
});
