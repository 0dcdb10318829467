-- Delegations: a project's owning unit (or an admin) lets a partner organisation submit for the
-- project, and may revoke that. A row is never deleted: a revocation sets revoked_at/revoked_by,
-- and a grant after it is a new row, so the history stays part of the project's trail.
create table if not exists project_delegates (
  id bigserial primary key,
  project_id text not null,
  org text not null,                   -- the organisation that may submit for the project
  granted_at timestamptz not null default now(),
  granted_by jsonb not null,           -- {role, org?, subject?} of the caller who granted it
  revoked_at timestamptz,
  revoked_by jsonb,
  constraint project_delegates_revocation check ((revoked_at is null) = (revoked_by is null))
);

-- At most one live delegation per project and organisation; intake looks it up by both.
create unique index if not exists project_delegates_live on project_delegates (project_id, org)
  where revoked_at is null;
create index if not exists project_delegates_history on project_delegates (project_id, org, id);
