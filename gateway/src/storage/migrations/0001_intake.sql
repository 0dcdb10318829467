-- Intake's tables: the submissions the gateway has accepted (written in group commits, advanced
-- by the pipeline) and the partners' API keys. Shapes fixed in docs/CONTRACTS.md.

create table submissions (
  seq bigserial primary key,            -- acceptance order: leaves are appended in this order
  id uuid not null unique,              -- UUIDv7, = record.id
  project_id text not null,
  sha256 text not null,
  kind text not null,
  record_json text not null,            -- canonicalJson(EvidenceRecord), byte-exact
  details_json text not null,           -- canonicalJson(RecordDetails)
  receipt text not null,                -- the JWS returned with the 202
  status text not null default 'accepted',  -- accepted → recorded → anchored; or rejected
  leaf_index bigint unique,             -- set by the pipeline when sealed
  reject_code text,                     -- set when the ledger refuses a record
  idempotency_key text,                 -- with principal scope; unique (idem_scope, idempotency_key)
  idem_scope text,
  request_hash text,
  accepted_at timestamptz not null,
  constraint submissions_idempotency unique (idem_scope, idempotency_key)
);

-- Partner API keys: only the SHA-256 of the key is stored; the key itself is shown once.
create table api_keys (
  id uuid primary key,
  key_hash text not null unique,        -- hex sha256 of the whole key string
  org text not null,
  role text not null default 'partner' check (role in ('partner', 'unit', 'admin')),
  label text,
  created_at timestamptz not null default now(),
  revoked_at timestamptz
);
