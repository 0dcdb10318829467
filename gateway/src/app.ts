import { randomUUID } from 'node:crypto';
import multipart from '@fastify/multipart';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify';
import fp from 'fastify-plugin';
import helmet, { type HelmetOptions } from 'helmet';
import type pg from 'pg';
import type { Logger } from 'pino';
import anchorBundlesPlugin from './anchor/bundles-plugin.ts';
import anchorPlugin from './anchor/plugin.ts';
import type { JwtVerifier } from './auth/jwt.ts';
import authPlugin from './auth/plugin.ts';
import bodyDeadlinePlugin from './body-deadline.ts';
import type { Config } from './config.ts';
import errorsPlugin, { AppError, clientErrorHandler, frameworkErrorHandler, sendProblem } from './errors.ts';
import intakePlugin from './intake/plugin.ts';
import type { KeyRing } from './keys/key-ring.ts';
import keysPlugin from './keys/plugin.ts';
import { lazyRequestLoggerFactory } from './logger.ts';
import metricsPlugin from './metrics.ts';
import { documentErrors, transformRoute } from './openapi.ts';
import { type ProcessDuties, processDuties } from './process-role.ts';
import routes from './routes/index.ts';
import { Problem } from './schemas.ts';
import pipelinePlugin from './seal/plugin.ts';
import dbPlugin from './storage/db-plugin.ts';
import { timestampsPlugin } from './tsa/index.ts';
import webhooksPlugin from './webhooks/plugin.ts';
import witnessesPlugin from './witness/plugin.ts';

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    /** What this process does (GATEWAY_ROLE, decided once: process-role.ts). */
    duties: ProcessDuties;
  }
}

export interface BuildAppOptions {
  config: Config;
  /** A pino logger (server.ts), pino options, or false (default: silent). */
  logger?: Logger | FastifyServerOptions['logger'];
  /** Use this pool instead of DATABASE_URL / the embedded PostgreSQL; not ended on close. */
  db?: pg.Pool;
  /** Skip migrations (unit tests with a fake pool). */
  migrate?: boolean;
  keyRing?: KeyRing;
  jwtVerifier?: Pick<JwtVerifier, 'verify'>;
  /** `false` leaves the sealing pipeline and the read routes out (unit tests of intake alone). */
  pipeline?: false;
  /**
   * Serve HTTPS with this key and certificate (server.ts reads config.tls). With `clientCa`,
   * clients may present a certificate chaining to it (mTLS, auth/client-certificates.ts).
   */
  tls?: { key: Buffer; cert: Buffer; clientCa?: Buffer };
}

const configPlugin = fp(
  async (app: FastifyInstance, opts: { config: Config }) => {
    app.decorate('config', opts.config);
  },
  { name: 'config', fastify: '5.x' },
);

const SLOW_REQUEST_MS = 1000;

/** The headers helmet would set for `options`, captured once from its middleware. */
function helmetHeaders(options: Readonly<HelmetOptions>): Record<string, string> {
  const headers: Record<string, string> = {};
  const res = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  helmet(options)({} as never, res as never, () => {});
  return headers;
}

