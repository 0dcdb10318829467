import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';

const Check = Type.Object({ ok: Type.Boolean(), reason: Type.Optional(Type.String()), ms: Type.Number() });
const Ready = Type.Object({
  ready: Type.Boolean(),
  checks: Type.Object({ database: Check, ledger: Type.Optional(Check), anchor: Type.Optional(Check) }),
  degraded: Type.Optional(
    Type.Array(Type.Literal('anchor'), {
      description:
        'Ready, but a part is behind: anchoring lags past ANCHOR_MAX_LAG_S (intake and verification go on)',
    }),
  ),
});

async function timed(
  fn: () => Promise<unknown>,
  timeoutMs: number,
): Promise<{ ok: boolean; reason?: string; ms: number }> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      fn(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { ok: true, ms: Math.round(performance.now() - started) };
  } catch (e) {
    const err = e as { code?: string; message?: string };
    const reason = err.code ? `${err.code}: ${err.message ?? ''}` : (err.message ?? String(e));
    return { ok: false, reason: reason.slice(0, 300), ms: Math.round(performance.now() - started) };
  } finally {
    clearTimeout(timer);
  }
}

/** Operators' routes: liveness, readiness (database, ledger) and Prometheus metrics. */
export default async function opsRoutes(app: FastifyInstance): Promise<void> {
  const noLimit = { rateLimit: false } as const;

  app.get(
    '/healthz',
    {
      config: noLimit,
      schema: {
        tags: ['ops'],
        summary: 'Liveness: the process answers',
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      config: noLimit,
      schema: {
        tags: ['ops'],
        summary: 'Readiness: the database answers and the ledger is ready; 503 with the reason otherwise',
        response: { 200: Ready, 503: Ready },
      },
    },
    async (_request, reply) => {
      const timeout = Math.min(app.config.requestTimeoutMs, 3000);
      const database = await timed(() => app.db.query('select 1'), timeout);
      const pipeline = (app as { pipeline?: { ledger?: { ready(): Promise<unknown> } } }).pipeline;
      const ledger = pipeline?.ledger ? await timed(() => pipeline.ledger!.ready(), timeout) : undefined;
      const ready = database.ok && (ledger?.ok ?? true);
      // Anchoring late leaves the gateway ready (nothing it serves needs the chain) but degraded.
      const anchoring = (app as { anchor?: { readiness?(): Promise<{ ok: boolean; reason?: string }> } })
        .anchor;
      let anchor: { ok: boolean; reason?: string; ms: number } | undefined;
      if (anchoring?.readiness) {
        let said: { ok: boolean; reason?: string } = { ok: false };
        const t = await timed(async () => {
          said = await anchoring.readiness!();
        }, timeout);
        anchor = t.ok ? { ...said, ms: t.ms } : { ...t, reason: `ANCHOR_HEALTH_UNKNOWN: ${t.reason ?? ''}` };
      }
      reply.code(ready ? 200 : 503);
      return {
        ready,
        checks: { database, ...(ledger ? { ledger } : {}), ...(anchor ? { anchor } : {}) },
        ...(anchor && !anchor.ok ? { degraded: ['anchor' as const] } : {}),
      };
    },
  );

  // Metrics say how busy the service is and how its queues stand: operators only. Prometheus
  // scrapes with an admin API key as its bearer token (`lianzheng apikey create --role admin`).
  app.get(
    '/metrics',
    {
      config: noLimit,
      onRequest: app.requireRole('admin'),
      schema: {
        tags: ['ops'],
        summary: 'Prometheus metrics (text exposition format); admin role (an admin API key as bearer)',
        security: [{ bearer: [] }, { apiKey: [] }],
        hide: false,
      },
    },
    async (_request, reply) => {
      reply.type(app.metrics.contentType);
      return app.metricsText();
    },
  );
}
