import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Histogram, type Registry } from 'prom-client';
import { digestLookups, type SubmissionRow } from '../intake/submission-store.ts';
import { createLedger, routeFabricSdkLogs } from '../ledger/index.ts';
import type { Ledger } from '../ledger/ledger.ts';
import { LogStore } from '../log/log-store.ts';
import { BundleBuilder } from '../read/bundle.ts';
import { runWorker } from '../worker.ts';
import { Batcher } from './batcher.ts';
import { GuardedLedger } from './guarded-ledger.ts';
import { SealerWatchLedger } from './sealer-watch.ts';
import { listener, notifier } from './wake.ts';

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

function pipelineLedger(app: FastifyInstance): Ledger {
  const mspId = (app.config as { ledgerMspId?: string }).ledgerMspId;
  const log = app.log.child({ component: 'ledger' });
  if (app.config.ledger === 'fabric') routeFabricSdkLogs((level, msg) => log.debug({ sdk: level }, msg));
  return createLedger(app.config, app.db, {
    ...(mspId ? { mspId } : {}),
    thread: app.duties.seal && app.config.ledgerThread,
    onRetry: (info) => log.warn(info, 'ledger transaction retried'),
  });
}

/** How well concurrent reads are gathered: keys per query of each coalesced read. */
function readBatchHistogram(registry: Registry | undefined) {
  return registry
    ? new Histogram({
        name: 'lianzheng_read_batch_keys',
        help: 'Keys per coalesced read query: verify lookups by digest, proof subtree hashes',
        labelNames: ['read'] as const,
        buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096],
        registers: [registry],
      })
    : undefined;
}

/**
 * The pipeline, built: the ledger, the Merkle log, the batcher that seals accepted submissions
 * and records them on the ledger, and the proof bundles the read routes serve. It registers no
 * route (routes/index.ts does). Where this process seals (`app.duties.seal`) the batcher runs from
 * onReady to onClose and intake wakes it; elsewhere intake wakes the sealers in other processes.
 */
async function pipelinePlugin(app: FastifyInstance): Promise<void> {
  const { duties } = app;
  const inner = pipelineLedger(app);
  const registry = (app as { metrics?: Registry }).metrics;
  const readKeys = readBatchHistogram(registry);
  const log = new LogStore(app.db, { onSubtreeRead: (keys) => readKeys?.observe({ read: 'subtree' }, keys) });
  const digests = digestLookups(app.db, { onBatch: (keys) => readKeys?.observe({ read: 'digest' }, keys) });
  const batcher = new Batcher(app.db, log, inner, {
    intervalMs: app.config.sealIntervalMs,
    maxItems: app.config.sealMaxItems,
    pipeline: app.config.sealPipeline,
    origin: app.config.logOrigin,
    signer: app.keys.checkpointSigners(),
    registry,
    logger: app.log.child({ component: 'batcher' }),
    ...(app.timestamps ? { timestamp: app.timestamps.tokenFor } : {}),
  });
  // Readiness: a process with the batcher knows its health (also when tests drive it by hand);
  // an `api` process asks the database.
  const ledger = duties.watchSealers
    ? new SealerWatchLedger(inner, app.db, app.config.sealerStallMs ?? 60_000)
    : new GuardedLedger(inner, () => batcher.health());
  // With the TSA on, bundles carry the RFC 3161 token made for their checkpoint.
  const bundles = new BundleBuilder(log, inner.info, { timestamps: Boolean(app.timestamps) });
  app.decorate('pipeline', { ledger, batcher, log, bundles, digests });

  const intake = (app as { intake?: { onCommitted(fn: (rows: number) => void): void } }).intake;
  if (duties.notifySealers) intake?.onCommitted(notifier(app.db, app.log));
  else intake?.onCommitted((rows) => batcher.notifyAccepted(rows));

  // The ledger is ready before the batcher starts (hooks run in the order they are added), and
  // closed after it stops (runWorker's onClose hook runs first).
  app.addHook('onReady', async () => inner.ready());
  app.addHook('onClose', async () => inner.close());
  if (duties.seal) {
    let listening: { stop(): Promise<void> } | undefined;
    runWorker(app, {
      start() {
        batcher.start();
        // A separate `api` process accepts the submissions: its NOTIFY wakes this batcher.
        if (duties.listenForIntake) {
          listening = listener(
            app.db,
            (rows) => batcher.notifyAccepted(rows),
            app.log.child({ component: 'batcher' }),
          );
        }
      },
      async stop() {
        await listening?.stop();
        await batcher.stop();
      },
    });
  }
}

export default fp(pipelinePlugin, {
  name: 'pipeline',
  dependencies: ['config', 'db', 'keys'],
  // 'timestamps' is optional: when registered (before this plugin) checkpoints get RFC 3161 tokens.
  fastify: '5.x',
});
