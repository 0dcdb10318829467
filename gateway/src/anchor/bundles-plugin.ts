import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { anchorRefFor } from './anchor-ref.ts';

/**
 * Adds the anchor reference to the bundles of anchored records: the earliest confirmed anchor
 * covering the record's checkpoint, with the consistency proof from that checkpoint to it; and
 * forgets the cached bundles when an anchor's block changes.
 */
async function anchorBundlesPlugin(app: FastifyInstance): Promise<void> {
  const origin = app.config.logOrigin;
  app.pipeline.bundles.addEnricher(async (row, bundle) => {
    if (row.status !== 'anchored' || row.leaf_index === null || !bundle.inclusion) return;
    const ref = await anchorRefFor(
      app.db,
      Number(row.leaf_index),
      bundle.inclusion.size,
      app.pipeline.log.subtrees,
      {
        origin,
      },
    );
    if (ref) bundle.anchor = ref;
  });
  // The reference is cached with the bundle; an anchor re-mined elsewhere changes its block
  // without a status change. Only this process's cache: an API_WORKERS process keeps the old block
  // in the bundles it cached until it restarts or evicts them (verifiers look anchors up by
  // transaction, not block).
  app.anchor.anchorer?.onMoved(() => app.pipeline.bundles.forgetCached());
}

export default fp(anchorBundlesPlugin, {
  name: 'anchor-bundles',
  dependencies: ['pipeline', 'anchor'],
  fastify: '5.x',
});
