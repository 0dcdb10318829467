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
import {
  changeWebhook,
  createWebhook,
  deleteWebhook,
  findWebhook,
  latestDeliveries,
  listWebhooks,
  queuePing,
  rotateWebhookSecret,
  WEBHOOK_EVENTS,
  type WebhookRow,
} from '../../webhooks/store.ts';

const WebhookId = Type.Object({ id: Type.String({ format: 'uuid' }) });
const EventType = Type.Union(WEBHOOK_EVENTS.map((e) => Type.Literal(e)));
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
    const row = await findWebhook(app.db, id);
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
      const created = await createWebhook(app.db, {
        id,
        org,
        url: request.body.url,
        events: request.body.events ?? [...WEBHOOK_EVENTS],
        maxPerOrg: config.maxPerOrg,
      });
      if (!created) {
        throw new AppError(
          'CONFLICT',
          `organisation ${org} has ${config.maxPerOrg} webhooks already (WEBHOOK_MAX_PER_ORG)`,
        );
      }
      reply.code(201).header('location', `/v1/webhooks/${id}`);
      return { ...view(created), secret: app.webhooks.secret(id) };
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
      const hooks = await listWebhooks(app.db, p.role === 'admin' ? null : (p.org ?? ''));
      return { webhooks: hooks.map(view) };
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
      const changed = await changeWebhook(
        app.db,
        request.params.id,
        { url, events, paused },
        `paused by ${request.principal.role}${request.principal.org ? ` of ${request.principal.org}` : ''} (PATCH)`,
      );
      // Deleted between the check and the update.
      if (!changed) throw new AppError('NOT_FOUND', `no webhook ${request.params.id}`);
      return view(changed);
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
      await deleteWebhook(app.db, request.params.id);
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
      const delivery = await queuePing(app.db, request.params.id);
      reply.code(202);
      return { delivery };
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
      const row = await rotateWebhookSecret(app.db, request.params.id, PREVIOUS_SECRET_HOURS);
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
      const rows = await latestDeliveries(app.db, request.params.id, 50);
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
