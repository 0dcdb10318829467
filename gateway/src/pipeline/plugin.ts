import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

// Placeholder so the app builds while the pipeline is written; the pipeline engineer replaces it.
async function pipelinePlugin(_app: FastifyInstance): Promise<void> {}

export default fp(pipelinePlugin, { name: 'pipeline' });
