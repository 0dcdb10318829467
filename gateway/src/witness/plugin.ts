// The gateway's side of witnessing (docs/witnesses.md): each new signed checkpoint goes to the
// configured witnesses (C2SP tlog-witness add-checkpoint, with a consistency proof from the size
// each last cosigned), their cosignatures are kept (migration 0950) and served — after the log's
// own signature lines on /v1/log/checkpoint, in bundles, in /v1/keys' witness list. Witnessing
// runs beside the pipeline, never in it: a witness that is down or slow delays no record; it is
// asked again later, with the newest checkpoint then.
import { acceptCosignatureLines, verifyCosignatures } from '@lianzheng/proof';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type pg from 'pg';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { setBounded } from '../bounded-map.ts';
import type { LogStore } from '../log/log-store.ts';
import { supersededFor } from '../seal/batch-store.ts';
import { runWorker } from '../worker.ts';
import { addCheckpoint } from './client.ts';
import type { WitnessConfig, WitnessEntry } from './config.ts';

export interface WitnessDecorator {
  config: WitnessConfig | null;
  /** The stored cosignature lines (no newline) of configured witnesses over checkpoint `size`. */
  cosignatures(size: number): Promise<string[]>;
  /** What GET /v1/keys publishes: the witnesses and the quorum. */
  published(): { witnesses: PublishedWitnessJson[]; witnessQuorum: number } | null;
  /** The sender (sealer/all roles only); tests drive it by hand. */
  sender: WitnessSender | null;
}

export interface PublishedWitnessJson {
  name: string;
  nameZh?: string;
  url: string;
  vkey: string;
  /** The same names under the keys proof's assurance reads. */
  displayName: string;
  displayNameZh?: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    witnesses: WitnessDecorator;
  }
}

interface WitnessMetrics {
  roundTrip: Histogram<'witness' | 'outcome'>;
  failures: Counter<'witness' | 'reason'>;
  cosignedSize: Gauge<'witness'>;
}

