import type { RouteOptions } from 'fastify';
import { ERROR_TABLE, type ErrorCode, problemFor } from './errors.ts';

// What the OpenAPI document adds to the route schemas (issue #22): a security requirement on
// every operation that needs credentials, and every error type of the gateway's one taxonomy
// (errors.ts) shown with an example — in components/examples, and on each operation's error
// responses the examples of the codes it can answer. Derived here in one place, from the same
// table that makes the problems, so the document cannot drift from what the gateway sends.

/** The credentials a protected operation accepts (app.ts's securitySchemes). */
export const CREDENTIALS: { [scheme: string]: string[] }[] = [
  { bearer: [] },
  { apiKey: [] },
  { mutualTLS: [] },
];

type Hook = ((...args: never[]) => unknown) & { name: string };

/** True when the route refuses the anonymous public: it runs auth/plugin.ts's requireRole. */
export function requiresCredentials(route: Pick<RouteOptions, 'onRequest' | 'preHandler'>): boolean {
  const hooks = [route.onRequest, route.preHandler].flat().filter(Boolean) as Hook[];
  return hooks.some((h) => h.name === 'requireRole');
}

/** A plausible problem for every code, as a client would see it. */
const EXAMPLES: Record<ErrorCode, { detail: string; extensions?: Record<string, unknown> }> = {
  VALIDATION_FAILED: {
    detail: 'body/projectId: must match pattern "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"',
    extensions: { errors: [{ path: 'body/projectId', message: 'must match pattern' }] },
  },
  MALFORMED_JSON: { detail: 'Unexpected end of JSON input' },
  MALFORMED_REQUEST: { detail: 'Invalid Content-Length header' },
  BAD_DIGEST: {
    detail: 'body/sha256: must match pattern "^[0-9a-f]{64}$"',
    extensions: { errors: [{ path: 'body/sha256', message: 'must match pattern "^[0-9a-f]{64}$"' }] },
  },
  UNKNOWN_KIND: {
    detail: 'body/kind: must be equal to one of the allowed values',
    extensions: { errors: [{ path: 'body/kind', message: 'must be equal to one of the allowed values' }] },
  },
  UPLOAD_INCOMPLETE: { detail: 'the file part ended after 1048576 of 2097152 bytes' },
  MISSING_FILE: { detail: 'the multipart body has no file part' },
  UNAUTHENTICATED: { detail: 'the bearer token is not valid', extensions: { reason: 'ERR_JWT_EXPIRED' } },
  FORBIDDEN: {
    detail: 'organisation finance-platform may not write for project demo-620102-village-road',
    extensions: { reason: 'NOT_A_DELEGATE' },
  },
  NOT_FOUND: { detail: 'no project demo-620102-village-road' },
  REQUEST_TIMEOUT: { detail: 'the body did not arrive within 10000 ms' },
  CONFLICT: {
    detail: 'a different project is registered under this id',
    extensions: { reason: 'PROJECT_EXISTS' },
  },
  IDEMPOTENCY_CONFLICT: { detail: 'Idempotency-Key erp-7731 was used with a different body' },
  BODY_TOO_LARGE: { detail: 'the body is larger than 4194304 bytes' },
  URI_TOO_LONG: { detail: 'a path parameter is longer than 256 characters' },
  FILE_TOO_LARGE: { detail: 'the file is larger than 4294967296 bytes' },
  BATCH_TOO_LARGE: { detail: 'at most 1000 items per batch, got 1200' },
  UNSUPPORTED_MEDIA_TYPE: { detail: 'Unsupported Media Type: text/plain' },
  HEADERS_TOO_LARGE: { detail: 'the request header fields are larger than 16384 bytes' },
  NO_SUCH_PROJECT: { detail: 'project demo-620102-village-rd is not registered' },
  BAD_REFERENCE: { detail: 'refs[0] 01939b7e-… is not a live contract of this project' },
  BAD_SUPERSEDE: { detail: 'record 01939b7e-… is already superseded' },
  BAD_MILESTONE: { detail: 'milestone m9 is not in the plan of project demo-620102-village-road' },
  RATE_LIMITED: { detail: 'at most 600 requests per minute', extensions: { retryAfter: '1 minute' } },
  INTERNAL: { detail: 'an internal error; quote the requestId when you report it' },
  SERVICE_UNAVAILABLE: { detail: 'the database is unavailable' },
  LEDGER_UNAVAILABLE: { detail: 'the ledger is unavailable', extensions: { reason: 'PEER_BEHIND' } },
  TIMEOUT: { detail: 'the request took longer than 10000 ms inside the service' },
  BACKLOG_FULL: {
    detail: '31250 submissions are waiting to be recorded (at most 30000); try again shortly',
    extensions: { retryAfterSeconds: 1 },
  },
};

/**
 * Codes that only some operations can answer, by "METHOD /path" — the rest of a status's codes
 * are offered wherever that status is. Body codes go with operations that take a body.
 */
