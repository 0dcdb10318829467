// Partners' webhooks on real PostgreSQL with the real pipeline and a real HTTP receiver: records
// recorded → a signed POST (retried after a refusal), who may manage which webhook, which URLs
// are refused, and addresses the guard keeps the gateway from reaching.
import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { sha256, toHex } from '@lianzheng/proof';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { markAnchored } from '../../gateway/src/anchor/anchorer.ts';
import { buildApp } from '../../gateway/src/app.ts';
import { issueDevToken, loadDevIssuerKey } from '../../gateway/src/auth/dev-issuer.ts';
import { type Config, testConfig } from '../../gateway/src/config.ts';
import { isSpecialAddress, webhookUrlProblem } from '../../gateway/src/webhooks/address-guard.ts';
import { createDeliverer } from '../../gateway/src/webhooks/deliverer.ts';
import { enqueueAnchored, enqueueRecorded } from '../../gateway/src/webhooks/outbox.ts';
import { demoProject, startTestDatabase, type TestDatabase } from './pipeline-support.ts';

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

let db: TestDatabase;
let app: FastifyInstance;
let receiver: http.Server;
let hookUrl = '';
const received: Received[] = [];
/** Status codes to answer, in turn; 200 once they run out. */
const answers: number[] = [];
const tokens: Record<string, string> = {};
const project = demoProject();

function config(webhooks: Partial<Config['webhooks']> = {}): Config {
  const base = testConfig({ dataDir: db.dir, sealIntervalMs: 20 });
  return {
    ...base,
    webhooks: { ...base.webhooks, allowPrivate: true, intervalMs: 25, retryBaseMs: 50, ...webhooks },
  };
}

const auth = (who: string) => ({ authorization: `Bearer ${tokens[who]}` });

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  ms = 15_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function submit(n: number): Promise<string[]> {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/evidence/batch',
    headers: auth('unit'),
    payload: {
      items: Array.from({ length: n }, () => ({
        sha256: toHex(sha256(randomBytes(32))),
        projectId: project.id,
        kind: 'notice',
        visibility: 'public',
      })),
    },
  });
  expect(res.statusCode, res.body).toBe(202);
  return (res.json().results as { id: string }[]).map((r) => r.id);
}

/** Registers a webhook to the test receiver, as the project's unit, with `extra` in the body. */
function register(extra: Record<string, unknown> = {}) {
  return app.inject({
    method: 'POST',
    url: '/v1/webhooks',
    headers: auth('unit'),
    payload: { url: hookUrl, ...extra },
  });
}

/** The deliveries `write` queues, read in its own transaction, which is then rolled back. */
async function queuedBy(
  write: (client: pg.PoolClient) => Promise<void>,
): Promise<{ webhook_id: string; event: Record<string, unknown> }[]> {
  const client = await db.pool.connect();
  try {
    await client.query('begin');
    const { rows: mark } = await client.query<{ id: string }>(
      'select coalesce(max(id), 0)::text as id from webhook_deliveries',
    );
    await write(client);
    const { rows } = await client.query<{ webhook_id: string; event: Record<string, unknown> }>(
      'select webhook_id::text, event from webhook_deliveries where id > $1 order by id',
      [mark[0]!.id],
    );
    return rows;
  } finally {
    await client.query('rollback');
    client.release();
  }
}

/** Waits until the records `ids` are recorded: their seqs and leaf indexes, in leaf order. */
function recordedLeaves(ids: string[]): Promise<{ seq: string; leaf_index: string }[]> {
  return until(`${ids.length} recorded records`, async () => {
    const { rows } = await db.pool.query<{ seq: string; leaf_index: string }>(
      `select s.seq, l.leaf_index from submissions s join log_leaves l on l.seq = s.seq
        where s.id = any($1::uuid[]) order by l.leaf_index`,
      [ids],
    );
    return rows.length === ids.length ? rows : undefined;
  });
}

