-- Issue #26: the log's tiles (0990) made smaller, so that each fits in its table row. A tile of
-- 0990 held eight tree levels (510 hashes, 16,320 bytes when full): too large for a heap row, so
-- full tiles went to TOAST, and a proof's read took each subtree as a TOAST slice — an extra
-- index probe and chunk fetch per subtree. Uncached proofs then cost PostgreSQL ~170 µs of CPU
-- each against ~45 with a row per subtree (docs/benchmarks.md, "PostgreSQL per statement").
--
-- Now a tile holds six tree levels: tile (t, i) covers the tree's level-6t nodes [64i, 64i + 64)
-- and the five levels above them, 126 hashes, 4,032 bytes when full, in completion order as
-- before (a tile still filling is a prefix). With toast_tuple_target at the most a page holds and
-- storage `main`, a tile stays in its row, uncompressed (hashes do not compress), and a read is a
-- `substring` of the row it found by primary key. A seal rewrites at most a few 4-KB rows.
--
-- Converted in place: every stored subtree is read out of the eight-level tiles with 0990's
-- functions, then the functions are redefined and the subtrees put into six-level tiles.
create temporary table lz_subtrees_0992 on commit drop as
select (t.level * 8 + r)::smallint as level,
       (t.idx << (8 - r)) + j as idx,
       substring(t.hashes from lz_tile_offset(t.level * 8 + r, (t.idx << (8 - r)) + j) + 1 for 32) as hash
  from log_tiles t, generate_series(0, 7) as r, generate_series(0, (256 >> r) - 1) as j
 where octet_length(t.hashes) >= lz_tile_offset(t.level * 8 + r, (t.idx << (8 - r)) + j) + 32;

create or replace function lz_tile_nodes(m bigint) returns bigint
language sql immutable strict parallel safe
as $$ select m + (m >> 1) + (m >> 2) + (m >> 3) + (m >> 4) + (m >> 5) $$;

-- The byte offset of subtree (level, idx)'s hash in tile (level / 6, idx >> (6 - level % 6)):
-- with r = level % 6 and j its number in the tile, the nodes completed before base hash
-- n - 1 = (j + 1)·2^r - 1 was added (lz_tile_nodes(n - 1)), plus the r completed with it below it.
-- lz_tile_nodes is written out rather than called: PostgreSQL inlines a SQL function into the
-- query only when no parameter given an expression is used more than once, and a call that is
-- not inlined costs microseconds — per subtree of every proof read in SQL.
-- gateway/src/log/subtree-store.ts (tileSlot) computes the same in JS.
create or replace function lz_tile_offset(level integer, idx bigint) returns integer
language sql immutable strict parallel safe
as $$ select (32 * (((((idx & ((64 >> (level % 6)) - 1)) + 1) << (level % 6)) - 1) + (((((idx & ((64 >> (level % 6)) - 1)) + 1) << (level % 6)) - 1) >> 1) + (((((idx & ((64 >> (level % 6)) - 1)) + 1) << (level % 6)) - 1) >> 2) + (((((idx & ((64 >> (level % 6)) - 1)) + 1) << (level % 6)) - 1) >> 3) + (((((idx & ((64 >> (level % 6)) - 1)) + 1) << (level % 6)) - 1) >> 4) + (((((idx & ((64 >> (level % 6)) - 1)) + 1) << (level % 6)) - 1) >> 5) + level % 6))::integer $$;

truncate log_tiles;
alter table log_tiles drop constraint log_tiles_hashes_check;
alter table log_tiles add constraint log_tiles_hashes_check
  check (octet_length(hashes) between 32 and 4032 and octet_length(hashes) % 32 = 0);
alter table log_tiles alter column hashes set storage main;
alter table log_tiles set (toast_tuple_target = 8160);
comment on column log_tiles.level is 'tile level t: the tree''s levels 6t … 6t+5 (migration 0992)';
comment on column log_tiles.idx is 'covers the tree''s level-6t nodes [64·idx, 64·idx + 64)';

insert into log_tiles (level, idx, hashes)
select s.level / 6, s.idx >> (6 - s.level % 6), string_agg(s.hash, ''::bytea order by lz_tile_offset(s.level, s.idx))
  from lz_subtrees_0992 s
 group by 1, 2;
