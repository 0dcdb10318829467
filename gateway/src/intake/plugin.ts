import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Admission } from './admission.ts';
import { Intake } from './intake.ts';
import { queuedSpan } from './submission-store.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Intake: builds, signs and group-commits submissions. `intake.onCommitted(fn)` wakes the batcher. */
    intake: Intake;
  }
}

async function intakePlugin(app: FastifyInstance): Promise<void> {
  const intake = new Intake({
    db: () => app.db,
    keys: app.keys,
    config: app.config,
    metrics: app.intakeMetrics,
    admission: new Admission(() => queuedSpan(app.db), {
      ...app.config.admission,
      onHeld: (outcome, ms) => app.intakeMetrics.admissionWaitSeconds.observe({ outcome }, ms / 1000),
    }),
  });
  app.decorate('intake', intake);
  // Requests still in flight finish their commits before the pool closes (onClose runs after
  // the server stopped accepting and in-flight requests completed).
  app.addHook('onClose', async () => {
    await intake.close();
  });
}

export default fp(intakePlugin, {
  name: 'intake',
  dependencies: ['config', 'db', 'keys', 'metrics'],
  fastify: '5.x',
});
