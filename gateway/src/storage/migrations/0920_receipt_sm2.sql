-- CRYPTO_SUITE dual (issue #23): each submission's SM2 receipt beside its ES256 one — the same
-- claims in the same form (a compact JWS, or a group receipt <JWS>~<item>), signed with alg
-- SM2-with-SM3. Null for rows accepted under intl or gm (gm's SM2 receipt is `receipt` itself)
-- and for every row from before. Written once with the row, like `receipt` (migration 0700).
alter table submissions add column receipt_sm2 text;

-- The view every reader of a submission uses (0700), with the new column at its end (`create or
-- replace view` may only add columns there).
create or replace view submission_states as
select s.seq, s.id, s.project_id, s.sha256, s.kind, s.record_json, s.details_json, s.receipt,
       st.status, st.leaf_index, st.reject_code,
       s.idempotency_key, s.idem_scope, s.request_hash, s.accepted_at, s.link_target,
       s.receipt_sm2
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
