import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { SignJWT } from 'jose';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../gateway/src/app.ts';
import { createApiKey } from '../../gateway/src/auth/api-keys.ts';
import { loadDevIssuerKey } from '../../gateway/src/auth/dev-issuer.ts';
import { DEV_ISSUER } from '../../gateway/src/config.ts';
import { loggerOptions } from '../../gateway/src/logger.ts';
import { type GatewayTestEnv, hex, startGatewayTestEnv } from './gateway-support.ts';

let env: GatewayTestEnv;
let app: FastifyInstance;
let unit: string;
let existing: string;

beforeAll(async () => {
  env = await startGatewayTestEnv();
  await env.registerProject('p-bad', 'org-a');
  await env.registerProject('p-other', 'org-b');
  app = await env.app();
  unit = await env.token('unit', { org: 'org-a' });
  const other = await env.token('unit', { org: 'org-b' });
  existing = (
    await app.inject({
      method: 'POST',
      url: '/v1/evidence',
      headers: { authorization: `Bearer ${other}` },
      payload: {
        sha256: hex(),
        projectId: 'p-other',
        kind: 'contract',
        visibility: 'restricted',
        amount: '100',
      },
    })
  ).json().id;
});

afterAll(async () => {
  await env?.stop();
});

async function rows(): Promise<number> {
  return (await env.pool.query('select count(*)::int as n from submissions')).rows[0].n;
}

const good = () => ({ sha256: hex(), projectId: 'p-bad', kind: 'notice', visibility: 'public' });

function expectProblem(
  res: {
    statusCode: number;
    headers: Record<string, unknown>;
    json(): { code: string; type: string; status: number };
  },
  status: number,
  code: string,
) {
  expect({ status: res.statusCode, code: res.json().code }).toEqual({ status, code });
  expect(String(res.headers['content-type'])).toContain('application/problem+json');
  expect(res.json().type).toBe(`https://lianzheng.dev/problems/${code.toLowerCase().replaceAll('_', '-')}`);
  expect(res.json().status).toBe(status);
}

