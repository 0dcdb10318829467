-- The anchoring outbox: one row per checkpoint the gateway has decided to anchor on an EVM chain.
-- A row is written before anything is signed, its nonce and signed transaction before anything
-- is broadcast, so a restart resumes every anchor it started and never starts one twice.
--   pending   → decided (and maybe signed) but not yet known to the node
--   sent      → the node has the transaction (or it is mined, awaiting confirmations)
--   confirmed → mined with enough confirmations; the submissions below `size` are anchored
--   failed    → reverted or its nonce was taken by another transaction; never retried as is
create table anchors (
  id bigserial primary key,
  chain_id bigint not null,
  contract text not null,                     -- 0x address, lowercase
  sender text not null,                       -- the anchorer's address, lowercase
  origin text not null,                       -- the checkpoint's origin line
  size bigint not null check (size > 0),
  root text not null check (root ~ '^[0-9a-f]{64}$'),
  status text not null default 'pending' check (status in ('pending', 'sent', 'confirmed', 'failed')),
  nonce bigint,
  tx_hash text,                               -- the mined transaction, else the latest signed one
  tx_hashes text[] not null default '{}',     -- every transaction signed for this anchor, oldest first
  raw_tx text,                                -- the latest signed transaction, re-broadcast after outages
  gas_limit bigint,
  max_fee_per_gas numeric(78, 0),
  max_priority_fee_per_gas numeric(78, 0),
  block bigint,
  block_hash text,
  gas_used bigint,
  attempts integer not null default 0,        -- transactions signed (1 + replacements)
  last_error text,
  sent_at timestamptz,                        -- when the latest transaction was signed
  confirmed_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (chain_id, contract, origin, size)
);

-- At most one anchor in flight per chain, contract and log: nonces stay strictly sequential.
create unique index anchors_in_flight on anchors (chain_id, contract, origin) where status in ('pending', 'sent');
create index anchors_confirmed on anchors (origin, size) where status = 'confirmed';
