// The OpenAPI document (issue #22): every operation that needs credentials declares them, and
// every error type of the gateway (errors.ts) is documented with an example — walked over the
// generated /openapi.json, so a new route without security or an error response without an
// example fails here. The runtime check beside it asks the gateway itself: an anonymous request
// to an operation declared protected is refused with 401, and one to an operation declared
// public never is.

import { randomUUID } from 'node:crypto';
import type { FastifyInstance, HTTPMethods } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../gateway/src/app.ts';
import { testConfig } from '../../gateway/src/config.ts';
import { ERROR_TABLE, type ErrorCode, problemType } from '../../gateway/src/errors.ts';
import { requiresCredentials } from '../../gateway/src/openapi.ts';
import { startTestDatabase, type TestDatabase } from './pipeline-support.ts';

type Op = {
  security?: Record<string, string[]>[];
  requestBody?: unknown;
  responses: Record<string, { content?: Record<string, { examples?: Record<string, { $ref?: string }> }> }>;
};
type Doc = {
  paths: Record<string, Record<string, Op>>;
  components: {
    securitySchemes: Record<string, unknown>;
    examples: Record<string, { value: Record<string, unknown> }>;
  };
};

let db: TestDatabase;
let app: FastifyInstance;
let doc: Doc;
/** "METHOD /openapi/path" of every route that runs requireRole, as the app registered it. */
const protectedRoutes = new Set<string>();
const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

const openapiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
const operations = () =>
  Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([m]) => METHODS.includes(m))
      .map(([method, op]) => ({ name: `${method.toUpperCase()} ${path}`, method, path, op })),
  );
const isRequired = (op: Op) => !!op.security?.length && !op.security.some((s) => Object.keys(s).length === 0);

beforeAll(async () => {
  db = await startTestDatabase();
  app = buildApp({ config: testConfig({ dataDir: db.dir, rateLimitPublicPerMin: 1_000_000 }), db: db.pool });
  app.addHook('onRoute', (route) => {
    if (!requiresCredentials(route)) return;
    for (const m of [route.method].flat()) protectedRoutes.add(`${m} ${openapiPath(route.url)}`);
  });
  await app.ready();
  const res = await app.inject({ method: 'GET', url: '/openapi.json' });
  expect(res.statusCode).toBe(200);
  doc = res.json();
});

afterAll(async () => {
  await app?.close();
  await db?.stop();
});

describe('the OpenAPI document', () => {
  it('documents every error code with an example of its problem', () => {
    for (const code of Object.keys(ERROR_TABLE) as ErrorCode[]) {
      const example = doc.components.examples[code];
      expect(example, code).toBeDefined();
      expect(example!.value).toMatchObject({
        type: problemType(code),
        title: ERROR_TABLE[code].title,
        status: ERROR_TABLE[code].status,
        code,
      });
      expect(typeof example!.value.detail, code).toBe('string');
    }
  });

  it('gives every error response of every operation problem+json examples of its own status', () => {
    const missing: string[] = [];
    let checked = 0;
    for (const { name, op } of operations()) {
      for (const [status, response] of Object.entries(op.responses)) {
        if (Number(status) < 400) continue;
        checked++;
        const examples = Object.entries(response.content?.['application/problem+json']?.examples ?? {});
        if (examples.length === 0) missing.push(`${name} ${status}`);
        for (const [code, ref] of examples) {
          const target = ref.$ref?.replace('#/components/examples/', '') ?? '';
          const example = doc.components.examples[target];
          expect(example, `${name} ${status} ${code}`).toBeDefined();
          expect(example!.value.status, `${name} ${status} ${code}`).toBe(Number(status));
        }
      }
      // Anything may fail inside the service.
      expect(op.responses['500'], name).toBeDefined();
    }
    expect(checked).toBeGreaterThan(100);
    expect(missing).toEqual([]);
  });

  it('declares security on every operation whose route needs credentials, with 401 and 403', () => {
    expect(protectedRoutes.size).toBeGreaterThan(15);
    const documented = new Set(operations().map((o) => o.name));
    const undeclared: string[] = [];
    for (const route of protectedRoutes) {
      if (!documented.has(route)) continue; // hidden from the document (none today)
      const op = operations().find((o) => o.name === route)!.op;
      if (!isRequired(op)) undeclared.push(route);
      else {
        expect(op.responses['401'], route).toBeDefined();
        expect(op.responses['403'], route).toBeDefined();
      }
    }
    expect(undeclared).toEqual([]);
    for (const { op } of operations())
      for (const requirement of op.security ?? [])
        for (const scheme of Object.keys(requirement))
          expect(doc.components.securitySchemes[scheme]).toBeDefined();
    // The one the issue found: registering a project needs a unit's or an admin's credentials.
    expect(isRequired(doc.paths['/v1/projects']!.post!)).toBe(true);
  });

  it('matches the gateway: anonymous calls to protected operations get 401, to public ones never', async () => {
    const sample: Record<string, string> = {
      id: randomUUID(),
      org: 'finance-platform',
      sha256: '0'.repeat(64),
      txId: '0'.repeat(64),
    };
    const wrong: string[] = [];
    for (const { name, method, path, op } of operations()) {
      const url = path.replace(/\{([^}]+)\}/g, (_m, p: string) => sample[p] ?? 'x');
      const res = await app.inject({
        method: method.toUpperCase() as HTTPMethods,
        url,
        ...(op.requestBody !== undefined ? { payload: {} } : {}),
      });
      if (isRequired(op)) {
        // A body is checked against its schema before the credentials of a preHandler (400).
        const ok = res.statusCode === 401 || (op.requestBody !== undefined && res.statusCode === 400);
        if (!ok) wrong.push(`${name} declared protected answered ${res.statusCode}`);
      } else if (res.statusCode === 401) wrong.push(`${name} declared public answered 401`);
    }
    expect(wrong).toEqual([]);
  });
});
