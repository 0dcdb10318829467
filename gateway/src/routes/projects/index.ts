import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Principal } from '../../auth/principal.ts';
import { AppError } from '../../errors.ts';
import { projectCounts, projectSubmissions } from '../../intake/submission-store.ts';
import { LedgerError, type LedgerProject } from '../../ledger/ledger.ts';
import { mayReadRestricted } from '../../read/bundle.ts';
import {
  PROJECT_ID_PATTERN,
  ProjectBody,
  ProjectFlagsResponse,
  ProjectRecordsResponse,
  ProjectResponse,
  RegisterProjectResponse,
} from '../../read/schemas.ts';
import { recordEntry } from '../../read/views.ts';
import { problemResponses } from '../../schemas.ts';
import { textProblem } from '../../unicode.ts';
import delegateRoutes, { delegateView, loadDelegates } from './delegates.ts';
import { loadProjectFlags } from './flags.ts';
import nameRoutes, {
  loadOrganisationNames,
  loadProjectNames,
  type ProjectNamesChange,
  projectView,
  saveOrganisationName,
  saveProjectNames,
  unknownMilestones,
} from './names.ts';

interface ProjectRow {
  id: string;
  owner_org: string;
  region_code: string;
  level: string;
  record: { project: LedgerProject; registeredAt?: string };
  tx_id: string | null;
  block: string | null;
}

const ProjectParams = Type.Object({ id: Type.String({ pattern: PROJECT_ID_PATTERN }) });

/** The display names a registration carries beside the ledger's payload (names.ts). */
function namesOf(body: ProjectBody): ProjectNamesChange | null {
  const milestones = (body.milestones ?? []).flatMap((m) => (m.nameEn ? [{ id: m.id, en: m.nameEn }] : []));
  if (body.nameEn === undefined && milestones.length === 0) return null;
  return {
    ...(body.nameEn !== undefined ? { en: body.nameEn } : {}),
    ...(milestones.length ? { milestones } : {}),
  };
}

/** The ledger's refusal of a project, as the client's error. */
function projectError(error: unknown): never {
  if (error instanceof LedgerError) {
    if (error.code === 'BAD_PROJECT')
      throw new AppError('VALIDATION_FAILED', error.message, { reason: error.code });
    if (error.code === 'PROJECT_EXISTS') {
      throw new AppError('CONFLICT', 'a different project is registered under this id', {
        reason: error.code,
      });
    }
    if (error.code === 'NOT_A_WRITER' || error.code === 'NOT_INITIALISED') {
      throw new AppError('LEDGER_UNAVAILABLE', 'the gateway may not write to the ledger', {
        reason: error.code,
      });
    }
    throw new AppError('LEDGER_UNAVAILABLE', undefined, { reason: error.code }, { cause: error });
  }
  throw error;
}