describe('bad submissions get a 4xx problem and store nothing', () => {
  const cases: [
    string,
    () => { payload: string | object; headers?: Record<string, string> },
    number,
    string,
  ][] = [
    [
      'malformed JSON',
      () => ({ payload: '{"sha256": "ab', headers: { 'content-type': 'application/json' } }),
      400,
      'MALFORMED_JSON',
    ],
    [
      'empty JSON body',
      () => ({ payload: '', headers: { 'content-type': 'application/json' } }),
      400,
      'MALFORMED_JSON',
    ],
    [
      'text/plain',
      () => ({ payload: 'hello', headers: { 'content-type': 'text/plain' } }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'application/xml',
      () => ({ payload: '<a/>', headers: { 'content-type': 'application/xml' } }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    ],
    ['an unknown field', () => ({ payload: { ...good(), colour: 'red' } }), 400, 'VALIDATION_FAILED'],
    [
      'a missing field',
      () => ({ payload: { sha256: hex(), projectId: 'p-bad', visibility: 'public' } }),
      400,
      'VALIDATION_FAILED',
    ],
    ['a non-hex digest', () => ({ payload: { ...good(), sha256: 'z'.repeat(64) } }), 400, 'BAD_DIGEST'],
    ['a short digest', () => ({ payload: { ...good(), sha256: hex(31) } }), 400, 'BAD_DIGEST'],
    [
      'an upper-case digest',
      () => ({ payload: { ...good(), sha256: hex().toUpperCase() } }),
      400,
      'BAD_DIGEST',
    ],
    ['a digest of the wrong type', () => ({ payload: { ...good(), sha256: 12 } }), 400, 'BAD_DIGEST'],
    ['an unknown kind', () => ({ payload: { ...good(), kind: 'invoice-ish' } }), 400, 'UNKNOWN_KIND'],
    [
      'an amount as a number',
      () => ({ payload: { ...good(), kind: 'contract', amount: 100 } }),
      400,
      'VALIDATION_FAILED',
    ],
    [
      'a contract without amount',
      () => ({ payload: { ...good(), kind: 'contract' } }),
      400,
      'VALIDATION_FAILED',
    ],
    [
      'a withdrawal without a reason',
      () => ({ payload: { ...good(), kind: 'withdrawal', refs: [existing] } }),
      400,
      'VALIDATION_FAILED',
    ],
    ['a bad visibility', () => ({ payload: { ...good(), visibility: 'secret' } }), 400, 'VALIDATION_FAILED'],
    ['a body that is an array', () => ({ payload: [good()] }), 400, 'VALIDATION_FAILED'],
    ['an unknown project', () => ({ payload: { ...good(), projectId: 'nope' } }), 422, 'NO_SUCH_PROJECT'],
    [
      'refs to a missing record',
      () => ({ payload: { ...good(), refs: ['01890000-0000-7000-8000-000000000000'] } }),
      422,
      'BAD_REFERENCE',
    ],
    [
      'refs to another project’s record',
      () => ({ payload: { ...good(), refs: [existing] } }),
      422,
      'BAD_REFERENCE',
    ],
    [
      'a malformed ref id',
      () => ({ payload: { ...good(), refs: ['not-a-uuid'] } }),
      400,
      'VALIDATION_FAILED',
    ],
    [
      'a bad Idempotency-Key',
      () => ({ payload: good(), headers: { 'idempotency-key': 'x'.repeat(201) } }),
      400,
      'VALIDATION_FAILED',
    ],
  ];
  for (const [name, make, status, code] of cases) {
    it(name, async () => {
      const before = await rows();
      const { payload, headers } = make();
      const res = await app.inject({
        method: 'POST',
        url: '/v1/evidence',
        headers: { authorization: `Bearer ${unit}`, ...headers },
        payload,
      });
      expectProblem(res, status, code);
      expect(await rows()).toBe(before);
    });
  }

  it('an oversized body', async () => {
    const small = await env.app({
      config: env.config({ limits: { maxBodyBytes: 2048, maxFileBytes: 1 << 20, maxBatchItems: 1000 } }),
    });
    const res = await small.inject({
      method: 'POST',
      url: '/v1/evidence',
      headers: { authorization: `Bearer ${unit}` },
      payload: { ...good(), title: 'x'.repeat(4000) },
    });
    expectProblem(res, 413, 'BODY_TOO_LARGE');
  });

  it('a batch that is not {items: [...]}', async () => {
    for (const payload of [{ items: 'x' }, { items: [] }, { things: [] }]) {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/evidence/batch',
        headers: { authorization: `Bearer ${unit}` },
        payload,
      });
      expectProblem(res, 400, 'VALIDATION_FAILED');
    }
  });

  // Found by the route fuzzer (CI seed 1693685990): with no Content-Type, Fastify parses nothing
  // and the body-by-content-type schema validates nothing, so the handler saw `undefined`.
  // (POST /v1/projects comes with the pipeline plugin, which this app leaves out; the hook is app-wide.)
  it('no body and no Content-Type, on both submission routes', async () => {
    const admin = await env.token('admin');
    for (const url of ['/v1/evidence', '/v1/evidence/batch']) {
      for (const auth of [unit, admin]) {
        const before = await rows();
        const res = await app.inject({
          method: 'POST',
          url,
          headers: { authorization: `Bearer ${auth}`, 'idempotency-key': crypto.randomUUID() },
        });
        expectProblem(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
        expect(res.json().detail, url).toMatch(/Content-Type/);
        expect(await rows()).toBe(before);
      }
    }
  });

  it('an unknown route', async () => {
    expectProblem(await app.inject({ method: 'GET', url: '/v1/nothing-here' }), 404, 'NOT_FOUND');
  });
});

describe('credentials', () => {
  async function devSigned(
    claims: Record<string, unknown>,
    options: { iss?: string; aud?: string; exp?: number; nbf?: number } = {},
  ) {
    const key = await loadDevIssuerKey(path.join(env.dataDir, 'keys'));
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: key.kid })
      .setIssuer(options.iss ?? DEV_ISSUER)
      .setAudience(options.aud ?? 'lianzheng')
      .setIssuedAt(now)
      .setNotBefore(options.nbf ?? now - 5)
      .setExpirationTime(options.exp ?? now + 600)
      .sign(createPrivateKey({ key: key.jwk as import('node:crypto').JsonWebKey, format: 'jwk' }));
  }

  const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const claims = { role: 'unit', org: 'org-a', sub: 'x' };

  const tokens: [string, () => Promise<string>][] = [
    ['garbage', async () => 'not.a.token'],
    ['expired', async () => devSigned(claims, { exp: Math.floor(Date.now() / 1000) - 60 })],
    ['not yet valid', async () => devSigned(claims, { nbf: Math.floor(Date.now() / 1000) + 3600 })],
    ['wrong issuer', async () => devSigned(claims, { iss: 'https://evil.example' })],
    ['wrong audience', async () => devSigned(claims, { aud: 'someone-else' })],
    ['no role', async () => devSigned({ org: 'org-a' })],
    ['a unit without org', async () => devSigned({ role: 'unit' })],
    [
      'alg none',
      async () => {
        const now = Math.floor(Date.now() / 1000);
        return `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...claims, iss: DEV_ISSUER, aud: 'lianzheng', exp: now + 600 })}.`;
      },
    ],
    [
      'HS256 with the public key as secret',
      async () => {
        const key = await loadDevIssuerKey(path.join(env.dataDir, 'keys'));
        const { d: _d, ...pub } = key.jwk;
        const pem = createPublicKey({ key: pub as import('node:crypto').JsonWebKey, format: 'jwk' }).export({
          type: 'spki',
          format: 'pem',
        });
        return new SignJWT(claims)
          .setProtectedHeader({ alg: 'HS256', kid: key.kid })
          .setIssuer(DEV_ISSUER)
          .setAudience('lianzheng')
          .setExpirationTime('10m')
          .sign(new TextEncoder().encode(String(pem)));
      },
    ],
    [
      'an unknown kid',
      async () => {
        const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
        return new SignJWT(claims)
          .setProtectedHeader({ alg: 'ES256', kid: 'who-is-this' })
          .setIssuer(DEV_ISSUER)
          .setAudience('lianzheng')
          .setExpirationTime('10m')
          .sign(privateKey);
      },
    ],
    [
      'the right kid signed by another key',
      async () => {
        const key = await loadDevIssuerKey(path.join(env.dataDir, 'keys'));
        const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
        return new SignJWT(claims)
          .setProtectedHeader({ alg: 'ES256', kid: key.kid })
          .setIssuer(DEV_ISSUER)
          .setAudience('lianzheng')
          .setExpirationTime('10m')
          .sign(privateKey);
      },
    ],
    ['an unknown API key', async () => `lz_${'A'.repeat(43)}`],
  ];

  for (const [name, make] of tokens) {
    it(`refuses ${name} with 401`, async () => {
      const before = await rows();
      const res = await app.inject({
        method: 'POST',
        url: '/v1/evidence',
        headers: { authorization: `Bearer ${await make()}` },
        payload: good(),
      });
      expectProblem(res, 401, 'UNAUTHENTICATED');
      expect(await rows()).toBe(before);
    });
  }

  it('401 with WWW-Authenticate without credentials, or with another scheme', async () => {
    const none = await app.inject({ method: 'POST', url: '/v1/evidence', payload: good() });
    expectProblem(none, 401, 'UNAUTHENTICATED');
    expect(none.headers['www-authenticate']).toBe('Bearer');
    const basic = await app.inject({
      method: 'POST',
      url: '/v1/evidence',
      headers: { authorization: 'Basic dTpw' },
      payload: good(),
    });
    expectProblem(basic, 401, 'UNAUTHENTICATED');
  });

  it('403 for roles that may not write', async () => {
    const inspector = await env.token('inspector', { region: '620102' });
    const res = await app.inject({
      method: 'POST',
      url: '/v1/evidence',
      headers: { authorization: `Bearer ${inspector}` },
      payload: good(),
    });
    expectProblem(res, 403, 'FORBIDDEN');
  });
});