/** Fastify's own options: limits and timeouts from the configuration, TLS, logging, errors. */
function serverOptions(options: BuildAppOptions): FastifyServerOptions & { http?: unknown; https?: unknown } {
  const { config } = options;
  const isLoggerInstance =
    options.logger !== undefined &&
    typeof options.logger === 'object' &&
    'child' in (options.logger as object);
  return {
    ...(isLoggerInstance
      ? { loggerInstance: options.logger as Logger }
      : { logger: (options.logger as FastifyServerOptions['logger']) ?? false }),
    bodyLimit: config.limits.maxBodyBytes,
    // Behind TRUSTED_PROXIES the client's address is the one in X-Forwarded-For (rate limits and
    // logs key on it); from anyone else that header is ignored.
    trustProxy: config.trustedProxies.length > 0 ? config.trustedProxies : false,
    requestTimeout: config.uploadTimeoutMs,
    http: {
      // Node enforces requestTimeout and headersTimeout only when it sweeps its connections,
      // every 30 s by default: a slow client would outlive a short timeout by that much.
      connectionsCheckingInterval: 1000,
      // A header block is sent at once; slowloris sends it a byte at a time.
      headersTimeout: Math.min(config.requestTimeoutMs, config.uploadTimeoutMs),
      requestTimeout: config.uploadTimeoutMs,
    },
    ...(options.tls
      ? {
          https: {
            key: options.tls.key,
            cert: options.tls.cert,
            minVersion: 'TLSv1.2' as const,
            // Asked, not required: the public reads without one. An untrusted certificate is
            // refused per request (401 problem+json), not in the handshake, so it says why.
            ...(options.tls.clientCa
              ? { ca: options.tls.clientCa, requestCert: true, rejectUnauthorized: false }
              : {}),
          },
        }
      : {}),
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    // Each request's logger is made only when the request logs something (logger.ts).
    ...(options.logger ? { childLoggerFactory: lazyRequestLoggerFactory } : {}),
    // While closing, requests on open connections get a 503 problem+json (addRequestHooks), not
    // Fastify's own JSON.
    return503OnClosing: false,
    // Malformed URLs and over-long path parameters get a problem+json like everything else…
    frameworkErrors: frameworkErrorHandler,
    // …and so do what Node's parser refuses: oversized headers (431), timeouts (408), non-HTTP (400).
    clientErrorHandler,
    // No log line per successful request at info (two per request cost ~10% of the hot path's
    // CPU); refusals and failures are logged by the error handler, slow requests by addRequestHooks.
    logController: new LogController({
      disableRequestLogging: config.logLevel !== 'debug' && config.logLevel !== 'trace',
    }),
    forceCloseConnections: 'idle',
    // Unknown fields are errors, never silently dropped.
    ajv: { customOptions: { removeAdditional: false } },
  };
}

// The API answers JSON, problem+json, a note, a DER token: never a document. It sends what
// OWASP's REST Security Cheat Sheet asks of an API — a CSP that allows nothing and no framing,
// nosniff, HSTS, no referrer — and not helmet's document headers (COOP, Origin-Agent-Cluster,
// DNS prefetch, X-Download-Options, X-XSS-Protection…), which a browser applies only to pages:
// 20 headers cost ~3 µs per answer to check and write, 7 % of a cached verify answer. The pages
// set their own (routes/pages), and /docs, the one HTML the API plugins serve, gets helmet's
// document headers (routes/docs), beside swagger-ui's own CSP.
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  // Partners' and monitors' pages on other origins may read the public answers.
  'cross-origin-resource-policy': 'cross-origin',
};

/**
 * Hooks on every request: the security headers, refusals of what the schemas cannot see (a number
 * that overflows, a body without a Content-Type), 503 while closing, a log line for slow requests.
 */
function addRequestHooks(app: FastifyInstance): void {
  // Ajv 8 coerces a query value such as "1e309" to Infinity and then lets it through `integer`
  // and `maximum` (a 500 further on): refuse numbers that do not fit before the schema sees them.
  app.addHook('preValidation', (request, _reply, done) => {
    const query = request.query as Record<string, unknown> | undefined;
    if (query && typeof query === 'object') {
      for (const [name, value] of Object.entries(query)) {
        for (const v of Array.isArray(value) ? value : [value]) {
          if (
            typeof v === 'string' &&
            v.trim() !== '' &&
            !Number.isNaN(Number(v)) &&
            !Number.isFinite(Number(v))
          ) {
            return done(new AppError('VALIDATION_FAILED', `querystring/${name} is not a finite number`));
          }
        }
      }
    }
    done();
  });
  // Without a Content-Type Fastify parses nothing, and a schema keyed by content type validates
  // nothing: a route that takes a body would see `undefined`. Say what is missing instead.
  app.addHook('preValidation', (request, _reply, done) => {
    if (request.routeOptions.schema?.body && request.headers['content-type'] === undefined) {
      return done(
        new AppError(
          'UNSUPPORTED_MEDIA_TYPE',
          'this route takes a body: send it with Content-Type application/json (or multipart/form-data where the route says so)',
        ),
      );
    }
    done();
  });
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onRequest', (request, reply, done) => {
    reply.headers(SECURITY_HEADERS);
    reply.header('x-request-id', request.id);
    if (closing) {
      reply.header('connection', 'close').header('retry-after', '1');
      sendProblem(request, reply, new AppError('SERVICE_UNAVAILABLE', 'the gateway is shutting down'));
      return;
    }
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    if (reply.elapsedTime > SLOW_REQUEST_MS)
      request.log.warn(
        {
          method: request.method,
          route: request.routeOptions.url,
          status: reply.statusCode,
          ms: Math.round(reply.elapsedTime),
        },
        'slow request',
      );
    done();
  });
}

