import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Principal } from '../../auth/principal.ts';
import { AppError } from '../../errors.ts';
import { mayReadRestricted } from '../../read/bundle.ts';
import { type CallerSchema, DelegateSchema, PROJECT_ID_PATTERN } from '../../read/schemas.ts';
import { problemResponses } from '../../schemas.ts';
import { textProblem } from '../../unicode.ts';

// Delegation (issue #22): a project's owning unit — or an admin — lets a partner organisation
// submit for the project, and takes that back. Intake checks it (intake/delegates.ts); every grant
// and revocation is kept (migration 0401) and shown in the project's answer.

const ORG = Type.String({
  minLength: 1,
  maxLength: 200,
  description: 'an organisation, as its credentials name it',
});
const ProjectParams = Type.Object({ id: Type.String({ pattern: PROJECT_ID_PATTERN }) });
const DelegateParams = Type.Object({ id: Type.String({ pattern: PROJECT_ID_PATTERN }), org: ORG });
const GrantBody = Type.Object(
  { org: Type.String({ ...ORG, description: 'the partner organisation that may submit for the project' }) },
  { additionalProperties: false },
);
const Delegate = Type.Composite([Type.Object({ projectId: Type.String() }), DelegateSchema]);
const Delegates = Type.Object({
  projectId: Type.String(),
  ownerOrg: Type.String(),
  delegates: Type.Array(DelegateSchema),
});

type Caller = Static<typeof CallerSchema>;

export interface DelegateRow {
  org: string;
  granted_at: Date;
  granted_by: Caller;
  revoked_at: Date | null;
  revoked_by: Caller | null;
}

const COLUMNS = 'org, granted_at, granted_by, revoked_at, revoked_by';

/** A delegation as answered; who granted and revoked it only `withCallers`. */
export function delegateView(row: DelegateRow, withCallers: boolean): Static<typeof DelegateSchema> {
  return {
    org: row.org,
    active: row.revoked_at === null,
    grantedAt: row.granted_at.toISOString(),
    revokedAt: row.revoked_at?.toISOString() ?? null,
    ...(withCallers ? { grantedBy: row.granted_by, revokedBy: row.revoked_by } : {}),
  };
}

/** Every delegation of a project, oldest first. */
export async function loadDelegates(app: FastifyInstance, projectId: string): Promise<DelegateRow[]> {
  const { rows } = await app.db.query<DelegateRow>({
    name: 'project-delegates',
    text: `select ${COLUMNS} from project_delegates where project_id = $1 order by id`,
    values: [projectId],
  });
  return rows;
}

function caller(p: Principal): Caller {
  return {
    role: p.role,
    ...(p.org !== undefined ? { org: p.org } : {}),
    ...(p.subject !== undefined ? { subject: p.subject } : {}),
  };
}

