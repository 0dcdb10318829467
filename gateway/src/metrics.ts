import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { clusterMetricsText, shareMetricsWithSupervisor } from './cluster.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** The Prometheus registry behind `/metrics`; other plugins add their own metrics to it. */
    metrics: Registry;
    /** The text `/metrics` answers: this process's registry, or the whole cluster's (API_WORKERS). */
    metricsText(): Promise<string>;
    /** Intake's metrics, for the group committer and the intake routes. */
    intakeMetrics: IntakeMetrics;
  }
}

export interface IntakeMetrics {
  groupCommitRows: Histogram;
  groupCommitSeconds: Histogram;
  queueDepth: Gauge;
  accepted: Counter<'route'>;
  /** Requests admission held (intake/admission.ts), by how the wait ended. */
  admissionWaitSeconds: Histogram<'outcome'>;
}

/**
 * `app.metrics`: a per-app prom-client Registry (not the global one, so several apps in one test
 * process do not collide), with request rate and latency by route and intake's own metrics.
 */
async function metricsPlugin(app: FastifyInstance): Promise<void> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by method, route and status code (its _count is the request rate)',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  });
  const intake: IntakeMetrics = {
    groupCommitRows: new Histogram({
      name: 'intake_group_commit_rows',
      help: 'Submissions written per group commit (one INSERT, one fsync)',
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000],
      registers: [registry],
    }),
    groupCommitSeconds: new Histogram({
      name: 'intake_group_commit_seconds',
      help: 'Duration of one group commit',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'intake_queue_depth',
      help: 'Submissions waiting for the next group commit',
      registers: [registry],
    }),
    accepted: new Counter({
      name: 'intake_accepted_total',
      help: 'Submissions accepted (committed and answered 202)',
      labelNames: ['route'] as const,
      registers: [registry],
    }),
    admissionWaitSeconds: new Histogram({
      name: 'intake_admission_wait_seconds',
      help: 'How long submissions were held because too many waited to be sealed (MAX_SEAL_BACKLOG), by outcome: admitted, or refused with 503 BACKLOG_FULL',
      labelNames: ['outcome'] as const,
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
  };
  app.decorate('metrics', registry);
  shareMetricsWithSupervisor(registry);
  app.decorate('metricsText', () => clusterMetricsText(registry));
  app.decorate('intakeMetrics', intake);
  app.addHook('onResponse', async (request, reply) => {
    requests.observe(
      {
        method: request.method,
        // The route pattern, never the raw URL: ids in URLs would explode the label set.
        route: request.routeOptions.url ?? 'unknown',
        status_code: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
  });
}

export default fp(metricsPlugin, { name: 'metrics', fastify: '5.x' });
