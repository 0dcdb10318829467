// The anchorer: every interval it anchors the newest recorded checkpoint on an EVM chain, if the
// log grew since the last anchor. Every step is written to the `anchors` outbox before it is
// taken, so after a crash, an RPC outage or a node restart it resumes the anchor it had started
// (same nonce, same signed transaction) instead of starting another.
//
// One anchor is in flight at a time per (chain, contract, origin): nonces stay sequential and the
// contract's "size must grow" rule can never reject our own transactions out of order.
//
// In parts: `anchorStep` (one step on a client holding the anchoring lock), `failureAccounting`
// (where a step failed, for the status, metrics and /readyz), and `createAnchorer` (the lock and
// the ticking, worker.ts's pollingWorker). The chain's side is chain.ts; the outbox's statements
// are anchor-store.ts's. Who is told of anchored records registers an `onAnchored` hook.
import type { JsonRpcProvider, TransactionReceipt, Wallet } from 'ethers';
import type pg from 'pg';
import type { Queryable } from '../storage/queryable.ts';
import { pollingWorker } from '../worker.ts';
import {
  type AnchorRow,
  type AnchorSite,
  anchorProgress,
  confirmAnchor,
  inFlightAnchor,
  insertAnchor,
  moveConfirmedAnchor,
  raiseAnchoredSize,
  recentConfirmedAnchors,
  storeSignedTx,
  updateAnchor,
} from './anchor-store.ts';
import {
  AnchorChain,
  createAnchorProvider,
  firstFees,
  nodeFees,
  replacementFees,
  type SuggestedFees,
} from './chain.ts';
import type { AnchorConfig } from './config.ts';
import { AnchorError } from './errors.ts';

/** A checkpoint the ledger has recorded: the anchorer's input. */
export interface RecordedCheckpoint {
  size: number;
  /** Lowercase hex, 64 characters. */
  root: string;
}

interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface AnchorerOptions {
  db: pg.Pool;
  config: AnchorConfig & { contract: string };
  /** The anchorer's own key (see loadAnchorKey); it pays for and signs every anchor. */
  wallet: Wallet;
  /** The checkpoint origin line of the log being anchored. */
  origin: string;
  /** The newest checkpoint the ledger has recorded (see pgLatestRecordedCheckpoint). */
  latestRecordedCheckpoint: () => Promise<RecordedCheckpoint | null>;
  /** Fee suggestion for a first transaction; defaults to the node's (base fee and tip oracle). */
  suggestFees?: (provider: JsonRpcProvider) => Promise<SuggestedFees>;
  provider?: JsonRpcProvider;
  log?: Logger;
  /** Told of every failed step: its code, and whether the chain's RPC or the database failed. */
  onError?: (code: string, source: ErrorSource) => void;
}

/** Where a failed step failed: the chain's JSON-RPC endpoint, the database, or elsewhere. */
export type ErrorSource = 'rpc' | 'database' | 'other';

export type TickAction =
  | 'idle' // nothing to anchor
  | 'busy' // another tick (or another gateway) holds the anchoring lock
  | 'waiting' // an anchor is in flight and nothing had to be done
  | 'created'
  | 'sent'
  | 'replaced'
  | 'mined'
  | 'confirmed'
  | 'failed'
  | 'error';

export interface TickOutcome {
  action: TickAction;
  anchorId?: number;
  size?: number;
  /** A stable code when `action` is `error` or `failed`, or when fee caps held a transaction back. */
  code?: string;
}

export interface AnchorerStatus {
  running: boolean;
  lastTickAt: number | null;
  lastOutcome: TickOutcome | null;
  lastError: { code: string; at: number; source: ErrorSource } | null;
  /** Steps that failed on the chain's RPC since start (connection, timeout, refusal). */
  rpcErrors: number;
}

export interface Anchorer {
  /** One step of work; never throws (errors come back as `{action: 'error', code}`). */
  tick(): Promise<TickOutcome>;
  /** Adds a hook told of the leaves each confirmed anchor newly covers, in its transaction. */
  onAnchored(hook: AnchoredHook): void;
  /** Adds a hook told when a confirmed anchor is found re-mined in another block (after it is stored). */
  onMoved(hook: MovedHook): void;
  /** Ticks every `pollMs` until stopped. */
  start(): void;
  /** Stops the timer, waits for a running tick, closes the provider if it made it. */
  stop(): Promise<void>;
  status(): AnchorerStatus;
  readonly address: string;
}

/**
 * How deep a reorganisation is looked for: confirmed anchors mined in the chain's last this many
 * blocks are read again once per interval (at most RECHECK_LIMIT of them, newest first).
 */