describe('rate limits, headers and logs', () => {
  it('limits the anonymous public per minute, not authenticated callers or probes', async () => {
    const limited = await env.app({ config: env.config({ rateLimitPublicPerMin: 3 }) });
    const codes: number[] = [];
    for (let i = 0; i < 4; i++)
      codes.push((await limited.inject({ method: 'GET', url: '/.well-known/jwks.json' })).statusCode);
    expect(codes).toEqual([200, 200, 200, 429]);
    const res = await limited.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    expectProblem(res, 429, 'RATE_LIMITED');
    expect(res.headers['retry-after']).toBeDefined();
    for (let i = 0; i < 5; i++) {
      expect((await limited.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
      const authed = await limited.inject({
        method: 'GET',
        url: '/.well-known/jwks.json',
        headers: { authorization: `Bearer ${unit}` },
      });
      expect(authed.statusCode).toBe(200);
    }
  });

  it('sets security headers and a request id', async () => {
    const res = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'abc-123' } });
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toBe("default-src 'none'; frame-ancestors 'none'");
    expect(res.headers['x-request-id']).toBe('abc-123');
  });

  it('never writes a token, an API key or a private key into the logs', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = pino({ ...loggerOptions({ logLevel: 'trace' }) }, sink);
    const logged = await env.app({ logger });
    const key = await createApiKey(env.pool, { org: 'org-a' });
    await logged.inject({
      method: 'POST',
      url: '/v1/evidence',
      headers: { authorization: `Bearer ${unit}` },
      payload: good(),
    });
    await logged.inject({
      method: 'POST',
      url: '/v1/evidence',
      headers: { 'x-api-key': key.key },
      payload: { ...good(), kind: 'poem' },
    });
    await logged.inject({
      method: 'POST',
      url: '/v1/evidence',
      headers: { authorization: `Bearer ${unit}x` },
      payload: good(),
    });
    logged.log.info(
      { token: unit, apiKey: key.key, headers: { authorization: `Bearer ${unit}` } },
      'deliberately logged secrets',
    );
    const text = lines.join('');
    expect(lines.length).toBeGreaterThan(3);
    const receiptKeys = JSON.parse(
      await fs.readFile(path.join(env.dataDir, 'keys', 'receipt-keys.json'), 'utf8'),
    );
    const devKey = await loadDevIssuerKey(path.join(env.dataDir, 'keys'));
    for (const secret of [unit, key.key, receiptKeys.keys[0].jwk.d, devKey.jwk.d as string]) {
      expect(text).not.toContain(secret);
    }
  });
});

