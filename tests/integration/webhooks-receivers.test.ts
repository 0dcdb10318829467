// Receivers that misbehave, on real loopback servers beside a healthy one (issue #27): one that
// drips its headers a byte a second and never finishes them, one that sends 200 and then drips
// its body, and one that answers without end. Each attempt to them ends at the deadline or the
// byte cap and is tried again later; the healthy receiver is delivered to as if they were not
// there; a receiver failing WEBHOOK_PAUSE_AFTER times in a row is paused, shown so, and resumed by
// its owner. And a name that resolves to a refused address is refused when a delivery connects.
import { createHmac } from 'node:crypto';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../gateway/src/app.ts';
import { issueDevToken, loadDevIssuerKey } from '../../gateway/src/auth/dev-issuer.ts';
import { testConfig } from '../../gateway/src/config.ts';
import { createDeliverer } from '../../gateway/src/webhooks/deliverer.ts';
import { loadWebhookKey } from '../../gateway/src/webhooks/secret.ts';
import { startTestDatabase, type TestDatabase } from './pipeline-support.ts';

/** The deadline of one attempt here (WEBHOOK_TIMEOUT_MS; 10 s by default). */
const TIMEOUT_MS = 4000;
const MAX_ANSWER = 64 * 1024;
const PAUSE_AFTER = 3;

/** One connection to a misbehaving receiver: when it opened and closed, what was pushed down it. */
interface Connection {
  openedAt: number;
  closedAt?: number;
  bytesPushed: number;
}

let db: TestDatabase;
let app: FastifyInstance;
let deliverer: ReturnType<typeof createDeliverer>;
let token = '';
let key: Buffer;
const servers: net.Server[] = [];
const connections: Record<'dripHead' | 'dripBody' | 'endless', Connection[]> = {
  dripHead: [],
  dripBody: [],
  endless: [],
};
/** What the healthy receiver got: when, the delivery id, the raw body, the signature. */
const healthy: { at: number; delivery: string; body: string; signature: string; path: string }[] = [];
/** Once set, the endless receiver answers 200 like a healthy one (it was fixed). */
let endlessFixed = false;
const urls: Record<string, string> = {};
const ids: Record<string, string> = {};

