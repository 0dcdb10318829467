// Clients on real sockets that misbehave: a body trickling in a byte at a time, headers that never
// end, uploads cut off half-way, many of them at once. The request timeout cuts the slow ones,
// nothing they sent is stored, and well-behaved clients are served meanwhile.

import { randomBytes } from 'node:crypto';
import net from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GatewayTestEnv, hex, multipartBody, startGatewayTestEnv } from './gateway-support.ts';

/** JSON bodies and header blocks must arrive within this. */
const REQUEST_TIMEOUT_MS = 1000;
/** Multipart uploads may take this long. */
const UPLOAD_TIMEOUT_MS = 2500;
/** Node sweeps for timed-out connections once a second (the gateway's setting); allow that and scheduling. */
const SLACK_MS = 2000;

let env: GatewayTestEnv;
let app: FastifyInstance;
let port = 0;
let unit = '';

async function rows(): Promise<number> {
  return (await env.pool.query('select count(*)::int as n from submissions')).rows[0].n;
}

interface Trickle {
  /** Milliseconds until the server closed the connection (or answered). */
  closedAfterMs: number;
  /** What the server sent back, if anything. */
  response: string;
}

/** Sends `head` at once, then `rest` one byte every `everyMs`, until the server closes or answers. */
function trickle(head: string | Buffer, rest: Buffer, everyMs: number, giveUpMs = 20_000): Promise<Trickle> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = net.connect(port, '127.0.0.1');
    let response = '';
    let i = 0;
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      clearInterval(timer);
      socket.destroy();
      resolve({ closedAfterMs: performance.now() - started, response });
    };
    socket.on('data', (d) => {
      response += d.toString();
    });
    socket.on('close', finish);
    socket.on('error', () => {});
    socket.write(head);
    timer = setInterval(() => {
      if (i < rest.length && !socket.destroyed) socket.write(rest.subarray(i, ++i));
    }, everyMs);
    setTimeout(finish, giveUpMs);
  });
}

beforeAll(async () => {
  env = await startGatewayTestEnv();
  await env.registerProject('p-slow', 'org-a');
  app = await env.app({
    config: env.config({ uploadTimeoutMs: UPLOAD_TIMEOUT_MS, requestTimeoutMs: REQUEST_TIMEOUT_MS }),
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as net.AddressInfo).port;
  unit = await env.token('unit', { org: 'org-a' });
});

afterAll(async () => {
  await env?.stop();
});

const submission = () =>
  JSON.stringify({ sha256: hex(), projectId: 'p-slow', kind: 'notice', visibility: 'public' });

describe('slow and broken clients', () => {
  it('cuts a JSON body that trickles in, and stores nothing', async () => {
    const before = await rows();
    const body = Buffer.from(submission());
    const head =
      `POST /v1/evidence HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${unit}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    const t = await trickle(head, body, 150);
    // Cut by the JSON body deadline, long before an upload's.
    expect(t.closedAfterMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
    expect(t.closedAfterMs).toBeLessThan(REQUEST_TIMEOUT_MS + SLACK_MS);
    // Answered as every refusal is: a 408 problem, then the connection closed.
    expect(t.response).toMatch(/^HTTP\/1\.1 408 /);
    expect(t.response).toContain('application/problem+json');
    expect(t.response).toContain('"code":"REQUEST_TIMEOUT"');
    expect(await rows()).toBe(before);
  });

  it('cuts headers that never end (slowloris)', async () => {
    const t = await trickle(
      'POST /v1/evidence HTTP/1.1\r\nHost: x\r\n',
      Buffer.from('X-Slow: '.repeat(100)),
      100,
    );
    expect(t.closedAfterMs).toBeLessThan(REQUEST_TIMEOUT_MS + SLACK_MS);
  });

  it('cuts a multipart upload that trickles in, and stores nothing', async () => {
    const before = await rows();
    const { body, contentType } = multipartBody([
      { name: 'projectId', value: 'p-slow' },
      { name: 'kind', value: 'notice' },
      { name: 'visibility', value: 'public' },
      { name: 'file', filename: 'a.bin', data: randomBytes(4096) },
    ]);
    const head =
      `POST /v1/evidence HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${unit}\r\n` +
      `Content-Type: ${contentType}\r\nContent-Length: ${body.length}\r\n\r\n`;
    const t = await trickle(
      Buffer.concat([Buffer.from(head), body.subarray(0, 300)]),
      body.subarray(300),
      100,
    );
    // An upload gets the upload timeout, and no more.
    expect(t.closedAfterMs).toBeGreaterThanOrEqual(UPLOAD_TIMEOUT_MS - 50);
    expect(t.closedAfterMs).toBeLessThan(UPLOAD_TIMEOUT_MS + SLACK_MS);
    if (t.response) expect(t.response).toMatch(/^HTTP\/1\.1 408/);
    expect(await rows()).toBe(before);
  });

  it('stores nothing from uploads cut off at any point, and keeps serving', async () => {
    const before = await rows();
    const { body, contentType } = multipartBody([
      { name: 'projectId', value: 'p-slow' },
      { name: 'kind', value: 'notice' },
      { name: 'visibility', value: 'public' },
      { name: 'file', filename: 'a.bin', data: randomBytes(256 * 1024) },
    ]);
    const head = Buffer.from(
      `POST /v1/evidence HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${unit}\r\n` +
        `Content-Type: ${contentType}\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    const cuts = [0, 1, 100, 200, 1000, 64 * 1024, body.length - 100, body.length - 1];
    await Promise.all(
      cuts.map(
        (cut) =>
          new Promise<void>((resolve) => {
            const socket = net.connect(port, '127.0.0.1', () => {
              socket.write(Buffer.concat([head, body.subarray(0, cut)]), () => {
                setTimeout(() => {
                  socket.destroy();
                  resolve();
                }, 50);
              });
            });
            socket.on('error', () => resolve());
          }),
      ),
    );
    // Give the server a moment to notice every reset; then nothing of them is stored.
    await new Promise((r) => setTimeout(r, 300));
    expect(await rows()).toBe(before);
    const ok = await fetch(`http://127.0.0.1:${port}/v1/evidence`, {
      method: 'POST',
      headers: { authorization: `Bearer ${unit}`, 'content-type': 'application/json' },
      body: submission(),
    });
    expect(ok.status).toBe(202);
  });

  it('serves well-behaved clients while 40 slow ones hold connections', async () => {
    const body = Buffer.from(submission());
    const head =
      `POST /v1/evidence HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${unit}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    const slow = Array.from({ length: 40 }, () => trickle(head, body, 200));
    await new Promise((r) => setTimeout(r, 200));
    const started = performance.now();
    const res = await fetch(`http://127.0.0.1:${port}/.well-known/jwks.json`);
    expect(res.status).toBe(200);
    expect(performance.now() - started).toBeLessThan(1000);
    const cut = await Promise.all(slow);
    for (const t of cut) expect(t.closedAfterMs).toBeLessThan(REQUEST_TIMEOUT_MS + SLACK_MS + 1000);
  });
});
