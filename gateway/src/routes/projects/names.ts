import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Principal } from '../../auth/principal.ts';
import { AppError } from '../../errors.ts';
import type { LedgerProject } from '../../ledger/ledger.ts';
import {
  type DisplayNameSchema,
  OrganisationBody,
  OrganisationResponse,
  PROJECT_ID_PATTERN,
  ProjectNamesBody,
  ProjectResponse,
  type ProjectSchema,
} from '../../read/schemas.ts';
import { problemResponses } from '../../schemas.ts';
import type { Queryable } from '../../storage/queryable.ts';
import { textProblem } from '../../unicode.ts';
import { typeboxValidatorCompiler } from '../../validation.ts';

// Display names (issue #21, migration 0900): villagers read 五星村村民委员会 and 路基, not
// demo-village-committee and m1-subgrade. The ledger keeps the project exactly as registered —
// changing a name there would make an identical re-registration a conflict and the names are not
// evidence — so the names a page shows live here, beside it: the owning unit sets them when it
// registers the project and corrects them later; an organisation names itself. This file owns the
// `organisations` and `project_names` tables.

type DisplayName = Static<typeof DisplayNameSchema>;
type Caller = { role: string; org?: string; subject?: string };

export interface ProjectNames {
  zh: string | null;
  en: string | null;
  milestones: Record<string, { zh?: string; en?: string }>;
}

/** What a change of names sets: undefined leaves a name as it is, null clears it. */
export interface ProjectNamesChange {
  zh?: string | null;
  en?: string | null;
  milestones?: { id: string; zh?: string | null; en?: string | null }[];
}

function caller(p: Principal): Caller {
  return {
    role: p.role,
    ...(p.org !== undefined ? { org: p.org } : {}),
    ...(p.subject !== undefined ? { subject: p.subject } : {}),
  };
}

export async function loadProjectNames(db: Queryable, projectId: string): Promise<ProjectNames | null> {
  const { rows } = await db.query<{
    name_zh: string | null;
    name_en: string | null;
    milestones: ProjectNames['milestones'];
  }>('select name_zh, name_en, milestones from project_names where project_id = $1', [projectId]);
  const r = rows[0];
  return r ? { zh: r.name_zh, en: r.name_en, milestones: r.milestones } : null;
}

/**
 * Merges a change into the project's names in one statement, so two changes at once each keep
 * what the other set: a name not named in the change stays, a null clears it. A milestone's
 * names merge key by key (a JSON null removes that name).
 */
export async function saveProjectNames(
  db: Queryable,
  projectId: string,
  change: ProjectNamesChange,
  by: Principal,
): Promise<void> {
  const milestones: Record<string, Record<string, string | null>> = {};
  for (const m of change.milestones ?? []) {
    const names: Record<string, string | null> = {};
    if (m.zh !== undefined) names.zh = m.zh;
    if (m.en !== undefined) names.en = m.en;
    milestones[m.id] = names;
  }
  await db.query(
    `insert into project_names (project_id, name_zh, name_en, milestones, updated_by)
     values ($1, $3, $5, jsonb_strip_nulls($6::jsonb), $7)
     on conflict (project_id) do update set
       name_zh = case when $2 then excluded.name_zh else project_names.name_zh end,
       name_en = case when $4 then excluded.name_en else project_names.name_en end,
       milestones = project_names.milestones || coalesce(
         (select jsonb_object_agg(k, jsonb_strip_nulls(coalesce(project_names.milestones -> k, '{}') || v))
            from jsonb_each($6::jsonb) as e (k, v)), '{}'),
       updated_at = now(), updated_by = excluded.updated_by`,
    [
      projectId,
      change.zh !== undefined,
      change.zh ?? null,
      change.en !== undefined,
      change.en ?? null,
      // jsonb_strip_nulls drops a null name inside each milestone's object on insert.
      JSON.stringify(milestones),
      JSON.stringify(caller(by)),
    ],
  );
}

export async function saveOrganisationName(
  db: Queryable,
  id: string,
  name: DisplayName,
  by: Principal,
): Promise<{ updatedAt: Date }> {
  const { rows } = await db.query<{ updated_at: Date }>(
    `insert into organisations (id, name_zh, name_en, updated_by) values ($1, $2, $3, $4)
     on conflict (id) do update set name_zh = excluded.name_zh, name_en = excluded.name_en,
       updated_at = now(), updated_by = excluded.updated_by
     returning updated_at`,
    [id, name.zh, name.en ?? null, JSON.stringify(caller(by))],
  );
  return { updatedAt: rows[0]?.updated_at ?? new Date() };
}

