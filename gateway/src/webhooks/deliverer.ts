import http from 'node:http';
import https from 'node:https';
import type pg from 'pg';
import type { Logger } from 'pino';
import { guardedLookup, webhookUrlProblem } from './address-guard.ts';
import { signatureHeader, webhookSecret } from './secret.ts';

export interface DelivererOptions {
  db: pg.Pool;
  key: Buffer;
  allowPrivate: boolean;
  /** How often to look for due deliveries (ms). */
  intervalMs: number;
  /** The wait after the first failed attempt (ms); it doubles each time, up to six hours. */
  retryBaseMs: number;
  /** Attempts before a delivery is given up ('failed'). */
  maxAttempts: number;
  /** One attempt's limit (ms), connection to last byte. */
  timeoutMs?: number;
  /** Days a delivered or failed delivery (and its notice) is kept for `GET …/deliveries`. */
  keepDays: number;
  log?: Pick<Logger, 'warn' | 'info'>;
}

interface Due {
  id: string;
  webhook_id: string;
  event: Record<string, unknown>;
  attempts: number;
  created_at: Date;
  url: string | null;
  deleted_at: Date | null;
  secret_version: number | null;
  /** Within the grace period after a rotation: sign with the previous secret too. */
  sign_previous: boolean | null;
}

const MAX_RETRY_MS = 6 * 3600_000;
/** How long a taken delivery is hidden from other sealers while its attempt runs. */
const LEASE = "interval '5 minutes'";
const BATCH = 20;

/** What one attempt came to: the partner's status, or why there was none. */
export type Attempt = { ok: true; status: number } | { ok: false; status?: number; error: string };

/** POSTs `body` to `url`, signed, through the address guard; never follows redirects. */
export function postSigned(
  url: string,
  body: string,
  headers: Record<string, string>,
  options: { allowPrivate: boolean; timeoutMs: number },
): Promise<Attempt> {
  const problem = webhookUrlProblem(url, options.allowPrivate);
  if (problem) return Promise.resolve({ ok: false, error: problem });
  const target = new URL(url);
  const client = target.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    const req = client.request(
      target,
      {
        method: 'POST',
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          'user-agent': 'LianZheng-Webhooks/1',
        },
        lookup: guardedLookup(options.allowPrivate),
        timeout: options.timeoutMs,
        // One connection per attempt: no pooled socket outlives the address check.
        agent: false,
      },
      (res) => {
        // The answer's body is not read beyond a little, and never trusted.
        res.resume();
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          resolve(
            status >= 200 && status < 300
              ? { ok: true, status }
              : { ok: false, status, error: `HTTP ${status}` },
          );
        });
        res.on('error', (e) => resolve({ ok: false, status: res.statusCode, error: e.message }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
    req.on('error', (e) => resolve({ ok: false, error: e.message }));
    req.end(body);
  });
}

/**
 * Delivers the outbox: takes due deliveries (skipping those another sealer holds), POSTs each to
 * its webhook signed with the webhook's secret, and records the outcome — delivered on a 2xx,
 * otherwise tried again after a doubling wait, and failed after `maxAttempts`. At least once:
 * a partner may see a delivery twice (after a crash mid-attempt) and should key on its `id`.
 */
