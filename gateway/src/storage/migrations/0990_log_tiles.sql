-- Issue #26 (PostgreSQL's CPU and WAL per recorded record): the log's subtrees in tiles instead of
-- a row per node. log_subtrees took ~2.1 rows per record (every complete subtree of every level),
-- each an `on conflict do nothing` insert — a speculative heap insert, its confirmation and a
-- primary-key insert — which made it the sealing's costliest statement (tests/bench/load/
-- pg-statements.ts, docs/benchmarks.md "PostgreSQL per statement"): ~13 µs of execution and
-- ~480 B of WAL per record.
--
-- A tile, as in C2SP tlog-tiles, covers 256 hashes of one level of the tree: tile (level t,
-- idx i) covers the nodes of tree level 8t numbered [256i, 256i + 256). Unlike tlog-tiles it also
-- keeps the nodes of tree levels 8t+1 … 8t+7 inside it (510 hashes when full, 16,320 bytes), so a
-- read takes any subtree's hash with `substring` and never hashes. The nodes are in the order the
-- log completes them (post-order), so a tile that is still filling is a prefix of its full value:
-- a seal appends to the bytes of the tiles it touches, a truncation cuts them, and "does subtree
-- (level, idx) exist" is "is the tile long enough". The tree's level 8t+8 is the next tile
-- level's level 0.
--
-- lz_tile_nodes(m): how many nodes of a tile's eight levels are complete once m of its 256 base
-- hashes exist (m + m/2 + … + m/128).
create function lz_tile_nodes(m bigint) returns bigint
language sql immutable strict parallel safe
as $$ select m + (m >> 1) + (m >> 2) + (m >> 3) + (m >> 4) + (m >> 5) + (m >> 6) + (m >> 7) $$;

-- lz_tile_offset(level, idx): the byte offset of subtree (level, idx)'s hash in its tile
-- (tile level level / 8, tile idx idx >> (8 - level % 8)). With r = level % 8 and j the node's
-- number inside the tile, it is the last node completed by base hash n - 1, n = (j + 1)·2^r: the
-- nodes completed before that one, plus the r below it at the same moment.
-- gateway/src/log/subtree-store.ts computes the same in JS (tileSlot) for writes.
create function lz_tile_offset(level integer, idx bigint) returns integer
language sql immutable strict parallel safe
as $$ select (32 * (lz_tile_nodes((((idx & ((256 >> (level % 8)) - 1)) + 1) << (level % 8)) - 1) + level % 8))::integer $$;

create table log_tiles (
  level smallint not null,  -- tile level t: the tree's levels 8t … 8t+7
  idx bigint not null,      -- covers the tree's level-8t nodes [256·idx, 256·idx + 256)
  hashes bytea not null,    -- 32 bytes per node, in completion order; a prefix while filling
  primary key (level, idx),
  check (octet_length(hashes) between 32 and 16320 and octet_length(hashes) % 32 = 0)
);
-- Hashes never compress: no pglz attempt; a full tile goes out of line, read by slices.
alter table log_tiles alter column hashes set storage external;

-- Existing subtrees, converted in place. A tile must be a prefix of the completion order (every
-- subtree inside a log size is stored, truncations cut from the end); anything else is refused
-- rather than converted into a tile that would answer wrongly.
do $$
declare
  bad record;
begin
  select s.level / 8 as tl, s.idx >> (8 - s.level % 8) as ti, count(*) as n,
         min(lz_tile_offset(s.level, s.idx)) as first, max(lz_tile_offset(s.level, s.idx)) as last
    into bad
    from log_subtrees s
   group by 1, 2
  having min(lz_tile_offset(s.level, s.idx)) <> 0 or max(lz_tile_offset(s.level, s.idx)) <> 32 * (count(*) - 1)
   limit 1;
  if found then
    raise exception 'log_subtrees: tile % / % is not a prefix (% subtrees, offsets % … %); not converted',
      bad.tl, bad.ti, bad.n, bad.first, bad.last;
  end if;
  if exists (select 1 from log_subtrees where octet_length(hash) <> 32) then
    raise exception 'log_subtrees: a hash is not 32 bytes; not converted';
  end if;
end
$$;

insert into log_tiles (level, idx, hashes)
select s.level / 8, s.idx >> (8 - s.level % 8), string_agg(s.hash, ''::bytea order by lz_tile_offset(s.level, s.idx))
  from log_subtrees s
 group by 1, 2;

drop table log_subtrees;
