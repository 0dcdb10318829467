// Closed-loop load with wrk (a C load generator; Debian's `wrk` package). autocannon, in Node,
// spends about as much CPU per request as the bare Fastify server it measures (~25–50 µs): on two
// cores, the load generator then takes a third to a half of the machine away from the server
// under test. wrk spends a few µs. Both the gateway and its bare-Fastify baseline are measured
// with the same generator in a run, and every result says which one it was.
//
// wrk's Lua cannot call the bench's JavaScript, so a request that changes per call is given as a
// template: `{{digest}}` stands for the next digest of a DigestSource (its prefix and a counter,
// the same digests the JavaScript side produces), or cycles through digests already submitted.
// wrk builds one request per run that it never sends (its first call of the Lua `request()`), so
// the first digest of a run is not submitted: a caller looking for a submitted digest checks.
// Latency percentiles come from wrk's own histogram (microsecond resolution) and cover every
// answer; answers outside 2xx/3xx are counted by wrk as status errors.
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { LatencySummary } from './latencies.ts';

export interface WrkTemplate {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** `{{digest}}` in path or body → prefix + 16 hex digits of a counter. */
  digests?: { prefix: string; from: number; cycle?: number };
}

export interface WrkResult {
  seconds: number;
  requests: number;
  /** Answers outside 2xx/3xx. */
  statusErrors: number;
  socketErrors: number;
  timeouts: number;
  latency: LatencySummary;
  /** How many requests the Lua script built (digests used, when not cycling). */
  generated: number;
}

let available: boolean | undefined;
export function wrkAvailable(): boolean {
  if (available === undefined) {
    try {
      execFileSync('wrk', ['--version'], { stdio: 'ignore' });
      available = true;
    } catch (e) {
      // `wrk --version` prints its banner and exits 1; only a missing binary is "not there".
      available = (e as NodeJS.ErrnoException).code !== 'ENOENT';
    }
  }
  return available;
}

const lua = (s: string) => `[==[${s}]==]`;

function script(t: WrkTemplate): string {
  const headers = Object.entries(t.headers ?? {})
    .map(([k, v]) => `[ ${lua(k)} ] = ${lua(v)}`)
    .join(', ');
  const d = t.digests;
  return `
local threads = {}
function setup(thread) table.insert(threads, thread) end
local method, path_t, body_t = ${lua(t.method)}, ${lua(t.path)}, ${t.body === undefined ? 'nil' : lua(t.body)}
local headers = { ${headers} }
local prefix, from, cycle = ${lua(d?.prefix ?? '')}, ${d?.from ?? 0}, ${d?.cycle ?? 0}
generated = 0
${
  d
    ? `request = function()
  local k = generated
  generated = generated + 1
  local i = from + (cycle > 0 and (k % cycle) or k)
  local digest = prefix .. string.format("%08x%08x", math.floor(i / 4294967296), i % 4294967296)
  local p = string.gsub(path_t, "{{digest}}", digest)
  local b = body_t and (string.gsub(body_t, "{{digest}}", digest)) or nil
  return wrk.format(method, p, headers, b)
end`
    : `wrk.method, wrk.path, wrk.body, wrk.headers = method, path_t, body_t, headers`
}
done = function(summary, latency, requests)
  local g = 0
  for _, t in ipairs(threads) do g = g + (t:get("generated") or 0) end
  local e = summary.errors
  io.write(string.format(
    'LZWRK {"requests":%.0f,"us":%.0f,"status":%.0f,"socket":%.0f,"timeout":%.0f,"generated":%.0f,"mean":%.3f,"p50":%.0f,"p90":%.0f,"p99":%.0f,"p999":%.0f,"max":%.0f}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write, e.timeout, g,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max))
end
`;
}

/** Runs wrk with one thread (the machine has two cores, one of them for the server). */
export async function wrkLoop(
  url: string,
  template: WrkTemplate,
  options: { connections: number; seconds: number },
): Promise<WrkResult> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lz-wrk-'));
  try {
    const file = path.join(dir, 'request.lua');
    await fs.writeFile(file, script(template));
    const seconds = Math.max(1, Math.round(options.seconds));
    const out = await new Promise<string>((resolve, reject) =>
      execFile(
        'wrk',
        ['-t1', `-c${options.connections}`, `-d${seconds}s`, '--timeout', '30s', '-s', file, url],
        { maxBuffer: 1 << 20 },
        (err, stdout, stderr) =>
          err ? reject(new Error(`wrk: ${err.message}\n${stderr}`)) : resolve(`${stdout}\n${stderr}`),
      ),
    );
    const line = out.split('\n').find((l) => l.startsWith('LZWRK '));
    if (!line) throw new Error(`wrk printed no summary:\n${out}`);
    const r = JSON.parse(line.slice(6)) as Record<string, number>;
    const ms = (us: number) => us / 1000;
    return {
      seconds: r.us! / 1e6,
      requests: r.requests!,
      statusErrors: r.status!,
      socketErrors: r.socket!,
      timeouts: r.timeout!,
      generated: r.generated!,
      latency: {
        count: r.requests!,
        mean: ms(r.mean!),
        p50: ms(r.p50!),
        p90: ms(r.p90!),
        p99: ms(r.p99!),
        p999: ms(r.p999!),
        max: ms(r.max!),
      },
    };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
