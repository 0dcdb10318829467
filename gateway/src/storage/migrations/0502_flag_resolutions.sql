-- Flags that later records answered: a passed acceptance of a milestone flagged
-- MILESTONE_OVERDUE_30_DAYS resolves that flag. The ledger keeps flags in batch values written
-- once, so a resolution is data of its own (the contract's `resolutions` of each batch), mirrored
-- here as the batch is recorded: one row per flagged milestone that stands resolved; a reopened
-- flag (its acceptance withdrawn or superseded) has no row. record_flags is never rewritten; the
-- read routes join this table to an overdue flag by project and milestone.
create table flag_resolutions (
  project_id text not null,
  code text not null,
  milestone text not null,
  by_id uuid not null,                  -- the acceptance that resolved it
  resolved_at text not null,            -- the ledger's transaction time (RFC 3339), as it said it
  restricted boolean not null default false, -- a restricted acceptance: only privileged readers see it
  primary key (project_id, code, milestone)
);
