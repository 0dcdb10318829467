-- Issue #26 (bytes per record): a batch's rows share one signed group receipt. Each row's receipt
-- is `<JWS>~<item>`, and the JWS (header, the group's payload, signature: ~400 bytes) and, under
-- CRYPTO_SUITE dual, the detached SM2 JWS of the same payload (~240 bytes) are the same for every
-- row of the group commit: stored once per row, they were ~830 of a row's ~2,260 bytes, written to
-- the heap and the WAL a thousand times per 1,000-item batch. Now the group's JWS is stored once,
-- here, and the row keeps only its own `<item>` (claims, index, path) with the group's id.
--
-- Readers are unchanged: the view every reader uses (0700, 0920) puts the receipt back together,
-- byte for byte (`<JWS>~<item>`, and the detached SM2 JWS as before). Rows written earlier, and
-- rows with a receipt of their own (a single POST's plain JWS, a group of one), have no group and
-- read as they are. Written once, like the rows (0700).
--
-- No foreign key: intake writes the group and its rows in one statement, and a key would add a
-- trigger's look-up per row to the hottest INSERT; nothing deletes either.
create table receipt_groups (
  id bigint generated always as identity primary key,
  -- The group's compact JWS (`header.payload.signature`), ES256 (or SM2 under CRYPTO_SUITE gm).
  jws text not null,
  -- CRYPTO_SUITE dual: the SM2 JWS of the same payload, detached (`header..signature`); else null.
  jws_sm2_detached text
);
alter table receipt_groups set (toast_tuple_target = 8160);

alter table submissions add column receipt_group bigint;

create or replace view submission_states as
select s.seq, s.id, s.project_id, s.sha256, s.kind, s.record_json, s.details_json,
       case when s.receipt_group is null then s.receipt
            else (select g.jws || '~' || s.receipt from receipt_groups g where g.id = s.receipt_group)
       end as receipt,
       st.status, st.leaf_index, st.reject_code,
       s.idempotency_key, s.idem_scope, s.request_hash, s.accepted_at, s.link_target,
       case when s.receipt_group is null then s.receipt_sm2
            else (select g.jws_sm2_detached from receipt_groups g where g.id = s.receipt_group)
       end as receipt_sm2
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
