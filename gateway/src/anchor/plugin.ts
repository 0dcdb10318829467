import { keccak256, toUtf8Bytes, type Wallet } from 'ethers';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type pg from 'pg';
import { Counter, Gauge, type Registry } from 'prom-client';
import { ConfigError } from '../config.ts';
import { runWorker } from '../worker.ts';
import { caip2 } from './abi.ts';
import { type Anchorer, createAnchorer, type ErrorSource, type RecordedCheckpoint } from './anchorer.ts';
import type { AnchorConfig } from './config.ts';
import { type AnchorHealth, createAnchorHealthProbe } from './health.ts';
import { loadAnchorKey } from './key.ts';
import { pgLatestRecordedCheckpoint } from './pipeline-source.ts';
import { createRpcAnchorFetcher, type FetchedAnchor } from './rpc-anchor-fetcher.ts';

export interface AnchorPluginOptions {
  config: AnchorConfig;
  db: pg.Pool;
  /** The log's checkpoint origin line (the gateway's `logOrigin`). */
  origin: string;
  /** Defaults to reading the pipeline's `checkpoints` and `ledger_batches` tables. */
  latestRecordedCheckpoint?: () => Promise<RecordedCheckpoint | null>;
  /** Run the anchorer from onReady to onClose (default true); false serves the route only. */
  run?: boolean;
}

/** One (chain, contract, anchoring address): where the operator anchors, or anchored. */
export interface AnchorSiteJson {
  chainId: string; // CAIP-2
  contract: string; // lowercase 0x
  anchorer: string; // lowercase 0x
}

/** The operator's anchoring identity, published in GET /v1/keys as `anchor`. */
export interface AnchorIdentityJson extends AnchorSiteJson {
  origin: string;
  originHash: string;
  confirmations: number;
  retired: AnchorSiteJson[];
}

export interface AnchorDecorator {
  config: AnchorConfig;
  chainId: string;
  contract: string;
  anchorer: Anchorer | null;
  /** What verifiers pin: chain, contract, anchoring address, origin, confirmations. */
  identity: AnchorIdentityJson;
  /** Reads an anchor transaction from the configured RPC (for bundles' `getAnchor`). */
  getAnchor: (ref: { chainId: string; contract: string; txHash: string }) => Promise<FetchedAnchor>;
  /** The anchoring's state as the database has it (cached for a second). */
  health: () => Promise<AnchorHealth>;
  /** /readyz's `anchor` check: not ok once a recorded entry waits longer than ANCHOR_MAX_LAG_S. */
  readiness: () => Promise<{ ok: boolean; reason?: string }>;
}

declare module 'fastify' {
  interface FastifyInstance {
    anchor: AnchorDecorator;
  }
}

/** The anchorer's RPC failures by code (`lianzheng_anchor_rpc_errors_total`). */
function anchorMetrics(registry: Registry): Counter<'code'> {
  const name = 'lianzheng_anchor_rpc_errors_total';
  return (
    (registry.getSingleMetric(name) as Counter<'code'> | undefined) ??
    new Counter({
      name,
      help: "Anchoring steps that failed on the chain's JSON-RPC endpoint (unreachable, timeout, refusal), by code",
      labelNames: ['code'] as const,
      registers: [registry],
    })
  );
}

/**
 * Gauges read from the database at scrape time, so they move during an outage even when no step
 * runs. Cluster workers all report them: the supervisor keeps the highest, not their sum.
 */
function anchorGauges(registry: Registry, health: () => Promise<AnchorHealth>, maxLagS: number): void {
  const gauge = (name: string, help: string, pick: (h: AnchorHealth) => number | null) => {
    if (registry.getSingleMetric(name)) return;
    new Gauge({
      name,
      help,
      registers: [registry],
      aggregator: 'max',
      async collect() {
        try {
          const value = pick(await health());
          if (value !== null) this.set(value);
        } catch {
          // the database is down: /readyz says so; the gauge keeps its last value
        }
      },
    });
  };
  gauge('lianzheng_anchor_last_size', 'Log size of the last confirmed anchor', (h) => h.lastSize);
  gauge(
    'lianzheng_anchor_last_timestamp_seconds',
    'When the last anchor was confirmed (Unix time)',
    (h) => h.lastAnchoredAt,
  );
  gauge(
    'lianzheng_anchor_lag_seconds',
    'How long the oldest recorded entry not yet covered by a confirmed anchor has waited',
    (h) => h.lagSeconds,
  );
  gauge(
    'lianzheng_anchor_lag_entries',
    'Recorded log entries not yet covered by a confirmed anchor',
    (h) => h.lagEntries,
  );
  gauge(
    'lianzheng_anchor_pending_tx_age_seconds',
    'Age of the anchor in flight (created, not yet confirmed); 0 when none',
    (h) => h.pendingSeconds,
  );
  if (!registry.getSingleMetric('lianzheng_anchor_max_lag_seconds')) {
    new Gauge({
      name: 'lianzheng_anchor_max_lag_seconds',
      help: 'ANCHOR_MAX_LAG_S: the lag past which /readyz reports anchoring degraded',
      registers: [registry],
      aggregator: 'max',
    }).set(maxLagS);
  }
}

