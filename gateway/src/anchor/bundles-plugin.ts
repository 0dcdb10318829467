import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { anchorRefFor } from './anchor-ref.ts';

/**
 * Adds the anchor reference to the bundles of anchored records: the earliest confirmed anchor
 * covering the record's checkpoint, with the consistency proof from that checkpoint to it.
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
}

export default fp(anchorBundlesPlugin, {
  name: 'anchor-bundles',
  dependencies: ['pipeline', 'anchor'],
  fastify: '5.x',
});
