// An experiment, not a supported way to run the gateway (yet): the same app in two processes on
// one PostgreSQL — `api` serves HTTP with the batcher not started, `batcher` runs only the seal
// loop (and listens on its own port so the bench can see it is ready). It answers whether moving
// the batcher's long synchronous stretches (RecordBatch of up to 10,000 records runs the contract
// in one go) off the HTTP event loop helps intake latency. Correctness does not depend on which
// process seals: the batcher seals committed rows under the log lock, whoever inserted them.
//
//   node --import tsx tests/bench/load/split-gateway.ts api|batcher
//
// Same environment variables as gateway/src/server.ts.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import pino from 'pino';
import { buildApp } from '../../../gateway/src/app.ts';
import { loadConfig } from '../../../gateway/src/config.ts';
import { loggerOptions } from '../../../gateway/src/logger.ts';
import pipelinePlugin from '../../../gateway/src/pipeline/plugin.ts';

const role = process.argv[2];
if (role !== 'api' && role !== 'batcher') throw new Error('usage: split-gateway.ts api|batcher');
const config = loadConfig(process.env);
const logger = pino(loggerOptions(config));
const pipeline = fp(
  async (app: FastifyInstance) => {
    await app.register(pipelinePlugin, { startBatcher: role === 'batcher' });
  },
  { name: 'pipeline-split', dependencies: ['config', 'db', 'keys', 'auth'], fastify: '5.x' },
);
const app = buildApp({ config, logger, pipeline });
await app.ready();
await app.listen({ port: config.port, host: config.host });
const stop = async () => {
  await app.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
