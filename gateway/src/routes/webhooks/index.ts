// Partners' webhooks: an organisation (a unit or partner of it, or an admin for it) registers a URL
// to be told when its projects' records are recorded or anchored, instead of polling; it lists,
// changes, pauses, pings, rotates the secret of and deletes its own. Served by every process that
// serves HTTP; the notices and their delivery are webhooks/plugin.ts's.
import { randomUUID } from 'node:crypto';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../../errors.ts';
import { problemResponses } from '../../schemas.ts';
import { typeboxValidatorCompiler } from '../../validation.ts';
import { webhookUrlProblem } from '../../webhooks/address-guard.ts';
import type {} from '../../webhooks/plugin.ts'; // the `webhooks` decorator's type
import { PREVIOUS_SECRET_HOURS } from '../../webhooks/secret.ts';

const WebhookId = Type.Object({ id: Type.String({ format: 'uuid' }) });
const EVENT_TYPES = ['records.recorded', 'records.anchored'] as const;
const EventType = Type.Union(EVENT_TYPES.map((e) => Type.Literal(e)));
const CreateBody = Type.Object(
  {
    url: Type.String({
      minLength: 1,
      maxLength: 2000,
      description: 'https URL that receives the notices as signed JSON POSTs',
    }),
    org: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'admins only: the organisation it is for' }),
    ),
    events: Type.Optional(
      Type.Array(EventType, {
        minItems: 1,
        maxItems: 2,
        uniqueItems: true,
        description: 'the notices it wants (default both; a ping is always sent)',
      }),
    ),
  },
  { additionalProperties: false },
);
const ChangeBody = Type.Object(
  {
    url: Type.Optional(CreateBody.properties.url),
    events: Type.Optional(CreateBody.properties.events),
    paused: Type.Optional(
      Type.Boolean({
        description:
          'false resumes a paused webhook (its failures in a row forgotten, its pending deliveries due at once); true pauses it (notices are queued, none sent)',
      }),
    ),
  },
  {
    additionalProperties: false,
    minProperties: 1,
    description:
      'what to change: the URL, the events, whether it is paused, or several. Pending deliveries go to the new URL; notices queued before the change are still sent',
  },
);
const Webhook = Type.Object({
  id: Type.String(),
  org: Type.String(),
  url: Type.String(),
  events: Type.Array(EventType),
  createdAt: Type.String(),
  state: Type.Union([Type.Literal('active'), Type.Literal('paused')], {
    description:
      'paused: nothing is sent (notices are still queued, for WEBHOOK_KEEP_DAYS) until PATCH {"paused": false}',
  }),
  pausedAt: Type.Union([Type.String(), Type.Null()], { description: 'when it was paused' }),
  pausedReason: Type.Union([Type.String(), Type.Null()], {
    description: 'why: the failed attempts in a row and the last one’s error, or paused by PATCH',
  }),
  consecutiveFailures: Type.Integer({
    description: 'failed attempts in a row (any of its deliveries); WEBHOOK_PAUSE_AFTER of them pause it',
  }),
  failingSince: Type.Union([Type.String(), Type.Null()], {
    description: 'the first of those failed attempts; null once an attempt succeeds',
  }),
});
const Created = Type.Intersect([
  Webhook,
  Type.Object({
    secret: Type.String({
      description:
        'shown once: verify each POST\'s `LianZheng-Signature: t=<unix>,v1=<hex>` as HMAC-SHA256(secret, "<t>.<raw body>")',
    }),
  }),
]);
const Delivery = Type.Object({
  id: Type.String(),
  type: Type.String(),
  status: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')]),
  attempts: Type.Integer(),
  records: Type.Integer(),
  lastStatus: Type.Union([Type.Integer(), Type.Null()]),
  lastError: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
  nextAttemptAt: Type.Union([Type.String(), Type.Null()]),
  deliveredAt: Type.Union([Type.String(), Type.Null()]),
});

interface WebhookRow {
  id: string;
  org: string;
  url: string;
  events: Static<typeof EventType>[];
  created_at: Date;
  paused_at: Date | null;
  paused_reason: string | null;
  consecutive_failures: number;
  failing_since: Date | null;
}

