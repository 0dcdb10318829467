import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Registry } from 'prom-client';
import { ConfigError } from '../config.ts';
import type { Ledger } from '../ledger/ledger.ts';
import { EmbeddedLedger } from '../ledger/ledger-embedded.ts';
import { LogStore } from '../log/log-store.ts';
import { Batcher } from '../notary/batcher.ts';
import { BundleBuilder } from '../notary/bundle.ts';
import evidenceReadRoutes from '../routes/evidence-read/index.ts';
import keysRoutes from '../routes/keys/index.ts';
import ledgerRoutes from '../routes/ledger/index.ts';
import logRoutes from '../routes/log/index.ts';
import projectRoutes from '../routes/projects/index.ts';
import verifyRoutes from '../routes/verify/index.ts';
import { GuardedLedger } from './guarded-ledger.ts';

export interface Pipeline {
  /** The ledger; its `ready()` also fails while sealing is halted (readiness). */
  ledger: Ledger;
  batcher: Batcher;
  log: LogStore;
  bundles: BundleBuilder;
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
  /** Start the seal loop when the app is ready (default true). */
  startBatcher?: boolean;
}

export const DEFAULT_LEDGER_MSP_ID = 'LianZhengGatewayMSP';

function createLedger(app: FastifyInstance, options: PipelineOptions): Ledger {
  if (options.ledger) return options.ledger;
  if (app.config.ledger === 'fabric') {
    throw new ConfigError(
      'LEDGER',
      'the fabric ledger is not available in this build yet; use LEDGER=embedded',
    );
  }
  const configured = (app.config as { ledgerMspId?: string }).ledgerMspId;
  return new EmbeddedLedger(app.db, { mspId: options.mspId ?? configured ?? DEFAULT_LEDGER_MSP_ID });
}

/**
 * The pipeline: the Merkle log, the batcher that seals accepted submissions and records them on
 * the ledger, proof bundles, and the read routes (evidence, verify, projects, log, keys, ledger).
 */
async function pipelinePlugin(app: FastifyInstance, options: PipelineOptions): Promise<void> {
  const inner = createLedger(app, options);
  const log = new LogStore(app.db);
  const registry = (app as { metrics?: Registry }).metrics;
  let batcher: Batcher | undefined;
  const ledger = new GuardedLedger(inner, () => batcher?.health() ?? { ok: true });
  batcher = new Batcher(app.db, log, inner, {
    intervalMs: app.config.sealIntervalMs,
    maxItems: app.config.sealMaxItems,
    origin: app.config.logOrigin,
    signer: app.keys.checkpointSigner,
    registry,
    logger: app.log.child({ component: 'batcher' }),
    ...(app.timestamps ? { timestamp: app.timestamps.tokenFor } : {}),
  });
  const bundles = new BundleBuilder(log, inner.info);
  if (app.timestamps) {
    // The RFC 3161 token made for the checkpoint the record's inclusion proof is against.
    bundles.addEnricher(async (_row, bundle) => {
      if (!bundle.inclusion) return;
      const { rows } = await app.db.query<{ tsa_token: Buffer | null }>(
        'select tsa_token from checkpoints where size = $1',
        [String(bundle.inclusion.size)],
      );
      const token = rows[0]?.tsa_token;
      if (token) bundle.timestamp = { token: token.toString('base64') };
    });
  }
  app.decorate('pipeline', { ledger, batcher, log, bundles });

  const intake = (app as { intake?: { onCommitted(fn: (rows: number) => void): void } }).intake;
  const seal = batcher;
  intake?.onCommitted((rows) => seal.notifyAccepted(rows));

  await app.register(evidenceReadRoutes);
  await app.register(verifyRoutes);
  await app.register(projectRoutes);
  await app.register(logRoutes);
  await app.register(keysRoutes);
  await app.register(ledgerRoutes);

  app.addHook('onReady', async () => {
    await inner.ready();
    if (options.startBatcher !== false) seal.start();
  });
  app.addHook('onClose', async () => {
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