/** The display names of the organisations among `ids` that gave one. */
export async function loadOrganisationNames(
  db: Queryable,
  ids: string[],
): Promise<Record<string, DisplayName>> {
  if (ids.length === 0) return {};
  const { rows } = await db.query<{ id: string; name_zh: string; name_en: string | null }>(
    'select id, name_zh, name_en from organisations where id = any($1::text[])',
    [ids],
  );
  const out: Record<string, DisplayName> = {};
  for (const r of rows) out[r.id] = { zh: r.name_zh, ...(r.name_en ? { en: r.name_en } : {}) };
  return out;
}

/** The project as answered: the ledger's fields with the display names laid over them. */
export function projectView(
  project: LedgerProject,
  names: ProjectNames | null,
  organisations: Record<string, DisplayName> = {},
): Static<typeof ProjectSchema> {
  const registered =
    (project.milestones as { id: string; name: string; dueDate: string }[] | undefined) ?? [];
  const milestones = registered.map((m) => {
    const shown = names?.milestones[m.id];
    const zh = shown?.zh ?? m.name;
    return {
      id: m.id,
      name: zh,
      ...(shown?.en ? { nameEn: shown.en } : {}),
      dueDate: m.dueDate,
      ...(zh !== m.name ? { registeredName: m.name } : {}),
    };
  });
  const zh = names?.zh ?? project.name;
  const owner = organisations[project.ownerOrg];
  return {
    id: project.id,
    name: zh,
    ...(names?.en ? { nameEn: names.en } : {}),
    ...(zh !== project.name ? { registeredName: project.name } : {}),
    regionCode: project.regionCode,
    ownerOrg: project.ownerOrg,
    ...(owner ? { ownerOrgName: owner } : {}),
    budget: project.budget,
    level: project.level,
    milestones,
  };
}

/** A milestone named in a change must be one of the project's (its ids are on the ledger). */
export function unknownMilestones(project: LedgerProject, change: ProjectNamesChange): string[] {
  const known = new Set(((project.milestones as { id: string }[] | undefined) ?? []).map((m) => m.id));
  return (change.milestones ?? []).map((m) => m.id).filter((id) => !known.has(id));
}

const OrgParams = Type.Object({
  id: Type.String({
    minLength: 1,
    maxLength: 200,
    description: 'an organisation, as its credentials name it',
  }),
});
const ProjectParams = Type.Object({ id: Type.String({ pattern: PROJECT_ID_PATTERN }) });