beforeAll(async () => {
  db = await startTestDatabase();
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body });
      res.writeHead(answers.shift() ?? 200).end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/lianzheng`;
  app = buildApp({ config: config(), db: db.pool });
  await app.ready();
  const key = await loadDevIssuerKey(config().keysDir);
  tokens.unit = await issueDevToken(key, { role: 'unit', org: project.ownerOrg, audience: 'lianzheng' });
  tokens.other = await issueDevToken(key, { role: 'unit', org: 'another-town', audience: 'lianzheng' });
  tokens.admin = await issueDevToken(key, { role: 'admin', audience: 'lianzheng' });
  const registered = await app.inject({
    method: 'POST',
    url: '/v1/projects',
    headers: auth('unit'),
    payload: { ...project, ownerOrg: undefined },
  });
  expect(registered.statusCode, registered.body).toBe(201);
});

afterAll(async () => {
  await app?.close();
  receiver?.close();
  await db?.stop();
});

describe('webhooks', () => {
  it('POSTs signed notices of recorded records, again after a refusal, once delivered', async () => {
    const created = await register();
    expect(created.statusCode, created.body).toBe(201);
    const hook = created.json() as { id: string; org: string; secret: string };
    expect(hook.org).toBe(project.ownerOrg);
    expect(hook.secret).toMatch(/^whsec_/);

    answers.push(503); // the partner is down for the first attempt
    const ids = await submit(3);
    const delivered = await until('a delivered notice', async () => {
      const list = (
        await app.inject({ method: 'GET', url: `/v1/webhooks/${hook.id}/deliveries`, headers: auth('unit') })
      ).json().deliveries as { status: string; attempts: number; lastStatus: number; records: number }[];
      return list.find((d) => d.status === 'delivered');
    });
    expect(delivered).toMatchObject({ attempts: 2, lastStatus: 200, records: 3 });
    expect(received).toHaveLength(2);
    const [refused, accepted] = received as [Received, Received];
    expect(refused.body).toBe(accepted.body);

    // What the partner checks: the signature over the raw body with its secret.
    const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(accepted.headers['lianzheng-signature']))!;
    expect(createHmac('sha256', hook.secret).update(`${t}.${accepted.body}`).digest('hex')).toBe(v1);
    expect(Math.abs(Number(t) - Date.now() / 1000)).toBeLessThan(60);
    const notice = JSON.parse(accepted.body);
    expect(accepted.headers['lianzheng-event']).toBe('records.recorded');
    expect(accepted.headers['lianzheng-delivery']).toBe(notice.id);
    expect(notice.type).toBe('records.recorded');
    expect(notice.records.map((r: { id: string }) => r.id).sort()).toEqual([...ids].sort());
    expect(notice.records[0]).toMatchObject({ projectId: project.id, kind: 'notice', flags: [] });
    expect(notice.checkpointSize).toBeGreaterThanOrEqual(3);

    // A ping, to test the receiver: queued, then delivered signed like any notice.
    const ping = await app.inject({
      method: 'POST',
      url: `/v1/webhooks/${hook.id}/ping`,
      headers: auth('unit'),
    });
    expect(ping.statusCode, ping.body).toBe(202);
    const pinged = await until('the ping', () =>
      received.map((r) => JSON.parse(r.body)).find((n) => n.id === ping.json().delivery),
    );
    expect(pinged.type).toBe('ping');
    expect(
      (await app.inject({ method: 'POST', url: `/v1/webhooks/${hook.id}/ping`, headers: auth('other') }))
        .statusCode,
    ).toBe(404);
  });

  it('tells the organisation when its records are anchored, in the transaction that says so', async () => {
    const before = received.length;
    const { rows } = await db.pool.query<{ size: string }>(
      'select max(to_size)::text as size from ledger_batches',
    );
    // What the anchorer does when a transaction is confirmed on the chain (anchor-geth.test.ts),
    // with the hook the webhooks part registers on it.
    const client = await db.pool.connect();
    try {
      await client.query('begin');
      await markAnchored(client, Number(rows[0]!.size), [enqueueAnchored]);
      await client.query('commit');
    } finally {
      client.release();
    }
    const notice = await until('a records.anchored notice', () => {
      const got = received.slice(before).map((r) => JSON.parse(r.body));
      return got.find((n) => n.type === 'records.anchored');
    });
    expect(notice.anchoredSize).toBe(Number(rows[0]!.size));
    expect(notice.records.length).toBeGreaterThanOrEqual(3);
    const { rows: still } = await db.pool.query(
      "select count(*)::int as n from submission_states where status = 'recorded'",
    );
    expect(still[0].n).toBe(0);
  });

  it('splits a notice of many records into parts, in leaf order', async () => {
    const ids = await submit(7);
    const leaves = await recordedLeaves(ids);
    const first = Number(leaves[0]!.leaf_index);
    const last = Number(leaves[6]!.leaf_index);
    type Part = { type: string; part: number; parts: number; records: { id: string; leafIndex: number }[] };
    // Written in a transaction that is rolled back, so the deliverer never sees them.
    const noticesOf = async (write: (client: pg.PoolClient) => Promise<void>): Promise<Part[]> =>
      (await queuedBy(write)).map((r) => r.event as unknown as Part);
    const expectParts = (parts: Part[], type: string) => {
      expect(parts.map((p) => [p.type, p.part, p.parts, p.records.length])).toEqual([
        [type, 1, 3, 3],
        [type, 2, 3, 3],
        [type, 3, 3, 1],
      ]);
      const listed = parts.flatMap((p) => p.records);
      expect(listed.map((r) => r.leafIndex)).toEqual(leaves.map((l) => Number(l.leaf_index)));
      expect(listed.map((r) => r.id).sort()).toEqual([...ids].sort());
    };
    expectParts(
      await noticesOf((c) =>
        enqueueRecorded(
          c,
          leaves.map((l) => l.seq),
          last + 1,
          3,
        ),
      ),
      'records.recorded',
    );
    expectParts(
      await noticesOf(async (c) => {
        await c.query('update log_anchored set size = $1', [first]);
        await markAnchored(c, last + 1, [(tx, anchored) => enqueueAnchored(tx, anchored, 3)]);
      }),
      'records.anchored',
    );
  });

  it('keeps finished deliveries for WEBHOOK_KEEP_DAYS, and pending ones until they finish', async () => {
    const [hook] = (await app.inject({ method: 'GET', url: '/v1/webhooks', headers: auth('unit') })).json()
      .webhooks as { id: string }[];
    const { rows } = await db.pool.query<{ id: string; status: string }>(
      `insert into webhook_deliveries (webhook_id, event, status, created_at, next_attempt_at)
       values ($1, '{"type":"records.recorded"}', 'delivered', now() - interval '8 days', now()),
              ($1, '{"type":"records.recorded"}', 'failed', now() - interval '8 days', now()),
              ($1, '{"type":"records.recorded"}', 'delivered', now() - interval '6 days', now()),
              ($1, '{"type":"records.recorded"}', 'pending', now() - interval '8 days', now() + interval '1 day')
       returning id::text, status`,
      [hook!.id],
    );
    const deliverer = createDeliverer({
      db: db.pool,
      key: Buffer.alloc(32),
      allowPrivate: true,
      intervalMs: 1000,
      retryBaseMs: 1000,
      maxAttempts: 1,
      keepDays: 7,
    });
    expect(await deliverer.prune()).toBeGreaterThanOrEqual(2);
    const { rows: left } = await db.pool.query<{ id: string }>(
      'select id::text from webhook_deliveries where id = any($1::bigint[])',
      [rows.map((r) => r.id)],
    );
    expect(left.map((r) => r.id).sort()).toEqual([rows[2]!.id, rows[3]!.id].sort());
  });

  it('lets each organisation see and stop only its own webhooks', async () => {
    const list = (await app.inject({ method: 'GET', url: '/v1/webhooks', headers: auth('unit') })).json();
    expect(list.webhooks).toHaveLength(1);
    const id = list.webhooks[0].id;
    expect(
      (await app.inject({ method: 'GET', url: '/v1/webhooks', headers: auth('other') })).json().webhooks,
    ).toEqual([]);
    expect((await app.inject({ method: 'GET', url: '/v1/webhooks' })).statusCode).toBe(401);
    const foreign = await app.inject({ method: 'DELETE', url: `/v1/webhooks/${id}`, headers: auth('other') });
    expect(foreign.statusCode).toBe(404);
    expect(
      (await app.inject({ method: 'GET', url: `/v1/webhooks/${id}/deliveries`, headers: auth('other') }))
        .statusCode,
    ).toBe(404);
    const forOther = await app.inject({
      method: 'POST',
      url: '/v1/webhooks',
      headers: auth('unit'),
      payload: { url: hookUrl, org: 'another-town' },
    });
    expect(forOther.statusCode).toBe(403);

    // Stopped: records recorded afterwards are not sent to it.
    expect(
      (await app.inject({ method: 'DELETE', url: `/v1/webhooks/${id}`, headers: auth('unit') })).statusCode,
    ).toBe(204);
    const before = received.length;
    await submit(2);
    await new Promise((r) => setTimeout(r, 500));
    expect(received.length).toBe(before);
    expect(
      (await app.inject({ method: 'DELETE', url: `/v1/webhooks/${id}`, headers: auth('unit') })).statusCode,
    ).toBe(404);
  });

  it('refuses URLs it must not call, with problem+json naming the field', async () => {
    const strict = buildApp({
      config: config({ allowPrivate: false, maxPerOrg: 1 }),
      db: db.pool,
      pipeline: false,
    });
    await strict.ready();
    try {
      const register = (url: string) =>
        strict.inject({ method: 'POST', url: '/v1/webhooks', headers: auth('other'), payload: { url } });
      for (const url of [
        'ftp://example.org/x',
        'http://example.org/hook',
        'https://user:pw@example.org/hook',
        'https://127.0.0.1/hook',
        'https://[::1]/hook',
        'https://10.1.2.3/hook',
        'https://169.254.169.254/latest/meta-data',
        'not a url',
      ]) {
        const res = await register(url);
        expect(res.statusCode, url).toBe(400);
        expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(res.json().errors[0].path).toBe('body/url');
      }
      expect((await register('https://erp.another-town.example/hooks')).statusCode).toBe(201);
      // WEBHOOK_MAX_PER_ORG=1 here.
      expect((await register('https://erp.another-town.example/other')).statusCode).toBe(409);
    } finally {
      await strict.close();
    }
  });

  it('never connects to a name that resolves to a special address', async () => {
    const { postSigned } = await import('../../gateway/src/webhooks/deliverer.ts');
    const before = received.length;
    const port = (receiver.address() as AddressInfo).port;
    // Plain http is refused outright without WEBHOOK_ALLOW_PRIVATE.
    const attempt = await postSigned(
      `http://localhost:${port}/hooks`,
      '{}',
      {},
      { allowPrivate: false, timeoutMs: 2000 },
    );
    expect(attempt.ok).toBe(false);
    expect(received.length).toBe(before);
    expect(isSpecialAddress('::ffff:127.0.0.1')).toBe(true);
    expect(isSpecialAddress('100.64.1.1')).toBe(true);
    expect(isSpecialAddress('8.8.8.8')).toBe(false);
    expect(webhookUrlProblem('https://erp.example/hooks', false)).toBeUndefined();
    // localhost is a name: it passes the URL check and is refused when it resolves, before connecting.
    const viaName = await postSigned(
      `https://localhost:${port}/x`,
      '{}',
      {},
      { allowPrivate: false, timeoutMs: 2000 },
    );
    expect(viaName).toMatchObject({
      ok: false,
      error: expect.stringMatching(/resolves to (127\.0\.0\.1|::1)/),
    });
  });

  it('rotates a secret without losing the webhook, signing with both for a while', async () => {
    const created = await register();
    expect(created.statusCode, created.body).toBe(201);
    const { id, secret: first } = created.json() as { id: string; secret: string };
    const rotate = () =>
      app.inject({ method: 'POST', url: `/v1/webhooks/${id}/secret`, headers: auth('unit') });
    /** The `v1` signatures of a ping's POST, and which of `secrets` made each. */
    const pingSignedBy = async (secrets: string[]): Promise<number[]> => {
      const ping = await app.inject({
        method: 'POST',
        url: `/v1/webhooks/${id}/ping`,
        headers: auth('unit'),
      });
      expect(ping.statusCode, ping.body).toBe(202);
      const delivery = ping.json().delivery as string;
      const got = await until('the ping', () =>
        received.find((r) => r.headers['lianzheng-delivery'] === delivery),
      );
      const [t, ...macs] = String(got.headers['lianzheng-signature']).split(',');
      const unix = t!.replace(/^t=/, '');
      return macs.map((m) =>
        secrets.findIndex(
          (secret) => `v1=${createHmac('sha256', secret).update(`${unix}.${got.body}`).digest('hex')}` === m,
        ),
      );
    };

    const rotated = await rotate();
    expect(rotated.statusCode, rotated.body).toBe(200);
    const { secret: second, previousSecretValidUntil } = rotated.json() as {
      secret: string;
      previousSecretValidUntil: string;
    };
    expect(second).toMatch(/^whsec_/);
    expect(second).not.toBe(first);
    expect(Date.parse(previousSecretValidUntil) - Date.now()).toBeGreaterThan(23 * 3600_000);
    // During the grace period: the new secret's signature first, then the old one's.
    expect(await pingSignedBy([second, first])).toEqual([0, 1]);
    // Once it is over, only the new secret signs.
    await db.pool.query(
      "update webhooks set previous_secret_until = now() - interval '1 second' where id = $1",
      [id],
    );
    expect(await pingSignedBy([second, first])).toEqual([0]);
    // Rotated again: the one before is no longer used at all.
    const third = (await rotate()).json().secret as string;
    expect(await pingSignedBy([third, second, first])).toEqual([0, 1]);
    // Not by another organisation, and not once deleted.
    const foreign = await app.inject({
      method: 'POST',
      url: `/v1/webhooks/${id}/secret`,
      headers: auth('other'),
    });
    expect(foreign.statusCode).toBe(404);
    expect(foreign.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(
      (await app.inject({ method: 'DELETE', url: `/v1/webhooks/${id}`, headers: auth('unit') })).statusCode,
    ).toBe(204);
    expect((await rotate()).statusCode).toBe(404);
  });
  it('changes where a webhook posts and what it is sent, keeping its id and secret', async () => {
    const created = await register({ events: ['records.recorded'] });
    expect(created.statusCode, created.body).toBe(201);
    const { id, secret } = created.json() as { id: string; secret: string };
    const change = (payload: unknown, who = 'unit', webhook = id) =>
      app.inject({
        method: 'PATCH',
        url: `/v1/webhooks/${webhook}`,
        headers: auth(who),
        payload: payload as object,
      });
    const moved = `${hookUrl}/moved`;

    const changed = await change({ url: moved, events: ['records.anchored'] });
    expect(changed.statusCode, changed.body).toBe(200);
    expect(changed.json()).toMatchObject({ id, url: moved, events: ['records.anchored'] });
    expect(changed.json()).not.toHaveProperty('secret');
    const read = await app.inject({ method: 'GET', url: `/v1/webhooks/${id}`, headers: auth('unit') });
    expect(read.json()).toEqual(changed.json());
    // A change of one field keeps the other.
    const eventsOnly = await change({ events: ['records.anchored', 'records.recorded'] });
    expect(eventsOnly.json()).toMatchObject({ url: moved, events: ['records.anchored', 'records.recorded'] });
    expect((await change({ events: ['records.anchored'] })).json().url).toBe(moved);

    // The next POST goes to the new URL, signed with the secret the webhook was created with.
    const ping = await app.inject({ method: 'POST', url: `/v1/webhooks/${id}/ping`, headers: auth('unit') });
    const got = await until('the ping at the new URL', () =>
      received.find((r) => r.headers['lianzheng-delivery'] === ping.json().delivery),
    );
    expect(got.path).toBe('/hooks/lianzheng/moved');
    const [t, mac] = String(got.headers['lianzheng-signature']).split(',');
    const unix = t!.replace(/^t=/, '');
    expect(mac).toBe(`v1=${createHmac('sha256', secret).update(`${unix}.${got.body}`).digest('hex')}`);

    // From now on it is sent anchored notices, and no recorded ones.
    const ids = await submit(2);
    const leaves = await recordedLeaves(ids);
    const last = Number(leaves[1]!.leaf_index);
    const recordedFor = await queuedBy((c) =>
      enqueueRecorded(
        c,
        leaves.map((l) => l.seq),
        last + 1,
      ),
    );
    expect(recordedFor.map((r) => r.webhook_id)).not.toContain(id);
    const anchoredFor = await queuedBy(async (c) => {
      await c.query('update log_anchored set size = $1', [Number(leaves[0]!.leaf_index)]);
      await markAnchored(c, last + 1, [enqueueAnchored]);
    });
    expect(anchoredFor.map((r) => r.webhook_id)).toContain(id);

    // Refused, as problem+json naming what is wrong; nothing changes.
    for (const [payload, path] of [
      [{}, 'body'],
      [{ url: 'ftp://example.org/x' }, 'body/url'],
      [{ events: ['records.deleted'] }, 'body/events/0'],
      [{ events: [] }, 'body/events'],
      [{ url: moved, secret: 'mine' }, 'body/secret'],
    ] as const) {
      const res = await change(payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json().errors[0].path, JSON.stringify(payload)).toBe(path);
    }
    expect((await change({})).json().errors[0].message).toBe('Expected at least one of: url, events, paused');
    expect((await change({ events: ['records.deleted'] })).json().errors[0].message).toBe(
      'Expected one of: records.recorded, records.anchored',
    );
    expect((await change({ url: moved }, 'unit', 'not-a-uuid')).statusCode).toBe(400);
    expect((await change({ url: hookUrl }, 'other')).statusCode).toBe(404);
    expect(
      (await app.inject({ method: 'GET', url: `/v1/webhooks/${id}`, headers: auth('other') })).statusCode,
    ).toBe(404);
    expect(
      (await app.inject({ method: 'PATCH', url: `/v1/webhooks/${id}`, payload: { url: hookUrl } }))
        .statusCode,
    ).toBe(401);
    expect(
      (await app.inject({ method: 'GET', url: `/v1/webhooks/${id}`, headers: auth('unit') })).json(),
    ).toMatchObject({ url: moved, events: ['records.anchored'] });
    // An admin may change any organisation's; nobody may change a deleted one.
    expect((await change({ events: ['records.recorded'] }, 'admin')).statusCode).toBe(200);
    await app.inject({ method: 'DELETE', url: `/v1/webhooks/${id}`, headers: auth('unit') });
    expect((await change({ url: hookUrl })).statusCode).toBe(404);
    expect(
      (await app.inject({ method: 'GET', url: `/v1/webhooks/${id}`, headers: auth('unit') })).statusCode,
    ).toBe(404);
  });

  it('sends each webhook only the events it asked for', async () => {
    const make = (events?: string[]) => register(events ? { events } : {});
    for (const events of [[], ['records.deleted'], ['records.recorded', 'records.recorded']]) {
      const refused = await make(events);
      expect(refused.statusCode, JSON.stringify(events)).toBe(400);
      expect(refused.json().code).toBe('VALIDATION_FAILED');
    }
    // A partner is told what it may ask for.
    expect((await make(['records.deleted'])).json().errors).toEqual([
      { path: 'body/events/0', message: 'Expected one of: records.recorded, records.anchored' },
    ]);
    const anchoredOnly = (await make(['records.anchored'])).json() as { id: string; events: string[] };
    const recordedOnly = (await make(['records.recorded'])).json() as { id: string; events: string[] };
    const both = (await make()).json() as { id: string; events: string[] };
    expect([anchoredOnly.events, recordedOnly.events, both.events]).toEqual([
      ['records.anchored'],
      ['records.recorded'],
      ['records.recorded', 'records.anchored'],
    ]);
    const listed = (await app.inject({ method: 'GET', url: '/v1/webhooks', headers: auth('unit') })).json();
    expect(listed.webhooks.map((w: { events: string[] }) => w.events)).toEqual([
      ['records.anchored'],
      ['records.recorded'],
      ['records.recorded', 'records.anchored'],
    ]);

    const ids = await submit(2);
    const leaves = await recordedLeaves(ids);
    /** Which webhooks `write` queues notices for (rolled back). */
    const notifiedBy = async (write: (client: pg.PoolClient) => Promise<void>): Promise<string[]> =>
      (await queuedBy(write)).map((r) => r.webhook_id).sort();
    const last = Number(leaves[1]!.leaf_index);
    expect(
      await notifiedBy((c) =>
        enqueueRecorded(
          c,
          leaves.map((l) => l.seq),
          last + 1,
        ),
      ),
    ).toEqual([recordedOnly.id, both.id].sort());
    expect(
      await notifiedBy(async (c) => {
        await c.query('update log_anchored set size = $1', [Number(leaves[0]!.leaf_index)]);
        await markAnchored(c, last + 1, [enqueueAnchored]);
      }),
    ).toEqual([anchoredOnly.id, both.id].sort());
    for (const w of [anchoredOnly, recordedOnly, both]) {
      await app.inject({ method: 'DELETE', url: `/v1/webhooks/${w.id}`, headers: auth('unit') });
    }
  });
});
