// The gateway's outer defences: rate limits on the public routes and the TSA, body/file/batch
// size limits (refused with nothing stored), security headers and a strict CSP on the pages, and
// logs that never carry a bearer token, an API key, a private key or the database password —
// captured from a pino destination stream at trace level, the most talkative there is.

import fs from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { sha256, toHex } from '@lianzheng/proof';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../gateway/src/app.ts';
import { createApiKey } from '../../gateway/src/auth/api-keys.ts';
import { issueDevToken, loadDevIssuerKey } from '../../gateway/src/auth/dev-issuer.ts';
import { type Config, testConfig } from '../../gateway/src/config.ts';
import { loggerOptions } from '../../gateway/src/logger.ts';
import { defaultPagesRoot } from '../../gateway/src/routes/pages/plugin.ts';
import { demoProject, startTestDatabase, type TestDatabase } from './pipeline-support.ts';

let db: TestDatabase;
let unit = '';
const project = demoProject();
const apps: FastifyInstance[] = [];

async function makeApp(overrides: Partial<Config> = {}, logger?: pino.Logger): Promise<FastifyInstance> {
  const defaults = testConfig({ dataDir: db.dir });
  const config = testConfig({
    dataDir: db.dir,
    sealIntervalMs: 20,
    ...overrides,
    tsa: { ...defaults.tsa, ...overrides.tsa },
  });
  const app = buildApp({ config, db: db.pool, ...(logger ? { logger } : {}) });
  await app.after();
  await app.ready();
  apps.push(app);
  return app;
}

async function rows(): Promise<number> {
  return (await db.pool.query('select count(*)::int as n from submissions')).rows[0].n;
}

const item = () => ({
  sha256: toHex(sha256(Buffer.from(String(Math.random())))),
  projectId: project.id,
  kind: 'notice',
  visibility: 'public',
});

beforeAll(async () => {
  db = await startTestDatabase();
  const app = await makeApp({ rateLimitPublicPerMin: 1_000_000 });
  const key = await loadDevIssuerKey(app.config.keysDir);
  unit = await issueDevToken(key, {
    role: 'unit',
    org: project.ownerOrg,
    audience: app.config.oidc.audience,
  });
  const reg = await app.inject({
    method: 'POST',
    url: '/v1/projects',
    headers: { authorization: `Bearer ${unit}` },
    payload: project,
  });
  expect(reg.statusCode, reg.body).toBe(201);
});

afterAll(async () => {
  for (const a of apps) await a.close().catch(() => {});
  await db?.stop();
});

describe('rate limits', () => {
  it('limit the anonymous public on every public read route, with 429 problem+json and Retry-After', async () => {
    const app = await makeApp({ rateLimitPublicPerMin: 5 });
    for (const url of [
      `/v1/verify/${'a'.repeat(64)}`,
      `/v1/projects/${project.id}`,
      '/v1/log/checkpoint',
      '/v1/keys',
    ]) {
      const limited = await makeApp({ rateLimitPublicPerMin: 5 });
      const codes: number[] = [];
      for (let i = 0; i < 6; i++) codes.push((await limited.inject({ method: 'GET', url })).statusCode);
      expect(
        codes.slice(0, 5).every((c) => c !== 429),
        url,
      ).toBe(true);
      const res = await limited.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(429);
      expect(res.json().code).toBe('RATE_LIMITED');
      expect(String(res.headers['content-type'])).toMatch(/^application\/problem\+json/);
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    }
    // Authenticated callers are not limited as the public is.
    for (let i = 0; i < 10; i++) {
      const res = await app.inject({
        method: 'GET',
        url: '/v1/keys',
        headers: { authorization: `Bearer ${unit}` },
      });
      expect(res.statusCode).toBe(200);
    }
  });

  it('limit /tsa on its own budget', async () => {
    const app = await makeApp({
      rateLimitPublicPerMin: 1_000_000,
      tsa: { rateLimitPerMin: 3 } as Config['tsa'],
    });
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await app.inject({
        method: 'POST',
        url: '/tsa',
        headers: { 'content-type': 'application/timestamp-query' },
        payload: Buffer.from([0x30, 0x00]),
      });
      codes.push(res.statusCode);
      if (res.statusCode === 429)
        expect(String(res.headers['content-type'])).toMatch(/^application\/problem\+json/);
    }
    expect(codes).toEqual([200, 200, 200, 429, 429]);
  });
});