async function listen(name: string, server: net.Server): Promise<void> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  urls[name] = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/${name}`;
}

/** Closes over a connection's bookkeeping: the interval and the close. */
function track(list: Connection[], socket: net.Socket): Connection {
  const c: Connection = { openedAt: Date.now(), bytesPushed: 0 };
  list.push(c);
  socket.on('close', () => {
    c.closedAt = Date.now();
  });
  return c;
}

const auth = () => ({ authorization: `Bearer ${token}` });

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

interface WebhookView {
  id: string;
  state: 'active' | 'paused';
  pausedAt: string | null;
  pausedReason: string | null;
  consecutiveFailures: number;
  failingSince: string | null;
}
interface DeliveryView {
  id: string;
  status: string;
  attempts: number;
  lastError: string | null;
  nextAttemptAt: string | null;
}

const webhook = async (id: string): Promise<WebhookView> =>
  (await app.inject({ method: 'GET', url: `/v1/webhooks/${id}`, headers: auth() })).json();
const deliveries = async (id: string): Promise<DeliveryView[]> =>
  (await app.inject({ method: 'GET', url: `/v1/webhooks/${id}/deliveries`, headers: auth() })).json()
    .deliveries;
async function ping(id: string): Promise<{ delivery: string; at: number }> {
  const res = await app.inject({ method: 'POST', url: `/v1/webhooks/${id}/ping`, headers: auth() });
  expect(res.statusCode, res.body).toBe(202);
  return { delivery: res.json().delivery, at: Date.now() };
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  db = await startTestDatabase();
  // Headers a byte a second, never finished (the socket is never idle for long).
  await listen(
    'dripHead',
    net.createServer((socket) => {
      const c = track(connections.dripHead, socket);
      const head = Buffer.from('HTTP/1.1 200 OK\r\nX-Drip: ');
      let i = 0;
      socket.on('data', () => {});
      socket.on('error', () => {});
      const drip = setInterval(() => {
        socket.write(i < head.length ? head.subarray(i, i + 1) : 'a');
        i++;
        c.bytesPushed++;
      }, 1000);
      socket.on('close', () => clearInterval(drip));
    }),
  );
  // A 200 at once, then its body a byte a second, never ended.
  await listen(
    'dripBody',
    http.createServer((req, res) => {
      const c = track(connections.dripBody, req.socket);
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.flushHeaders();
      const drip = setInterval(() => {
        res.write('.');
        c.bytesPushed++;
      }, 1000);
      res.on('close', () => clearInterval(drip));
    }),
  );
  // A 200, then as fast as the connection takes it, without end.
  const chunk = Buffer.alloc(16 * 1024, 'x');
  await listen(
    'endless',
    http.createServer((req, res) => {
      const c = track(connections.endless, req.socket);
      req.resume();
      if (endlessFixed) return void req.on('end', () => res.writeHead(200).end('ok'));
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      let open = true;
      res.on('close', () => {
        open = false;
      });
      const pump = () => {
        while (open) {
          c.bytesPushed += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
      };
      pump();
    }),
  );
  await listen(
    'healthy',
    http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        healthy.push({
          at: Date.now(),
          delivery: String(req.headers['lianzheng-delivery']),
          body,
          signature: String(req.headers['lianzheng-signature']),
          path: req.url ?? '',
        });
        res.writeHead(200).end('ok');
      });
    }),
  );

  const base = testConfig({ dataDir: db.dir });
  const config = { ...base, webhooks: { ...base.webhooks, allowPrivate: true } };
  // The routes only: this file runs its own deliverer, with a short deadline and pause.
  app = buildApp({ config, db: db.pool, pipeline: false });
  await app.ready();
  token = await issueDevToken(await loadDevIssuerKey(config.keysDir), {
    role: 'unit',
    org: 'county-roads-bureau',
    audience: 'lianzheng',
  });
  key = await loadWebhookKey(config.keysDir);
  deliverer = createDeliverer({
    db: db.pool,
    key,
    allowPrivate: true,
    intervalMs: 50,
    retryBaseMs: 200,
    maxAttempts: 12,
    keepDays: 7,
    timeoutMs: TIMEOUT_MS,
    maxAnswerBytes: MAX_ANSWER,
    pauseAfter: PAUSE_AFTER,
  });
  for (const name of ['dripHead', 'dripBody', 'endless', 'healthy']) {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/webhooks',
      headers: auth(),
      payload: { url: urls[name] },
    });
    expect(res.statusCode, res.body).toBe(201);
    ids[name] = res.json().id;
    if (name === 'healthy') ids.secret = res.json().secret;
    expect(res.json()).toMatchObject({ state: 'active', consecutiveFailures: 0, pausedAt: null });
  }
  deliverer.start();
});

afterAll(async () => {
  await deliverer?.stop();
  await app?.close();
  for (const s of servers) {
    s.close();
    (s as http.Server).closeAllConnections?.();
  }
  await db?.stop();
});

describe('webhook receivers that misbehave', () => {
  it('hold only themselves: the healthy receiver is delivered to at once, in order', async () => {
    const t0 = Date.now();
    for (const name of ['dripHead', 'dripBody', 'endless']) await ping(ids[name]!);
    // Pinged while the slow ones' attempts are under way, and once more after their deadline.
    const sent: { delivery: string; at: number }[] = [];
    for (const at of [100, 1000, 2000, 3000, TIMEOUT_MS + 500]) {
      await sleep(Math.max(0, t0 + at - Date.now()));
      sent.push(await ping(ids.healthy!));
    }
    const latencies = await until('every healthy ping', () => {
      const got = sent.map((s) => healthy.find((h) => h.delivery === s.delivery));
      return got.every((g) => g) ? got.map((g, i) => g!.at - sent[i]!.at) : undefined;
    });
    console.log(`healthy delivery latency beside the slow receivers (ms): ${latencies.join(', ')}`);
    for (const ms of latencies) expect(ms).toBeLessThan(2000);
    // The first three were delivered while the dripping receivers were still connected.
    expect(connections.dripHead[0]!.closedAt ?? Number.POSITIVE_INFINITY).toBeGreaterThan(
      healthy.find((h) => h.delivery === sent[2]!.delivery)!.at,
    );

    // Signed as ever.
    const got = healthy.find((h) => h.delivery === sent[0]!.delivery)!;
    const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(got.signature)!;
    expect(createHmac('sha256', ids.secret!).update(`${t}.${got.body}`).digest('hex')).toBe(v1);
    expect(JSON.parse(got.body)).toMatchObject({ id: sent[0]!.delivery, type: 'ping' });

    // A receiver's deliveries go one at a time, oldest first.
    const burst: string[] = [];
    for (let i = 0; i < 6; i++) burst.push((await ping(ids.healthy!)).delivery);
    await until('the burst', () =>
      burst.every((d) => healthy.some((h) => h.delivery === d)) ? true : undefined,
    );
    expect(healthy.map((h) => h.delivery).filter((d) => burst.includes(d))).toEqual(burst);
  });

  it('ends each attempt at the deadline or the byte cap, and tries it again later', async () => {
    // Each dripping attempt lasted the deadline — not the 60 s a byte every few seconds once
    // held it — and was followed by another.
    const [head1, head2] = await until('two attempts at the header dripper', () =>
      connections.dripHead.length >= 2 && connections.dripHead[0]!.closedAt
        ? connections.dripHead
        : undefined,
    );
    const [body1, body2] = await until('two attempts at the body dripper', () =>
      connections.dripBody.length >= 2 && connections.dripBody[0]!.closedAt
        ? connections.dripBody
        : undefined,
    );
    for (const c of [head1!, body1!]) {
      const held = c.closedAt! - c.openedAt;
      expect(held).toBeGreaterThanOrEqual(TIMEOUT_MS - 100);
      expect(held).toBeLessThan(TIMEOUT_MS + 1000);
    }
    expect(head2!.openedAt).toBeGreaterThanOrEqual(head1!.closedAt!);
    expect(body2!.openedAt).toBeGreaterThanOrEqual(body1!.closedAt!);
    // The endless answer was dropped after the cap, in no time.
    const endless = connections.endless[0]!;
    const endlessMs = endless.closedAt! - endless.openedAt;
    console.log(
      `attempts held: header dripper ${head1!.closedAt! - head1!.openedAt} ms, body dripper ${
        body1!.closedAt! - body1!.openedAt
      } ms, endless answer ${endlessMs} ms (${endless.bytesPushed} bytes pushed before the drop, ${MAX_ANSWER} read)`,
    );
    expect(endlessMs).toBeLessThan(1500);
    expect(endless.bytesPushed).toBeLessThan(64 * 1024 * 1024);

    const lastErrors = await Promise.all(
      ['dripHead', 'dripBody', 'endless'].map(async (name) => (await deliveries(ids[name]!))[0]!),
    );
    expect(lastErrors[0]).toMatchObject({ lastError: `no answer within ${TIMEOUT_MS} ms` });
    expect(lastErrors[1]).toMatchObject({
      lastError: `HTTP 200, but the answer did not end within ${TIMEOUT_MS} ms`,
    });
    expect(lastErrors[2]).toMatchObject({
      lastError: `HTTP 200, but the answer ran past ${MAX_ANSWER} bytes`,
    });
    for (const d of lastErrors) expect(d.attempts).toBeGreaterThanOrEqual(1);
  });

  it('pauses a receiver that keeps failing, says when and why, and its owner resumes it', async () => {
    const paused = await Promise.all(
      ['dripHead', 'dripBody', 'endless'].map((name) =>
        until(`${name} paused`, async () => {
          const w = await webhook(ids[name]!);
          return w.state === 'paused' ? w : undefined;
        }),
      ),
    );
    for (const w of paused) {
      expect(w.consecutiveFailures).toBe(PAUSE_AFTER);
      expect(w.pausedReason).toMatch(new RegExp(`^${PAUSE_AFTER} failed attempts in a row; the last: `));
      expect(Date.parse(w.pausedAt!)).toBeGreaterThanOrEqual(Date.parse(w.failingSince!));
    }
    expect(paused[0]!.pausedReason).toBe(
      `${PAUSE_AFTER} failed attempts in a row; the last: no answer within ${TIMEOUT_MS} ms`,
    );
    // The healthy one is untouched, and listed as active beside the paused.
    expect(await webhook(ids.healthy!)).toMatchObject({
      state: 'active',
      consecutiveFailures: 0,
      failingSince: null,
    });
    const listed = (await app.inject({ method: 'GET', url: '/v1/webhooks', headers: auth() })).json()
      .webhooks as {
      id: string;
      state: string;
    }[];
    expect(Object.fromEntries(listed.map((w) => [w.id, w.state]))).toEqual({
      [ids.dripHead!]: 'paused',
      [ids.dripBody!]: 'paused',
      [ids.endless!]: 'paused',
      [ids.healthy!]: 'active',
    });

    // Paused: no more attempts, its notices still queued (the delivery not given up).
    const before = { head: connections.dripHead.length, endless: connections.endless.length };
    const queued = await ping(ids.endless!);
    await sleep(1000);
    expect(connections.dripHead.length).toBe(before.head);
    expect(connections.endless.length).toBe(before.endless);
    const waiting = await deliveries(ids.endless!);
    // Newest first (by number: id 15 after id 3).
    expect(waiting.map((d) => [d.status, d.attempts])).toEqual([
      ['pending', 0],
      ['pending', PAUSE_AFTER],
    ]);
    expect(BigInt(waiting[0]!.id)).toBeGreaterThan(BigInt(waiting[1]!.id));

    // Fixed and resumed by its owner: everything queued goes out, oldest first.
    endlessFixed = true;
    const change = (id: string, payload: object) =>
      app.inject({ method: 'PATCH', url: `/v1/webhooks/${id}`, headers: auth(), payload });
    const resumed = await change(ids.endless!, { paused: false });
    expect(resumed.statusCode, resumed.body).toBe(200);
    expect(resumed.json()).toMatchObject({
      state: 'active',
      pausedAt: null,
      pausedReason: null,
      consecutiveFailures: 0,
      failingSince: null,
    });
    await until('the queued notices delivered', async () => {
      const list = await deliveries(ids.endless!);
      return list.every((d) => d.status === 'delivered') ? list : undefined;
    });
    expect((await deliveries(ids.endless!)).find((d) => d.id === queued.delivery)).toMatchObject({
      status: 'delivered',
      attempts: 1,
    });

    // Paused by hand, and said so; nonsense refused naming the field.
    const byHand = await change(ids.healthy!, { paused: true });
    expect(byHand.json()).toMatchObject({
      state: 'paused',
      pausedReason: 'paused by unit of county-roads-bureau (PATCH)',
    });
    const held = await ping(ids.healthy!);
    await sleep(500);
    expect(healthy.some((h) => h.delivery === held.delivery)).toBe(false);
    expect((await change(ids.healthy!, { paused: false })).json().state).toBe('active');
    await until('the ping held while paused', () => healthy.find((h) => h.delivery === held.delivery));
    const wrong = await change(ids.healthy!, { paused: 'no' });
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json().errors[0].path).toBe('body/paused');
    // Deleted: its pending deliveries are given up at once.
    await app.inject({ method: 'DELETE', url: `/v1/webhooks/${ids.dripHead}`, headers: auth() });
    const { rows } = await db.pool.query<{ status: string; last_error: string }>(
      'select status, last_error from webhook_deliveries where webhook_id = $1',
      [ids.dripHead],
    );
    expect(rows).toEqual([{ status: 'failed', last_error: 'the webhook was deleted' }]);
  });

  it('refuses, when it connects, a name that resolves to a special-purpose address', async () => {
    await deliverer.stop();
    for (const name of ['dripBody', 'endless', 'healthy']) {
      await app.inject({ method: 'DELETE', url: `/v1/webhooks/${ids[name]}`, headers: auth() });
    }
    const port = (servers[3]!.address() as AddressInfo).port;
    // A name passes registration (it is judged when it resolves) …
    const created = await app.inject({
      method: 'POST',
      url: '/v1/webhooks',
      headers: auth(),
      payload: { url: `https://hooks.partner.example:${port}/hooks/healthy` },
    });
    expect(created.statusCode, created.body).toBe(201);
    const id = created.json().id as string;
    const before = healthy.length;
    // … and whatever DNS answers is checked before connecting, without WEBHOOK_ALLOW_PRIVATE.
    for (const answer of [
      '127.0.0.1',
      '64:ff9b::7f00:1',
      '::ffff:0:7f00:1',
      '2002:7f00:1::1',
      '198.51.100.7',
    ]) {
      const strict = createDeliverer({
        db: db.pool,
        key,
        allowPrivate: false,
        intervalMs: 50,
        retryBaseMs: 1,
        maxAttempts: 12,
        keepDays: 7,
        resolve: (_host, _options, callback) =>
          callback(null, [{ address: answer, family: answer.includes(':') ? 6 : 4 }]),
      });
      const { delivery } = await ping(id);
      await sleep(20);
      expect(await strict.round()).toBe(1);
      const d = (await deliveries(id)).find((x) => x.id === delivery)!;
      expect(d.lastError).toMatch(
        new RegExp(
          `^hooks\\.partner\\.example resolves to ${answer.replace(/\./g, '\\.')}, a special-purpose address`,
        ),
      );
      await db.pool.query('update webhook_deliveries set status = $2 where id = $1', [delivery, 'failed']);
      await db.pool.query('update webhooks set held_until = null where id = $1', [id]);
    }
    expect(healthy.length).toBe(before);
  });
});
