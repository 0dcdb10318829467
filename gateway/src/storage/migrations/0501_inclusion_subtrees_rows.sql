-- lz_inclusion_subtrees returns one row per complete subtree of an audit path: at most two per
-- level of the tree, ~20–40 for any log this service will hold. Without a row estimate the
-- planner assumes 1,000 (PostgreSQL's default for a set-returning function) and joins them to
-- log_subtrees by hashing the whole table: a verify lookup then read every subtree hash of the
-- log (5 ms at 10,000 rows, growing with the log). With the true order of magnitude it looks
-- each one up by primary key.
alter function lz_inclusion_subtrees(bigint, bigint) rows 40;