export default async function delegateRoutes(app: FastifyInstance): Promise<void> {
  const security: { [scheme: string]: string[] }[] = [{ bearer: [] }, { apiKey: [] }, { mutualTLS: [] }];

  const project = async (id: string) => {
    const { rows } = await app.db.query<{ id: string; owner_org: string; region_code: string }>(
      'select id, owner_org, region_code from projects where id = $1',
      [id],
    );
    if (!rows[0]) throw new AppError('NOT_FOUND', `no project ${id}`);
    return rows[0];
  };

  /** The project, if the caller is its owning organisation's unit or an admin. */
  const managed = async (request: FastifyRequest, id: string) => {
    const p = await project(id);
    const who = request.principal;
    if (who.role === 'admin' || (who.role === 'unit' && who.org === p.owner_org)) return p;
    throw new AppError(
      'FORBIDDEN',
      `only a unit of ${p.owner_org}, which owns project ${id}, or an admin may delegate it (asked by a ${who.role}${who.org ? ` of ${who.org}` : ''})`,
      { reason: 'NOT_PROJECT_OWNER', projectId: id, ownerOrg: p.owner_org },
    );
  };

  app.post<{ Params: Static<typeof ProjectParams>; Body: Static<typeof GrantBody> }>(
    '/v1/projects/:id/delegates',
    {
      onRequest: app.requireRole('unit', 'admin'),
      schema: {
        tags: ['projects'],
        summary: 'Let a partner organisation submit for this project (the owning unit or an admin)',
        description:
          'Its partner and unit credentials may then POST /v1/evidence (and batches) for the project, as the ' +
          'owner may; records name the partner as submitter. 201 with the new delegation; 200 with the live one ' +
          'when it is already granted. Kept for good with who granted it and when (GET /v1/projects/{id}).',
        security,
        params: ProjectParams,
        body: GrantBody,
        response: {
          200: Delegate,
          201: Delegate,
          ...problemResponses(400, 401, 403, 404, 415, 503),
        },
      },
    },
    async (request, reply) => {
      const org = request.body.org;
      const illFormed = textProblem(request.body, 'body', { refuseNul: true });
      if (illFormed) throw illFormed;
      const p = await managed(request, request.params.id);
      if (org === p.owner_org) {
        throw new AppError('VALIDATION_FAILED', `${org} owns project ${p.id}: it needs no delegation`, {
          errors: [{ path: 'body/org', message: 'the owning organisation' }],
        });
      }
      // The live row, new or already there, in one statement: two grants at once make one row.
      const { rows } = await app.db.query<DelegateRow & { created: boolean }>(
        `with granted as (
           insert into project_delegates (project_id, org, granted_by) values ($1, $2, $3)
           on conflict (project_id, org) where revoked_at is null do nothing
           returning ${COLUMNS}, true as created)
         select * from granted
         union all
         select ${COLUMNS}, false as created from project_delegates
          where project_id = $1 and org = $2 and revoked_at is null and not exists (select 1 from granted)`,
        [p.id, org, JSON.stringify(caller(request.principal))],
      );
      const row = rows[0];
      // Another request revoked it between the two halves: ask again.
      if (!row) throw new AppError('CONFLICT', 'the delegation changed while it was granted; try again');
      app.intake.delegates.forget(p.id, org);
      reply
        .code(row.created ? 201 : 200)
        .header('location', `/v1/projects/${encodeURIComponent(p.id)}/delegates`);
      return { projectId: p.id, ...delegateView(row, true) };
    },
  );

  app.delete<{ Params: Static<typeof DelegateParams> }>(
    '/v1/projects/:id/delegates/:org',
    {
      onRequest: app.requireRole('unit', 'admin'),
      schema: {
        tags: ['projects'],
        summary: "Take back a partner organisation's right to submit for this project",
        description:
          'Its submissions for the project are refused from then on (403, reason DELEGATION_REVOKED; other ' +
          'gateway processes within AUTH_CACHE_MS). The delegation stays in the trail, with who revoked it and when.',
        security,
        params: DelegateParams,
        response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request, reply) => {
      const { org } = request.params;
      const illFormed = textProblem(request.params, 'params', { refuseNul: true });
      if (illFormed) throw illFormed;
      const p = await managed(request, request.params.id);
      const { rowCount } = await app.db.query(
        `update project_delegates set revoked_at = now(), revoked_by = $3
          where project_id = $1 and org = $2 and revoked_at is null`,
        [p.id, org, JSON.stringify(caller(request.principal))],
      );
      app.intake.delegates.forget(p.id, org);
      if (!rowCount) throw new AppError('NOT_FOUND', `${org} holds no live delegation for project ${p.id}`);
      reply.code(204);
    },
  );

  app.get<{ Params: Static<typeof ProjectParams> }>(
    '/v1/projects/:id/delegates',
    {
      onRequest: app.requireRole('unit', 'partner', 'inspector', 'admin'),
      schema: {
        tags: ['projects'],
        summary:
          "A project's delegations, revoked ones included (the owner, inspectors of the region, admins)",
        security,
        params: ProjectParams,
        response: { 200: Delegates, ...problemResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request) => {
      const p = await project(request.params.id);
      if (!mayReadRestricted(request.principal, { ownerOrg: p.owner_org, regionCode: p.region_code })) {
        throw new AppError(
          'FORBIDDEN',
          `the delegations of project ${p.id} are for ${p.owner_org}, inspectors of its region and admins`,
        );
      }
      const rows = await loadDelegates(app, p.id);
      return { projectId: p.id, ownerOrg: p.owner_org, delegates: rows.map((r) => delegateView(r, true)) };
    },
  );
}
