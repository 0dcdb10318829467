-- Issue #26 (PostgreSQL's work per recorded record): the Idempotency-Key's uniqueness is kept by
-- an index of the rows that have a key, not of every row. A unique constraint's index holds an
-- entry for each row, and most rows have no key (the batch route's items, demo and CLI
-- submissions): each INSERT then wrote an index entry — ~16 B of WAL and a B-tree insert a
-- record — that no lookup could ever find, as NULLs never conflict and are never asked for.
--
-- The same uniqueness: two rows with one (idem_scope, idempotency_key) are still refused, rows
-- without a key never conflicted. Intake's `on conflict` names the index's predicate, and the
-- replay lookup (findIdempotent) repeats it, so the planner can use the smaller index.
create unique index submissions_idempotency_keyed on submissions (idem_scope, idempotency_key)
  where idempotency_key is not null;
alter table submissions drop constraint submissions_idempotency;
alter index submissions_idempotency_keyed rename to submissions_idempotency;
