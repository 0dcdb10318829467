import type { FastifyInstance } from 'fastify';

/**
 * A long-running worker of the gateway — the batcher, the anchorer, the webhook deliverer, the
 * witness sender — all built one way: `start()` begins its work (a second call does nothing) and
 * `stop()` ends it, resolving once the work under way has finished. Each also says how it stands
 * (the batcher's `health()`, the anchorer's `status()`, the deliverer's `status()`).
 */
export interface Worker {
  start(): void;
  stop(): Promise<void>;
}

/** Runs `worker` while `app` runs: from its onReady to its onClose. */
export function runWorker(app: FastifyInstance, worker: Worker): void {
  app.addHook('onReady', async () => worker.start());
  app.addHook('onClose', async () => worker.stop());
}

/** A worker that does one step at a time, again `intervalMs` after each one ends. */
export interface PollingWorker<T> extends Worker {
  /** One step now, or the step under way if there is one (also while stopped: tests, tools). */
  step(): Promise<T>;
  readonly running: boolean;
}

/**
 * Builds a PollingWorker around `step`, which must not throw (a failure is an outcome). The
 * first step runs at once on start; `onStopped` runs after the last step on stop.
 */
export function pollingWorker<T>(
  step: () => Promise<T>,
  intervalMs: number,
  onStopped?: () => void,
): PollingWorker<T> {
  let timer: NodeJS.Timeout | null = null;
  let current: Promise<T> | null = null;
  let stopped = true;

  function once(): Promise<T> {
    if (!current) {
      current = step().finally(() => {
        current = null;
      });
    }
    return current;
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(async () => {
      timer = null;
      await once();
      schedule();
    }, intervalMs);
  }

  return {
    step: once,
    get running() {
      return !stopped;
    },
    start() {
      if (!stopped) return;
      stopped = false;
      void once().then(schedule);
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      if (current) await current;
      onStopped?.();
    },
  };
}
