// Closed-loop load with autocannon (N connections, each sends its next request when the previous
// answer arrives), run from the bench process — never inside the gateway. Latencies come from
// autocannon's per-response timings (float ms from process.hrtime), kept exactly (latencies.ts),
// because its own histogram rounds to whole milliseconds.
import autocannon from 'autocannon';
import { Latencies, type LatencySummary } from './latencies.ts';

export interface LoadRequest {
  method: 'GET' | 'POST';
  /** A fixed path, or one per request. */
  path: string | (() => string);
  headers?: Record<string, string>;
  /** A body per request (e.g. a new digest each time). */
  body?: () => string | Buffer;
}

export interface LoadResult {
  seconds: number;
  /** 2xx answers. */
  ok: number;
  /** 2xx answers per second. */
  rps: number;
  status: Record<string, number>;
  errors: number;
  timeouts: number;
  /** Latency of the 2xx answers. */
  latency: LatencySummary;
}

export async function closedLoop(
  url: string,
  request: LoadRequest,
  options: { connections: number; seconds: number },
): Promise<LoadResult> {
  const latencies = new Latencies();
  const status: Record<string, number> = {};
  const dynamic = typeof request.path === 'function' || request.body !== undefined;
  const base = {
    method: request.method,
    path: typeof request.path === 'string' ? request.path : '/',
    headers: request.headers ?? {},
  };
  const pathFn = typeof request.path === 'function' ? request.path : undefined;
  const bodyFn = request.body;
  const started = performance.now();
  const instance = autocannon({
    url,
    connections: options.connections,
    duration: options.seconds,
    timeout: 30,
    requests: [
      dynamic
        ? {
            ...base,
            setupRequest: (req) => {
              if (pathFn) req.path = pathFn();
              if (bodyFn) req.body = bodyFn();
              return req;
            },
          }
        : base,
    ],
  });
  instance.on('response', (_client, code, _bytes, ms) => {
    status[code] = (status[code] ?? 0) + 1;
    if (code >= 200 && code < 300) latencies.add(ms);
  });
  const result = await instance;
  const seconds = Math.min(result.duration, (performance.now() - started) / 1000);
  return {
    seconds,
    ok: latencies.count,
    rps: latencies.count / seconds,
    status,
    errors: result.errors,
    timeouts: result.timeouts,
    latency: latencies.summary(),
  };
}
