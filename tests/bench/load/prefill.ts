// Grows a log to N records before the sustained bench measures it (SUSTAINED_PREFILL=N; issue #26
// asks for the targets "with 10 million records already in the log"). Each log grows through its
// own real write path: Tessera through POST /add with the same load generator as its measured
// window, the gateway through POST /v1/evidence/batch with 1,000-item batches — and a record counts
// only once a signed checkpoint covers it, as in the measured windows. The checkpoint size is
// sampled all along, so the prefill also yields a growth figure for free: the recorded rate of its
// last segment (a million records, or a fifth of a smaller prefill) against its first.
import { execFileSync } from 'node:child_process';
import { statfsSync } from 'node:fs';
import { closedLoop, type LoadRequest } from './closed-loop.ts';
import { batchBody, type DigestSource } from './workload.ts';

/** The bytes a gateway record takes on disk, rounded up (5.1–5.3 KB measured, docs/benchmarks.md). */
export const GATEWAY_BYTES_PER_RECORD = 6 * 1024;

/**
 * Refuses a prefill that cannot fit in `dir` (where the bench's databases go: os.tmpdir(), so
 * TMPDIR moves them to a larger disk): `records` at GATEWAY_BYTES_PER_RECORD each. Tessera's log,
 * far smaller per entry, is removed before the gateway's database is made, so the larger one is
 * what must fit. Answers the free bytes.
 */
export function checkDiskFor(records: number, dir: string): number {
  const s = statfsSync(dir);
  const free = s.bavail * s.bsize;
  const need = records * GATEWAY_BYTES_PER_RECORD;
  if (need > free) {
    const gb = (b: number) => `${(b / 1e9).toFixed(1)} GB`;
    throw new Error(
      `SUSTAINED_PREFILL: ${records.toLocaleString('en-US')} records (with the measured windows' records) need about ${gb(need)} at ${GATEWAY_BYTES_PER_RECORD} bytes each, and ${dir} has ${gb(free)} free; lower SUSTAINED_PREFILL or point TMPDIR at a larger disk`,
    );
  }
  return free;
}

/** Bytes under `dir` (du -sb), or NaN when du cannot read it. */
export function diskBytes(dir: string): number {
  try {
    return Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]);
  } catch {
    return Number.NaN;
  }
}

/** The checkpoint size over time, sampled while a log grows. */
export class GrowthTrace {
  private readonly times: number[] = [];
  private readonly sizes: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  /** The latest size seen. */
  size = 0;