/** The anchoring address: the key's, or ANCHOR_ADDRESS where this process holds no key. */
async function anchoringAddress(config: AnchorConfig, wallet: Wallet | null): Promise<string> {
  const configured = config.address ?? null;
  if (wallet) {
    const own = wallet.address.toLowerCase();
    if (configured && configured !== own) {
      throw new ConfigError('ANCHOR_ADDRESS', `is not the address of ANCHOR_KEY_FILE's key (${own})`);
    }
    return own;
  }
  if (configured) return configured;
  if (!config.keyFile) throw new ConfigError('ANCHOR_KEY_FILE', 'or ANCHOR_ADDRESS is required');
  return (await loadAnchorKey(config.keyFile)).address.toLowerCase();
}

/** What verifiers pin of the operator's anchoring (GET /v1/keys `anchor`). */
function anchorIdentity(
  config: AnchorConfig,
  contract: string,
  anchorer: string,
  origin: string,
): AnchorIdentityJson {
  return {
    chainId: caip2(config.chainId),
    contract,
    anchorer,
    origin,
    originHash: keccak256(toUtf8Bytes(origin)),
    confirmations: config.confirmations,
    retired: (config.retired ?? []).map((r) => ({
      chainId: caip2(r.chainId),
      contract: r.contract,
      anchorer: r.anchorer,
    })),
  };
}

/**
 * /readyz's `anchor` check: not ok once a recorded entry has waited longer than `maxLagS` for an
 * anchor, with how far behind and the anchorer's last error (where this process anchors).
 */
function anchorReadiness(
  health: () => Promise<AnchorHealth>,
  anchorer: Anchorer | null,
  maxLagS: number,
): () => Promise<{ ok: boolean; reason?: string }> {
  return async () => {
    const h = await health();
    if (h.lagSeconds <= maxLagS) return { ok: true };
    const last = anchorer?.status().lastError;
    return {
      ok: false,
      reason:
        `ANCHOR_LAG: a recorded entry has waited ${Math.round(h.lagSeconds)} s for an anchor ` +
        `(ANCHOR_MAX_LAG_S ${maxLagS}), ${h.lagEntries} entries behind` +
        (last ? `; last anchoring error ${last.code} (${last.source})` : ''),
    };
  };
}

/**
 * Anchoring: the anchorer (from onReady until close), the operator's anchoring identity, the
 * reader of anchors on the chain, and the anchoring's health. Its route, the read-only proxy
 * `GET /v1/anchor/tx/{txHash}`, is routes/anchor/index.ts.
 */
async function anchorPlugin(app: FastifyInstance, options: AnchorPluginOptions): Promise<void> {
  const { config } = options;
  if (!config.contract) {
    throw new ConfigError(
      'ANCHOR_CONTRACT',
      'is not set: deploy the contract with `lianzheng anchor deploy`',
    );
  }
  const contract = config.contract;
  const getAnchor = createRpcAnchorFetcher({ rpcUrl: config.rpcUrl, timeoutMs: config.rpcTimeoutMs });
  const registry = (app as { metrics?: Registry }).metrics;
  const rpcErrors = registry ? anchorMetrics(registry) : null;
  let anchorer: Anchorer | null = null;
  let wallet: Wallet | null = null;
  if (options.run !== false) {
    if (!config.keyFile) {
      throw new ConfigError('ANCHOR_KEY_FILE', 'is required to anchor (ANCHOR_ADDRESS alone only publishes)');
    }
    wallet = await loadAnchorKey(config.keyFile);
    anchorer = createAnchorer({
      db: options.db,
      config: { ...config, contract },
      wallet,
      origin: options.origin,
      latestRecordedCheckpoint: options.latestRecordedCheckpoint ?? pgLatestRecordedCheckpoint(options.db),
      log: app.log.child({ component: 'anchorer' }),
      onError: (code: string, source: ErrorSource) => {
        if (source === 'rpc') rpcErrors?.inc({ code });
      },
    });
    runWorker(app, anchorer);
  }
  const identity = anchorIdentity(config, contract, await anchoringAddress(config, wallet), options.origin);
  const health = createAnchorHealthProbe(options.db, {
    chainId: config.chainId,
    contract,
    origin: options.origin,
  });
  const maxLagS = config.maxLagS ?? Math.ceil((3 * config.intervalMs) / 1000);
  const readiness = anchorReadiness(health, anchorer, maxLagS);
  if (registry) anchorGauges(registry, health, maxLagS);
  app.decorate('anchor', {
    config,
    chainId: caip2(config.chainId),
    contract,
    anchorer,
    identity,
    getAnchor,
    health,
    readiness,
  });

  // /readyz (routes/ops) asks `readiness` too: a late anchor leaves the gateway ready — intake
  // and verification work without the chain — and says `degraded: ["anchor"]` with the reason.
  // GET /v1/anchor/tx/{txHash}, the read-only proxy, is routes/anchor/index.ts.
}

export default fp(anchorPlugin, { name: 'anchor', fastify: '5.x' });