describe('size limits', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await makeApp({
      rateLimitPublicPerMin: 1_000_000,
      limits: { maxBodyBytes: 16 * 1024, maxFileBytes: 8 * 1024, maxBatchItems: 5 },
    });
  });
  const auth = () => ({ authorization: `Bearer ${unit}` });

  it('a body over MAX_BODY_BYTES: 413 BODY_TOO_LARGE, nothing stored', async () => {
    const before = await rows();
    const res = await app.inject({
      method: 'POST',
      url: '/v1/evidence/batch',
      headers: auth(),
      payload: { items: Array.from({ length: 5 }, () => ({ ...item(), title: 'x'.repeat(4000) })) },
    });
    expect(res.statusCode).toBe(413);
    expect(res.json().code).toBe('BODY_TOO_LARGE');
    expect(await rows()).toBe(before);
  });

  it('a file over MAX_FILE_BYTES: 413 FILE_TOO_LARGE, nothing stored', async () => {
    const before = await rows();
    const boundary = 'lzlimit';
    const payload = Buffer.concat([
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="projectId"\r\n\r\n${project.id}\r\n` +
          `--${boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\nnotice\r\n` +
          `--${boundary}\r\nContent-Disposition: form-data; name="visibility"\r\n\r\npublic\r\n` +
          `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n\r\n`,
      ),
      Buffer.alloc(9 * 1024, 7),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const res = await app.inject({
      method: 'POST',
      url: '/v1/evidence',
      headers: { ...auth(), 'content-type': `multipart/form-data; boundary=${boundary}` },
      payload,
    });
    expect(res.statusCode).toBe(413);
    expect(res.json().code).toBe('FILE_TOO_LARGE');
    expect(await rows()).toBe(before);
  });

  it('a batch over MAX_BATCH_ITEMS: 413 BATCH_TOO_LARGE, nothing stored', async () => {
    const before = await rows();
    const res = await app.inject({
      method: 'POST',
      url: '/v1/evidence/batch',
      headers: auth(),
      payload: { items: Array.from({ length: 6 }, item) },
    });
    expect(res.statusCode).toBe(413);
    expect(res.json().code).toBe('BATCH_TOO_LARGE');
    expect(await rows()).toBe(before);
  });
});

describe('security headers', () => {
  it('the pages: a CSP without inline script, no framing, no sniffing, no referrer', async () => {
    const app = await makeApp({ rateLimitPublicPerMin: 1_000_000 });
    const hasPage = await fs
      .access(path.join(defaultPagesRoot(), 'index.html'))
      .then(() => true)
      .catch(() => false);
    for (const url of ['/', `/p/${project.id}`, '/r/0190e0b2-0000-7000-8000-000000000000']) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode).toBe(hasPage ? 200 : 503);
      const csp = String(res.headers['content-security-policy']);
      const directives = new Map(
        csp.split(';').map((d) => {
          const [name, ...values] = d.trim().split(/\s+/);
          return [name!, values];
        }),
      );
      expect(directives.get('default-src')).toEqual(["'none'"]);
      expect(directives.get('script-src')).toEqual(["'self'"]);
      expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
      expect(directives.get('object-src')).toEqual(["'none'"]);
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).not.toContain('unsafe-eval');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      if (hasPage) {
        // What the CSP promises, the page keeps: no inline script, no inline handlers.
        const html = res.body;
        expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);
        expect(html).not.toMatch(/\son[a-z]+\s*=/i);
      }
    }
  });

  it('the API: nosniff, a CSP that allows nothing, no framing, also on problems', async () => {
    const app = await makeApp({ rateLimitPublicPerMin: 1_000_000 });
    for (const url of ['/v1/keys', '/v1/evidence/not-an-id', '/nowhere', '/healthz']) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.headers['x-content-type-options'], url).toBe('nosniff');
      expect(res.headers['content-security-policy'], url).toBe("default-src 'none'; frame-ancestors 'none'");
      expect(res.headers['x-frame-options'], url).toBe('DENY');
      expect(res.headers['strict-transport-security'], url).toMatch(/^max-age=\d+/);
      expect(res.headers['referrer-policy'], url).toBe('no-referrer');
      // Document-only headers are for documents.
      expect(res.headers['cross-origin-opener-policy'], url).toBeUndefined();
    }
    // /docs is a document: swagger-ui's own CSP (its scripts and styles), helmet's document headers.
    const docs = await app.inject({ method: 'GET', url: '/docs' });
    expect(docs.statusCode).toBe(200);
    expect(String(docs.headers['content-security-policy'])).toMatch(/script-src 'self'/);
    expect(docs.headers['cross-origin-opener-policy']).toBe('same-origin');
    expect(docs.headers['x-content-type-options']).toBe('nosniff');
  });
});

describe('logs', () => {
  it('never carry a bearer token, an API key, a private key or the database password', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = pino(loggerOptions({ logLevel: 'trace' }), sink);
    const app = await makeApp({ rateLimitPublicPerMin: 1_000_000, logLevel: 'trace' }, logger);
    const partner = await createApiKey(db.pool, { org: project.ownerOrg });
    const admin = await issueDevToken(await loadDevIssuerKey(app.config.keysDir), {
      role: 'admin',
      audience: app.config.oidc.audience,
    });
    const calls = [
      { method: 'POST', url: '/v1/evidence', headers: { authorization: `Bearer ${unit}` }, payload: item() },
      { method: 'POST', url: '/v1/evidence', headers: { 'x-api-key': partner.key }, payload: item() },
      {
        method: 'POST',
        url: '/v1/evidence',
        headers: { 'x-api-key': partner.key },
        payload: { ...item(), kind: 'poem' },
      },
      { method: 'POST', url: '/v1/evidence', headers: { authorization: `Bearer ${unit}x` }, payload: item() },
      {
        method: 'POST',
        url: '/v1/evidence',
        headers: { authorization: `Bearer ${partner.key}` },
        payload: item(),
      },
      { method: 'POST', url: '/v1/admin/keys/rotate', headers: { authorization: `Bearer ${admin}` } },
      { method: 'GET', url: `/v1/verify/${'b'.repeat(64)}`, headers: { authorization: `Bearer ${unit}` } },
    ] as const;
    for (const c of calls) await app.inject(c as never);
    await app.pipeline.batcher.waitForRecorded(1);
    // A careless log call with secrets in the usual field names is censored too.
    app.log.error(
      { token: unit, apiKey: partner.key, headers: { authorization: `Bearer ${admin}` } },
      'careless',
    );
    const text = lines.join('');
    expect(lines.length).toBeGreaterThan(10);

    const secrets: [string, string][] = [
      ['unit token', unit],
      ['admin token', admin],
      ['API key', partner.key],
      ['API key body', partner.key.slice(3)],
    ];
    const keysDir = app.config.keysDir;
    const receipt = JSON.parse(await fs.readFile(path.join(keysDir, 'receipt-keys.json'), 'utf8'));
    for (const k of receipt.keys) secrets.push([`receipt key ${k.kid}`, k.jwk.d]);
    secrets.push([
      'checkpoint seed',
      JSON.parse(await fs.readFile(path.join(keysDir, 'checkpoint-key.json'), 'utf8')).seed,
    ]);
    secrets.push(['dev issuer key', (await loadDevIssuerKey(keysDir)).jwk.d as string]);
    // The TSA's private keys (PEM, under DATA_DIR/pki): no line of their base64 may appear.
    const pki = path.join(app.config.dataDir, 'pki');
    for (const file of await fs.readdir(pki).catch(() => [] as string[])) {
      const content = await fs.readFile(path.join(pki, file), 'utf8').catch(() => '');
      if (!content.includes('PRIVATE KEY')) continue;
      for (const line of content.split('\n'))
        if (line.length >= 40 && !line.startsWith('-----')) secrets.push([file, line]);
    }
    const url = new URL(
      (db.pool as unknown as { options: { connectionString: string } }).options.connectionString,
    );
    if (url.password) secrets.push(['database password', decodeURIComponent(url.password)]);
    expect(secrets.length).toBeGreaterThan(6);
    for (const [name, secret] of secrets) {
      expect(secret.length, name).toBeGreaterThan(8);
      expect(text.includes(secret), `${name} in the logs`).toBe(false);
    }
  });
});
