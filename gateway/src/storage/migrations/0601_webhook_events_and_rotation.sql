-- A webhook names the events it wants (both by default; a ping always goes), and its secret can
-- be rotated (POST /v1/webhooks/{id}/secret) without losing the webhook, its id or its
-- deliveries: the secret is derived from the gateway's webhook key, the id and this version
-- (webhooks/secret.ts), and for a while after a rotation each POST is signed with the previous
-- secret too, so the partner can switch its receiver over without refusing a notice.
alter table webhooks
  add column events text[] not null default '{records.recorded,records.anchored}'
    check (events <@ '{records.recorded,records.anchored}' and cardinality(events) > 0),
  add column secret_version integer not null default 1 check (secret_version >= 1),
  add column previous_secret_until timestamptz;
