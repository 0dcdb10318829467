-- The complete subtrees (level, index) whose hashes make up the inclusion proof of leaf m in the
-- log of n leaves: RFC 6962's audit path walked from the root (proof/src/lib/merkle-proof.ts,
-- inclusionRanges), each sibling range cut into aligned complete subtrees (`tile`, largest first).
-- The same set proof/'s generateInclusionProof asks its SubtreeSource for, so that a verify
-- lookup reads its record and its proof's hashes in one query instead of two round trips.
-- tests/integration/inclusion-subtrees.test.ts checks both agree for every leaf of many sizes.
create or replace function lz_inclusion_subtrees(m bigint, n bigint)
returns table (level smallint, idx bigint)
language plpgsql immutable strict parallel safe as $$
declare
  lo bigint := 0;
  hi bigint := n;
  k bigint;
  range_start bigint;
  range_end bigint;
  at bigint;
  width bigint;
  lvl smallint;
begin
  if m < 0 or m >= n then
    return;
  end if;
  while hi - lo > 1 loop
    -- k: the largest power of two strictly below the range's width.
    k := 1;
    while k * 2 < hi - lo loop
      k := k * 2;
    end loop;
    if m < lo + k then
      range_start := lo + k;
      range_end := hi;
      hi := lo + k;
    else
      range_start := lo;
      range_end := lo + k;
      lo := lo + k;
    end if;
    at := range_start;
    while at < range_end loop
      width := 1;
      lvl := 0;
      while at % (width * 2) = 0 and at + width * 2 <= range_end loop
        width := width * 2;
        lvl := lvl + 1;
      end loop;
      level := lvl;
      idx := at / width;
      return next;
      at := at + width;
    end loop;
  end loop;
end
$$;
