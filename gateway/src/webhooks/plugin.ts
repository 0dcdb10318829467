import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { createDeliverer } from './deliverer.ts';
import { type DeliveryLimits, deliveryLimits } from './limits.ts';
import { loadWebhookKey, webhookSecret } from './secret.ts';

/**
 * Partners' webhooks: an organisation (a unit or partner of it, or an admin for it) asks to be
 * told when its projects' records are recorded or anchored, instead of polling. This part holds
 * the signing key and runs the deliverer where the batcher runs (`all`, `sealer`); its routes are
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

async function webhooksPlugin(app: FastifyInstance, opts: WebhooksPluginOptions): Promise<void> {
  const config = app.config.webhooks;
  // WEBHOOK_TIMEOUT_MS, WEBHOOK_MAX_ANSWER_BYTES, WEBHOOK_CONCURRENCY, WEBHOOK_PAUSE_AFTER: read
  // here (limits.ts); the same fields on the webhooks config, when it has them, take precedence.
  const limits = deliveryLimits(process.env, config as Partial<DeliveryLimits>);
  const key = await loadWebhookKey(app.config.keysDir);
  app.decorate('webhooks', {
    secret: (id: string, version?: number) => webhookSecret(key, id, version),
  });
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
    app.addHook('onReady', async () => deliverer.start());
    app.addHook('onClose', async () => deliverer.stop());
  }
}

export default fp(webhooksPlugin, {
  name: 'webhooks',
  dependencies: ['config', 'db', 'auth'],
  fastify: '5.x',
});
