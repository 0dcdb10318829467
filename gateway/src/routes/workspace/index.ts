// The inspector's workspace (verifier-web/src/workspace, issue #22) reads two things here: how to
// sign in (the identity provider's endpoints and the workspace's client id — public, the page
// needs them before it has a token), and an overview of the projects the caller oversees — an
// inspector's region, a unit's or partner's own organisation, everything for an admin — with
// their flags counted by rule, by project and by month. Everything else it reads through the
// routes every client uses (a project's trail and flags, the CSV exports, certificates).

import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Principal } from '../../auth/principal.ts';
import { AppError } from '../../errors.ts';
import { flagCountsByMonth, liveRecordCount } from '../../intake/submission-store.ts';
import { problemResponses } from '../../schemas.ts';
import { DEV_AUTHORIZE_PATH, DEV_TOKEN_PATH } from '../dev-sign-in/index.ts';

/** Projects one overview lists at most; a province with more is told it was cut (`truncated`). */
const MAX_PROJECTS = 2000;

const AuthConfig = Type.Object({
  signIn: Type.Boolean({ description: 'false: no identity provider is configured for the workspace' }),
  authorizationEndpoint: Type.Optional(Type.String()),
  tokenEndpoint: Type.Optional(Type.String()),
  endSessionEndpoint: Type.Optional(
    Type.String({
      description:
        "The provider's RP-initiated logout (OIDC_END_SESSION_URL): sign-out ends the provider's session there too",
    }),
  ),
  clientId: Type.String(),
  scope: Type.String(),
  development: Type.Boolean({ description: "true: the gateway's own development sign-in (no passwords)" }),
});

const Count = { total: Type.Integer(), open: Type.Integer() };
const Overview = Type.Object({
  scope: Type.Object({
    role: Type.String(),
    region: Type.Optional(Type.String()),
    org: Type.Optional(Type.String()),
  }),
  projects: Type.Array(
    Type.Object({
      id: Type.String(),
      name: Type.String(),
      regionCode: Type.String(),
      ownerOrg: Type.String(),
      records: Type.Integer(),
      flags: Type.Integer(),
      openFlags: Type.Integer(),
    }),
  ),
  truncated: Type.Boolean(),
  flags: Type.Object({
    ...Count,
    byRule: Type.Array(Type.Object({ code: Type.String(), ...Count })),
    byProject: Type.Array(Type.Object({ projectId: Type.String(), ...Count })),
    byMonth: Type.Array(
      Type.Object({
        month: Type.String({ description: 'YYYY-MM, Beijing time; "" when unknown' }),
        ...Count,
      }),
    ),
  }),
});

/** The SQL condition on `p` (projects) for what a principal oversees, and its parameters. */
export function scopeOf(principal: Principal): { where: string; params: string[] } {
  switch (principal.role) {
    case 'admin':
      return { where: 'true', params: [] };
    case 'inspector': {
      // As regionCovers (read/bundle.ts): trailing "00" pairs of the inspector's code widen it.
      let prefix = principal.region ?? '';
      while (prefix.length > 2 && prefix.endsWith('00')) prefix = prefix.slice(0, -2);
      if (!/^\d{2,6}$/.test(prefix)) throw new AppError('FORBIDDEN', 'an inspector needs a region');
      return { where: 'starts_with(p.region_code, $1)', params: [prefix] };
    }
    case 'unit':
    case 'partner':
      if (!principal.org) throw new AppError('FORBIDDEN', `a ${principal.role} needs an organisation`);
      return { where: 'p.owner_org = $1', params: [principal.org] };
    default:
      throw new AppError('UNAUTHENTICATED', 'this needs credentials', { reason: 'NO_CREDENTIALS' });
  }
}

