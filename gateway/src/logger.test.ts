import { Writable } from 'node:stream';
import Fastify from 'fastify';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { lazyRequestLoggerFactory, loggerOptions } from './logger.ts';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  const logger = pino(loggerOptions({ logLevel: 'info' }), stream);
  let children = 0;
  // Counts every child made; children inherit this property, so it must call pino's with `this`.
  const original = logger.child;
  logger.child = function (this: pino.Logger, ...args: Parameters<typeof original>) {
    children++;
    return original.apply(this, args);
  } as typeof logger.child;
  return { logger, lines, children: () => children };
}

async function appWith(logger: pino.Logger) {
  const app = Fastify({
    loggerInstance: logger,
    childLoggerFactory: lazyRequestLoggerFactory,
    disableRequestLogging: true,
    genReqId: () => 'req-1',
  });
  app.get('/quiet', async (request) => {
    request.log.debug({ token: 'x' }, 'below the level: written nowhere');
    return { ok: true };
  });
  app.get('/loud', async (request) => {
    request.log.warn({ apiKey: 'sk-secret', n: 1 }, 'something to say');
    request.log.child({ part: 'inner' }).info('from a child');
    return { ok: true };
  });
  app.get('/chatty', { logLevel: 'debug' }, async (request) => {
    request.log.debug('debug on this route');
    return { ok: true };
  });
  await app.ready();
  return app;
}

describe('lazyRequestLoggerFactory', () => {
  it('makes no child logger for a request that logs nothing, even below its level', async () => {
    const { logger, lines, children } = capture();
    const app = await appWith(logger);
    const before = children();
    for (let i = 0; i < 5; i++) expect((await app.inject('/quiet')).statusCode).toBe(200);
    expect(children() - before).toBe(0);
    expect(lines.filter((l) => l.reqId !== undefined)).toEqual([]);
    await app.close();
  });

  it('writes a request’s lines with its id, redacted, through one child', async () => {
    const { logger, lines, children } = capture();
    const app = await appWith(logger);
    const before = children();
    expect((await app.inject('/loud')).statusCode).toBe(200);
    expect(children() - before).toBe(2); // the request's own child, and the child it asked for
    const said = lines.find((l) => l.msg === 'something to say');
    expect(said).toMatchObject({
      reqId: 'req-1',
      level: 40,
      n: 1,
      apiKey: '[redacted]',
      service: 'lianzheng-gateway',
    });
    expect(lines.find((l) => l.msg === 'from a child')).toMatchObject({ reqId: 'req-1', part: 'inner' });
    await app.close();
  });

  it('gives a route with its own level a real child at that level', async () => {
    const { logger, lines } = capture();
    const app = await appWith(logger);
    expect((await app.inject('/chatty')).statusCode).toBe(200);
    expect(lines.find((l) => l.msg === 'debug on this route')).toMatchObject({ reqId: 'req-1', level: 20 });
    await app.close();
  });
});

describe('loggerOptions', () => {
  it('writes a msg passed in the object as reason, so each line has one msg key', () => {
    const raw: string[] = [];
    const stream = new Writable({
      write(chunk, _enc, done) {
        raw.push(...String(chunk).split('\n').filter(Boolean));
        done();
      },
    });
    const logger = pino(loggerOptions({ logLevel: 'info' }), stream);
    logger.warn({ code: '57P01', msg: 'terminating connection' }, 'idle database client error');
    logger.info({ n: 1 }, 'plain');
    expect(raw).toHaveLength(2);
    expect(raw[0]!.match(/"msg":/g)).toHaveLength(1);
    expect(JSON.parse(raw[0]!)).toMatchObject({
      msg: 'idle database client error',
      reason: 'terminating connection',
      code: '57P01',
    });
    expect(JSON.parse(raw[1]!)).toMatchObject({ msg: 'plain', n: 1 });
    expect(JSON.parse(raw[1]!)).not.toHaveProperty('reason');
  });
});
