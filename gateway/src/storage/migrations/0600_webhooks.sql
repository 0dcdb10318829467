-- Partners' webhooks (0600–0699): where to tell an organisation that its records were recorded,
-- and the outbox of those notices. A delivery is written in the same transaction that marks the
-- records recorded, so none is lost to a crash; the deliverer then POSTs it until the partner
-- answers 2xx, backing off, and gives up after a number of attempts (status 'failed').
create table webhooks (
  id uuid primary key,
  org text not null,
  url text not null,
  created_at timestamptz not null default now(),
  deleted_at timestamptz
);
create index webhooks_live_org on webhooks (org) where deleted_at is null;

create table webhook_deliveries (
  id bigserial primary key,
  webhook_id uuid not null,
  event jsonb not null,                 -- {type, checkpointSize, records: [...]}
  status text not null default 'pending' check (status in ('pending', 'delivered', 'failed')),
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  last_status integer,                  -- the partner's last HTTP status, if it answered
  last_error text,
  created_at timestamptz not null default now(),
  delivered_at timestamptz
);
create index webhook_deliveries_due on webhook_deliveries (next_attempt_at) where status = 'pending';
create index webhook_deliveries_by_webhook on webhook_deliveries (webhook_id, id);
