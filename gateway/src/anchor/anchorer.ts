// The anchorer: every interval it anchors the newest recorded checkpoint on an EVM chain, if the
// log grew since the last anchor. Every step is written to the `anchors` outbox before it is
// taken, so after a crash, an RPC outage or a node restart it resumes the anchor it had started
// (same nonce, same signed transaction) instead of starting another.
//
// One anchor is in flight at a time per (chain, contract, origin): nonces stay sequential and the
// contract's "size must grow" rule can never reject our own transactions out of order.
import {
  FetchRequest,
  Interface,
  JsonRpcProvider,
  keccak256,
  Network,
  Transaction,
  type TransactionReceipt,
  toUtf8Bytes,
  type Wallet,
} from 'ethers';
import type pg from 'pg';
import type { Queryable } from '../storage/queryable.ts';
import { ANCHOR_ABI } from './abi.ts';
import {
  type AnchorRow,
  type AnchorSite,
  anchorProgress,
  confirmAnchor,
  inFlightAnchor,
  insertAnchor,
  raiseAnchoredSize,
  storeSignedTx,
  updateAnchor,
} from './anchor-store.ts';
import type { AnchorConfig } from './config.ts';
import { AnchorError } from './errors.ts';

/** A checkpoint the ledger has recorded: the anchorer's input. */
export interface RecordedCheckpoint {
  size: number;
  /** Lowercase hex, 64 characters. */
  root: string;
}

export interface Fees {
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
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
  suggestFees?: (provider: JsonRpcProvider) => Promise<Fees & { baseFee: bigint }>;
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
  /** Ticks every `pollMs` until stopped. */
  start(): void;
  /** Stops the timer, waits for a running tick, closes the provider if it made it. */
  stop(): Promise<void>;
  status(): AnchorerStatus;
  readonly address: string;
}

/** An arbitrary constant: the advisory lock that lets one gateway at a time anchor. */
const ANCHOR_LOCK = 0x6c7a616e; // "lzan"
/** Replacements raise both fee fields by 12.5%; nodes require at least 10%. */
const BUMP_NUM = 9n;
const BUMP_DEN = 8n;
const MIN_BUMP_NUM = 11n;
const MIN_BUMP_DEN = 10n;

const anchorInterface = new Interface(ANCHOR_ABI);

/** The JSON-RPC provider the anchorer uses: fixed network (no detection loop), bounded requests. */
export function createAnchorProvider(
  config: Pick<AnchorConfig, 'rpcUrl' | 'chainId' | 'rpcTimeoutMs'>,
): JsonRpcProvider {
  const request = new FetchRequest(config.rpcUrl);
  request.timeout = config.rpcTimeoutMs;
  // No response cache (ethers' default keeps answers for 250 ms): a stale nonce is a wrong one.
  return new JsonRpcProvider(request, Network.from(config.chainId), {
    staticNetwork: true,
    batchMaxCount: 1,
    cacheTimeout: -1,
  });
}

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

async function nodeFees(provider: JsonRpcProvider): Promise<Fees & { baseFee: bigint }> {
  const block = await provider.getBlock('latest');
  const baseFee = block?.baseFeePerGas ?? 0n;
  let tip: bigint;
  try {
    tip = BigInt(await provider.send('eth_maxPriorityFeePerGas', []));
  } catch {
    tip = 1_000_000_000n;
  }
  return { baseFee, maxPriorityFeePerGas: tip, maxFeePerGas: 2n * baseFee + tip };
}

