import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

/**
 * One error taxonomy for the whole gateway. Every error a client sees is an `AppError` code
 * turned into an RFC 9457 problem+json document whose `type` never changes.
 */
export const ERROR_TABLE = {
  VALIDATION_FAILED: { status: 400, title: 'The request does not match its schema' },
  MALFORMED_JSON: { status: 400, title: 'The body is not valid JSON' },
  MALFORMED_REQUEST: { status: 400, title: 'The request is malformed' },
  BAD_DIGEST: { status: 400, title: 'The digest is not 64 lowercase hex characters' },
  UNKNOWN_KIND: { status: 400, title: 'Unknown document kind' },
  UPLOAD_INCOMPLETE: { status: 400, title: 'The upload ended before it was complete' },
  MISSING_FILE: { status: 400, title: 'A multipart submission needs exactly one file part' },
  UNAUTHENTICATED: { status: 401, title: 'Authentication is required or the credentials are invalid' },
  FORBIDDEN: { status: 403, title: 'The credentials do not allow this' },
  NOT_FOUND: { status: 404, title: 'Not found' },
  REQUEST_TIMEOUT: { status: 408, title: 'The request did not arrive in time' },
  CONFLICT: { status: 409, title: 'The request conflicts with the current state' },
  IDEMPOTENCY_CONFLICT: { status: 409, title: 'The Idempotency-Key was used with a different request' },
  BODY_TOO_LARGE: { status: 413, title: 'The request body is too large' },
  URI_TOO_LONG: { status: 414, title: 'The request URI or one of its path parameters is too long' },
  FILE_TOO_LARGE: { status: 413, title: 'The uploaded file is too large' },
  BATCH_TOO_LARGE: { status: 413, title: 'The batch has too many items' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported content type' },
  HEADERS_TOO_LARGE: { status: 431, title: 'The request header fields are too large' },
  NO_SUCH_PROJECT: { status: 422, title: 'The project is not registered' },
  // The ledger's own codes for a record it would refuse (chaincode/src/validation.ts), answered by
  // intake before the 202 so that an accepted submission is one the ledger records.
  BAD_REFERENCE: {
    status: 422,
    title:
      'A referenced record does not exist, is in another project, has the wrong kind or is no longer live',
  },
  BAD_SUPERSEDE: {
    status: 422,
    title:
      'The superseded record does not exist, differs in kind or project, or is already superseded or withdrawn',
  },
  BAD_MILESTONE: { status: 422, title: "The milestone is not in the project's plan" },
  RATE_LIMITED: { status: 429, title: 'Too many requests' },
  INTERNAL: { status: 500, title: 'Internal error' },
  SERVICE_UNAVAILABLE: { status: 503, title: 'The service is temporarily unavailable' },
  LEDGER_UNAVAILABLE: { status: 503, title: 'The ledger is unavailable' },
  TIMEOUT: { status: 503, title: 'The request timed out inside the service' },
  BACKLOG_FULL: { status: 503, title: 'Too many submissions are waiting to be recorded' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERROR_TABLE;

export const PROBLEM_BASE = 'https://lianzheng.dev/problems/';

/** `NO_SUCH_PROJECT` → `https://lianzheng.dev/problems/no-such-project` */
export function problemType(code: ErrorCode): string {
  return PROBLEM_BASE + code.toLowerCase().replaceAll('_', '-');
}

export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail?: string;
  instance?: string;
  requestId?: string;
  /** Per-field validation errors. */
  errors?: { path: string; message: string }[];
  [extension: string]: unknown;
}

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    /** Safe to show a client. */
    readonly detail?: string,
    readonly extensions: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(detail ? `${code}: ${detail}` : code, options);
    this.name = 'AppError';
    this.status = ERROR_TABLE[code].status;
  }
}

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}

/** The problem document for an error code, without request context. */
export function problemFor(code: ErrorCode, detail?: string, extensions: Record<string, unknown> = {}) {
  const entry = ERROR_TABLE[code];
  const p: ProblemDetails = { type: problemType(code), title: entry.title, status: entry.status, code };
  if (detail !== undefined) p.detail = detail;
  return Object.assign(p, extensions);
}

type AjvError = {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
};

/** Schema errors (Ajv's or TypeBox's, Ajv-shaped) → one problem with per-field `errors`. */
export function validationProblem(validation: AjvError[], context = 'body', message?: string): AppError {
  const errors = validation.map((v) => {
    let p = v.instancePath ?? '';
    if (v.keyword === 'additionalProperties' && typeof v.params?.additionalProperty === 'string') {
      p += `/${v.params.additionalProperty}`;
    }
    if (v.keyword === 'required' && typeof v.params?.missingProperty === 'string') {
      p += `/${v.params.missingProperty}`;
    }
    return { path: `${context}${p}`, message: v.message ?? 'invalid' };
  });
  // Give the two mistakes partners make most often their own, more useful type.
  const first = errors[0]?.path ?? '';
  const firstKeyword = validation[0]?.keyword;
  let code: ErrorCode = 'VALIDATION_FAILED';
  if (firstKeyword !== 'required' && firstKeyword !== 'additionalProperties') {
    if (/\/sha256$/.test(first)) code = 'BAD_DIGEST';
    else if (/\/kind$/.test(first)) code = 'UNKNOWN_KIND';
  }
  const detail = message ?? errors.map((e) => `${e.path}: ${e.message}`).join('; ');
  return new AppError(code, detail, { errors });
}

