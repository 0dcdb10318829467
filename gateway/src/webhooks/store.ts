import type { Queryable } from '../storage/queryable.ts';

// The one owner of `webhooks` (partners' registrations) and `webhook_deliveries` (the notices'
// outbox) — apart from the notices themselves, which outbox.ts writes inside the batcher's and
// the anchorer's transactions. The routes (routes/webhooks) and the deliverer call these
// functions. Each takes a Queryable first: the pool, or the client of a caller's transaction.

/** The notices a webhook may ask for (a `ping` is always sent). */
export const WEBHOOK_EVENTS = ['records.recorded', 'records.anchored'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export interface WebhookRow {
  id: string;
  org: string;
  url: string;
  events: WebhookEvent[];
  created_at: Date;
  paused_at: Date | null;
  paused_reason: string | null;
  consecutive_failures: number;
  failing_since: Date | null;
}

/** The columns of `webhooks` a WebhookRow is read from. */
const COLUMNS =
  'id::text, org, url, events, created_at, paused_at, paused_reason, consecutive_failures, failing_since';

// ---------------------------------------------------------------------------------------------
// Registrations (the routes).

/** A live (not deleted) webhook. */
export async function findWebhook(db: Queryable, id: string): Promise<WebhookRow | undefined> {
  const { rows } = await db.query<WebhookRow>(
    `select ${COLUMNS} from webhooks where id = $1 and deleted_at is null`,
    [id],
  );
  return rows[0];
}

/**
 * Adds a webhook for `org` unless it has `maxPerOrg` live ones already (then undefined). The
 * limit and the insert are one statement: two concurrent requests cannot both pass it.
 */
export async function createWebhook(
  db: Queryable,
  hook: { id: string; org: string; url: string; events: readonly WebhookEvent[]; maxPerOrg: number },
): Promise<WebhookRow | undefined> {
  const { rows } = await db.query<WebhookRow>(
    `insert into webhooks (id, org, url, events)
     select $1, $2, $3, $5 where (select count(*) from webhooks where org = $2 and deleted_at is null) < $4
     returning ${COLUMNS}`,
    [hook.id, hook.org, hook.url, hook.maxPerOrg, hook.events],
  );
  return rows[0];
}

/** The live webhooks of `org` (of every organisation when null), oldest first. */
export async function listWebhooks(db: Queryable, org: string | null): Promise<WebhookRow[]> {
  const { rows } = await db.query<WebhookRow>(
    `select ${COLUMNS} from webhooks
      where deleted_at is null and ($1::text is null or org = $1) order by created_at, id`,
    [org],
  );
  return rows;
}

/** What PATCH changes; an absent field is kept. */
export interface WebhookChange {
  url?: string | undefined;
  events?: readonly WebhookEvent[] | undefined;
  paused?: boolean | undefined;
}

/**
 * Changes a live webhook; undefined when it is gone. Resumed (`paused: false`): its failures in a
 * row forgotten, the receiver no longer held back, and its pending deliveries due at once. Paused
 * by hand: said so (`pausedBy`), unless it was paused already.
 */
export async function changeWebhook(
  db: Queryable,
  id: string,
  change: WebhookChange,
  pausedBy: string,
): Promise<WebhookRow | undefined> {
  const { rows } = await db.query<WebhookRow>(
    `with resumed as (
       update webhook_deliveries set next_attempt_at = now()
        where $4::boolean is false and webhook_id = $1 and status = 'pending' and next_attempt_at > now())
     update webhooks
        set url = coalesce($2, url), events = coalesce($3, events),
            paused_at = case when $4::boolean is null then paused_at
                             when $4 then coalesce(paused_at, now()) end,
            paused_reason = case when $4::boolean is null then paused_reason
                                 when $4 then coalesce(paused_reason, $5) end,
            consecutive_failures = case when $4::boolean is false then 0 else consecutive_failures end,
            failing_since = case when $4::boolean is false then null else failing_since end,
            held_until = case when $4::boolean is false and paused_at is not null then null
                              else held_until end
      where id = $1 and deleted_at is null
      returning ${COLUMNS}`,
    [id, change.url ?? null, change.events ?? null, change.paused ?? null, pausedBy],
  );
  return rows[0];
}

/** Deletes a webhook; its pending deliveries are not sent (marked failed). */
export async function deleteWebhook(db: Queryable, id: string): Promise<void> {
  await db.query(
    `with gone as (update webhooks set deleted_at = now() where id = $1 and deleted_at is null returning id)
     update webhook_deliveries set status = 'failed', last_error = 'the webhook was deleted'
      where webhook_id in (select id from gone) and status = 'pending'`,
    [id],
  );
}

/** Queues a `ping` notice to webhook `id`; returns the delivery's id. */
export async function queuePing(db: Queryable, id: string): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    `insert into webhook_deliveries (webhook_id, event) values ($1, '{"type":"ping"}') returning id::text`,
    [id],
  );
  return rows[0]!.id;
}