  constructor(
    private readonly checkpointSize: () => Promise<number>,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Samples every `everyMs` (one poll at a time) from now until stop(). */
  async start(everyMs = 100): Promise<void> {
    await this.sample();
    this.timer = setInterval(() => {
      if (this.polling) return;
      this.polling = true;
      this.sample()
        .catch(() => {})
        .finally(() => {
          this.polling = false;
        });
    }, everyMs);
  }

  async sample(): Promise<number> {
    const size = await this.checkpointSize();
    // A checkpoint read mid-write or an error page parses as NaN: skip it, or a NaN size would
    // end waitFor's loop early (NaN < size is false).
    if (!Number.isFinite(size)) return this.size;
    this.times.push(this.now());
    this.sizes.push(size);
    this.size = size;
    return size;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /**
   * When the checkpoint first covered `size` (performance.now()), interpolated between the two
   * samples around it: checkpoints move in steps (Tessera's each second, the gateway's each
   * batch), and a segment's rate should not depend on where the sampling fell in a step.
   */
  timeOf(size: number): number {
    const i = this.sizes.findIndex((s) => s >= size);
    if (i < 0) throw new Error(`the checkpoint never reached ${size}`);
    if (i === 0) return this.times[0]!;
    const [s0, s1, t0, t1] = [this.sizes[i - 1]!, this.sizes[i]!, this.times[i - 1]!, this.times[i]!];
    return t0 + ((size - s0) / (s1 - s0)) * (t1 - t0);
  }

  /**
   * Records per second over the segment (`from`, `to`]: from when a checkpoint first covered its
   * first record until one covered its last.
   */
  rate(from: number, to: number): number {
    return (to - from - 1) / ((this.timeOf(to) - this.timeOf(from + 1)) / 1000);
  }
}

export interface PrefillResult {
  /** The checkpoint size before and after. */
  from: number;
  to: number;
  seconds: number;
  /** The records of the first and last segment (1,000,000, or a fifth of a smaller prefill). */
  segment: number;
  firstRate: number;
  lastRate: number;
  overallRate: number;
}

function summarise(trace: GrowthTrace, from: number, to: number, started: number): PrefillResult {
  const grown = to - from;
  const segment = Math.min(1_000_000, Math.max(1, Math.floor(grown / 5)));
  const seconds = (trace.timeOf(to) - started) / 1000;
  return {
    from,
    to,
    seconds,
    segment,
    // Both segments the same way, from the checkpoint's covering their first record: the time
    // until the first checkpoint (starting the gateway's sealer and JIT, the first batch's
    // seal) is the overall rate's, not the first segment's.
    firstRate: trace.rate(from, from + segment),
    lastRate: trace.rate(to - segment, to),
    overallRate: grown / seconds,
  };
}

/** Progress lines at every tenth of the way (a 10-million prefill takes a while). */
function progress(log: (m: string) => void, what: string, from: number, target: number, started: number) {
  let next = 1;
  return (size: number) => {
    if (next > 10 || size - from < ((target - from) * next) / 10) return;
    while (next <= 10 && size - from >= ((target - from) * next) / 10) next++;
    const s = (performance.now() - started) / 1000;
    log(`${what}: ${size.toLocaleString('en-US')} in a checkpoint after ${s.toFixed(0)} s`);
  };
}

/**
 * Tessera: POST /add of fresh entries (the measured window's request) at `connections`, in wrk
 * runs of up to 30 s, until `records` were accepted; then until a checkpoint covers them.
 */
export async function prefillTessera(
  tessera: { url: string; checkpointSize(): Promise<number> },
  add: LoadRequest,
  records: number,
  connections: number,
  log: (m: string) => void,
): Promise<PrefillResult> {
  const trace = new GrowthTrace(() => tessera.checkpointSize());
  const from = await trace.sample();
  const started = performance.now();
  await trace.start();
  const report = progress(log, 'tessera prefill', from, from + records, started);
  try {
    let sent = 0;
    let rate = 20_000; // a first guess, replaced by each run's own
    while (sent < records) {
      // wrk runs whole seconds; the last run overshoots by under a second's worth.
      const seconds = Math.min(30, Math.max(1, Math.round((records - sent) / rate)));
      const load = await closedLoop(tessera.url, add, { connections, seconds });
      if (load.ok === 0) throw new Error(`tessera accepted nothing: ${JSON.stringify(load.status)}`);
      sent += load.ok;
      rate = load.rps;
      report(trace.size);
    }
    await waitFor(trace, from + sent, report);
    return summarise(trace, from, trace.size, started);
  } finally {
    trace.stop();
  }
}

/** The backlog (accepted, not yet in a checkpoint) the gateway's prefill lets build up. */
const MAX_BACKLOG = 50_000;

/**
 * The gateway: 1,000-item batches, `concurrency` in flight, until `records` were accepted, then
 * until a signed checkpoint covers them. Intake outruns the sealing pipeline, so the prefill holds
 * back while more than MAX_BACKLOG records wait for a checkpoint: enough to keep the pipeline's
 * batches full, without a queue of millions that no deployment runs with.
 */
export async function prefillGateway(
  gateway: { url: string; checkpointSize(): Promise<number> },
  creds: { apiKey: string; projectId: string },
  digests: DigestSource,
  records: number,
  log: (m: string) => void,
  { batchItems = 1000, concurrency = 4 } = {},
): Promise<PrefillResult> {
  const trace = new GrowthTrace(() => gateway.checkpointSize());
  const from = await trace.sample();
  const started = performance.now();
  await trace.start();
  const report = progress(log, 'gateway prefill', from, from + records, started);
  const headers = { 'content-type': 'application/json', 'x-api-key': creds.apiKey };
  let queued = 0;
  try {
    const worker = async () => {
      while (queued < records) {
        while (from + queued - trace.size > MAX_BACKLOG) {
          report(trace.size);
          await new Promise((r) => setTimeout(r, 50));
        }
        const items = Math.min(batchItems, records - queued);
        queued += items;
        const res = await fetch(`${gateway.url}/v1/evidence/batch`, {
          method: 'POST',
          headers,
          body: batchBody(creds.projectId, digests, items),
        });
        if (res.status !== 202)
          throw new Error(`prefill batch answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
        await res.arrayBuffer();
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    await waitFor(trace, from + records, report);
    return summarise(trace, from, trace.size, started);
  } finally {
    trace.stop();
  }
}

/** Until the trace shows `size` covered; fails if the checkpoint stops moving for 10 minutes. */
async function waitFor(trace: GrowthTrace, size: number, report: (size: number) => void): Promise<void> {
  let last = trace.size;
  let movedAt = performance.now();
  while (trace.size < size) {
    await new Promise((r) => setTimeout(r, 100));
    report(trace.size);
    if (trace.size !== last) {
      last = trace.size;
      movedAt = performance.now();
    } else if (performance.now() - movedAt > 600_000)
      throw new Error(`the checkpoint stopped at ${last}, short of ${size}`);
  }
}
