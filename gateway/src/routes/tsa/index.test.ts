import { createHash } from 'node:crypto';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { buildRequest, parseResponse, testSigner } from '../../tsa/_test-helpers.ts';
import tsaPlugin, { CERTS_PATH, TIMESTAMP_QUERY, TIMESTAMP_REPLY, type TsaPluginOptions } from './index.ts';

const apps: ReturnType<typeof Fastify>[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

async function build(options: Partial<TsaPluginOptions> = {}) {
  const app = Fastify();
  apps.push(app);
  await app.register(tsaPlugin, { signer: testSigner().signer, ...options });
  await app.ready();
  return app;
}

const query = buildRequest({ imprint: createHash('sha256').update('doc').digest(), certReq: true });

describe('POST /tsa', () => {
  it('answers a timestamp query with a granted timestamp reply', async () => {
    const app = await build();
    const res = await app.inject({
      method: 'POST',
      url: '/tsa',
      headers: { 'content-type': TIMESTAMP_QUERY },
      payload: query,
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe(TIMESTAMP_REPLY);
    const p = parseResponse(res.rawPayload);
    expect(p.status).toBe(0);
    expect(p.certificateCount).toBe(1);
  });

  it('answers malformed queries with a rejection reply and HTTP 200', async () => {
    const app = await build();
    for (const payload of [Buffer.from('garbage'), Buffer.alloc(0)]) {
      const res = await app.inject({
        method: 'POST',
        url: '/tsa',
        headers: { 'content-type': TIMESTAMP_QUERY },
        payload,
      });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe(TIMESTAMP_REPLY);
      expect(parseResponse(res.rawPayload).status).toBe(2);
    }
  });

  it('refuses other media types with 415 problem+json, JSON included', async () => {
    const app = await build();
    for (const [type, payload] of [
      ['application/json', '{"a":1}'],
      ['application/json', '{not json'],
      ['application/octet-stream', query],
      ['text/plain', 'x'],
    ] as const) {
      const res = await app.inject({
        method: 'POST',
        url: '/tsa',
        headers: { 'content-type': type },
        payload,
      });
      expect(res.statusCode).toBe(415);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json()).toMatchObject({ status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' });
    }
    const none = await app.inject({ method: 'POST', url: '/tsa' });
    expect(none.statusCode).toBe(415);
  });

  it('refuses bodies over the limit with 413, not 500', async () => {
    const app = await build();
    const res = await app.inject({
      method: 'POST',
      url: '/tsa',
      headers: { 'content-type': TIMESTAMP_QUERY },
      payload: Buffer.alloc(64 * 1024),
    });
    expect(res.statusCode).toBe(413);
  });

  it('rate-limits per client', async () => {
    const app = await build({ rateLimit: { max: 2, timeWindow: '1 minute' } });
    const codes: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await app.inject({
        method: 'POST',
        url: '/tsa',
        headers: { 'content-type': TIMESTAMP_QUERY },
        payload: query,
      });
      codes.push(res.statusCode);
    }
    expect(codes).toEqual([200, 200, 429]);
  });

  it('leaves the parent application’s JSON parsing alone', async () => {
    const app = Fastify();
    apps.push(app);
    await app.register(tsaPlugin, { signer: testSigner().signer });
    app.post('/echo', async (req) => req.body);
    const res = await app.inject({ method: 'POST', url: '/echo', payload: { a: 1 } });
    expect(res.json()).toEqual({ a: 1 });
  });

  it('publishes the certificates PEM when given', async () => {
    const app = await build({
      certificatesPem: () => '-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n',
    });
    const res = await app.inject({ method: 'GET', url: CERTS_PATH });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/pem-certificate-chain/);
    expect(res.body).toContain('BEGIN CERTIFICATE');
    const without = await build();
    expect((await without.inject({ method: 'GET', url: CERTS_PATH })).statusCode).toBe(404);
  });
});
