import http from 'node:http';
import https from 'node:https';
import type pg from 'pg';
import type { Logger } from 'pino';
import { guardedLookup, type Resolver, webhookUrlProblem } from './address-guard.ts';
import { DEFAULT_LIMITS, type DeliveryLimits } from './limits.ts';
import { signatureHeader, webhookSecret } from './secret.ts';
import {
  type DueDelivery,
  leaseDue,
  pruneDeliveries,
  recordDelivered,
  recordFailed,
  releaseReceiver,
} from './store.ts';

export interface DelivererOptions extends Partial<DeliveryLimits> {
  db: pg.Pool;
  key: Buffer;
  allowPrivate: boolean;
  /** How often to look for due deliveries (ms); a finished attempt also looks at once. */
  intervalMs: number;
  /** The wait after the first failed attempt (ms); it doubles each time, up to six hours. */
  retryBaseMs: number;
  /** Attempts before a delivery is given up ('failed'). */
  maxAttempts: number;
  /** Days a delivered or failed delivery (and its notice) is kept for `GET …/deliveries`. */
  keepDays: number;
  log?: Pick<Logger, 'warn' | 'info'>;
  /** How names are resolved (tests); dns.lookup otherwise. */
  resolve?: Resolver;
}

const MAX_RETRY_MS = 6 * 3600_000;
/** A receiver's lease outlives its attempt's deadline by this much (the outcome's write). */
const LEASE_MARGIN_MS = 60_000;

/** An attempt that did not deliver: the partner's status if it answered, and why. */
export interface Failure {
  ok: false;
  status?: number;
  error: string;
  /** Cut short by the caller (the deliverer stopping): no outcome to record. */
  aborted?: true;
}
/** What one attempt came to: the partner's status, or why there was none. */
export type Attempt = { ok: true; status: number } | Failure;

export interface PostOptions {
  allowPrivate: boolean;
  /** The whole attempt: lookup, connection, TLS, sending, the answer's headers and body. */
  timeoutMs: number;
  /** Bytes of the answer's body read at most; beyond them the connection is dropped. */
  maxAnswerBytes?: number;
  signal?: AbortSignal;
  resolve?: Resolver;
}

/**
 * POSTs `body` to `url`, signed, through the address guard; never follows redirects. The attempt
 * ends by `timeoutMs` whatever the receiver does — silent, dripping a byte at a time, or answering
 * without end — and reads at most `maxAnswerBytes` of the answer: a 2xx counts only if the whole
 * answer came within both.
 */
export function postSigned(
  url: string,
  body: string,
  headers: Record<string, string>,
  options: PostOptions,
): Promise<Attempt> {
  const problem = webhookUrlProblem(url, options.allowPrivate);
  if (problem) return Promise.resolve({ ok: false, error: problem });
  const target = new URL(url);
  const client = target.protocol === 'https:' ? https : http;
  const maxAnswer = options.maxAnswerBytes ?? DEFAULT_LIMITS.maxAnswerBytes;
  return new Promise((resolve) => {
    let status: number | undefined;
    let settled = false;
    let req: http.ClientRequest | undefined;
    const finish = (attempt: Attempt) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      options.signal?.removeEventListener('abort', onAbort);
      // One connection per attempt: whatever is left of it goes.
      req?.destroy();
      resolve(attempt);
    };
    const failed = (error: string): Failure => ({
      ok: false,
      ...(status === undefined ? {} : { status }),
      error,
    });
    const deadline = setTimeout(
      () =>
        finish(
          failed(
            status === undefined
              ? `no answer within ${options.timeoutMs} ms`
              : `HTTP ${status}, but the answer did not end within ${options.timeoutMs} ms`,
          ),
        ),
      options.timeoutMs,
    );
    const onAbort = () => finish({ ...failed('the deliverer stopped'), aborted: true });
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    req = client.request(
      target,
      {
        method: 'POST',
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          'user-agent': 'LianZheng-Webhooks/1',
        },
        lookup: guardedLookup(options.allowPrivate, options.resolve),
        // One connection per attempt: no pooled socket outlives the address check.
        agent: false,
      },
      (res) => {
        status = res.statusCode ?? 0;
        let read = 0;
        // The answer's body is counted, never kept, and never trusted.
        res.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > maxAnswer) finish(failed(`HTTP ${status}, but the answer ran past ${maxAnswer} bytes`));
        });
        res.on('end', () =>
          finish(status! >= 200 && status! < 300 ? { ok: true, status: status! } : failed(`HTTP ${status}`)),
        );
        res.on('error', (e) => finish(failed(e.message)));
        res.on('close', () => finish(failed(`HTTP ${status}, but the connection closed mid-answer`)));
      },
    );
    req.on('error', (e) => finish(failed(e.message)));
    req.end(body);
  });
}

