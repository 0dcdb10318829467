-- The record a submission supersedes or withdraws (chaincode's targetOf), kept in its own column
-- so that intake finds a target's pending supersede or withdrawal with one index probe instead of
-- reading every queued submission of the project after it (a LIKE over record_json, 67 ms with
-- 200,000 queued). Only queued rows are indexed: once recorded, record_links says the same.
alter table submissions add column if not exists link_target uuid;

update submissions
   set link_target = coalesce(
         substring(record_json from '"supersedes":"([0-9a-f-]{36})"'),
         case when kind = 'withdrawal' then substring(record_json from '"refs":\["([0-9a-f-]{36})"\]') end
       )::uuid
 where status = 'accepted' and leaf_index is null and link_target is null
   and (kind = 'withdrawal' or record_json like '%"supersedes":"%');

create index if not exists submissions_pending_link_target on submissions (link_target, seq)
 where link_target is not null and status = 'accepted' and leaf_index is null;
