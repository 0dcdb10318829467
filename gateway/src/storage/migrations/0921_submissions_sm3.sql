-- GET /v1/verify/sm3/{hex} (issue #23): records found by the SM3 they carry (digests.sm3, in the
-- canonical record JSON). Only rows that carry one are indexed, so a deployment that never sends
-- SM3 pays nothing; the route's query repeats the predicate so the planner can use the index.
create index submissions_sm3 on submissions (((record_json::jsonb) #>> '{digests,sm3}'))
  where record_json like '%"sm3":"%';
