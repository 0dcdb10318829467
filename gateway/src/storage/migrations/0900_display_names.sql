-- Display names (issue #21): what a villager reads instead of ids — the organisation's name and
-- the project's and its milestones' names, in Chinese and English. Presentation, not evidence:
-- the ledger keeps the project exactly as registered (its name and milestones' names included),
-- and these rows are the names its owning unit chose to show, which it may correct later without
-- a new ledger record. Ids stay the binding; pages show them beside the names.
create table organisations (
  id text primary key,                  -- as credentials name it (a JWT's org, an API key's org)
  name_zh text not null,
  name_en text,
  updated_at timestamptz not null default now(),
  updated_by jsonb not null             -- {role, org?, subject?} of the caller who named it
);

create table project_names (
  project_id text primary key,         -- a row of projects (no foreign key, as project_delegates)
  name_zh text,                         -- null: the name registered on the ledger
  name_en text,
  milestones jsonb not null default '{}', -- {milestoneId: {"zh"?: text, "en"?: text}}
  updated_at timestamptz not null default now(),
  updated_by jsonb not null
);
