import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { writeRawProblem } from './errors.ts';

// Node's own request timeout is one number for every request, and the gateway must let a 2 GB
// upload take its time (UPLOAD_TIMEOUT_MS). A JSON body has no such excuse: a client that trickles
// one in a byte at a time would otherwise hold a connection (and the memory of its buffered body)
// for as long as an upload may take. Every request body that is not a multipart upload must
// arrive within REQUEST_TIMEOUT_MS, or it is answered 408 (a problem, like every refusal) and the
// connection is closed; nothing of the request is processed.

export interface BodyDeadlineOptions {
  /** How long a non-upload body may take to arrive. */
  timeoutMs: number;
}

function hasBody(headers: Record<string, string | string[] | undefined>): boolean {
  const length = headers['content-length'];
  if (length !== undefined) return length !== '0';
  return headers['transfer-encoding'] !== undefined;
}

async function bodyDeadline(app: FastifyInstance, opts: BodyDeadlineOptions): Promise<void> {
  app.addHook('onRequest', (request, _reply, done) => {
    const raw = request.raw;
    if (raw.complete || !hasBody(raw.headers)) return done();
    const type = raw.headers['content-type'];
    if (typeof type === 'string' && type.toLowerCase().startsWith('multipart/')) return done();
    const timer = setTimeout(() => {
      if (raw.complete) return;
      request.log.warn({ timeoutMs: opts.timeoutMs }, 'request body too slow: connection cut');
      // light-my-request's fake socket (app.inject) has no destroy(); a real one always does.
      if (typeof raw.socket?.destroy !== 'function') return;
      writeRawProblem(
        raw.socket,
        'REQUEST_TIMEOUT',
        `the request body did not arrive within ${opts.timeoutMs} ms`,
        String(request.id),
      );
      raw.socket.destroy();
    }, opts.timeoutMs);
    timer.unref();
    const clear = () => clearTimeout(timer);
    raw.once('end', clear);
    raw.once('close', clear);
    done();
  });
}

export default fp(bodyDeadline, { name: 'body-deadline', fastify: '5.x' });
