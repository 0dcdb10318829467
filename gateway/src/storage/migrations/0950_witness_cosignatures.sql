-- Witnesses (issue #24, docs/witnesses.md): the cosignatures outside witnesses returned for the
-- log's checkpoints (C2SP tlog-cosignature lines, served after the log's own signature lines),
-- and what the gateway knows of each witness: the size it last cosigned (the `old` of the next
-- add-checkpoint) and its last failure, for /metrics, the logs and the operator.
create table witness_cosignatures (
  size bigint not null references checkpoints (size),
  vkey text not null,                        -- the witness's verifier key (name+id+base64)
  line text not null,                        -- "— <name> <base64>", without the newline
  cosigned_at timestamptz not null,          -- the time inside the cosignature
  received_at timestamptz not null default now(),
  primary key (size, vkey)
);

create table witness_state (
  vkey text primary key,
  size bigint not null default 0,            -- the size the witness last cosigned (or told us, 409)
  updated_at timestamptz not null default now(),
  last_error text,
  last_error_at timestamptz,
  refusals bigint not null default 0         -- 4xx answers other than 409: a witness saying no
);