const ONLY_WHERE: Partial<Record<ErrorCode, (op: string, hasBody: boolean) => boolean>> = {
  MALFORMED_JSON: (_op, body) => body,
  BODY_TOO_LARGE: (_op, body) => body,
  UNSUPPORTED_MEDIA_TYPE: (_op, body) => body,
  BAD_DIGEST: (op) => /^POST \/v1\/evidence(\/batch)?$|^GET \/v1\/verify\//.test(op),
  UNKNOWN_KIND: (op) => /^POST \/v1\/evidence(\/batch)?$/.test(op),
  UPLOAD_INCOMPLETE: (op) => op === 'POST /v1/evidence',
  MISSING_FILE: (op) => op === 'POST /v1/evidence',
  FILE_TOO_LARGE: (op) => op === 'POST /v1/evidence',
  BATCH_TOO_LARGE: (op) => op === 'POST /v1/evidence/batch',
  IDEMPOTENCY_CONFLICT: (op) => /^POST \/v1\/evidence(\/batch)?$/.test(op),
  NO_SUCH_PROJECT: (op) => /^POST \/v1\/evidence(\/batch)?$/.test(op),
  BAD_REFERENCE: (op) => /^POST \/v1\/evidence(\/batch)?$/.test(op),
  BAD_SUPERSEDE: (op) => /^POST \/v1\/evidence(\/batch)?$/.test(op),
  BAD_MILESTONE: (op) => /^POST \/v1\/evidence(\/batch)?$/.test(op),
  LEDGER_UNAVAILABLE: (op) => op.startsWith('POST ') || /\/v1\/ledger\//.test(op),
  BACKLOG_FULL: (op) => /^POST \/v1\/evidence(\/batch)?$/.test(op),
};

const PROBLEM_JSON = 'application/problem+json';
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

/** The example problem of a code, as components/examples holds it. */
export function problemExample(code: ErrorCode) {
  const e = EXAMPLES[code];
  return {
    summary: ERROR_TABLE[code].title,
    value: {
      ...problemFor(code, e.detail, e.extensions),
      instance: '/v1/projects/demo-620102-village-road',
      requestId: 'req-3f1c9a',
    },
  };
}

type Operation = {
  security?: unknown[];
  requestBody?: unknown;
  responses?: Record<string, { description?: string; content?: Record<string, unknown> }>;
};
type Document = {
  paths?: Record<string, Record<string, Operation>>;
  components?: Record<string, Record<string, unknown>>;
};

/**
 * @fastify/swagger's per-route `transform`: a route that runs requireRole declares the
 * credentials it takes (a route may still declare its own, narrower list).
 */
export function transformRoute({
  schema,
  url,
  route,
}: {
  schema: Record<string, unknown>;
  url: string;
  route: RouteOptions;
}): { schema: Record<string, unknown>; url: string } {
  if (!schema || schema.hide || !requiresCredentials(route) || schema.security !== undefined)
    return { schema, url };
  return { schema: { ...schema, security: CREDENTIALS }, url };
}

/**
 * @fastify/swagger's `transformObject`: every error code in components/examples; each error
 * response as application/problem+json with the examples of the codes it can carry; a protected
 * operation answers 401 and 403, and every operation may answer 500.
 */
export function documentErrors<T>(openapiObject: T): T {
  const doc = structuredClone(openapiObject) as Document;
  const codes = Object.keys(ERROR_TABLE) as ErrorCode[];
  doc.components ??= {};
  doc.components.examples = {
    ...doc.components.examples,
    ...Object.fromEntries(codes.map((c) => [c, problemExample(c)])),
  };
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(item)) {
      if (!METHODS.includes(method)) continue;
      const name = `${method.toUpperCase()} ${path}`;
      op.responses ??= {};
      // An optional requirement (`{}` among them) still refuses bad credentials with a 401.
      const required =
        !!op.security?.length && !op.security.some((s) => Object.keys(s as object).length === 0);
      const wanted = [500, ...(op.security?.length ? [401] : []), ...(required ? [403] : [])];
      for (const status of wanted) {
        if (op.responses[status]) continue;
        op.responses[status] = {
          description:
            status === 500
              ? 'Internal error'
              : status === 401
                ? 'No or invalid credentials'
                : 'Credentials lack the right',
          content: { [PROBLEM_JSON]: { schema: { $ref: '#/components/schemas/Problem' } } },
        };
      }
      for (const [status, response] of Object.entries(op.responses)) {
        const n = Number(status);
        if (!(n >= 400)) continue;
        const content = response.content ?? {};
        const media = (content[PROBLEM_JSON] ??
          content['application/json'] ?? {
            schema: { $ref: '#/components/schemas/Problem' },
          }) as Record<string, unknown>;
        const examples = codes
          .filter((c) => ERROR_TABLE[c].status === n)
          .filter((c) => ONLY_WHERE[c]?.(name, op.requestBody !== undefined) ?? true)
          .map((c) => [c, { $ref: `#/components/examples/${c}` }]);
        response.content = { [PROBLEM_JSON]: { ...media, examples: Object.fromEntries(examples) } };
      }
    }
  }
  return doc as T;
}