export default async function workspaceRoutes(app: FastifyInstance): Promise<void> {
  const security: { [scheme: string]: string[] }[] = [{ bearer: [] }, { apiKey: [] }, { mutualTLS: [] }];

  app.get(
    '/v1/auth/config',
    {
      schema: {
        tags: ['workspace'],
        summary: "How the inspector's workspace signs in (OpenID Connect authorisation code with PKCE)",
        response: { 200: AuthConfig, ...problemResponses(429) },
      },
    },
    async (): Promise<Static<typeof AuthConfig>> => {
      const { oidc, devSignIn } = app.config;
      const base = { clientId: oidc.clientId, scope: oidc.scope };
      if (oidc.issuer) {
        const on = oidc.authorizationUrl !== undefined && oidc.tokenUrl !== undefined;
        return {
          ...base,
          signIn: on,
          ...(on ? { authorizationEndpoint: oidc.authorizationUrl, tokenEndpoint: oidc.tokenUrl } : {}),
          ...(on && oidc.endSessionUrl ? { endSessionEndpoint: oidc.endSessionUrl } : {}),
          development: false,
        };
      }
      if (!devSignIn) return { ...base, signIn: false, development: true };
      // Relative: the page resolves them against its own origin, the gateway's.
      return {
        ...base,
        signIn: true,
        authorizationEndpoint: DEV_AUTHORIZE_PATH,
        tokenEndpoint: DEV_TOKEN_PATH,
        development: true,
      };
    },
  );

  app.get(
    '/v1/workspace/overview',
    {
      onRequest: app.requireRole('inspector', 'unit', 'partner', 'admin'),
      schema: {
        tags: ['workspace'],
        summary:
          "The projects the caller oversees (an inspector's region, a unit's organisation, all for an admin) with their flags counted",
        description:
          'Flags are counted by rule, by project and by month of raising (Beijing time); `open` leaves out flags ' +
          'the facts have since answered (an overdue milestone accepted). Codes and counts only: the facts behind ' +
          'a flag are read per project (GET /v1/projects/{id}/flags).',
        security,
        response: { 200: Overview, ...problemResponses(401, 403, 429, 503) },
      },
    },
    async (request): Promise<Static<typeof Overview>> => {
      const principal = request.principal;
      const scope = scopeOf(principal);
      const n = scope.params.length;
      const { rows: projects } = await app.db.query<{
        id: string;
        name: string | null;
        region_code: string;
        owner_org: string;
        records: string;
      }>(
        `select p.id, p.record->'project'->>'name' as name, p.region_code, p.owner_org,
                ${liveRecordCount('p.id')} as records
           from projects p where ${scope.where} order by p.region_code, p.id limit $${n + 1}`,
        [...scope.params, MAX_PROJECTS + 1],
      );
      const truncated = projects.length > MAX_PROJECTS;
      if (truncated) projects.length = MAX_PROJECTS;
      const ids = projects.map((p) => p.id);
      // One row per (project, code, month): bounded by the projects' rules and months, not by flags.
      const counts = await flagCountsByMonth(app.db, ids);
      const tally = (
        map: Map<string, { total: number; open: number }>,
        key: string,
        t: number,
        o: number,
      ) => {
        const c = map.get(key) ?? { total: 0, open: 0 };
        c.total += t;
        c.open += o;
        map.set(key, c);
      };
      const byRule = new Map<string, { total: number; open: number }>();
      const byProject = new Map<string, { total: number; open: number }>();
      const byMonth = new Map<string, { total: number; open: number }>();
      let total = 0;
      let open = 0;
      for (const r of counts) {
        const t = Number(r.total);
        const o = Number(r.open);
        total += t;
        open += o;
        tally(byRule, r.code, t, o);
        tally(byProject, r.project_id, t, o);
        tally(byMonth, r.month ?? '', t, o);
      }
      const sorted = <K extends string>(map: Map<string, { total: number; open: number }>, key: K) =>
        [...map].map(
          ([k, c]) => ({ [key]: k, ...c }) as { [P in K]: string } & { total: number; open: number },
        );
      return {
        scope: {
          role: principal.role,
          ...(principal.region ? { region: principal.region } : {}),
          ...(principal.org ? { org: principal.org } : {}),
        },
        projects: projects.map((p) => ({
          id: p.id,
          name: p.name ?? p.id,
          regionCode: p.region_code,
          ownerOrg: p.owner_org,
          records: Number(p.records),
          flags: byProject.get(p.id)?.total ?? 0,
          openFlags: byProject.get(p.id)?.open ?? 0,
        })),
        truncated,
        flags: {
          total,
          open,
          byRule: sorted(byRule, 'code').sort((a, b) => b.total - a.total || a.code.localeCompare(b.code)),
          byProject: sorted(byProject, 'projectId').sort(
            (a, b) => b.total - a.total || a.projectId.localeCompare(b.projectId),
          ),
          byMonth: sorted(byMonth, 'month').sort((a, b) => a.month.localeCompare(b.month)),
        },
      };
    },
  );
}
