-- The pipeline's tables: the Merkle log's complete subtrees and frontier, signed checkpoints,
-- the batch outbox towards the ledger, the flags the ledger raised, and the projects mirror.
-- The submissions table itself belongs to intake (0001–0099); the pipeline only adds the indexes
-- its queries need.

create table log_subtrees (
  level smallint not null,   -- 0 = leaf hash
  idx bigint not null,       -- covers leaves [idx·2^level, (idx+1)·2^level)
  hash bytea not null,
  primary key (level, idx)
);

-- One row: the log's right frontier (complete subtrees, largest first) after the last seal, so
-- a restart need not rebuild it. It can always be recomputed from log_subtrees.
create table log_state (
  id boolean primary key default true check (id),
  size bigint not null,
  frontier bytea[] not null,
  updated_at timestamptz not null default now()
);
insert into log_state (id, size, frontier) values (true, 0, '{}');

-- Signed checkpoints (C2SP signed notes). Only sizes the ledger has confirmed are signed, so a
-- published checkpoint can never be contradicted by a later one of the same size.
create table checkpoints (
  size bigint primary key,
  root bytea not null,
  note text not null,
  created_at timestamptz not null default now()
);

-- The outbox towards the ledger: a row is written when a batch is sealed (leaf indexes
-- assigned) and completed when RecordBatch returns. At most one row is 'sealed' at a time.
create table ledger_batches (
  from_size bigint primary key,
  to_size bigint not null unique check (to_size > from_size),
  root bytea not null,                  -- the gateway's root at to_size
  status text not null default 'sealed' check (status in ('sealed', 'recorded')),
  network text,
  tx_id text,
  block bigint,
  validation text,
  sealed_at timestamptz not null default now(),
  recorded_at timestamptz,
  ledger_ms integer                     -- RecordBatch latency, for operators
);

-- Flags raised by the ledger's rules, per record (flag, never hide). A record may carry the same
-- code more than once (two overdue milestones), so the key is the flag's position.
create table record_flags (
  submission_id uuid not null,
  ordinal smallint not null,            -- position among this record's flags in the ledger's answer
  code text not null,
  project_id text not null,
  flag jsonb not null,                  -- the ledger's flag as it returned it
  primary key (submission_id, ordinal)
);
create index record_flags_project on record_flags (project_id);

-- Which recorded record supersedes or withdraws which, mirrored from each recorded batch so the
-- verify route answers "superseded by …" with one index probe.
create table record_links (
  target_id uuid not null,
  link text not null check (link in ('superseded', 'withdrawn')),
  by_id uuid not null,
  primary key (target_id, link)
);

-- The mirror of projects registered on the ledger; intake checks submissions against it.
create table projects (
  id text primary key,
  owner_org text not null,
  region_code text not null,
  level text not null,
  record jsonb not null,
  tx_id text,
  block bigint,
  created_at timestamptz not null default now()
);
create index projects_owner on projects (owner_org);

-- The batcher's queue: accepted and not yet sealed, in acceptance order.
create index submissions_unsealed on submissions (seq) where status = 'accepted' and leaf_index is null;
create index if not exists submissions_sha256 on submissions (sha256);
create index if not exists submissions_project_seq on submissions (project_id, seq);
