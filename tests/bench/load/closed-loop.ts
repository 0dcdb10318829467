// Closed-loop load (N connections, each sends its next request when the previous answer
// arrives), from the bench machine's side — never inside the gateway. Two generators:
// - wrk (wrk.ts), when it is installed and the request can be described to it (fixed, or a
//   template over a DigestSource): a few µs of CPU a request, so the server under test keeps the
//   cores. `LOADGEN=autocannon` turns it off; `LOADGEN=wrk` insists on it.
// - autocannon otherwise (and for requests only JavaScript can build, such as 1,000-item batches,
//   where the generator's cost per request does not matter). Latencies come from its per-response
//   timings (float ms from process.hrtime), kept exactly (latencies.ts), because its own histogram
//   rounds to whole milliseconds.
import autocannon from 'autocannon';
import { Latencies, type LatencySummary } from './latencies.ts';
import type { DigestSource } from './workload.ts';
import { wrkAvailable, wrkLoop } from './wrk.ts';

export interface LoadRequest {
  method: 'GET' | 'POST';
  /** A fixed path, or one per request. */
  path: string | (() => string);
  headers?: Record<string, string>;
  /** A body per request (e.g. a new digest each time). */
  body?: () => string | Buffer;
  /**
   * The same request for wrk, whose Lua cannot call `path` or `body`: `{{digest}}` in `path` or
   * `body` stands for the next digest of `digests` (which then counts them), or with `cycle` for
   * the digests `from`, `from + 1`, … `from + count - 1` in turn. Without `digests`, fixed.
   */
  template?: {
    path: string;
    body?: string;
    digests?: DigestSource;
    cycle?: { from: number; count: number };
  };
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
  /** Latency of the 2xx answers (autocannon), of every answer (wrk). */
  latency: LatencySummary;
  /** What sent the load: wrk, autocannon, or open-loop.ts's own connections. */
  generator: 'wrk' | 'autocannon' | 'open-loop';
}

/** Which generator `closedLoop` uses for `request`. */
export function generatorFor(request: LoadRequest): 'wrk' | 'autocannon' {
  const wanted = process.env.LOADGEN;
  if (wanted === 'autocannon') return 'autocannon';
  const describable =
    request.template !== undefined || (typeof request.path === 'string' && request.body === undefined);
  if (wanted === 'wrk' && !wrkAvailable()) throw new Error('LOADGEN=wrk but wrk is not installed');
  return describable && wrkAvailable() ? 'wrk' : 'autocannon';
}

export async function closedLoop(
  url: string,
  request: LoadRequest,
  options: { connections: number; seconds: number },
): Promise<LoadResult> {
  if (generatorFor(request) === 'wrk') return viaWrk(url, request, options);
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
    generator: 'autocannon',
  };
}

async function viaWrk(
  url: string,
  request: LoadRequest,
  options: { connections: number; seconds: number },
): Promise<LoadResult> {
  const t = request.template ?? { path: request.path as string };
  const digests = t.digests;
  const r = await wrkLoop(
    url,
    {
      method: request.method,
      path: t.path,
      headers: request.headers,
      body: t.body,
      digests: digests && {
        prefix: digests.prefix,
        from: t.cycle?.from ?? digests.count,
        cycle: t.cycle?.count,
      },
    },
    options,
  );
  // Requests wrk built but never saw answered may still have been accepted: count them all used.
  if (digests && !t.cycle) digests.advance(r.generated);
  const ok = r.requests - r.statusErrors;
  return {
    seconds: r.seconds,
    ok,
    rps: ok / r.seconds,
    status: { '2xx': ok, ...(r.statusErrors ? { 'not 2xx/3xx': r.statusErrors } : {}) },
    errors: r.socketErrors,
    timeouts: r.timeouts,
    latency: r.latency,
    generator: 'wrk',
  };
}
