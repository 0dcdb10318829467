-- A receiver's health (webhooks/deliverer.ts), in the webhooks range (0600–0699) like the tables
-- it changes. A webhook is attempted once at a time across every sealer: `held_until` is a lease
-- while an attempt runs (its deadline and a margin; a crashed sealer's lease runs out), then the
-- receiver's own back-off after a failed attempt, so one slow or failing receiver holds one
-- delivery slot, never the others'. Failed attempts in a row are counted, and a webhook that keeps
-- failing (WEBHOOK_PAUSE_AFTER) is paused — its notices queued, none sent — until its owner resumes
-- it (PATCH /v1/webhooks/{id} {"paused": false}); GET /v1/webhooks/{id} shows when and why.
alter table webhooks
  add column held_until timestamptz,
  add column consecutive_failures integer not null default 0 check (consecutive_failures >= 0),
  add column failing_since timestamptz,
  add column paused_at timestamptz,
  add column paused_reason text,
  add constraint webhooks_paused_with_reason check ((paused_at is null) = (paused_reason is null));
-- The deliverer takes each receiver's oldest due delivery: the pending ones of one webhook, in order.
create index webhook_deliveries_pending_by_webhook on webhook_deliveries (webhook_id, id)
  where status = 'pending';
