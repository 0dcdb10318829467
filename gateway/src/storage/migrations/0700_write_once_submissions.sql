-- A submission's row is written once. Until now the pipeline moved each row forward by updating
-- it — `leaf_index` and `status` when its batch was recorded, `status` again when anchored — and
-- as both columns are indexed (and in the partial indexes' predicates) PostgreSQL could not update
-- in place: every step wrote a new ~2 KB version of the row with entries in every index, as much
-- WAL as the INSERT itself, and left the old version for vacuum (docs/benchmarks.md, session 7).
--
-- The pipeline's state now lives in narrow tables, as transparency logs keep their sequenced
-- leaves apart from the leaf data:
--   seal_queue             accepted and not yet recorded or rejected (the batcher's queue)
--   log_leaves             the leaf each recorded submission became (written once, at confirm)
--   submission_rejections  the submissions the ledger refused, with its code
--   log_anchored           how many leaves of the log are anchored (one row; leaves below it are)
-- and `submission_states` gives every submission with the status it had before, derived:
-- rejected if refused, accepted without a leaf, anchored below the anchored size, else recorded.

create table seal_queue (
  seq bigint primary key
);
-- A queue: every row is deleted soon after it is written, and the batcher reads it from its
-- lowest key, through the dead entries until vacuum removes them. The batcher vacuums it itself
-- (batcher.ts, QUEUE_VACUUM_ROWS); autovacuum also looks at it after every 10,000 dead rows.
alter table seal_queue set (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000);

create table log_leaves (
  leaf_index bigint primary key,
  seq bigint not null unique
);

create table submission_rejections (
  seq bigint primary key,
  code text not null,
  rejected_at timestamptz not null default now()
);

create table log_anchored (
  id boolean primary key default true check (id),
  size bigint not null default 0 check (size >= 0)
);

insert into seal_queue (seq)
select seq from submissions where status = 'accepted' and leaf_index is null;

insert into log_leaves (leaf_index, seq)
select leaf_index, seq from submissions where leaf_index is not null;

insert into submission_rejections (seq, code)
select seq, coalesce(reject_code, 'REJECTED') from submissions where status = 'rejected';

-- Every leaf below a confirmed anchor's size was marked anchored, so the highest anchored leaf
-- (or the highest confirmed anchor, whichever is higher) is the size.
insert into log_anchored (id, size)
values (true, greatest(
  coalesce((select max(leaf_index) + 1 from submissions where status = 'anchored'), 0),
  coalesce((select max(size) from anchors where status = 'confirmed'), 0)));

drop index if exists submissions_unsealed;
drop index if exists submissions_recorded_leaf;
drop index if exists submissions_pending_link_target;
alter table submissions drop column status, drop column leaf_index, drop column reject_code;

-- Intake's probe for a queued supersede or withdrawal of a record (0400): every submission that
-- names a target is indexed (few do), and the queue says whether it is still pending.
create index submissions_link_target on submissions (link_target, seq) where link_target is not null;

-- Each row's state is looked up by its seq, one index probe per table (the lateral subquery is
-- kept apart by `offset 0`, so the planner cannot turn it into a join): a digest lookup must not
-- hash the whole of log_leaves because its statistics lag behind a burst (30 ms per lookup at
-- 300,000 records when it did). Queries over many leaves start from log_leaves instead.
create view submission_states as
select s.seq, s.id, s.project_id, s.sha256, s.kind, s.record_json, s.details_json, s.receipt,
       st.status, st.leaf_index, st.reject_code,
       s.idempotency_key, s.idem_scope, s.request_hash, s.accepted_at, s.link_target
  from submissions s
  cross join lateral (
    select case
             when r.seq is not null then 'rejected'
             when l.leaf_index is null then 'accepted'
             when l.leaf_index < (select a.size from log_anchored a) then 'anchored'
             else 'recorded'
           end as status,
           l.leaf_index, r.code as reject_code
      from (values (1)) as one (x)
      left join log_leaves l on l.seq = s.seq
      left join submission_rejections r on r.seq = s.seq
    offset 0) st;