export function createDeliverer(options: DelivererOptions) {
  const { db } = options;

  /** The secrets a delivery is signed with: the current one, and the previous during a rotation. */
  const secretsOf = (d: Due): string[] => {
    const version = d.secret_version ?? 1;
    const secrets = [webhookSecret(options.key, d.webhook_id, version)];
    if (d.sign_previous && version > 1) secrets.push(webhookSecret(options.key, d.webhook_id, version - 1));
    return secrets;
  };
  let timer: NodeJS.Timeout | undefined;
  let stopped = true;
  let running: Promise<void> = Promise.resolve();

  async function take(): Promise<Due[]> {
    const { rows } = await db.query<Due>(
      `with due as (
         select id from webhook_deliveries
          where status = 'pending' and next_attempt_at <= now()
          order by id limit ${BATCH} for update skip locked)
       update webhook_deliveries d set next_attempt_at = now() + ${LEASE}
         from due where d.id = due.id
       returning d.id::text, d.webhook_id::text, d.event, d.attempts, d.created_at,
                 (select url from webhooks w where w.id = d.webhook_id) as url,
                 (select deleted_at from webhooks w where w.id = d.webhook_id) as deleted_at,
                 (select secret_version from webhooks w where w.id = d.webhook_id) as secret_version,
                 (select coalesce(previous_secret_until > now(), false) from webhooks w where w.id = d.webhook_id)
                   as sign_previous`,
    );
    return rows;
  }

  async function attempt(d: Due): Promise<void> {
    if (d.url === null || d.deleted_at !== null) {
      await db.query(
        `update webhook_deliveries set status = 'failed', last_error = 'the webhook was deleted' where id = $1`,
        [d.id],
      );
      return;
    }
    const body = JSON.stringify({ id: d.id, createdAt: d.created_at.toISOString(), ...d.event });
    const unix = Math.floor(Date.now() / 1000);
    const result = await postSigned(
      d.url,
      body,
      {
        'lianzheng-delivery': d.id,
        'lianzheng-event': String(d.event.type),
        'lianzheng-signature': signatureHeader(secretsOf(d), body, unix),
      },
      { allowPrivate: options.allowPrivate, timeoutMs: options.timeoutMs ?? 10_000 },
    );
    const attempts = d.attempts + 1;
    if (result.ok) {
      await db.query(
        `update webhook_deliveries set status = 'delivered', attempts = $2, last_status = $3, last_error = null,
                delivered_at = now() where id = $1`,
        [d.id, attempts, result.status],
      );
      return;
    }
    const giveUp = attempts >= options.maxAttempts;
    const waitMs = Math.min(options.retryBaseMs * 2 ** (attempts - 1), MAX_RETRY_MS);
    await db.query(
      `update webhook_deliveries set status = $2, attempts = $3, last_status = $4, last_error = $5,
              next_attempt_at = now() + make_interval(secs => $6::double precision / 1000) where id = $1`,
      [
        d.id,
        giveUp ? 'failed' : 'pending',
        attempts,
        result.status ?? null,
        result.error.slice(0, 500),
        waitMs,
      ],
    );
    options.log?.warn(
      {
        delivery: d.id,
        webhook: d.webhook_id,
        attempts,
        status: result.status,
        reason: result.error,
        giveUp,
      },
      giveUp ? 'webhook delivery failed for good' : 'webhook delivery failed; will try again',
    );
  }

  /**
   * Deletes finished deliveries older than `keepDays`, at most 10,000 a call: each holds its
   * notice (up to a few MB for a large batch), and the outbox must not grow with the log.
   */
  async function prune(): Promise<number> {
    const { rowCount } = await db.query(
      `delete from webhook_deliveries where id in (
         select id from webhook_deliveries
          where status <> 'pending' and created_at < now() - make_interval(days => $1)
          order by id limit 10000)`,
      [options.keepDays],
    );
    return rowCount ?? 0;
  }
  let prunedAt = 0;

  /** One round: every due delivery, concurrently within the round; pruning once an hour. */
  async function round(): Promise<number> {
    if (Date.now() - prunedAt > 3600_000) {
      prunedAt = Date.now();
      await prune();
    }
    const due = await take();
    await Promise.all(due.map((d) => attempt(d)));
    return due.length;
  }

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = round()
        .then((n) => {
          // A full round means more are waiting: go again at once.
          if (n === BATCH && !stopped) return round().then(() => undefined);
        })
        .catch((e: Error) => options.log?.warn({ reason: e.message }, 'webhook deliverer round failed'))
        .finally(schedule);
    }, options.intervalMs);
    timer.unref();
  };

  return {
    round,
    prune,
    start() {
      if (!stopped) return;
      stopped = false;
      schedule();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