/**
 * Delivers the outbox: at most `concurrency` attempts at once, and at most one per webhook —
 * across every sealer, by a lease on the webhook (`held_until`) — so a slow or failing receiver
 * holds one slot while every other receiver's deliveries go on. Each webhook's due deliveries are
 * taken oldest first, POSTed signed with the webhook's secret, and recorded: delivered on a 2xx,
 * otherwise tried again after a doubling wait, and failed after `maxAttempts`. A failed attempt
 * also holds the receiver back (the same doubling wait, by its failures in a row), and
 * `pauseAfter` of them in a row pause the webhook until its owner resumes it. At least once: a
 * partner may see a delivery twice (after a crash mid-attempt) and should key on its `id`.
 */
export function createDeliverer(options: DelivererOptions) {
  const { db } = options;
  const limits: DeliveryLimits = {
    timeoutMs: options.timeoutMs ?? DEFAULT_LIMITS.timeoutMs,
    maxAnswerBytes: options.maxAnswerBytes ?? DEFAULT_LIMITS.maxAnswerBytes,
    concurrency: options.concurrency ?? DEFAULT_LIMITS.concurrency,
    pauseAfter: options.pauseAfter ?? DEFAULT_LIMITS.pauseAfter,
  };

  /** The secrets a delivery is signed with: the current one, and the previous during a rotation. */
  const secretsOf = (d: DueDelivery): string[] => {
    const version = d.secret_version ?? 1;
    const secrets = [webhookSecret(options.key, d.webhook_id, version)];
    if (d.sign_previous && version > 1) secrets.push(webhookSecret(options.key, d.webhook_id, version - 1));
    return secrets;
  };

  /** Attempts under way in this process, by webhook. */
  const inFlight = new Map<string, Promise<void>>();
  let abort = new AbortController();
  let stopped = true;
  let timer: NodeJS.Timeout | undefined;
  /** The pass taking deliveries now, and whether another should follow it. */
  let pass: Promise<void> | undefined;
  let again = false;

  /**
   * Leases up to `n` receivers that are live, not paused, not held (by another attempt or a
   * back-off) and have a due delivery — the oldest due first — and returns that delivery of each.
   */
  async function take(n: number): Promise<DueDelivery[]> {
    return leaseDue(db, [...inFlight.keys()], n, limits.timeoutMs + LEASE_MARGIN_MS);
  }

  async function attempt(d: DueDelivery, signal: AbortSignal): Promise<void> {
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
      {
        allowPrivate: options.allowPrivate,
        timeoutMs: limits.timeoutMs,
        maxAnswerBytes: limits.maxAnswerBytes,
        signal,
        ...(options.resolve ? { resolve: options.resolve } : {}),
      },
    );
    if (!result.ok && result.aborted) {
      // Stopping: no outcome to record; the receiver is free for the next sealer at once.
      await releaseReceiver(db, d.webhook_id);
      return;
    }
    const attempts = d.attempts + 1;
    if (result.ok) {
      await recordDelivered(db, d, attempts, result.status);
      return;
    }
    const giveUp = attempts >= options.maxAttempts;
    const waitMs = Math.min(options.retryBaseMs * 2 ** (attempts - 1), MAX_RETRY_MS);
    const error = result.error.slice(0, 500);
    // The delivery waits by its own attempts; the receiver by its failures in a row (every
    // delivery's), and is paused at `pauseAfter` of them.
    const receiver = await recordFailed(db, d, {
      giveUp,
      attempts,
      status: result.status ?? null,
      error,
      retryInMs: waitMs,
      pauseAfter: limits.pauseAfter,
      retryBaseMs: options.retryBaseMs,
      maxRetryMs: MAX_RETRY_MS,
    });
    options.log?.warn(
      {
        delivery: d.id,
        webhook: d.webhook_id,
        attempts,
        status: result.status,
        reason: result.error,
        giveUp,
        failuresInARow: receiver?.failures,
      },
      giveUp ? 'webhook delivery failed for good' : 'webhook delivery failed; will try again',
    );
    if (receiver?.paused) {
      options.log?.warn(
        { webhook: d.webhook_id, failuresInARow: receiver.failures, reason: result.error },
        'webhook paused: its receiver keeps failing (PATCH {"paused": false} resumes it)',
      );
    }
  }

  /**
   * Gives up the pending deliveries that will never be attempted — of a deleted webhook, or older
   * than `keepDays` while their webhook is paused — then deletes finished deliveries older than
   * `keepDays`, at most 10,000 a call: each holds its notice (up to a few MB for a large batch),
   * and the outbox must not grow with the log. Returns how many were deleted.
   */
  async function prune(): Promise<number> {
    return pruneDeliveries(db, options.keepDays);
  }
  let prunedAt = 0;

  /** Starts an attempt for each receiver leased, up to the free slots; returns how many. */
  async function fill(): Promise<number> {
    const free = limits.concurrency - inFlight.size;
    if (free <= 0) return 0;
    const due = await take(free);
    const signal = abort.signal;
    for (const d of due) {
      const running = attempt(d, signal)
        .catch((e: Error) =>
          options.log?.warn({ delivery: d.id, reason: e.message }, 'webhook attempt could not be recorded'),
        )
        .finally(() => {
          inFlight.delete(d.webhook_id);
          // A slot is free, and this receiver's next delivery may be due: look again now.
          wake();
        });
      inFlight.set(d.webhook_id, running);
    }
    return due.length;
  }

  /** Looks for due deliveries now (once more after the current look, if one is under way). */
  function wake(): void {
    if (stopped) return;
    if (pass) {
      again = true;
      return;
    }
    pass = (async () => {
      do {
        again = false;
        if (Date.now() - prunedAt > 3600_000) {
          prunedAt = Date.now();
          await prune();
        }
        await fill();
      } while (again && !stopped);
    })()
      .catch((e: Error) => options.log?.warn({ reason: e.message }, 'webhook deliverer round failed'))
      .finally(() => {
        pass = undefined;
      });
  }

  return {
    limits,
    prune,
    /**
     * One round by hand (tests, tools): starts what is due, as the running deliverer would, and
     * waits for every attempt under way. Returns how many it started.
     */
    async round(): Promise<number> {
      const started = await fill();
      await Promise.all(inFlight.values());
      return started;
    },
    /** Attempts under way in this process, by webhook id. */
    inFlight: () => [...inFlight.keys()],
    /** Whether it runs, and how many attempts are under way here. */
    status: () => ({ running: !stopped, attempts: inFlight.size }),
    start() {
      if (!stopped) return;
      stopped = false;
      abort = new AbortController();
      timer = setInterval(wake, options.intervalMs);
      timer.unref();
      wake();
    },
    /** Stops looking, cuts the attempts under way short (they are tried again), and waits for them. */
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      abort.abort();
      await pass;
      await Promise.all(inFlight.values());
    },
  };
}