const REORG_WINDOW_BLOCKS = 128;
const RECHECK_LIMIT = 16;

/** An arbitrary constant: the advisory lock that lets one gateway at a time anchor. */
const ANCHOR_LOCK = 0x6c7a616e; // "lzan"
/** The leaves `fromSize` … `toSize - 1`, newly covered by a confirmed anchor of `toSize` leaves. */
export interface Anchored {
  fromSize: number;
  toSize: number;
}

/**
 * Told inside the transaction that raises the anchored size (`tx`), so what it writes commits
 * with it or not at all: webhooks/plugin.ts registers one that writes the `records.anchored`
 * notices. Anchoring itself knows nothing of who listens.
 */
export type AnchoredHook = (tx: Queryable, anchored: Anchored) => Promise<void>;

/**
 * A confirmed anchor the chain re-mined in another block (a reorganisation): what caches its block
 * must forget it (anchor/bundles-plugin.ts drops the cached bundles).
 */
export type MovedHook = (moved: { size: number; txHash: string; block: number }) => void;

/**
 * Marks the records below `size` anchored — one row, `log_anchored`, raised (never lowered): a
 * record's status is derived from it (migration 0700) — and, when that raised it, tells `hooks`
 * of the leaves newly covered, on the same `tx`. Call it inside a transaction.
 */
export async function markAnchored(
  tx: Queryable,
  size: number,
  hooks: readonly AnchoredHook[] = [],
): Promise<void> {
  const fromSize = await raiseAnchoredSize(tx, size);
  if (fromSize === null) return;
  for (const hook of hooks) await hook(tx, { fromSize, toSize: size });
}

/** Runs `work` in a transaction on `client` (which holds the anchoring lock for the session). */
async function inTransaction(client: pg.PoolClient, work: () => Promise<void>): Promise<void> {
  await client.query('begin');
  try {
    await work();
    await client.query('commit');
  } catch (e) {
    await client.query('rollback').catch(() => {});
    throw e;
  }
}

/**
 * Whether an error came from the database rather than the chain: anything thrown while taking a
 * connection or the lock, PostgreSQL's own errors (they carry a severity), or a dropped connection.
 */
function isDatabaseError(e: unknown): boolean {
  if (typeof (e as { severity?: unknown })?.severity === 'string') return true;
  return /connection terminated|client (has encountered|was closed)|timeout exceeded when trying to connect/i.test(
    (e as Error)?.message ?? '',
  );
}

/** A stable code for an error from ethers, pg or ourselves. */
function errorCode(e: unknown): string {
  if (e instanceof AnchorError) return e.code;
  const code = (e as { code?: unknown })?.code;
  if (typeof code === 'string' && code.length > 0) return code;
  return 'UNKNOWN_ERROR';
}

/** The anchorer's failures: the last one and the RPC ones counted, each told to `onError`. */
function failureAccounting(onError?: (code: string, source: ErrorSource) => void) {
  let lastError: AnchorerStatus['lastError'] = null;
  let rpcErrors = 0;
  return {
    failed(code: string, source: ErrorSource): void {
      lastError = { code, at: Date.now(), source };
      if (source === 'rpc') rpcErrors++;
      onError?.(code, source);
    },
    /**
     * Where a thrown step failed: the database (before the lock was held, or any database error),
     * ourselves (a malformed checkpoint handed in), or else the chain's RPC.
     */
    classify(e: unknown, beforeLock: boolean): { code: string; source: ErrorSource } {
      const code = errorCode(e);
      const source: ErrorSource =
        beforeLock || isDatabaseError(e)
          ? 'database'
          : e instanceof AnchorError && code === 'BAD_CHECKPOINT'
            ? 'other'
            : 'rpc';
      return { code, source };
    },
    snapshot: () => ({ lastError, rpcErrors }),
  };
}

interface StepContext {
  chain: AnchorChain;
  config: AnchorConfig & { contract: string };
  site: AnchorSite;
  hooks: readonly AnchoredHook[];
  movedHooks: readonly MovedHook[];
  suggestFees: (provider: JsonRpcProvider) => Promise<SuggestedFees>;
  latestRecordedCheckpoint: () => Promise<RecordedCheckpoint | null>;
  log: Logger | undefined;
}

/**
 * The anchoring step, on a client that holds the anchoring lock: move the anchor in flight one
 * step on (sign, broadcast, replace, notice it mined, confirm), or start the next one when the log
 * grew. Each change is written to the outbox before the chain is asked to act on it.
 */