function minBig(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

function maxBig(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

function ceilDiv(a: bigint, b: bigint): bigint {
  return (a + b - 1n) / b;
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

export function createAnchorer(options: AnchorerOptions): Anchorer {
  const { db, config, origin, latestRecordedCheckpoint } = options;
  const ownProvider = options.provider === undefined;
  const provider = options.provider ?? createAnchorProvider(config);
  const wallet = options.wallet.connect(provider);
  const sender = wallet.address.toLowerCase();
  const contract = config.contract.toLowerCase();
  const originHash = keccak256(toUtf8Bytes(origin));
  const site: AnchorSite = { chainId: config.chainId, contract, origin };
  const anchoredHooks: AnchoredHook[] = [];
  const suggestFees = options.suggestFees ?? nodeFees;
  const log = options.log;

  let chainChecked = false;
  let lastCatchUpAt = 0;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<TickOutcome> | null = null;
  let stopped = true;
  const state: AnchorerStatus = {
    running: false,
    lastTickAt: null,
    lastOutcome: null,
    lastError: null,
    rpcErrors: 0,
  };

  function failed(code: string, source: ErrorSource): void {
    state.lastError = { code, at: Date.now(), source };
    if (source === 'rpc') state.rpcErrors++;
    options.onError?.(code, source);
  }

  async function checkChain(): Promise<void> {
    if (chainChecked) return;
    const reported = Number(BigInt(await provider.send('eth_chainId', [])));
    if (reported !== config.chainId) {
      throw new AnchorError('CHAIN_MISMATCH', `node serves chain ${reported}, configured ${config.chainId}`);
    }
    if ((await provider.getCode(contract)) === '0x') {
      throw new AnchorError('CONTRACT_MISSING', `no contract at ${contract}`);
    }
    try {
      const data = anchorInterface.encodeFunctionData('rootAt', [sender, originHash, 0n]);
      await provider.call({ to: contract, data });
    } catch (e) {
      if ((e as { code?: string }).code !== 'CALL_EXCEPTION') throw e;
      // Still anchors (same anchor() and event), but verifiers cannot read a root back.
      log?.warn(
        { contract },
        'ANCHOR_CONTRACT keeps no roots (the first, events-only Anchor contract): deploy the current one and move to it (network/evm/README.md)',
      );
    }
    chainChecked = true;
  }

  /** The size this sender last anchored for our origin, as the contract itself records it. */
  async function chainLatestSize(): Promise<number> {
    const data = anchorInterface.encodeFunctionData('latestSize', [sender, originHash]);
    const result = await provider.call({ to: contract, data });
    return Number(anchorInterface.decodeFunctionResult('latestSize', result)[0]);
  }

  /** Receipt of whichever of the anchor's transactions was mined, newest first. */
  async function minedReceipt(row: AnchorRow): Promise<TransactionReceipt | null> {
    for (const hash of [...row.tx_hashes].reverse()) {
      const receipt = await provider.getTransactionReceipt(hash);
      if (receipt) return receipt;
    }
    return null;
  }

  async function sign(
    client: pg.PoolClient,
    row: AnchorRow,
    nonce: number,
    fees: Fees,
    gasLimit: bigint,
  ): Promise<AnchorRow> {
    const data = anchorInterface.encodeFunctionData('anchor', [origin, BigInt(row.size), `0x${row.root}`]);
    const raw = await wallet.signTransaction({
      type: 2,
      chainId: config.chainId,
      nonce,
      to: contract,
      data,
      value: 0n,
      gasLimit,
      maxFeePerGas: fees.maxFeePerGas,
      maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
    });
    const hash = Transaction.from(raw).hash;
    if (!hash) throw new Error('signed transaction has no hash');
    // Persisted before it is broadcast: after a crash the very same transaction is re-sent.
    return storeSignedTx(client, row.id, {
      nonce,
      raw,
      hash,
      gasLimit,
      maxFeePerGas: fees.maxFeePerGas,
      maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
    });
  }

  /** Sends the row's signed transaction; the node knowing it afterwards is what counts. */
  async function broadcast(client: pg.PoolClient, row: AnchorRow): Promise<boolean> {
    if (!row.raw_tx || !row.tx_hash) return false;
    let sendError: unknown = null;
    try {
      await provider.send('eth_sendRawTransaction', [row.raw_tx]);
    } catch (e) {
      // "already known", "nonce too low" after it was mined, or a real failure: the node's view
      // of the hash (below, and the receipts on the next tick) decides, not the error's text.
      sendError = e;
    }
    const known = await provider.send('eth_getTransactionByHash', [row.tx_hash]);
    if (known) {
      if (row.status === 'pending') await updateAnchor(client, row.id, { status: 'sent', last_error: null });
      return true;
    }
    await updateAnchor(client, row.id, { last_error: sendError ? errorCode(sendError) : 'NOT_IN_POOL' });
    return false;
  }

  /** The anchor is confirmed and the records it covers anchored, in one transaction. */
  async function confirm(client: pg.PoolClient, row: AnchorRow, receipt: TransactionReceipt): Promise<void> {
    await inTransaction(client, async () => {
      await confirmAnchor(client, row.id, {
        hash: receipt.hash,
        blockNumber: receipt.blockNumber,
        blockHash: receipt.blockHash,
        gasUsed: receipt.gasUsed,
      });
      await markAnchored(client, Number(row.size), anchoredHooks);
    });
  }

  /** Moves an anchor in flight one step on: sign, broadcast, replace, notice it mined, confirm. */
  async function advance(client: pg.PoolClient, row: AnchorRow): Promise<TickOutcome> {
    const base = { anchorId: Number(row.id), size: Number(row.size) };
    if (row.tx_hashes.length > 0) {
      const receipt = await minedReceipt(row);
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
        const head = await provider.getBlockNumber();
        if (head - receipt.blockNumber + 1 >= config.confirmations) {
          await confirm(client, row, receipt);
          log?.info(
            { anchor: base, txHash: receipt.hash, block: receipt.blockNumber },
            'checkpoint anchored',
          );
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
      const next = await provider.getTransactionCount(sender, 'latest');
      if (row.nonce !== null && next > Number(row.nonce)) {
        if (await minedReceipt(row)) return { action: 'waiting', ...base };
        await updateAnchor(client, row.id, { status: 'failed', last_error: 'NONCE_TAKEN' });
        log?.error({ anchor: base }, 'anchor nonce was used by another transaction');
        return { action: 'failed', code: 'NONCE_TAKEN', ...base };
      }
      const age = row.age_ms ?? 0;
      // Sent but not mined, or refused by the node (status still pending): after the timeout,
      // sign again with the same nonce and higher fees.
      if (age >= config.replaceAfterMs) {
        const replaced = await replace(client, row);
        if (replaced) return { action: 'replaced', ...base };
      }
      const known = await broadcast(client, row);
      return known
        ? { action: row.status === 'pending' ? 'sent' : 'waiting', ...base }
        : { action: 'error', code: 'NOT_IN_POOL', ...base };
    }

    // Nothing signed yet: first make sure the chain has not already got this size (from us).
    const latest = await chainLatestSize();
    if (latest >= Number(row.size)) {
      await updateAnchor(client, row.id, { status: 'failed', last_error: 'NOT_APPEND_ONLY' });
      return { action: 'failed', code: 'NOT_APPEND_ONLY', ...base };
    }
    const suggested = await suggestFees(provider);
    const fees = {
      maxPriorityFeePerGas: minBig(suggested.maxPriorityFeePerGas, config.maxPriorityFeePerGas),
      maxFeePerGas: minBig(
        maxBig(suggested.maxFeePerGas, suggested.baseFee + suggested.maxPriorityFeePerGas),
        config.maxFeePerGas,
      ),
    };
    if (fees.maxFeePerGas < suggested.baseFee + fees.maxPriorityFeePerGas) {
      await updateAnchor(client, row.id, { last_error: 'FEE_CAP_TOO_LOW' });
      log?.warn(
        { anchor: base, baseFee: String(suggested.baseFee) },
        'base fee above ANCHOR_MAX_FEE_GWEI; waiting',
      );
      return { action: 'waiting', code: 'FEE_CAP_TOO_LOW', ...base };
    }
    const data = anchorInterface.encodeFunctionData('anchor', [origin, BigInt(row.size), `0x${row.root}`]);
    const estimate = await provider.estimateGas({ from: sender, to: contract, data });
    const gasLimit = estimate + estimate / 4n;
    const nonce = await provider.getTransactionCount(sender, 'pending');
    const signed = await sign(client, row, nonce, fees, gasLimit);
    const known = await broadcast(client, signed);
    log?.info({ anchor: base, nonce, txHash: signed.tx_hash }, 'anchor transaction sent');
    return known ? { action: 'sent', ...base } : { action: 'error', code: 'NOT_IN_POOL', ...base };
  }

  /** Same nonce, fees raised by 12.5% (at least the node's current suggestion), within the caps. */
  async function replace(client: pg.PoolClient, row: AnchorRow): Promise<boolean> {
    const oldTip = BigInt(row.max_priority_fee_per_gas ?? '0');
    const oldMax = BigInt(row.max_fee_per_gas ?? '0');
    const suggested = await suggestFees(provider);
    const tip = minBig(
      maxBig(ceilDiv(oldTip * BUMP_NUM, BUMP_DEN), suggested.maxPriorityFeePerGas),
      config.maxPriorityFeePerGas,
    );
    const max = minBig(
      maxBig(ceilDiv(oldMax * BUMP_NUM, BUMP_DEN), 2n * suggested.baseFee + tip),
      config.maxFeePerGas,
    );
    if (tip * MIN_BUMP_DEN < oldTip * MIN_BUMP_NUM || max * MIN_BUMP_DEN < oldMax * MIN_BUMP_NUM) {
      // The caps leave no room for a replacement the node would accept: keep the old one.
      await updateAnchor(client, row.id, { last_error: 'FEE_CAP_REACHED' });
      return false;
    }
    const signed = await sign(
      client,
      row,
      Number(row.nonce),
      { maxFeePerGas: max, maxPriorityFeePerGas: tip },
      BigInt(row.gas_limit ?? '100000'),
    );
    const known = await broadcast(client, signed);
    log?.warn(
      { anchor: Number(row.id), nonce: row.nonce, txHash: signed.tx_hash, tip: String(tip) },
      'stuck anchor transaction replaced',
    );
    return known;
  }

  async function maybeCreate(client: pg.PoolClient): Promise<AnchorRow | null> {
    const progress = await anchorProgress(client, site);
    const lastSize = progress.size;
    const lastCreated = progress.createdAt;
    if (Date.now() - lastCreated < config.intervalMs) return null;
    const confirmed = progress.confirmed;
    // The anchored size catches up with the confirmed anchors here, once per interval (a no-op
    // when the confirming transaction already raised it).
    if (confirmed > 0 && Date.now() - lastCatchUpAt >= config.intervalMs) {
      await inTransaction(client, () => markAnchored(client, confirmed, anchoredHooks));
      lastCatchUpAt = Date.now();
    }
    const checkpoint = await latestRecordedCheckpoint();
    if (!checkpoint || checkpoint.size <= lastSize) return null;
    if (!/^[0-9a-f]{64}$/.test(checkpoint.root) || !Number.isSafeInteger(checkpoint.size)) {
      throw new AnchorError('BAD_CHECKPOINT', 'latestRecordedCheckpoint returned a malformed checkpoint');
    }
    // The contract is the final word on what this key has anchored (the outbox may be younger).
    if (checkpoint.size <= (await chainLatestSize())) return null;
    return insertAnchor(client, site, sender, checkpoint);
  }

  async function tickOnce(): Promise<TickOutcome> {
    let client: pg.PoolClient | null = null;
    let locked = false;
    let onDatabase = true; // until the lock is held, a failure is the database's
    try {
      client = await db.connect();
      locked =
        (await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1) as ok', [ANCHOR_LOCK])).rows[0]
          ?.ok === true;
      if (!locked) return { action: 'busy' };
      onDatabase = false;
      await checkChain();
      const row = await inFlightAnchor(client, site);
      const outcome = row ? await advance(client, row) : await createAndAdvance(client);
      // The node refusing our transaction is an RPC failure too, though nothing was thrown.
      if (outcome.action === 'error' && outcome.code === 'NOT_IN_POOL') failed('NOT_IN_POOL', 'rpc');
      return outcome;
    } catch (e) {
      const code = errorCode(e);
      const source: ErrorSource =
        onDatabase || isDatabaseError(e)
          ? 'database'
          : e instanceof AnchorError && code === 'BAD_CHECKPOINT'
            ? 'other'
            : 'rpc';
      failed(code, source);
      log?.warn({ err: e, code, source }, 'anchoring step failed; retrying at the next tick');
      return { action: 'error', code };
    } finally {
      if (client) {
        if (locked) await client.query('select pg_advisory_unlock($1)', [ANCHOR_LOCK]).catch(() => {});
        client.release();
      }
    }
  }

  async function createAndAdvance(client: pg.PoolClient): Promise<TickOutcome> {
    const created = await maybeCreate(client);
    if (!created) return { action: 'idle' };
    log?.info({ anchor: Number(created.id), size: Number(created.size) }, 'anchoring checkpoint');
    const outcome = await advance(client, created);
    return outcome.action === 'sent' ? { ...outcome, action: 'created' } : outcome;
  }

  function tick(): Promise<TickOutcome> {
    if (!running) {
      running = tickOnce().then((outcome) => {
        state.lastTickAt = Date.now();
        state.lastOutcome = outcome;
        running = null;
        return outcome;
      });
    }
    return running;
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(async () => {
      timer = null;
      await tick();
      schedule();
    }, config.pollMs);
  }

  return {
    address: wallet.address,
    tick,
    onAnchored(hook) {
      anchoredHooks.push(hook);
    },
    start() {
      if (!stopped) return;
      stopped = false;
      state.running = true;
      void tick().then(schedule);
    },
    async stop() {
      stopped = true;
      state.running = false;
      if (timer) clearTimeout(timer);
      timer = null;
      if (running) await running;
      if (ownProvider) provider.destroy();
    },
    status: () => ({ ...state }),
  };
}
