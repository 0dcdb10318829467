-- Marking records anchored (`update … set status = 'anchored' where status = 'recorded' and
-- leaf_index < size`) walked the leaf_index index from 0 on every confirmed anchor and every
-- catch-up: all records ever, most of them anchored long ago. This index holds only the rows still
-- 'recorded', so the update reads what it changes. With anchoring off every recorded row is in it
-- (about 1% of a record's bytes on disk).
create index if not exists submissions_recorded_leaf on submissions (leaf_index) where status = 'recorded';
