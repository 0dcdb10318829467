import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type {} from '../anchor/plugin.ts'; // the `anchor` decorator's type
import type {} from '../seal/plugin.ts'; // the `pipeline` decorator's type
import { runWorker } from '../worker.ts';
import { createDeliverer } from './deliverer.ts';
import { type DeliveryLimits, deliveryLimits } from './limits.ts';
import { enqueueAnchored, enqueueRecorded } from './outbox.ts';
import { loadWebhookKey, webhookSecret } from './secret.ts';

/**
 * Partners' webhooks: an organisation (a unit or partner of it, or an admin for it) asks to be
 * told when its projects' records are recorded or anchored, instead of polling. This part holds
 * the signing key, hooks the notices onto the batcher and the anchorer (so it is registered after
 * them), and runs the deliverer where the batcher runs (`all`, `sealer`); its routes are
 * routes/webhooks/index.ts, served by every process that serves HTTP.
 */
export interface WebhooksPluginOptions {
  /** Run the deliverer (where the batcher runs: not with GATEWAY_ROLE=api, nor without a pipeline). */
  deliver?: boolean;
}

export interface WebhooksDecorator {
  /** Webhook `id`'s signing secret at `version` (1: as created), shown once to its owner. */
  secret(id: string, version?: number): string;
}

declare module 'fastify' {
  interface FastifyInstance {
    webhooks: WebhooksDecorator;
  }
}

/**
 * The notices: the batcher and the anchorer tell webhooks of each batch recorded and each anchor
 * confirmed through hooks they call inside their own transactions, so a notice is written if and
 * only if the step it tells of commits (outbox.ts). Registered wherever those parts are built —
 * whether or not this process delivers — since the notices are written where the steps run.
 */
function tellWebhooks(app: FastifyInstance): void {
  if (app.hasDecorator('pipeline')) {
    app.pipeline.batcher.onRecorded((tx, recorded) => enqueueRecorded(tx, recorded.seqs, recorded.toSize));
  }
  if (app.hasDecorator('anchor'))
    app.anchor.anchorer?.onAnchored((tx, anchored) => enqueueAnchored(tx, anchored));
}

async function webhooksPlugin(app: FastifyInstance, opts: WebhooksPluginOptions): Promise<void> {
  const config = app.config.webhooks;
  // WEBHOOK_TIMEOUT_MS, WEBHOOK_MAX_ANSWER_BYTES, WEBHOOK_CONCURRENCY, WEBHOOK_PAUSE_AFTER: read
  // here (limits.ts); the same fields on the webhooks config, when it has them, take precedence.
  const limits = deliveryLimits(process.env, config as Partial<DeliveryLimits>);
  const key = await loadWebhookKey(app.config.keysDir);
  app.decorate('webhooks', {
    secret: (id: string, version?: number) => webhookSecret(key, id, version),
  });
  tellWebhooks(app);
  if (opts.deliver ?? app.duties.deliverWebhooks) {
    const deliverer = createDeliverer({
      db: app.db,
      key,
      ...limits,
      allowPrivate: config.allowPrivate,
      intervalMs: config.intervalMs,
      retryBaseMs: config.retryBaseMs,
      maxAttempts: config.maxAttempts,
      keepDays: config.keepDays,
      log: app.log.child({ component: 'webhooks' }),
    });
    runWorker(app, deliverer);
  }
}

export default fp(webhooksPlugin, {
  name: 'webhooks',
  dependencies: ['config', 'db', 'auth'],
  fastify: '5.x',
});