function anchorStep(ctx: StepContext) {
  const { chain, config, site, hooks, movedHooks, suggestFees, log } = ctx;
  let lastCatchUpAt = 0;
  let lastRecheckAt = 0;

  /** Signs and keeps a transaction of `row` before it is broadcast (a crash re-sends the same one). */
  async function sign(
    client: pg.PoolClient,
    row: AnchorRow,
    nonce: number,
    fees: { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint },
    gasLimit: bigint,
  ): Promise<AnchorRow> {
    const { raw, hash } = await chain.sign(BigInt(row.size), row.root, nonce, fees, gasLimit);
    return storeSignedTx(client, row.id, { nonce, raw, hash, gasLimit, ...fees });
  }

  /** Sends the row's signed transaction; true when the node knows it afterwards. */
  async function broadcast(client: pg.PoolClient, row: AnchorRow): Promise<boolean> {
    if (!row.raw_tx || !row.tx_hash) return false;
    const { known, sendError } = await chain.broadcast(row.raw_tx, row.tx_hash);
    if (known) {
      if (row.status === 'pending') await updateAnchor(client, row.id, { status: 'sent', last_error: null });
      return true;
    }
    await updateAnchor(client, row.id, { last_error: sendError ? errorCode(sendError) : 'NOT_IN_POOL' });
    return false;
  }

  /** The anchor is confirmed and the records it covers anchored (hooks told), in one transaction. */
  async function confirm(client: pg.PoolClient, row: AnchorRow, receipt: TransactionReceipt): Promise<void> {
    await inTransaction(client, async () => {
      await confirmAnchor(client, row.id, {
        hash: receipt.hash,
        blockNumber: receipt.blockNumber,
        blockHash: receipt.blockHash,
        gasUsed: receipt.gasUsed,
      });
      await markAnchored(client, Number(row.size), hooks);
    });
  }

  /** An anchor already signed: mined (then confirmed, or reverted), taken over, replaced or re-sent. */
  async function followSigned(client: pg.PoolClient, row: AnchorRow): Promise<TickOutcome> {
    const base = { anchorId: Number(row.id), size: Number(row.size) };
    const receipt = await chain.minedReceipt(row.tx_hashes);
    if (receipt) {
      if (receipt.status !== 1) {
        await updateAnchor(client, row.id, {
          status: 'failed',
          tx_hash: receipt.hash,
          block: receipt.blockNumber,
          last_error: 'REVERTED',
        });
        log?.error({ anchor: base, txHash: receipt.hash }, 'anchor transaction reverted');
        return { action: 'failed', code: 'REVERTED', ...base };
      }
      if ((await chain.confirmationsOf(receipt.blockNumber)) >= config.confirmations) {
        await confirm(client, row, receipt);
        log?.info({ anchor: base, txHash: receipt.hash, block: receipt.blockNumber }, 'checkpoint anchored');
        return { action: 'confirmed', ...base };
      }
      if (row.status === 'pending' || row.tx_hash !== receipt.hash) {
        await updateAnchor(client, row.id, {
          status: 'sent',
          tx_hash: receipt.hash,
          block: receipt.blockNumber,
        });
      }
      return { action: 'mined', ...base };
    }
    // Not mined. If our nonce is used up anyway, something else took it (or it was mined
    // between the two reads: look once more before giving the anchor up).
    const next = await chain.nonce('latest');
    if (row.nonce !== null && next > Number(row.nonce)) {
      if (await chain.minedReceipt(row.tx_hashes)) return { action: 'waiting', ...base };
      await updateAnchor(client, row.id, { status: 'failed', last_error: 'NONCE_TAKEN' });
      log?.error({ anchor: base }, 'anchor nonce was used by another transaction');
      return { action: 'failed', code: 'NONCE_TAKEN', ...base };
    }
    // Sent but not mined, or refused by the node (status still pending): after the timeout,
    // sign again with the same nonce and higher fees.
    if ((row.age_ms ?? 0) >= config.replaceAfterMs && (await replace(client, row))) {
      return { action: 'replaced', ...base };
    }
    const known = await broadcast(client, row);
    return known
      ? { action: row.status === 'pending' ? 'sent' : 'waiting', ...base }
      : { action: 'error', code: 'NOT_IN_POOL', ...base };
  }

  /** An anchor not signed yet: its first transaction, unless the chain already has its size. */
  async function signFirst(client: pg.PoolClient, row: AnchorRow): Promise<TickOutcome> {
    const base = { anchorId: Number(row.id), size: Number(row.size) };
    if ((await chain.latestSize()) >= Number(row.size)) {
      await updateAnchor(client, row.id, { status: 'failed', last_error: 'NOT_APPEND_ONLY' });
      return { action: 'failed', code: 'NOT_APPEND_ONLY', ...base };
    }
    const suggested = await suggestFees(chain.provider);
    const fees = firstFees(suggested, config);
    if (!fees) {
      await updateAnchor(client, row.id, { last_error: 'FEE_CAP_TOO_LOW' });
      log?.warn(
        { anchor: base, baseFee: String(suggested.baseFee) },
        'base fee above ANCHOR_MAX_FEE_GWEI; waiting',
      );
      return { action: 'waiting', code: 'FEE_CAP_TOO_LOW', ...base };
    }
    const gasLimit = await chain.gasLimit(BigInt(row.size), row.root);
    const nonce = await chain.nonce('pending');
    const signed = await sign(client, row, nonce, fees, gasLimit);
    const known = await broadcast(client, signed);
    log?.info({ anchor: base, nonce, txHash: signed.tx_hash }, 'anchor transaction sent');
    return known ? { action: 'sent', ...base } : { action: 'error', code: 'NOT_IN_POOL', ...base };
  }

  /** Same nonce, fees raised (chain.ts replacementFees), within the caps; false when they leave no room. */
  async function replace(client: pg.PoolClient, row: AnchorRow): Promise<boolean> {
    const old = {
      maxFeePerGas: BigInt(row.max_fee_per_gas ?? '0'),
      maxPriorityFeePerGas: BigInt(row.max_priority_fee_per_gas ?? '0'),
    };
    const fees = replacementFees(old, await suggestFees(chain.provider), config);
    if (!fees) {
      // The caps leave no room for a replacement the node would accept: keep the old one.
      await updateAnchor(client, row.id, { last_error: 'FEE_CAP_REACHED' });
      return false;
    }
    const signed = await sign(client, row, Number(row.nonce), fees, BigInt(row.gas_limit ?? '100000'));
    const known = await broadcast(client, signed);
    log?.warn(
      {
        anchor: Number(row.id),
        nonce: row.nonce,
        txHash: signed.tx_hash,
        tip: String(fees.maxPriorityFeePerGas),
      },
      'stuck anchor transaction replaced',
    );
    return known;
  }

  /** Moves an anchor in flight one step on. */
  function advance(client: pg.PoolClient, row: AnchorRow): Promise<TickOutcome> {
    return row.tx_hashes.length > 0 ? followSigned(client, row) : signFirst(client, row);
  }

  /**
   * The recently confirmed anchors read again from the chain. A reorganisation deeper than the
   * confirmations (or a lone node that lost its last blocks in a crash, as the outage test's
   * SIGKILLed dev node does) re-mines an anchor in another block: its row, which bundles name,
   * follows it there. One the chain dropped altogether is sent again — the same signed
   * transaction, so the same hash the bundles name and its own nonce (before a later anchor is
   * signed, or while one waits behind it for that nonce) — and followed at the next interval. The
   * records it covered stay `anchored` meanwhile: an anchored size is never lowered.
   */
  async function recheckConfirmed(client: pg.PoolClient): Promise<void> {
    const head = await chain.provider.getBlockNumber();
    const recent = await recentConfirmedAnchors(client, site, head - REORG_WINDOW_BLOCKS, RECHECK_LIMIT);
    for (const row of recent) {
      const anchor = { anchorId: Number(row.id), size: Number(row.size), txHash: row.tx_hash };
      const receipt = await chain.provider.getTransactionReceipt(row.tx_hash);
      if (!receipt) {
        const { known } = row.raw_tx ? await chain.broadcast(row.raw_tx, row.tx_hash) : { known: false };
        log?.error(
          { anchor, block: Number(row.block), resent: known },
          'a confirmed anchor is no longer on the chain (reorganised away); its transaction sent again',
        );
      } else if (receipt.blockHash !== row.block_hash) {
        await moveConfirmedAnchor(client, row.id, receipt);
        for (const hook of movedHooks) {
          hook({ size: Number(row.size), txHash: row.tx_hash, block: receipt.blockNumber });
        }
        log?.warn(
          { anchor, from: Number(row.block), to: receipt.blockNumber },
          'a confirmed anchor was re-mined in another block (the chain reorganised); its block is updated',
        );
      }
    }
  }

  /** A new anchor of the newest recorded checkpoint, once per interval, if the log grew. */
  async function maybeCreate(client: pg.PoolClient): Promise<AnchorRow | null> {
    const progress = await anchorProgress(client, site);
    if (Date.now() - progress.createdAt < config.intervalMs) return null;
    // The anchored size catches up with the confirmed anchors here, once per interval (a no-op
    // when the confirming transaction already raised it).
    if (progress.confirmed > 0 && Date.now() - lastCatchUpAt >= config.intervalMs) {
      await inTransaction(client, () => markAnchored(client, progress.confirmed, hooks));
      lastCatchUpAt = Date.now();
    }
    const checkpoint = await ctx.latestRecordedCheckpoint();
    if (!checkpoint || checkpoint.size <= progress.size) return null;
    if (!/^[0-9a-f]{64}$/.test(checkpoint.root) || !Number.isSafeInteger(checkpoint.size)) {
      throw new AnchorError('BAD_CHECKPOINT', 'latestRecordedCheckpoint returned a malformed checkpoint');
    }
    // The contract is the final word on what this key has anchored (the outbox may be younger).
    if (checkpoint.size <= (await chain.latestSize())) return null;
    return insertAnchor(client, site, chain.sender, checkpoint);
  }

  return async function step(client: pg.PoolClient): Promise<TickOutcome> {
    // Once per interval, whether or not an anchor is in flight: the next anchor's nonce comes after
    // a dropped one's, so it cannot be mined until the dropped one is sent again.
    if (Date.now() - lastRecheckAt >= config.intervalMs) {
      await recheckConfirmed(client);
      lastRecheckAt = Date.now();
    }
    const row = await inFlightAnchor(client, site);
    if (row) return advance(client, row);
    const created = await maybeCreate(client);
    if (!created) return { action: 'idle' };
    log?.info({ anchor: Number(created.id), size: Number(created.size) }, 'anchoring checkpoint');
    const outcome = await advance(client, created);
    return outcome.action === 'sent' ? { ...outcome, action: 'created' } : outcome;
  };
}