/** The OpenAPI document: security schemes, and security and error examples on every operation. */
function registerOpenApi(app: FastifyInstance): void {
  app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'LianZheng 链证 gateway',
        description:
          'Evidence and notarisation for public-works projects: submit document digests, get signed ' +
          'receipts, verify records and their proof bundles. Errors are application/problem+json (RFC 9457).',
        version: '1.0.0',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-Api-Key' },
          // OpenAPI 3.1's mutualTLS scheme; @fastify/swagger's types know only 3.0's kinds.
          mutualTLS: {
            type: 'mutualTLS' as 'http',
            description:
              'Over HTTPS (TLS_CERT_FILE), a partner system may present a client certificate accepted with ' +
              '`lianzheng clientcert create|register`; it stands for one organisation and role. A header ' +
              'credential sent beside it must be valid too and name the same organisation and role (401 otherwise).',
          } as never,
        },
      },
    },
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => (json.$id as string) ?? `def-${i}` },
    // Security on every protected operation, and every error type with an example (openapi.ts).
    transform: transformRoute as never,
    transformObject: (document) =>
      documentErrors('openapiObject' in document ? document.openapiObject : document.swaggerObject),
  });
}

/**
 * The gateway's parts in the order a submission meets them: keys, intake, trusted time, the
 * pipeline (seal → ledger → log), witnesses, anchoring, webhooks. Each is a named plugin that
 * declares its dependencies; what runs in this process follows `duties`.
 */
function registerParts(app: FastifyInstance, options: BuildAppOptions, duties: ProcessDuties): void {
  const { config } = options;
  const pipeline = options.pipeline !== false;
  app.register(keysPlugin, { keyRing: options.keyRing });
  app.register(multipart, {
    limits: {
      fileSize: config.limits.maxFileBytes,
      files: 1,
      fields: 32,
      fieldSize: 64 * 1024,
      parts: 40,
      headerPairs: 100,
    },
  });
  app.register(intakePlugin);
  if (config.tsa.enabled) app.register(timestampsPlugin);
  if (pipeline) {
    app.register(pipelinePlugin);
    // Witnesses are asked where the batcher runs; every process serves their cosignatures.
    app.register(witnessesPlugin, { config: config.witnesses, run: duties.askWitnesses });
  }
  if (config.anchor) {
    const anchor = config.anchor;
    // GATEWAY_ROLE=api: the sealer process anchors; this one only serves the read proxy.
    app.register(anchorPlugin, (parent) => ({
      config: anchor,
      db: parent.db,
      origin: config.logOrigin,
      run: duties.anchor,
    }));
    if (pipeline) app.register(anchorBundlesPlugin);
  }
  // After the batcher and the anchorer: it hooks their notices onto them (written in their
  // transactions); delivered where the batcher runs.
  app.register(webhooksPlugin, { deliver: duties.deliverWebhooks });
}

/**
 * Builds the gateway as a Fastify instance without listening: server.ts listens, tests inject.
 * The platform first (configuration, errors, metrics, database, authentication, rate limits), then
 * the parts, then every route (routes/index.ts).
 */
export function buildApp(options: BuildAppOptions): FastifyInstance {
  const { config } = options;
  const duties = processDuties(config.role, { pipeline: options.pipeline !== false });
  const app = Fastify(serverOptions(options) as FastifyServerOptions);
  // At once, not in a plugin: server.ts reads it before the app is ready.
  app.decorate('duties', duties);
  app.register(configPlugin, { config });
  app.register(bodyDeadlinePlugin, { timeoutMs: config.requestTimeoutMs });
  app.register(errorsPlugin);
  app.register(metricsPlugin);
  app.addSchema(Problem);
  addRequestHooks(app);
  registerOpenApi(app);
  app.register(dbPlugin, { pool: options.db, migrate: options.migrate });
  app.register(authPlugin, { jwtVerifier: options.jwtVerifier });
  app.register(rateLimit, {
    global: true,
    max: config.rateLimitPublicPerMin,
    timeWindow: 60_000,
    // After authentication, so that only the anonymous public is limited per address.
    hook: 'preHandler',
    allowList: (request) =>
      request.principal !== undefined && request.principal !== null && request.principal.role !== 'public',
    errorResponseBuilder: (_request, context) =>
      new AppError('RATE_LIMITED', `at most ${context.max} requests per minute`, {
        retryAfter: context.after,
      }),
  });
  registerParts(app, options, duties);
  app.register(routes, { documentHeaders: helmetHeaders({ contentSecurityPolicy: false }) });
  return app as unknown as FastifyInstance;
}