function fromValidation(error: FastifyError): AppError {
  return validationProblem(
    (error.validation ?? []) as AjvError[],
    error.validationContext ?? 'body',
    error.message,
  );
}

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'MALFORMED_REQUEST',
  FST_ERR_CTP_EMPTY_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_REQ_FILE_TOO_LARGE: 'FILE_TOO_LARGE',
  FST_PARTS_LIMIT: 'MALFORMED_REQUEST',
  FST_FILES_LIMIT: 'MALFORMED_REQUEST',
  FST_FIELDS_LIMIT: 'MALFORMED_REQUEST',
  FST_PROTO_VIOLATION: 'MALFORMED_REQUEST',
  FST_ERR_VALIDATION: 'VALIDATION_FAILED',
  FST_ERR_NOT_FOUND: 'NOT_FOUND',
  FST_ERR_BAD_URL: 'MALFORMED_REQUEST',
  FST_ERR_MAX_PARAM_LENGTH: 'URI_TOO_LONG',
};

// Socket-level failures reaching the database, and SQLSTATE classes that mean "the database
// cannot serve this now" rather than "this request is wrong": 08 connection exception,
// 53 insufficient resources (disk full, out of memory), 57P operator intervention (shutdown,
// cannot connect now), 58 system error (I/O).
const UNREACHABLE_ERRNO = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
const UNAVAILABLE_SQLSTATE = /^(08|53|57P|58)[0-9A-Z]{2,3}$/;
// node-postgres raises these without a code; its own wording is all there is to go on.
const PG_CONNECTION_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'Client was closed and is not queryable',
];

/** True when `error` says the database is down or out of resources (a 503), not that the request is bad. */
export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== 'object' || depth > 4) return false;
  const e = error as { code?: unknown; message?: unknown; errors?: unknown; cause?: unknown };
  // A wrapper (the ledger's LEDGER_UNAVAILABLE, …) whose cause is the database being down.
  if (e.cause !== undefined && isDatabaseUnavailable(e.cause, depth + 1)) return true;
  if (typeof e.code === 'string' && (UNREACHABLE_ERRNO.has(e.code) || UNAVAILABLE_SQLSTATE.test(e.code))) {
    return true;
  }
  // A unix socket whose server is stopped: the socket file is gone (only for `connect`, so that a
  // missing file anywhere else stays an internal error).
  if (e.code === 'ENOENT' && (error as { syscall?: unknown }).syscall === 'connect') return true;
  // An AggregateError from a connect to several addresses (IPv4 and IPv6).
  if (Array.isArray(e.errors) && e.errors.some((inner) => isDatabaseUnavailable(inner, depth + 1)))
    return true;
  const message = typeof e.message === 'string' ? e.message : '';
  return PG_CONNECTION_MESSAGES.some((m) => message.includes(m));
}

/** Any thrown value → the AppError a client may see. Unknown errors become `INTERNAL`. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const e = error as FastifyError & { type?: string };
  if (isDatabaseUnavailable(error)) {
    return new AppError('SERVICE_UNAVAILABLE', 'the database is not answering', {}, { cause: error });
  }
  if (e && typeof e === 'object') {
    if (e.validation) return fromValidation(e);
    const mapped = e.code ? FASTIFY_CODES[e.code] : undefined;
    if (mapped) return new AppError(mapped, e.message, {}, { cause: error });
    // JSON.parse errors from the content-type parser carry a 400 statusCode.
    if (e instanceof SyntaxError && e.statusCode === 400) {
      return new AppError('MALFORMED_JSON', e.message, {}, { cause: error });
    }
    if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
      const code: ErrorCode =
        e.statusCode === 413
          ? 'BODY_TOO_LARGE'
          : e.statusCode === 415
            ? 'UNSUPPORTED_MEDIA_TYPE'
            : e.statusCode === 404
              ? 'NOT_FOUND'
              : e.statusCode === 429
                ? 'RATE_LIMITED'
                : e.statusCode === 401
                  ? 'UNAUTHENTICATED'
                  : e.statusCode === 403
                    ? 'FORBIDDEN'
                    : 'MALFORMED_REQUEST';
      return new AppError(code, e.message, {}, { cause: error });
    }
  }
  return new AppError('INTERNAL', undefined, {}, { cause: error });
}

export function sendProblem(request: FastifyRequest, reply: FastifyReply, err: AppError): FastifyReply {
  const body = problemFor(err.code, err.status >= 500 ? undefined : err.detail, err.extensions);
  body.instance = request.url;
  body.requestId = String(request.id);
  if (err.code === 'UNAUTHENTICATED' && !reply.hasHeader('www-authenticate')) {
    reply.header('www-authenticate', 'Bearer');
  }
  const retryAfter = err.extensions.retryAfterSeconds;
  if (typeof retryAfter === 'number' && !reply.hasHeader('retry-after'))
    reply.header('retry-after', String(retryAfter));
  // Pre-serialised so that a route's response schema never strips problem fields.
  return reply.code(err.status).type('application/problem+json').send(JSON.stringify(body));
}

/**
 * Fastify's `frameworkErrors`: a URL that is not valid percent-encoded UTF-8, or a path parameter
 * over `maxParamLength`, is refused by the router before any hook runs; answer it as a problem too.
 */