/**
 * The anchorer: one step per tick under the anchoring lock (another gateway holding it: 'busy'),
 * its failures accounted, ticking every `pollMs` from start to stop.
 */
export function createAnchorer(options: AnchorerOptions): Anchorer {
  const { db, config, origin, log } = options;
  const ownProvider = options.provider === undefined;
  const contract = config.contract.toLowerCase();
  const chain = new AnchorChain(
    options.provider ?? createAnchorProvider(config),
    options.wallet,
    { chainId: config.chainId, contract },
    origin,
    log,
  );
  const hooks: AnchoredHook[] = [];
  const movedHooks: MovedHook[] = [];
  const failures = failureAccounting(options.onError);
  const step = anchorStep({
    chain,
    config,
    site: { chainId: config.chainId, contract, origin },
    hooks,
    movedHooks,
    suggestFees: options.suggestFees ?? nodeFees,
    latestRecordedCheckpoint: options.latestRecordedCheckpoint,
    log,
  });
  let lastTickAt: number | null = null;
  let lastOutcome: TickOutcome | null = null;

  async function tickOnce(): Promise<TickOutcome> {
    let client: pg.PoolClient | null = null;
    let locked = false;
    let beforeLock = true; // until the lock is held, a failure is the database's
    try {
      client = await db.connect();
      locked =
        (await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1) as ok', [ANCHOR_LOCK])).rows[0]
          ?.ok === true;
      if (!locked) return { action: 'busy' };
      beforeLock = false;
      await chain.check();
      const outcome = await step(client);
      // The node refusing our transaction is an RPC failure too, though nothing was thrown.
      if (outcome.action === 'error' && outcome.code === 'NOT_IN_POOL') failures.failed('NOT_IN_POOL', 'rpc');
      return outcome;
    } catch (e) {
      const { code, source } = failures.classify(e, beforeLock);
      failures.failed(code, source);
      log?.warn({ err: e, code, source }, 'anchoring step failed; retrying at the next tick');
      return { action: 'error', code };
    } finally {
      if (client) {
        if (locked) await client.query('select pg_advisory_unlock($1)', [ANCHOR_LOCK]).catch(() => {});
        client.release();
      }
    }
  }

  const worker = pollingWorker(
    async () => {
      const outcome = await tickOnce();
      lastTickAt = Date.now();
      lastOutcome = outcome;
      return outcome;
    },
    config.pollMs,
    () => {
      if (ownProvider) chain.provider.destroy();
    },
  );

  return {
    address: options.wallet.address,
    tick: worker.step,
    onAnchored(hook) {
      hooks.push(hook);
    },
    onMoved(hook) {
      movedHooks.push(hook);
    },
    start: worker.start,
    stop: worker.stop,
    status: () => ({ running: worker.running, lastTickAt, lastOutcome, ...failures.snapshot() }),
  };
}