/** The columns of `webhooks` a WebhookRow is read from. */
const COLUMNS =
  'id::text, org, url, events, created_at, paused_at, paused_reason, consecutive_failures, failing_since';

const view = (r: WebhookRow): Static<typeof Webhook> => ({
  id: r.id,
  org: r.org,
  url: r.url,
  events: r.events,
  createdAt: r.created_at.toISOString(),
  state: r.paused_at ? 'paused' : 'active',
  pausedAt: r.paused_at?.toISOString() ?? null,
  pausedReason: r.paused_reason,
  consecutiveFailures: r.consecutive_failures,
  failingSince: r.failing_since?.toISOString() ?? null,
});

/** The webhooks routes (`/v1/webhooks…`), for units, partners and admins. */
export default async function webhookRoutes(app: FastifyInstance): Promise<void> {
  const config = app.config.webhooks;
  const writers = app.requireRole('unit', 'partner', 'admin');

  /** A 400 naming `body/url` for a URL the deliverer must not call (address-guard.ts). */
  const refuseUrl = (url: string): void => {
    const problem = webhookUrlProblem(url, config.allowPrivate);
    if (problem) {
      throw new AppError('VALIDATION_FAILED', problem, { errors: [{ path: 'body/url', message: problem }] });
    }
  };

  /** The webhook `id` if the caller may manage it (its organisation's, or any for an admin). */
  const owned = async (request: FastifyRequest, id: string): Promise<WebhookRow> => {
    const { rows } = await app.db.query<WebhookRow>(
      `select ${COLUMNS} from webhooks where id = $1 and deleted_at is null`,
      [id],
    );
    const row = rows[0];
    const p = request.principal;
    // Another organisation's webhook is as absent as a deleted one.
    if (!row || (p.role !== 'admin' && row.org !== p.org))
      throw new AppError('NOT_FOUND', `no webhook ${id}`);
    return row;
  };

  app.post<{ Body: Static<typeof CreateBody> }>(
    '/v1/webhooks',
    {
      onRequest: writers,
      // TypeBox's checker, as on the evidence routes: a wrong event is answered with the allowed
      // values ("Expected one of: …"), not Ajv's "must be equal to constant" once per value.
      validatorCompiler: typeboxValidatorCompiler(),
      schema: {
        tags: ['webhooks'],
        summary: "Be told when your organisation's records are recorded (signed POSTs to your URL)",
        security: [{ bearer: [] }, { apiKey: [] }, { mutualTLS: [] }],
        body: CreateBody,
        response: { 201: Created, ...problemResponses(400, 401, 403, 409, 415, 429, 503) },
      },
    },
    async (request, reply) => {
      const p = request.principal;
      const org = p.role === 'admin' ? request.body.org : p.org;
      if (!org) {
        throw new AppError('VALIDATION_FAILED', 'org is required (admins name the organisation)', {
          errors: [{ path: 'body/org', message: 'required' }],
        });
      }
      if (p.role !== 'admin' && request.body.org !== undefined && request.body.org !== p.org) {
        throw new AppError(
          'FORBIDDEN',
          `organisation ${p.org ?? '?'} may not add webhooks for ${request.body.org}`,
        );
      }
      refuseUrl(request.body.url);
      const id = randomUUID();
      // The limit and the insert in one statement: two concurrent requests cannot both pass it.
      const { rows } = await app.db.query<WebhookRow>(
        `insert into webhooks (id, org, url, events)
         select $1, $2, $3, $5 where (select count(*) from webhooks where org = $2 and deleted_at is null) < $4
         returning ${COLUMNS}`,
        [id, org, request.body.url, config.maxPerOrg, request.body.events ?? [...EVENT_TYPES]],
      );
      if (!rows[0]) {
        throw new AppError(
          'CONFLICT',
          `organisation ${org} has ${config.maxPerOrg} webhooks already (WEBHOOK_MAX_PER_ORG)`,
        );
      }
      reply.code(201).header('location', `/v1/webhooks/${id}`);
      return { ...view(rows[0]), secret: app.webhooks.secret(id) };
    },
  );

  app.get(
    '/v1/webhooks',
    {
      onRequest: writers,
      schema: {
        tags: ['webhooks'],
        summary: "Your organisation's webhooks (an admin's: every organisation's)",
        security: [{ bearer: [] }, { apiKey: [] }, { mutualTLS: [] }],
        response: {
          200: Type.Object({ webhooks: Type.Array(Webhook) }),
          ...problemResponses(401, 403, 429, 503),
        },
      },
    },
    async (request) => {
      const p = request.principal;
      const { rows } = await app.db.query<WebhookRow>(
        `select ${COLUMNS} from webhooks
          where deleted_at is null and ($1::text is null or org = $1) order by created_at, id`,
        [p.role === 'admin' ? null : (p.org ?? '')],
      );
      return { webhooks: rows.map(view) };
    },
  );

  app.get<{ Params: Static<typeof WebhookId> }>(
    '/v1/webhooks/:id',
    {
      onRequest: writers,
      schema: {
        tags: ['webhooks'],
        summary: 'One of your webhooks',
        security: [{ bearer: [] }, { apiKey: [] }, { mutualTLS: [] }],
        params: WebhookId,
        response: { 200: Webhook, ...problemResponses(400, 401, 403, 404, 429, 503) },
      },
    },
    async (request) => view(await owned(request, request.params.id)),
  );

  app.patch<{ Params: Static<typeof WebhookId>; Body: Static<typeof ChangeBody> }>(
    '/v1/webhooks/:id',
    {
      onRequest: writers,
      validatorCompiler: typeboxValidatorCompiler(),
      schema: {
        tags: ['webhooks'],
        summary:
          'Change where a webhook posts and what it is sent, keeping its id, secret and deliveries (a receiver that moved); pause or resume it',
        security: [{ bearer: [] }, { apiKey: [] }, { mutualTLS: [] }],
        params: WebhookId,
        body: ChangeBody,
        response: { 200: Webhook, ...problemResponses(400, 401, 403, 404, 415, 429, 503) },
      },
    },
    async (request) => {
      await owned(request, request.params.id);
      const { url, events, paused } = request.body;
      if (url !== undefined) refuseUrl(url);
      // Resumed: failures in a row forgotten, the receiver no longer held back, and its pending
      // deliveries due at once. Paused by hand: said so, unless it was paused already.
      const { rows } = await app.db.query<WebhookRow>(
        `with resumed as (
           update webhook_deliveries set next_attempt_at = now()
            where $4::boolean is false and webhook_id = $1 and status = 'pending' and next_attempt_at > now())
         update webhooks
            set url = coalesce($2, url), events = coalesce($3, events),
                paused_at = case when $4::boolean is null then paused_at
                                 when $4 then coalesce(paused_at, now()) end,
                paused_reason = case when $4::boolean is null then paused_reason
                                     when $4 then coalesce(paused_reason, $5) end,
                consecutive_failures = case when $4::boolean is false then 0 else consecutive_failures end,
                failing_since = case when $4::boolean is false then null else failing_since end,
                held_until = case when $4::boolean is false and paused_at is not null then null
                                  else held_until end
          where id = $1 and deleted_at is null
          returning ${COLUMNS}`,
        [
          request.params.id,
          url ?? null,
          events ?? null,
          paused ?? null,
          `paused by ${request.principal.role}${request.principal.org ? ` of ${request.principal.org}` : ''} (PATCH)`,
        ],
      );
      // Deleted between the check and the update.
      if (!rows[0]) throw new AppError('NOT_FOUND', `no webhook ${request.params.id}`);
      return view(rows[0]);
    },
  );

  app.delete<{ Params: Static<typeof WebhookId> }>(
    '/v1/webhooks/:id',
    {
      onRequest: writers,
      schema: {
        tags: ['webhooks'],
        summary: 'Stop a webhook; its pending deliveries are not sent (they are marked failed)',
        security: [{ bearer: [] }, { apiKey: [] }, { mutualTLS: [] }],
        params: WebhookId,
        response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404, 429, 503) },
      },
    },
    async (request, reply) => {
      await owned(request, request.params.id);
      await app.db.query(
        `with gone as (update webhooks set deleted_at = now() where id = $1 and deleted_at is null returning id)
         update webhook_deliveries set status = 'failed', last_error = 'the webhook was deleted'
          where webhook_id in (select id from gone) and status = 'pending'`,
        [request.params.id],
      );
      reply.code(204);
    },
  );

  app.post<{ Params: Static<typeof WebhookId> }>(
    '/v1/webhooks/:id/ping',
    {
      onRequest: writers,
      schema: {
        tags: ['webhooks'],
        summary:
          'Queue a signed `ping` notice to the webhook, to test a receiver (see …/deliveries for the outcome)',
        security: [{ bearer: [] }, { apiKey: [] }, { mutualTLS: [] }],
        params: WebhookId,
        response: {
          202: Type.Object({ delivery: Type.String() }),
          ...problemResponses(400, 401, 403, 404, 429, 503),
        },
      },
    },
    async (request, reply) => {
      await owned(request, request.params.id);
      const { rows } = await app.db.query<{ id: string }>(
        `insert into webhook_deliveries (webhook_id, event) values ($1, '{"type":"ping"}') returning id::text`,
        [request.params.id],
      );
      reply.code(202);
      return { delivery: rows[0]!.id };
    },
  );

  app.post<{ Params: Static<typeof WebhookId> }>(
    '/v1/webhooks/:id/secret',
    {
      onRequest: writers,
      schema: {
        tags: ['webhooks'],
        summary: `Rotate the webhook's signing secret: the new one is shown once; for ${PREVIOUS_SECRET_HOURS} h each POST is signed with both`,
        security: [{ bearer: [] }, { apiKey: [] }, { mutualTLS: [] }],
        params: WebhookId,
        response: {
          200: Type.Object({
            id: Type.String(),
            secret: Type.String({ description: 'shown once: verify the POSTs with it from now on' }),
            previousSecretValidUntil: Type.String({
              description:
                'until then each `LianZheng-Signature` carries a second `v1=`, made with the previous secret',
            }),
          }),
          ...problemResponses(400, 401, 403, 404, 429, 503),
        },
      },
    },
    async (request) => {
      await owned(request, request.params.id);
      const { rows } = await app.db.query<{ secret_version: number; previous_secret_until: Date }>(
        `update webhooks
            set secret_version = secret_version + 1,
                previous_secret_until = now() + make_interval(hours => $2)
          where id = $1 and deleted_at is null
          returning secret_version, previous_secret_until`,
        [request.params.id, PREVIOUS_SECRET_HOURS],
      );
      const row = rows[0];
      if (!row) throw new AppError('NOT_FOUND', `no webhook ${request.params.id}`);
      return {
        id: request.params.id,
        secret: app.webhooks.secret(request.params.id, row.secret_version),
        previousSecretValidUntil: row.previous_secret_until.toISOString(),
      };
    },
  );

  app.get<{ Params: Static<typeof WebhookId> }>(
    '/v1/webhooks/:id/deliveries',
    {
      onRequest: writers,
      schema: {
        tags: ['webhooks'],
        summary: "A webhook's latest 50 deliveries, newest first: what was sent, what the receiver answered",
        security: [{ bearer: [] }, { apiKey: [] }, { mutualTLS: [] }],
        params: WebhookId,
        response: {
          200: Type.Object({ deliveries: Type.Array(Delivery) }),
          ...problemResponses(400, 401, 403, 404, 429, 503),
        },
      },
    },
    async (request) => {
      await owned(request, request.params.id);
      const { rows } = await app.db.query<{
        id: string;
        type: string;
        status: 'pending' | 'delivered' | 'failed';
        attempts: number;
        records: number;
        last_status: number | null;
        last_error: string | null;
        created_at: Date;
        next_attempt_at: Date;
        delivered_at: Date | null;
      }>(
        `select id::text, event->>'type' as type, status, attempts,
                coalesce(jsonb_array_length(event->'records'), 0) as records, last_status, last_error,
                created_at, next_attempt_at, delivered_at
           from webhook_deliveries d where webhook_id = $1 order by d.id desc limit 50`,
        [request.params.id],
      );
      return {
        deliveries: rows.map((r) => ({
          id: r.id,
          type: r.type,
          status: r.status,
          attempts: r.attempts,
          records: r.records,
          lastStatus: r.last_status,
          lastError: r.last_error,
          createdAt: r.created_at.toISOString(),
          nextAttemptAt: r.status === 'pending' ? r.next_attempt_at.toISOString() : null,
          deliveredAt: r.delivered_at?.toISOString() ?? null,
        })),
      };
    },
  );
}
