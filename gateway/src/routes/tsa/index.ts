// POST /tsa — RFC 3161 over HTTP (RFC 3161 §3.4): application/timestamp-query in,
// application/timestamp-reply out. Every request that reaches the handler gets a TimeStampResp
// with HTTP 200, rejections included; only a wrong media type (415), an oversized body (413) and
// the rate limit (429) are HTTP errors, as problem+json.
//
// The plugin takes its signer as an option instead of reading `app.config`, so a test can
// register it on a bare Fastify() instance.
import rateLimitPlugin from '@fastify/rate-limit';
import type {} from '@fastify/swagger'; // the OpenAPI fields (summary, tags) on route schemas
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { problemFor } from '../../errors.ts';
import { MAX_REQUEST_BYTES, type TimeStampSigner } from '../../tsa/index.ts';

export const TIMESTAMP_QUERY = 'application/timestamp-query';
export const TIMESTAMP_REPLY = 'application/timestamp-reply';
export const CERTS_PATH = '/.well-known/lianzheng/certs.pem';

export interface TsaPluginOptions {
  signer: TimeStampSigner;
  /** Per-client limit on POST /tsa (default 600 per minute); false to leave it to a proxy. */
  rateLimit?: { max: number; timeWindow: number | string } | false;
  /**
   * The PEM served at /.well-known/lianzheng/certs.pem (root, current and retired TSA certificates,
   * key certificates: pki.ts writePublishedCertificates). Not served when absent.
   */
  certificatesPem?: () => string | Promise<string>;
  /** Called after each answer, e.g. for metrics. */
  onIssued?: (result: { status: 'granted' | 'rejection'; failure?: string; ms: number }) => void;
}

async function tsaPlugin(app: FastifyInstance, options: TsaPluginOptions): Promise<void> {
  const { signer } = options;
  const limit = options.rateLimit ?? { max: 600, timeWindow: '1 minute' };

  // An encapsulated child, so the raw-body parser and the rate-limit registration stay local.
  await app.register(async (scope) => {
    if (limit && !scope.hasDecorator('rateLimit')) {
      await scope.register(rateLimitPlugin, { global: false });
    }
    // Take every body as raw bytes here; the handler then refuses anything but a timestamp query.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      '*',
      { parseAs: 'buffer', bodyLimit: MAX_REQUEST_BYTES },
      (_req, body, done) => {
        done(null, body);
      },
    );

    scope.post(
      '/tsa',
      {
        bodyLimit: MAX_REQUEST_BYTES,
        config: limit ? { rateLimit: limit } : {},
        schema: {
          summary: 'RFC 3161 time-stamp',
          description:
            'Send a DER TimeStampReq as application/timestamp-query; the answer is a DER TimeStampResp ' +
            '(application/timestamp-reply). Malformed or unsupported requests are answered with ' +
            'status rejection and a PKIFailureInfo, still with HTTP 200.',
          tags: ['tsa'],
        },
      },
      async (request, reply) => {
        const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        if (type !== TIMESTAMP_QUERY || !Buffer.isBuffer(request.body)) {
          return reply
            .code(415)
            .type('application/problem+json')
            .send(
              JSON.stringify({
                ...problemFor('UNSUPPORTED_MEDIA_TYPE', `POST /tsa takes ${TIMESTAMP_QUERY}`),
                instance: request.url,
                requestId: String(request.id),
              }),
            );
        }
        const started = performance.now();
        const result = await signer.respond(request.body);
        if (result.failure === 'systemFailure') {
          request.log.error({ detail: result.detail }, 'tsa system failure');
        }
        options.onIssued?.({
          status: result.status,
          failure: result.failure,
          ms: performance.now() - started,
        });
        return reply.code(200).type(TIMESTAMP_REPLY).header('cache-control', 'no-store').send(result.der);
      },
    );

    if (options.certificatesPem) {
      const certificatesPem = options.certificatesPem;
      scope.get(
        CERTS_PATH,
        { schema: { tags: ['tsa'], summary: 'PKI certificates (PEM)' } },
        async (_req, reply) =>
          reply
            .type('application/pem-certificate-chain')
            .header('cache-control', 'public, max-age=300')
            .send(await certificatesPem()),
      );
    }
  });
}

export default fp(tsaPlugin, { name: 'tsa', fastify: '5.x' });