/**
 * Moves a live webhook to its next secret, the previous one still signing for `previousHours`;
 * undefined when it is gone.
 */
export async function rotateWebhookSecret(
  db: Queryable,
  id: string,
  previousHours: number,
): Promise<{ secret_version: number; previous_secret_until: Date } | undefined> {
  const { rows } = await db.query<{ secret_version: number; previous_secret_until: Date }>(
    `update webhooks
        set secret_version = secret_version + 1,
            previous_secret_until = now() + make_interval(hours => $2)
      where id = $1 and deleted_at is null
      returning secret_version, previous_secret_until`,
    [id, previousHours],
  );
  return rows[0];
}

export interface DeliveryRow {
  id: string;
  type: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  records: number;
  last_status: number | null;
  last_error: string | null;
  created_at: Date;
  next_attempt_at: Date;
  delivered_at: Date | null;
}

/** A webhook's latest `limit` deliveries, newest first. */
export async function latestDeliveries(
  db: Queryable,
  webhookId: string,
  limit: number,
): Promise<DeliveryRow[]> {
  const { rows } = await db.query<DeliveryRow>(
    `select id::text, event->>'type' as type, status, attempts,
            coalesce(jsonb_array_length(event->'records'), 0) as records, last_status, last_error,
            created_at, next_attempt_at, delivered_at
       from webhook_deliveries d where webhook_id = $1 order by d.id desc limit $2`,
    [webhookId, limit],
  );
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Deliveries (the deliverer).

/** A delivery due now, with what its attempt needs of its webhook. */
export interface DueDelivery {
  id: string;
  webhook_id: string;
  event: Record<string, unknown>;
  attempts: number;
  created_at: Date;
  url: string;
  secret_version: number;
  /** Within the grace period after a rotation: sign with the previous secret too. */
  sign_previous: boolean;
}

/**
 * Leases up to `n` receivers that are live, not paused, not held (by another attempt or a
 * back-off) and not among `busy` (attempts under way here) and have a due delivery — the oldest
 * due first — for `leaseMs`, and returns that delivery of each.
 */
export async function leaseDue(
  db: Queryable,
  busy: readonly string[],
  n: number,
  leaseMs: number,
): Promise<DueDelivery[]> {
  const { rows } = await db.query<DueDelivery>(
    `with picked as (
       select w.id as webhook_id, d.id as delivery_id
         from webhooks w
         cross join lateral (
           select d.id from webhook_deliveries d
            where d.webhook_id = w.id and d.status = 'pending' and d.next_attempt_at <= now()
            order by d.id limit 1) d
        where w.deleted_at is null and w.paused_at is null
          and (w.held_until is null or w.held_until <= now())
          and w.id <> all($1::uuid[])
        order by d.id
        limit $2
        for update of w skip locked)
     update webhooks w set held_until = now() + make_interval(secs => $3::double precision / 1000)
       from picked join webhook_deliveries d on d.id = picked.delivery_id
      where w.id = picked.webhook_id
     returning d.id::text, w.id::text as webhook_id, d.event, d.attempts, d.created_at, w.url,
               w.secret_version, coalesce(w.previous_secret_until > now(), false) as sign_previous`,
    [[...busy], n, leaseMs],
  );
  return rows;
}

/** Frees a receiver leased by an attempt that was cut short (no outcome to record). */
export async function releaseReceiver(db: Queryable, webhookId: string): Promise<void> {
  await db.query('update webhooks set held_until = null where id = $1', [webhookId]);
}

/** A delivery was accepted (`status`, 2xx): its receiver is free and no longer failing. */
export async function recordDelivered(
  db: Queryable,
  d: { id: string; webhook_id: string },
  attempts: number,
  status: number,
): Promise<void> {
  await db.query(
    `with delivered as (
       update webhook_deliveries set status = 'delivered', attempts = $2, last_status = $3,
              last_error = null, delivered_at = now() where id = $1)
     update webhooks set held_until = null, consecutive_failures = 0, failing_since = null
      where id = $4`,
    [d.id, attempts, status, d.webhook_id],
  );
}

/** A failed attempt, as the deliverer judged it. */
export interface FailedAttempt {
  /** Give the delivery up ('failed') rather than try again ('pending'). */
  giveUp: boolean;
  attempts: number;
  status: number | null;
  error: string;
  /** When the delivery is tried again (by its own attempts). */
  retryInMs: number;
  /** Failures in a row that pause the receiver (0: never). */
  pauseAfter: number;
  /** The receiver's back-off: `retryBaseMs` doubled per failure in a row, at most `maxRetryMs`. */
  retryBaseMs: number;
  maxRetryMs: number;
}

/**
 * Records a failed attempt: the delivery waits by its own attempts; the receiver by its failures
 * in a row (every delivery's), and is paused at `pauseAfter` of them. Returns those failures and
 * whether this one paused it.
 */
export async function recordFailed(
  db: Queryable,
  d: { id: string; webhook_id: string },
  f: FailedAttempt,
): Promise<{ failures: number; paused: boolean } | undefined> {
  const { rows } = await db.query<{ failures: number; paused: boolean }>(
    `with failed as (
       update webhook_deliveries set status = $2, attempts = $3, last_status = $4, last_error = $5,
              next_attempt_at = now() + make_interval(secs => $6::double precision / 1000)
        where id = $1),
     counted as (select id, consecutive_failures + 1 as failures,
                        paused_at is null and $8 > 0 and consecutive_failures + 1 >= $8 as pause
                   from webhooks where id = $7)
     update webhooks w
        set consecutive_failures = c.failures,
            failing_since = coalesce(w.failing_since, now()),
            held_until = now() + make_interval(
              secs => least($9::double precision * power(2, least(c.failures - 1, 40)), $10) / 1000),
            paused_at = case when c.pause then now() else w.paused_at end,
            paused_reason = case when c.pause
              then format('%s failed attempts in a row; the last: %s', c.failures, $5::text)
              else w.paused_reason end
       from counted c where w.id = c.id
     returning c.failures, c.pause as paused`,
    [
      d.id,
      f.giveUp ? 'failed' : 'pending',
      f.attempts,
      f.status,
      f.error,
      f.retryInMs,
      d.webhook_id,
      f.pauseAfter,
      f.retryBaseMs,
      f.maxRetryMs,
    ],
  );
  return rows[0];
}

/**
 * Gives up the pending deliveries that will never be attempted — of a deleted webhook, or older
 * than `keepDays` while their webhook is paused — then deletes finished deliveries older than
 * `keepDays`, at most 10,000 a call. Returns how many were deleted.
 */
export async function pruneDeliveries(db: Queryable, keepDays: number): Promise<number> {
  await db.query(
    `update webhook_deliveries d
        set status = 'failed',
            last_error = case when exists (select 1 from webhooks w where w.id = d.webhook_id and w.deleted_at is null)
                              then 'not sent: the webhook stayed paused' else 'the webhook was deleted' end
      where d.status = 'pending'
        and (not exists (select 1 from webhooks w where w.id = d.webhook_id and w.deleted_at is null)
             or (d.created_at < now() - make_interval(days => $1)
                 and exists (select 1 from webhooks w where w.id = d.webhook_id and w.paused_at is not null)))`,
    [keepDays],
  );
  const { rowCount } = await db.query(
    `delete from webhook_deliveries where id in (
       select id from webhook_deliveries
        where status <> 'pending' and created_at < now() - make_interval(days => $1)
        order by id limit 10000)`,
    [keepDays],
  );
  return rowCount ?? 0;
}