describe('refusals below the routes, on real sockets: problem+json too', () => {
  /** REQUEST_TIMEOUT_MS here: headers must arrive within it (Node checks once a second). */
  const TIMEOUT_MS = 1000;
  let server: FastifyInstance;
  let port = 0;
  let releaseSlow: () => void = () => {};

  beforeAll(async () => {
    server = buildApp({
      config: env.config({ requestTimeoutMs: TIMEOUT_MS }),
      db: env.pool,
      pipeline: false,
    });
    // A route that answers when told to, to hold a connection busy while the gateway closes.
    server.get('/test/slow', { schema: { hide: true } }, async () => {
      await new Promise<void>((resolve) => {
        releaseSlow = resolve;
      });
      return { ok: true };
    });
    await server.listen({ port: 0, host: '127.0.0.1' });
    port = (server.server.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    releaseSlow();
    await server?.close().catch(() => {});
  });

  /** Writes `data`, then collects what the server sends until it closes. */
  function exchange(
    data: (string | Buffer)[],
    options: { endAfter?: number } = {},
  ): Promise<{ text: string; ms: number }> {
    return new Promise((resolve) => {
      const started = performance.now();
      const socket = net.connect(port, '127.0.0.1');
      const chunks: Buffer[] = [];
      socket.on('data', (d) => chunks.push(d));
      socket.on('error', () => {});
      socket.on('close', () =>
        resolve({ text: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - started }),
      );
      for (const d of data) socket.write(d);
      setTimeout(() => socket.destroy(), options.endAfter ?? 15_000);
    });
  }

  function parse(text: string) {
    const [head = '', ...rest] = text.split('\r\n\r\n');
    const [statusLine = '', ...lines] = head.split('\r\n');
    const headers = Object.fromEntries(
      lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
    );
    return { status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') };
  }

  function expectRawProblem(text: string, status: number, code: string) {
    const res = parse(text);
    expect(res.status, text.slice(0, 300)).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    const body = JSON.parse(res.body);
    expect(body).toMatchObject({
      type: `https://lianzheng.dev/problems/${code.toLowerCase().replaceAll('_', '-')}`,
      status,
      code,
    });
    expect(typeof body.title).toBe('string');
    expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.body));
    return body;
  }

  it('a 20 KB header: 431 HEADERS_TOO_LARGE', async () => {
    const { text } = await exchange([
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`,
    ]);
    expectRawProblem(text, 431, 'HEADERS_TOO_LARGE');
    expect(text).not.toContain('"error"');
  });

  it('headers that never end (a slow client): 408 REQUEST_TIMEOUT, on time', async () => {
    const { text, ms } = await exchange(['GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n']);
    expectRawProblem(text, 408, 'REQUEST_TIMEOUT');
    expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(ms).toBeLessThan(TIMEOUT_MS + 2500);
  });

  it('bytes that are not HTTP, and a request both chunked and with a length: 400 MALFORMED_REQUEST', async () => {
    const junk = await exchange(['HELLO THERE\r\n\r\n']);
    expect(expectRawProblem(junk.text, 400, 'MALFORMED_REQUEST').reason).toMatch(/^HPE_/);
    const smuggle = await exchange([
      'POST /v1/evidence HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
        'Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    ]);
    expectRawProblem(smuggle.text, 400, 'MALFORMED_REQUEST');
  });

  it("Fastify's own parsers: a body over MAX_BODY_BYTES (413) and malformed JSON (400)", async () => {
    const tooLong = await exchange(
      [
        `POST /v1/evidence HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${unit}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${64 * 1024 * 1024}\r\nConnection: close\r\n\r\n{`,
      ],
      { endAfter: 5000 },
    );
    expectRawProblem(tooLong.text, 413, 'BODY_TOO_LARGE');
    const body = '{"sha256": "ab';
    const malformed = await exchange(
      [
        `POST /v1/evidence HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${unit}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
      ],
      { endAfter: 5000 },
    );
    expectRawProblem(malformed.text, 400, 'MALFORMED_JSON');
  });

  // Run last: it closes the server.
  it('a request on an open connection while the gateway closes: 503 problem+json, connection closed', async () => {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    let text = '';
    const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('data', (d) => {
      const first = text === '';
      text += d.toString('utf8');
      // The first answer came: the connection is open and idle, and the gateway is closing.
      if (first) socket.write('GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n\r\n');
    });
    socket.write('GET /test/slow HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((r) => setTimeout(r, 200));
    const closed = server.close();
    await new Promise((r) => setTimeout(r, 100));
    releaseSlow();
    await ended;
    await closed;
    const second = text.slice(text.indexOf('HTTP/1.1', 10));
    expect(parse(text).status).toBe(200);
    expectRawProblem(second, 503, 'SERVICE_UNAVAILABLE');
    expect(parse(second).headers.connection).toBe('close');
  });
});