/** Projects (立项): registration through the ledger, and each project's public trail and flags. */
export default async function projectRoutes(app: FastifyInstance): Promise<void> {
  const loadProject = async (id: string): Promise<ProjectRow> => {
    const { rows } = await app.db.query<ProjectRow>(
      'select id, owner_org, region_code, level, record, tx_id, block from projects where id = $1',
      [id],
    );
    if (!rows[0]) throw new AppError('NOT_FOUND', `no project ${id}`);
    return rows[0];
  };

  app.post<{ Body: ProjectBody }>(
    '/v1/projects',
    {
      preHandler: app.requireRole('unit', 'admin'),
      schema: {
        tags: ['projects'],
        summary: 'Register a project (立项) on the ledger; repeating an identical registration is harmless',
        body: ProjectBody,
        response: {
          200: RegisterProjectResponse,
          201: RegisterProjectResponse,
          ...problemResponses(400, 401, 403, 409, 415, 429, 503),
        },
      },
    },
    async (request, reply) => {
      const principal = request.principal;
      const body = request.body;
      // The project goes into canonical JSON on the ledger and into jsonb in the mirror.
      const illFormed = textProblem(body, 'body', { refuseNul: true });
      if (illFormed) throw illFormed;
      const ownerOrg = body.ownerOrg ?? principal.org;
      if (!ownerOrg) {
        throw new AppError('VALIDATION_FAILED', 'ownerOrg is required', {
          errors: [{ path: 'body/ownerOrg', message: 'required' }],
        });
      }
      if (principal.role === 'unit' && ownerOrg !== principal.org) {
        throw new AppError('FORBIDDEN', 'a unit registers projects of its own organisation only');
      }
      const payload = {
        id: body.id,
        name: body.name,
        regionCode: body.regionCode,
        ownerOrg,
        budget: body.budget,
        // The ledger keeps the Chinese names as registered; English ones are display names.
        milestones: (body.milestones ?? []).map((m) => ({ id: m.id, name: m.name, dueDate: m.dueDate })),
      };
      const result = await app.pipeline.ledger.registerProject(payload).catch(projectError);
      const p = result.project;
      // The mirror intake checks submissions against. Written after the ledger answered, so a
      // crash in between is repaired by the client's retry (the ledger answers it as a repeat).
      await app.db.query(
        `insert into projects (id, owner_org, region_code, level, record, tx_id, block)
         values ($1, $2, $3, $4, $5, $6, $7)
         on conflict (id) do update set owner_org = excluded.owner_org, region_code = excluded.region_code,
           level = excluded.level, record = excluded.record,
           tx_id = coalesce(projects.tx_id, excluded.tx_id), block = coalesce(projects.block, excluded.block)`,
        [
          p.id,
          p.ownerOrg,
          p.regionCode,
          p.level,
          JSON.stringify({ project: p, registeredAt: new Date().toISOString() }),
          result.txId,
          result.block >= 0 ? String(result.block) : null,
        ],
      );
      // Names beside the ledger: a repeated registration sets them again (the last one stands).
      const names = namesOf(body);
      if (names && unknownMilestones(p, names).length === 0)
        await saveProjectNames(app.db, p.id, names, principal);
      if (body.ownerOrgName) await saveOrganisationName(app.db, p.ownerOrg, body.ownerOrgName, principal);
      const organisations = await loadOrganisationNames(app.db, [p.ownerOrg]);
      reply.code(result.repeated ? 200 : 201).header('location', `/v1/projects/${p.id}`);
      return {
        project: projectView(p, await loadProjectNames(app.db, p.id), organisations),
        ledger: { txId: result.txId, block: result.block },
        repeated: result.repeated,
      };
    },
  );

  await app.register(delegateRoutes);

  /** GET /v1/projects/{id}'s answer (PATCH answers the same). */
  const projectAnswer = async (id: string, principal: Principal) => {
    const row = await loadProject(id);
    const counts = await projectCounts(app.db, row.id);
    const privileged = mayReadRestricted(principal, {
      ownerOrg: row.owner_org,
      regionCode: row.region_code,
    });
    const delegates = await loadDelegates(app, row.id);
    // Names of everyone who may submit for the project: the records' submitters are among them.
    const organisations = await loadOrganisationNames(app.db, [
      row.owner_org,
      ...new Set(delegates.map((d) => d.org)),
    ]);
    return {
      project: projectView(row.record.project, await loadProjectNames(app.db, row.id), organisations),
      ledger: { txId: row.tx_id ?? '', block: row.block === null ? -1 : Number(row.block) },
      registeredAt: row.record.registeredAt ?? '',
      records: counts.records,
      flags: counts.flags,
      delegates: delegates.map((d) => delegateView(d, privileged)),
      organisations,
    };
  };

  await app.register(nameRoutes, {
    loadProject: async (id: string) => {
      const row = await loadProject(id);
      return { project: row.record.project, ownerOrg: row.owner_org };
    },
    answer: (id: string, principal: Principal) => projectAnswer(id, principal),
  });

  app.get<{ Params: { id: string } }>(
    '/v1/projects/:id',
    {
      schema: {
        tags: ['projects'],
        summary: 'A registered project, with how many records and flags it has, and its delegations',
        params: ProjectParams,
        response: { 200: ProjectResponse, ...problemResponses(400, 404, 429, 503) },
      },
    },
    async (request) => projectAnswer(request.params.id, request.principal),
  );

  app.get<{ Params: { id: string }; Querystring: { after?: string; limit?: number } }>(
    '/v1/projects/:id/records',
    {
      schema: {
        tags: ['projects'],
        summary: "A project's evidence trail in acceptance order (restricted details only for those allowed)",
        params: ProjectParams,
        querystring: Type.Object({
          after: Type.Optional(
            Type.String({ pattern: '^[0-9]{1,18}$', description: '`next` of the previous page' }),
          ),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 200 })),
        }),
        response: { 200: ProjectRecordsResponse, ...problemResponses(400, 404, 429, 503) },
      },
    },
    async (request) => {
      const project = await loadProject(request.params.id);
      const limit = request.query.limit ?? 200;
      const rows = await projectSubmissions(app.db, project.id, request.query.after ?? '0', limit);
      const records = rows.map((row) => recordEntry(row, request.principal).entry);
      const last = rows[rows.length - 1];
      return {
        projectId: project.id,
        records,
        ...(rows.length === limit && last ? { next: last.seq } : {}),
      };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/projects/:id/flags',
    {
      schema: {
        tags: ['projects'],
        summary:
          "A project's rule flags (the facts behind them only for the owner and inspectors of the region)",
        params: ProjectParams,
        response: { 200: ProjectFlagsResponse, ...problemResponses(400, 404, 429, 503) },
      },
    },
    async (request) => {
      const project = await loadProject(request.params.id);
      const privileged = mayReadRestricted(request.principal, {
        ownerOrg: project.owner_org,
        regionCode: project.region_code,
      });
      return { projectId: project.id, flags: await loadProjectFlags(app.db, project.id, privileged) };
    },
  );
}