export default async function nameRoutes(
  app: FastifyInstance,
  options: {
    /** The project's ledger payload and owner, or NOT_FOUND. */
    loadProject: (id: string) => Promise<{ project: LedgerProject; ownerOrg: string }>;
    /** The project as GET /v1/projects/{id} answers it to this caller. */
    answer: (id: string, principal: Principal) => Promise<unknown>;
  },
): Promise<void> {
  const security: { [scheme: string]: string[] }[] = [{ bearer: [] }, { apiKey: [] }, { mutualTLS: [] }];

  app.patch<{ Params: Static<typeof ProjectParams>; Body: ProjectNamesBody }>(
    '/v1/projects/:id',
    {
      onRequest: app.requireRole('unit', 'admin'),
      // Never coerced (Fastify's Ajv would turn "" into null, which clears a name).
      validatorCompiler: typeboxValidatorCompiler(),
      schema: {
        tags: ['projects'],
        summary: "Change a project's display names (Chinese, English; its milestones'; its owner's)",
        description:
          'The owning unit or an admin. Display names only: the project on the ledger never changes, and ' +
          'GET answers its registered name as `registeredName` when the display name differs. A name set to ' +
          'null shows the registered one again (Chinese) or none (English). Answers like GET.',
        security,
        params: ProjectParams,
        body: ProjectNamesBody,
        response: { 200: ProjectResponse, ...problemResponses(400, 401, 403, 404, 415, 503) },
      },
    },
    async (request) => {
      const illFormed = textProblem(request.body, 'body', { refuseNul: true });
      if (illFormed) throw illFormed;
      const { project, ownerOrg } = await options.loadProject(request.params.id);
      const who = request.principal;
      if (!(who.role === 'admin' || (who.role === 'unit' && who.org === ownerOrg))) {
        throw new AppError(
          'FORBIDDEN',
          `only a unit of ${ownerOrg}, which owns project ${project.id}, or an admin may name it`,
          { reason: 'NOT_PROJECT_OWNER', projectId: project.id, ownerOrg },
        );
      }
      const body = request.body;
      const change: ProjectNamesChange = {
        ...(body.name !== undefined ? { zh: body.name } : {}),
        ...(body.nameEn !== undefined ? { en: body.nameEn } : {}),
        ...(body.milestones
          ? {
              milestones: body.milestones.map((m) => ({
                id: m.id,
                ...(m.name !== undefined ? { zh: m.name } : {}),
                ...(m.nameEn !== undefined ? { en: m.nameEn } : {}),
              })),
            }
          : {}),
      };
      const unknown = unknownMilestones(project, change);
      if (unknown.length > 0) {
        throw new AppError(
          'VALIDATION_FAILED',
          `project ${project.id} has no milestone ${unknown.join(', ')}`,
          {
            errors: unknown.map((id) => ({ path: 'body/milestones', message: `unknown milestone ${id}` })),
          },
        );
      }
      await saveProjectNames(app.db, project.id, change, who);
      if (body.ownerOrgName) await saveOrganisationName(app.db, ownerOrg, body.ownerOrgName, who);
      return options.answer(project.id, who);
    },
  );

  app.put<{ Params: Static<typeof OrgParams>; Body: OrganisationBody }>(
    '/v1/organisations/:id',
    {
      onRequest: app.requireRole('unit', 'partner', 'admin'),
      validatorCompiler: typeboxValidatorCompiler(),
      schema: {
        tags: ['projects'],
        summary: 'Name an organisation (Chinese, English): a unit or partner of it, or an admin',
        description:
          'Pages show the name instead of the id wherever the organisation appears (a project’s owner, ' +
          'a record’s submitter, a delegation). The id stays the binding and is shown beside it.',
        security,
        params: OrgParams,
        body: OrganisationBody,
        response: { 200: OrganisationResponse, ...problemResponses(400, 401, 403, 415, 503) },
      },
    },
    async (request) => {
      const illFormed =
        textProblem(request.params, 'params', { refuseNul: true }) ??
        textProblem(request.body, 'body', { refuseNul: true });
      if (illFormed) throw illFormed;
      const { id } = request.params;
      const who = request.principal;
      if (who.role !== 'admin' && who.org !== id) {
        throw new AppError('FORBIDDEN', `only ${id} itself or an admin may name ${id}`, {
          reason: 'NOT_THE_ORGANISATION',
        });
      }
      const { name, nameEn } = request.body;
      const saved = await saveOrganisationName(
        app.db,
        id,
        { zh: name, ...(nameEn !== undefined ? { en: nameEn } : {}) },
        who,
      );
      return {
        id,
        name,
        ...(nameEn !== undefined ? { nameEn } : {}),
        updatedAt: saved.updatedAt.toISOString(),
      };
    },
  );

  app.get<{ Params: Static<typeof OrgParams> }>(
    '/v1/organisations/:id',
    {
      schema: {
        tags: ['projects'],
        summary: "An organisation's display names (public: they are shown on public pages)",
        params: OrgParams,
        response: { 200: OrganisationResponse, ...problemResponses(400, 404, 429, 503) },
      },
    },
    async (request) => {
      const illFormed = textProblem(request.params, 'params', { refuseNul: true });
      if (illFormed) throw illFormed;
      const { rows } = await app.db.query<{ name_zh: string; name_en: string | null; updated_at: Date }>(
        'select name_zh, name_en, updated_at from organisations where id = $1',
        [request.params.id],
      );
      const r = rows[0];
      if (!r) throw new AppError('NOT_FOUND', `no name for organisation ${request.params.id}`);
      return {
        id: request.params.id,
        name: r.name_zh,
        ...(r.name_en ? { nameEn: r.name_en } : {}),
        updatedAt: r.updated_at.toISOString(),
      };
    },
  );
}