export function frameworkErrorHandler(error: Error, request: FastifyRequest, reply: FastifyReply): void {
  const appError = toAppError(error);
  request.log.warn({ code: appError.code, status: appError.status }, 'request refused by the router');
  void sendProblem(request, reply, appError);
}

const CLIENT_ERRORS: Record<string, [ErrorCode, string]> = {
  HPE_HEADER_OVERFLOW: ['HEADERS_TOO_LARGE', 'the request header fields exceed the size the server accepts'],
  ERR_HTTP_REQUEST_TIMEOUT: ['REQUEST_TIMEOUT', 'the request was not received in time'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: ['BODY_TOO_LARGE', 'the chunk extensions are too large'],
};

/**
 * Fastify's `clientErrorHandler`: what Node's HTTP parser refuses before there is a request — a
 * header block over the size limit (431), headers or a body that did not arrive within the
 * timeouts (408), bytes that are not HTTP (400) — answered as a problem like everything else,
 * then the connection is closed. Nothing is written when the socket is gone or an answer to the
 * request in flight has begun (a second status line would corrupt it).
 */
export function clientErrorHandler(
  this: { log: { debug(obj: object, msg: string): void } },
  error: Error & { code?: string },
  socket: Duplex,
): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [code, detail] = CLIENT_ERRORS[error.code ?? ''] ?? [
    'MALFORMED_REQUEST',
    'the request is not valid HTTP/1.1',
  ];
  const requestId = randomUUID();
  this.log.debug({ err: error, code, requestId }, 'client error');
  writeRawProblem(
    socket,
    code,
    detail,
    requestId,
    error.code?.startsWith('HPE_') ? { reason: error.code } : {},
  );
  socket.destroy(error);
}

/**
 * A problem written straight to the socket, for refusals made before Fastify has a reply to send
 * it with (the parser's, a body that never finishes). Nothing is written when the socket is gone
 * or an answer to the request in flight has begun (a second status line would corrupt it). The
 * caller closes the connection.
 */
export function writeRawProblem(
  socket: Duplex,
  code: ErrorCode,
  detail: string,
  requestId: string = randomUUID(),
  extensions: Record<string, unknown> = {},
): void {
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (!socket.writable || inFlight?.headersSent) return;
  const body = JSON.stringify({ ...problemFor(code, detail, extensions), requestId });
  const status = ERROR_TABLE[code].status;
  socket.write(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
      'Content-Type: application/problem+json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Cache-Control: no-store\r\n' +
      'X-Content-Type-Options: nosniff\r\n' +
      `X-Request-Id: ${requestId}\r\n` +
      `Connection: close\r\n\r\n${body}`,
  );
}

export interface ErrorsDecorator {
  AppError: typeof AppError;
  problemType: typeof problemType;
  toAppError: typeof toAppError;
}

declare module 'fastify' {
  interface FastifyInstance {
    errors: ErrorsDecorator;
  }
}

async function errorsPlugin(app: FastifyInstance): Promise<void> {
  app.decorate('errors', { AppError, problemType, toAppError });
  app.setErrorHandler((error, request, reply) => {
    const appError = toAppError(error);
    if (appError.status >= 500) {
      request.log.error(
        { err: error, code: appError.code, route: request.routeOptions.url, method: request.method },
        'request failed',
      );
    } else {
      request.log.warn(
        { code: appError.code, detail: appError.detail, status: appError.status },
        'request refused',
      );
    }
    return sendProblem(request, reply, appError);
  });
  app.setNotFoundHandler((request, reply) => {
    return sendProblem(
      request,
      reply,
      new AppError('NOT_FOUND', `no route ${request.method} ${request.url}`),
    );
  });
}

export default fp(errorsPlugin, { name: 'errors', fastify: '5.x' });