function witnessMetrics(registry: Registry): WitnessMetrics {
  return {
    roundTrip: new Histogram({
      name: 'witness_round_trip_seconds',
      help: 'add-checkpoint round trip to a witness, by outcome (cosigned, conflict, refused, error)',
      labelNames: ['witness', 'outcome'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    failures: new Counter({
      name: 'witness_failures_total',
      help: 'Witness requests that brought no cosignature: unreachable, timeout, refused (a 4xx: a fork, a bad signature), bad answer',
      labelNames: ['witness', 'reason'] as const,
      registers: [registry],
    }),
    cosignedSize: new Gauge({
      name: 'witness_cosigned_size',
      help: 'The log size each witness last cosigned, as it reports (a 409 tells it)',
      labelNames: ['witness'] as const,
      registers: [registry],
    }),
  };
}

interface WitnessRuntime {
  size: number;
  inFlight: boolean;
  backoffMs: number;
  notBefore: number;
}

/** Sends the newest checkpoint to every witness that has not cosigned it. */
export class WitnessSender {
  private readonly state = new Map<string, WitnessRuntime>();
  private timer: NodeJS.Timeout | undefined;
  private loaded = false;
  private stopped = false;
  private ticking: Promise<void> | undefined;

  constructor(
    private readonly db: pg.Pool,
    private readonly log: LogStore,
    private readonly config: WitnessConfig,
    private readonly metrics: WitnessMetrics,
    private readonly logger: FastifyBaseLogger,
    private readonly onCosigned: (size: number) => void,
  ) {}

  start(): void {
    this.stopped = false;
    const loop = () => {
      if (this.stopped) return;
      this.ticking = this.tick()
        .catch((err) => this.logger.warn({ err }, 'witnessing: a round failed'))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(loop, this.config.intervalMs);
        });
    };
    this.timer = setTimeout(loop, 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.ticking;
  }

  private async load(): Promise<void> {
    if (this.loaded) return;
    const { rows } = await this.db.query<{ vkey: string; size: string }>(
      'select vkey, size from witness_state where vkey = any($1)',
      [this.config.witnesses.map((w) => w.vkey)],
    );
    for (const w of this.config.witnesses) {
      const row = rows.find((r) => r.vkey === w.vkey);
      this.state.set(w.vkey, { size: Number(row?.size ?? 0), inFlight: false, backoffMs: 0, notBefore: 0 });
      this.metrics.cosignedSize.set({ witness: w.keyName }, Number(row?.size ?? 0));
    }
    this.loaded = true;
  }

  /** One round: the newest checkpoint to each witness that lacks it (all at once, each bounded). */
  async tick(): Promise<void> {
    await this.load();
    const latest = await this.log.checkpoint();
    if (!latest) return;
    const now = Date.now();
    await Promise.all(
      this.config.witnesses.map(async (w) => {
        const s = this.state.get(w.vkey)!;
        if (s.inFlight || s.size >= latest.size || now < s.notBefore) return;
        s.inFlight = true;
        try {
          await this.send(w, s, latest);
        } finally {
          s.inFlight = false;
        }
      }),
    );
  }

  private failed(w: WitnessEntry, s: WitnessRuntime, reason: string): void {
    this.metrics.failures.inc({ witness: w.keyName, reason });
    s.backoffMs = Math.min(Math.max(s.backoffMs * 2, this.config.retryMs), 60_000);
    s.notBefore = Date.now() + s.backoffMs;
  }

  private async saveState(
    w: WitnessEntry,
    size: number,
    error: string | null,
    refused = false,
  ): Promise<void> {
    await this.db.query(
      `insert into witness_state (vkey, size, last_error, last_error_at, refusals)
       values ($1, $2, $3, case when $3::text is null then null else now() end, $4)
       on conflict (vkey) do update set size = excluded.size, updated_at = now(),
         last_error = coalesce(excluded.last_error, witness_state.last_error),
         last_error_at = coalesce(excluded.last_error_at, witness_state.last_error_at),
         refusals = witness_state.refusals + excluded.refusals`,
      [w.vkey, String(size), error, refused ? 1 : 0],
    );
  }

  private async send(
    w: WitnessEntry,
    s: WitnessRuntime,
    latest: { size: number; note: string },
  ): Promise<void> {
    // At most two tries a round: the second after a 409 told us the witness's size.
    for (let attempt = 0; attempt < 2; attempt++) {
      const oldSize = s.size;
      if (oldSize > latest.size) {
        this.logger.error(
          { witness: w.keyName, witnessSize: oldSize, logSize: latest.size },
          'witnessing: the witness has cosigned a larger tree of this log than the log has (a restored database, or a log elsewhere signing with our key)',
        );
        this.failed(w, s, 'ahead');
        return;
      }
      const proof = oldSize === 0 ? [] : await this.log.consistencyProof(oldSize, latest.size);
      const started = performance.now();
      let result: Awaited<ReturnType<typeof addCheckpoint>>;
      try {
        result = await addCheckpoint(
          w.url,
          { oldSize, proof, note: latest.note },
          { timeoutMs: this.config.timeoutMs },
        );
      } catch (err) {
        const timeout = (err as Error).name === 'TimeoutError' || (err as Error).name === 'AbortError';
        this.metrics.roundTrip.observe(
          { witness: w.keyName, outcome: 'error' },
          (performance.now() - started) / 1000,
        );
        this.logger.warn(
          { witness: w.keyName, url: w.url, err: (err as Error).message },
          `witnessing: ${timeout ? 'no answer in time' : 'unreachable'}; asked again later with the newest checkpoint`,
        );
        this.failed(w, s, timeout ? 'timeout' : 'unreachable');
        return;
      }
      this.metrics.roundTrip.observe(
        { witness: w.keyName, outcome: result.kind },
        (performance.now() - started) / 1000,
      );
      if (result.kind === 'cosigned') {
        let lines: string[];
        try {
          lines = acceptCosignatureLines(latest.note, result.body, w.vkey);
        } catch (err) {
          this.logger.error(
            { witness: w.keyName, err: (err as Error).message },
            'witnessing: the answer holds no valid cosignature',
          );
          this.failed(w, s, 'bad-answer');
          return;
        }
        const line = lines[0]!.slice(0, -1);
        const time = verifyCosignatures(`${latest.note}${lines[0]}`, [w.vkey]).cosignatures[0]!.time;
        await this.db.query(
          `insert into witness_cosignatures (size, vkey, line, cosigned_at) values ($1, $2, $3, to_timestamp($4))
           on conflict (size, vkey) do update set line = excluded.line, cosigned_at = excluded.cosigned_at`,
          [String(latest.size), w.vkey, line, time],
        );
        await this.saveState(w, latest.size, null);
        s.size = latest.size;
        s.backoffMs = 0;
        s.notBefore = 0;
        this.metrics.cosignedSize.set({ witness: w.keyName }, latest.size);
        this.onCosigned(latest.size);
        return;
      }
      if (result.kind === 'conflict' && result.size !== oldSize) {
        // The witness cosigned another size than we thought (its state, or ours, is older): its
        // size is the `old` of the next try.
        this.logger.info(
          { witness: w.keyName, ours: oldSize, theirs: result.size },
          'witnessing: the witness has another size',
        );
        s.size = result.size;
        this.metrics.cosignedSize.set({ witness: w.keyName }, result.size);
        await this.saveState(w, result.size, null);
        continue;
      }
      // A refusal: a failed consistency proof (422), a root that differs at the same size (409),
      // an unknown key or origin (403/404). Evidence against the log, or a misconfiguration: loud.
      const status = result.kind === 'conflict' ? 409 : result.status;
      const why = result.kind === 'refused' ? result.body : `same size ${oldSize}, another root`;
      this.logger.error(
        { witness: w.keyName, url: w.url, status, answer: why, size: latest.size, oldSize },
        'WITNESS REFUSED the checkpoint: it does not extend what the witness cosigned, or the witness does not accept our key',
      );
      await this.saveState(w, s.size, `${status}: ${why}`.slice(0, 500), true);
      this.failed(w, s, `refused-${status}`);
      return;
    }
    this.failed(w, s, 'conflict-loop');
  }
}

/** Cached cosignature lines of a size: complete (every witness, or settled) for good, else for a second. */
interface CachedLines {
  lines: string[];
  /** The witnesses the lines are by, in the same order. */
  signers: string[];
  complete: boolean;
  at: number;
}

/**
 * The later checkpoint a record's bundle points to when its own is below the quorum: once found
 * it stays (the sender offers only the newest checkpoint, so no smaller one gains lines later).
 */
interface WitnessedAt {
  size: number;
  note: string;
  consistency: string[];
}

async function witnessesPlugin(
  app: FastifyInstance,
  opts: { config: WitnessConfig | null; run: boolean },
): Promise<void> {
  const config = opts.config;
  const cache = new Map<number, CachedLines>();
  const MAX_CACHED = 4000;
  // Longer than a request to a witness can take (WITNESS_TIMEOUT_MS is at most 60 s) plus a round.
  const SETTLE_S = Math.ceil(((config?.timeoutMs ?? 0) + (config?.intervalMs ?? 0)) / 1000) + 5;
  const vkeys = config?.witnesses.map((w) => w.vkey) ?? [];

  async function cosigned(size: number): Promise<CachedLines> {
    if (!config) return { lines: [], signers: [], complete: true, at: 0 };
    const hit = cache.get(size);
    if (hit && (hit.complete || Date.now() - hit.at < 1000)) return hit;
    // `settled`: a newer checkpoint has existed for a while, so no witness will be offered this
    // one again (the sender offers only the newest): what is stored now is final, cache it for
    // good. The newest checkpoint stays open — a witness that comes back cosigns it later.
    const [{ rows }, settled] = await Promise.all([
      app.db.query<{ vkey: string; line: string }>({
        name: 'lz-witness-cosignatures',
        text: 'select vkey, line from witness_cosignatures where size = $1 and vkey = any($2)',
        values: [String(size), vkeys],
      }),
      supersededFor(app.db, size, SETTLE_S),
    ]);
    // In the order the witnesses are configured, so the note reads the same every time.
    const ordered = vkeys.flatMap((k) => rows.filter((r) => r.vkey === k));
    const entry = {
      lines: ordered.map((r) => r.line),
      signers: ordered.map((r) => r.vkey),
      complete: settled || ordered.length === vkeys.length,
      at: Date.now(),
    };
    setBounded(cache, size, entry, MAX_CACHED);
    return entry;
  }

  async function cosignatures(size: number): Promise<string[]> {
    return (await cosigned(size)).lines;
  }

  // A record whose checkpoint was made while witnesses were down: the smallest later checkpoint
  // whose cosigners, with the record's own, meet the quorum, and the consistency proof to it
  // (docs/witnesses.md). Found ones are kept. A miss (no later size has enough of these other
  // witnesses) holds for every record at or after that size too, so it is kept per set of
  // witnesses, from the smallest size it was asked for, for a second: with a witness down for
  // good, the scan to the end of the store (~50 ms over 75,000 later checkpoints, measured) runs
  // about once a second, not once per bundle.
  const witnessedFound = new Map<number, WitnessedAt>();
  const witnessedMissed = new Map<string, { from: number; at: number }>();
  async function witnessedFor(size: number, own: CachedLines): Promise<WitnessedAt | undefined> {
    if (!config || own.signers.length >= config.quorum) return undefined;
    const found = witnessedFound.get(size);
    if (found) return found;
    const others = vkeys.filter((k) => !own.signers.includes(k));
    const need = config.quorum - own.signers.length;
    const missKey = `${need}|${others.join(',')}`;
    const missed = witnessedMissed.get(missKey);
    const fresh = missed !== undefined && Date.now() - missed.at < 1000;
    if (fresh && size >= missed.from) return undefined;
    // The primary key (size, vkey) is read in size order from `size`, and the scan stops at the
    // first size with enough other witnesses: cheap when one exists, and the usual case.
    const { rows } = await app.db.query<{ size: string }>({
      name: 'lz-witnessed-size',
      text: `select size from witness_cosignatures where size > $1 and vkey = any($2)
             group by size having count(*) >= $3 order by size limit 1`,
      values: [String(size), others, need],
    });
    if (rows.length === 0) {
      if (!fresh || size < missed.from) witnessedMissed.set(missKey, { from: size, at: Date.now() });
      return undefined;
    }
    const later = Number(rows[0]!.size);
    const [checkpoint, proof] = await Promise.all([
      app.pipeline.log.checkpoint(later),
      app.pipeline.log.consistencyProof(size, later),
    ]);
    if (!checkpoint) return undefined;
    const part = {
      size: later,
      note: checkpoint.note,
      consistency: proof.map((h) => Buffer.from(h).toString('hex')),
    };
    setBounded(witnessedFound, size, part, MAX_CACHED);
    return part;
  }

  let sender: WitnessSender | null = null;
  if (config && opts.run) {
    const metrics = witnessMetrics(app.metrics);
    sender = new WitnessSender(
      app.db,
      app.pipeline.log,
      config,
      metrics,
      app.log.child({ component: 'witnesses' }),
      (size) => cache.delete(size),
    );
    runWorker(app, sender);
  }

  app.decorate('witnesses', {
    config,
    cosignatures,
    sender,
    published: () =>
      config
        ? {
            witnesses: config.witnesses.map((w) => ({
              name: w.name,
              ...(w.nameZh ? { nameZh: w.nameZh } : {}),
              url: w.url,
              vkey: w.vkey,
              displayName: w.name,
              ...(w.nameZh ? { displayNameZh: w.nameZh } : {}),
            })),
            witnessQuorum: config.quorum,
          }
        : null,
  } satisfies WitnessDecorator);

  // Bundles: the cosignatures of the record's checkpoint, read on each call (they arrive after
  // the record is recorded, without a status change, so they are not part of the cached bundle);
  // below the quorum, the later checkpoint that meets it (`witnessed`).
  if (config) {
    app.pipeline.bundles.addFinisher(async (bundle) => {
      if (!bundle.inclusion) return bundle;
      const own = await cosigned(bundle.inclusion.size);
      const later = await witnessedFor(bundle.inclusion.size, own);
      if (own.lines.length === 0 && later === undefined) return bundle;
      return {
        ...bundle,
        ...(own.lines.length > 0 ? { cosignatures: own.lines } : {}),
        ...(later === undefined
          ? {}
          : {
              witnessed: {
                checkpoint: later.note,
                cosignatures: (await cosigned(later.size)).lines,
                consistency: later.consistency,
              },
            }),
      };
    });
  }
}

export default fp(witnessesPlugin, { name: 'witnesses', dependencies: ['pipeline'], fastify: '5.x' });
