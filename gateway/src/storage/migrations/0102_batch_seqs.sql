-- A sealed batch keeps its leaf order itself (the submissions' seq, in leaf order) until the
-- ledger records it; submissions.leaf_index and status are then written together, in one update,
-- instead of touching every submission row twice.
alter table ledger_batches add column seqs bigint[] not null default '{}';

-- Blocks store the transaction's input (the write set is re-derivable by replaying the contract
-- from genesis, and its hash is in data_hash). Already-compact JSON: skip pglz on the way in.
alter table ledger_blocks alter column payload set storage external;
