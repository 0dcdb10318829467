-- Issue #26 (PostgreSQL's WAL per recorded record): the digest index keys each submission by its
-- SHA-256 as 32 bytes instead of 64 hex characters. Every intake INSERT adds an entry, and with
-- random digests the index splits pages everywhere; at 80 bytes an entry (65 of key) it wrote
-- ~104 B of WAL per record, the most of any index (tests/bench/load/pg-statements.ts). A 48-byte
-- entry means fewer splits and a smaller index for the verify lookups' probes.
--
-- The one query that probes it (DIGEST_LOOKUP in gateway/src/intake/submission-store.ts, GET
-- /v1/verify) asks for decode(sha256, 'hex') and still compares the text, so it answers exactly
-- as before. Intake only stores 64 lowercase hex digits; a row that is not would make decode fail
-- in the index build, so that is checked first and refused with a reason, changing nothing.
do $$
begin
  if exists (select 1 from submissions where sha256 !~ '^[0-9a-f]{64}$') then
    raise exception 'submissions: a sha256 is not 64 lowercase hex digits; digest index not rebuilt';
  end if;
end
$$;

create index submissions_sha256_bytes on submissions (decode(sha256, 'hex'));
drop index submissions_sha256;
alter index submissions_sha256_bytes rename to submissions_sha256;
