import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { BATCH_EVENT, chaincodeErrorCode, encodeRecordBatch } from '@lianzheng/chaincode';
// Before the SDK: its loggers are made when its modules load (see fabric-sdk-logging.ts).
import './fabric-sdk-logging.ts';
import fabricCommon from 'fabric-common';
import type { CommitEvent, Contract, Network, X509Identity } from 'fabric-network';
import fabricNetwork from 'fabric-network';
import { contractQueries } from './contract-queries.ts';
import {
  type Ledger,
  type LedgerBatch,
  type LedgerCheckpoint,
  LedgerError,
  type LedgerFlag,
  type LedgerInfo,
  type LedgerJson,
  type LedgerProject,
  type LedgerResolution,
  type LedgerTx,
  type RecordBatchResult,
  type RegisterProjectResult,
} from './ledger.ts';

// The gateway's Fabric ledger: the same EvidenceContract, on a real channel, through fabric-network
// 2.2 (the client SDK the product names; it speaks to 2.5 peers). Every write is one transaction
// endorsed by the channel's policy (a majority of the organisations), ordered by Raft and
// validated by every peer; the gateway waits for its own organisation's peer to commit it and
// records the block and validation code it was given.
//
// Only one RecordBatch is ever in flight: every batch reads and writes the contract's log head, so
// a second batch from the same size is invalidated at commit (MVCC_READ_CONFLICT) and one started
// before the previous commits is refused (LOG_GAP). Transient failures that are named — an
// endorsement that timed out, an orderer that cannot be reached, an MVCC conflict, a commit not
// seen in time — are retried here with backoff; before each retry the ledger's log size is read
// again, because a batch whose reply was lost may well have been recorded, and the contract
// answers the same batch again with its stored result (no second recording, ever).

const { BlockDecoder } = fabricCommon as unknown as {
  BlockDecoder: { decodeTransaction(buf: Buffer): DecodedProcessedTx; decode(buf: Buffer): DecodedBlock };
};
const { Gateway, Wallets, DefaultEventHandlerStrategies, DefaultQueryHandlerStrategies } =
  fabricNetwork as unknown as typeof import('fabric-network');

export interface FabricIdentity {
  mspId: string;
  /** PEM of the X.509 certificate. */
  certificate: string;
  /** PEM of the private key (PKCS#8). */
  privateKey: string;
}

export interface FabricLedgerOptions {
  /** A fabric-network connection profile (the object, or a JSON file's path). */
  connectionProfile: Record<string, unknown> | string;
  /** The submitting identity, or the folder to read it from when connecting (readFabricIdentity). */
  identity: FabricIdentity | { dir: string; mspId?: string };
  channel: string;
  chaincode: string;
  /** Service discovery (default on); `asLocalhost` maps discovered hosts to localhost (default on). */
  discovery?: { enabled: boolean; asLocalhost: boolean };
  /** Seconds to wait for endorsement and for the commit event (defaults 30 and 60). */
  endorseTimeoutS?: number;
  commitTimeoutS?: number;
  /** Named transient failures retried here before the batcher sees an error (default 4). */
  attempts?: number;
  /** First wait between attempts, doubling (default 250 ms). */
  backoffMs?: number;
  /** Called with each retried failure (logging). */
  onRetry?: (info: { fn: string; attempt: number; reason: string }) => void;
}

/** Reads an identity folder: cert.pem, key.pem and msp-id (as written by network/fabric). */
export async function readFabricIdentity(dir: string, mspId?: string): Promise<FabricIdentity> {
  const [certificate, privateKey, fileMsp] = await Promise.all([
    readFile(`${dir}/cert.pem`, 'utf8'),
    readFile(`${dir}/key.pem`, 'utf8'),
    readFile(`${dir}/msp-id`, 'utf8').catch(() => undefined),
  ]);
  const msp = mspId ?? fileMsp?.trim();
  if (!msp) throw new Error(`${dir}: no msp-id file, and FABRIC_MSP_ID is not set`);
  return { mspId: msp, certificate, privateKey };
}

/** Failures worth another attempt, by what Fabric and gRPC say. The rest are answers. */
const TRANSIENT: { reason: string; pattern: RegExp }[] = [
  { reason: 'MVCC_READ_CONFLICT', pattern: /MVCC_READ_CONFLICT|PHANTOM_READ_CONFLICT/ },
  { reason: 'ENDORSEMENT_TIMEOUT', pattern: /REQUEST[ _]TIMEOUT|DEADLINE_EXCEEDED|timed? ?out/i },
  {
    reason: 'ORDERER_UNAVAILABLE',
    pattern: /orderer|SERVICE_UNAVAILABLE|no orderers|Failed to send transaction/i,
  },
  {
    reason: 'PEER_UNAVAILABLE',
    pattern: /UNAVAILABLE|ECONNREFUSED|failed to connect|Endorsement has failed|No valid responses/i,
  },
  {
    // fabric-common keeps its discovery view for five minutes. A peer that was down when it was
    // taken is missing from it after it is back, so asking its organisation fails here, before any
    // peer is asked. Another majority, and a reconnect that takes a fresh view, get past it.
    reason: 'PEER_UNAVAILABLE',
    pattern: /discovery service did not find any peers active/i,
  },
];

export function transientReason(error: unknown): string | undefined {
  const text = errorText(error);
  if (peerBehind(text)) return 'PEER_BEHIND';
  if (chaincodeErrorCode(text)) return undefined; // the contract answered: not transient
  return TRANSIENT.find((t) => t.pattern.test(text))?.reason;
}

/**
 * A LOG_GAP from an endorsing peer whose log is SHORTER than the batch's start: that peer has not
 * committed the previous batch yet (peers commit the same block at slightly different times), so
 * it is behind, not the gateway wrong — worth another attempt. A log longer than the start is a
 * real mismatch, for the batcher to stop on.
 */
export function peerBehind(text: string): boolean {
  for (const m of text.matchAll(/LOG_GAP: batch starts at (\d+) but the log has (\d+) leaves/g))
    if (Number(m[2]) < Number(m[1])) return true;
  return false;
}

function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const parts = [error.message];
  const e = error as Error & {
    transactionCode?: string;
    responses?: { response?: { message?: string } }[];
    errors?: unknown[];
  };
  if (e.transactionCode) parts.push(e.transactionCode);
  for (const r of e.responses ?? []) if (r.response?.message) parts.push(r.response.message);
  for (const inner of e.errors ?? []) parts.push(inner instanceof Error ? inner.message : String(inner));
  return parts.join(' | ');
}

/** A contract refusal keeps its code; anything else is the ledger being unavailable. */
export function toFabricLedgerError(error: unknown, what: string): LedgerError {
  if (error instanceof LedgerError) return error;
  const text = errorText(error);
  const code = chaincodeErrorCode(text);
  if (code) {
    const at = text.indexOf(`${code}:`);
    const message = text
      .slice(at + code.length + 1)
      .split(/ \| |\n|, status=/)[0]!
      .trim();
    return new LedgerError(code, message, { cause: error });
  }
  return new LedgerError('LEDGER_UNAVAILABLE', `${what}: ${text.slice(0, 500)}`, { cause: error });
}

interface DecodedBlock {
  header: { number: { toString(): string } };
}

interface DecodedProcessedTx {
  validationCode: number;
  transactionEnvelope: {
    payload: {
      header: { channel_header: { tx_id: string; timestamp: string | Date; type?: number | string } };
      data: {
        actions?: {
          payload: {
            chaincode_proposal_payload: { input: { chaincode_spec: { input: { args: Buffer[] } } } };
            action: {
              proposal_response_payload: {
                extension: {
                  response: { payload: Buffer | string; status: number };
                  events?: { event_name?: string };
                };
              };
              endorsements: { endorser: { mspid: string } }[];
            };
          };
        }[];
      };
    };
  };
}

const VALIDATION_NAMES: Record<number, string> = {
  0: 'VALID',
  10: 'ENDORSEMENT_POLICY_FAILURE',
  11: 'MVCC_READ_CONFLICT',
  12: 'PHANTOM_READ_CONFLICT',
  254: 'NOT_VALIDATED',
  255: 'INVALID_OTHER_REASON',
};

function validationName(code: number): string {
  return VALIDATION_NAMES[code] ?? `CODE_${code}`;
}

/**
 * What a committed transaction says, from qscc's ProcessedTransaction as fabric-common decodes it:
 * its function, its validation code, the organisations that endorsed it and, for RecordBatch, the
 * log size and root the contract answered.
 */
export function describeProcessedTransaction(
  decoded: DecodedProcessedTx,
  block: number,
): LedgerTx & { endorsers: string[] } {
  const header = decoded.transactionEnvelope.payload.header.channel_header;
  const action = decoded.transactionEnvelope.payload.data.actions?.[0]?.payload;
  const args = action?.chaincode_proposal_payload.input.chaincode_spec.input.args ?? [];
  const rawFn = args[0] ? Buffer.from(args[0]).toString('utf8') : '';
  // fabric-contract-api names a function `Contract:Function` when a contract name is given.
  const fn = rawFn.includes(':') ? rawFn.slice(rawFn.lastIndexOf(':') + 1) : rawFn;
  const endorsers = [...new Set((action?.action.endorsements ?? []).map((e) => e.endorser.mspid))].sort();
  const tx: LedgerTx & { endorsers: string[] } = {
    txId: header.tx_id,
    block,
    valid: decoded.validationCode === 0,
    validation: validationName(decoded.validationCode),
    fn,
    timestamp: new Date(header.timestamp).toISOString(),
    endorsers,
  };
  if (fn === 'RecordBatch' && decoded.validationCode === 0) {
    const payload = action?.action.proposal_response_payload.extension.response.payload;
    try {
      const result = JSON.parse(Buffer.from(payload ?? '').toString('utf8')) as {
        toSize?: number;
        root?: string;
      };
      if (typeof result.toSize === 'number' && typeof result.root === 'string') {
        tx.size = result.toSize;
        tx.root = result.root;
      }
    } catch {
      // Not a RecordBatch answer we can read: the transaction is still described.
    }
  }
  return tx;
}

/** A committed transaction as the submitter saw it. */
interface SubmitOutcome {
  payload: string;
  txId: string;
  block: number;
  validation: string;
  events: string[];
  /** The organisations asked to endorse it (all of them did, or it would not have committed). */
  endorsers?: string[];
}

/**
 * Every set of a majority of the channel's organisations, those with `own` first: with three
 * organisations, [own, A], [own, B], [A, B].
 */
export function endorsingSets(own: string, msps: string[]): string[][] {
  const all = [...new Set(msps)].sort();
  if (!all.includes(own)) all.unshift(own);
  // Only our own organisation is known (a profile naming no other peers): let discovery choose.
  if (all.length < 2) return [];
  const size = Math.floor(all.length / 2) + 1;
  const sets: string[][] = [];
  const pick = (start: number, chosen: string[]) => {
    if (chosen.length === size) return void sets.push(chosen);
    for (let i = start; i < all.length; i++) pick(i + 1, [...chosen, all[i]!]);
  };
  pick(0, []);
  return sets.sort((a, b) => Number(b.includes(own)) - Number(a.includes(own)));
}

/** GetBatch's answer on a member peer: the batch's result with every flag's facts. */
interface StoredBatchView {
  fromSize: number;
  toSize: number;
  root: string;
  txId: string;
  flags: LedgerFlag[];
  /** Earlier flags the batch resolved or reopened (restricted ones too on a member peer). */
  resolutions?: LedgerResolution[];
}

/** Serialises submits: one transaction in flight on the channel at a time. */
class SubmitQueue {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(work: () => Promise<T>): Promise<T> {
    const next = this.tail.then(work, work);
    this.tail = next.catch(() => {});
    return next;
  }
}

export class FabricLedger implements Ledger {
  readonly kind = 'fabric' as const;
  readonly info: LedgerInfo;
  private gateway?: InstanceType<typeof Gateway>;
  private network?: Network;
  private contract?: Contract;
  private qscc?: Contract;
  private connecting?: Promise<void>;
  private readonly submits = new SubmitQueue();
  private identity?: FabricIdentity;
  /**
   * The sets of organisations asked to endorse a RecordBatch, a majority each, our own first;
   * the one in use moves on when an endorser is unreachable. Asking a set ourselves tells us who
   * endorsed without reading the transaction back (a 10,000-record batch's transaction and block
   * are tens of MB).
   */
  private endorsingSets: string[][] = [];
  private endorsingSet = 0;

  constructor(private readonly options: FabricLedgerOptions) {
    this.info = { network: 'fabric', channel: options.channel, chaincode: options.chaincode };
  }

  async ready(): Promise<void> {
    await this.connect();
    // The network's deployment initialises the contract (its admin and writers); the gateway
    // only checks that it has been, and that it may write.
    const config = await this.evaluate<{ writers?: string[] } | null>('GetConfig', []);
    if (!config)
      throw new LedgerError('NOT_INITIALISED', 'the contract has not been initialised (InitLedger)');
    const msp = this.identity!.mspId;
    if (!config.writers?.includes(msp)) {
      throw new LedgerError(
        'NOT_A_WRITER',
        `${msp} is not among the contract's writers (${(config.writers ?? []).join(', ')})`,
      );
    }
  }

  async registerProject(project: Record<string, unknown>): Promise<RegisterProjectResult> {
    const id = String(project.id ?? '');
    const before = await this.query<{ project: LedgerProject; txId: string }>('GetProject', [id]);
    if (before) {
      // RegisterProject is idempotent in the contract; asking first saves an empty transaction
      // and tells the caller where the project was registered. A different payload is refused
      // by the contract, so it still goes through.
      const out = await this.submit('RegisterProject', [JSON.stringify(project)]).catch((error) => {
        throw toFabricLedgerError(error, 'RegisterProject');
      });
      const original = await this.getTx(before.txId);
      return {
        txId: before.txId,
        block: original?.block ?? out.block,
        project: before.project,
        repeated: true,
      };
    }
    const out = await this.submit('RegisterProject', [JSON.stringify(project)]);
    const stored = JSON.parse(out.payload) as { project: LedgerProject };
    return { txId: out.txId, block: out.block, project: stored.project, repeated: false };
  }

  async recordBatch(batch: LedgerBatch): Promise<RecordBatchResult> {
    const { args, transient } = encodeRecordBatch(batch);
    const out = await this.submit('RecordBatch', [args], transient, async () => {
      // Before another attempt: a batch whose reply was lost may have been recorded. The retry
      // still goes out — the contract answers a recorded batch with its stored result.
      await this.evaluate('GetCheckpoint', ['']).catch(() => undefined);
    });
    const answer = JSON.parse(out.payload) as { toSize: number; root: string };
    // The answer is in the block, so its flags carry no facts (restricted amounts); the batch's
    // private value on our own organisation's peer (a member of the collection) has them, and
    // names the transaction that recorded the batch — the one that counts on a repeat.
    const stored = await this.evaluate<StoredBatchView>('GetBatch', [String(batch.fromSize)]);
    if (stored.toSize !== answer.toSize || stored.root !== answer.root) {
      throw new LedgerError(
        'LEDGER_FAILED',
        `batch ${batch.fromSize}: the contract answered ${answer.toSize}/${answer.root}, its stored batch says ${stored.toSize}/${stored.root}`,
      );
    }
    const recordedNow = out.events.includes(BATCH_EVENT) && stored.txId === out.txId;
    // No BatchRecorded event: the contract had recorded this batch before and answered with the
    // stored result (no writes); the reference is the transaction that recorded it first.
    const original = recordedNow ? undefined : await this.getTx(stored.txId);
    if (!recordedNow && !original) {
      throw new LedgerError(
        'LEDGER_FAILED',
        `batch ${batch.fromSize} was recorded by ${stored.txId}, which this peer cannot find`,
      );
    }
    const endorsers = recordedNow
      ? (out.endorsers ?? (await this.getTx(out.txId).catch(() => undefined))?.endorsers)
      : original!.endorsers;
    return {
      toSize: stored.toSize,
      root: stored.root,
      flags: stored.flags,
      ...(stored.resolutions && stored.resolutions.length > 0 ? { resolutions: stored.resolutions } : {}),
      txId: recordedNow ? out.txId : original!.txId,
      block: recordedNow ? out.block : original!.block,
      validation: recordedNow ? out.validation : original!.validation,
      repeated: !recordedNow,
      ...(endorsers ? { endorsers } : {}),
    };
  }

  async simulateBatch(batch: LedgerBatch): Promise<void> {
    const { args, transient } = encodeRecordBatch(batch);
    const contract = await this.requireContract();
    try {
      await contract.createTransaction('RecordBatch').setTransient(toBuffers(transient)).evaluate(args);
    } catch (error) {
      throw toFabricLedgerError(error, 'RecordBatch (evaluate)');
    }
  }

  async getTx(txId: string): Promise<(LedgerTx & { endorsers: string[] }) | undefined> {
    const raw = await this.getTxEvidence(txId);
    if (!raw) return undefined;
    const block = Number(BlockDecoder.decode(raw.block).header.number.toString());
    return describeProcessedTransaction(BlockDecoder.decodeTransaction(raw.processed), block);
  }

  /** qscc's raw answers: the processed transaction and the block that holds it (evidence package). */
  async getTxEvidence(txId: string): Promise<{ block: Buffer; processed: Buffer } | undefined> {
    if (!/^[0-9a-f]{64}$/.test(txId)) return undefined;
    await this.connect();
    const qscc = this.qscc!;
    try {
      const [processed, block] = await Promise.all([
        qscc.evaluateTransaction('GetTransactionByID', this.options.channel, txId),
        qscc.evaluateTransaction('GetBlockByTxID', this.options.channel, txId),
      ]);
      return { block, processed };
    } catch (error) {
      if (/not found|no such transaction|Failed to get transaction/i.test(errorText(error))) return undefined;
      throw toFabricLedgerError(error, 'qscc');
    }
  }

  private readonly reads = contractQueries((fn, args) => this.query(fn, args));

  getRecord(id: string): Promise<LedgerJson | undefined> {
    return this.reads.getRecord(id);
  }

  projectTrail(projectId: string): Promise<LedgerJson[]> {
    return this.reads.projectTrail(projectId);
  }

  getFlags(projectId: string): Promise<LedgerFlag[]> {
    return this.reads.getFlags(projectId);
  }

  getProject(id: string): Promise<LedgerProject | undefined> {
    return this.reads.getProject(id);
  }

  getCheckpoint(size?: number): Promise<LedgerCheckpoint | undefined> {
    return this.reads.getCheckpoint(size);
  }

  /** Any query transaction of the contract (the CLI's and the audit's reads). */
  async evaluate<T>(fn: string, args: string[]): Promise<T> {
    const contract = await this.requireContract();
    try {
      return JSON.parse((await contract.evaluateTransaction(fn, ...args)).toString('utf8')) as T;
    } catch (error) {
      throw toFabricLedgerError(error, fn);
    }
  }

  async close(): Promise<void> {
    await this.submits.run(async () => undefined);
    this.gateway?.disconnect();
    this.gateway = undefined;
    this.contract = undefined;
    this.connecting = undefined;
  }

  /** A query: NOT_FOUND becomes undefined. */
  private async query<T>(fn: string, args: string[]): Promise<T | undefined> {
    try {
      return await this.evaluate<T>(fn, args);
    } catch (error) {
      if (error instanceof LedgerError && error.code === 'NOT_FOUND') return undefined;
      throw error;
    }
  }

  private async requireContract(): Promise<Contract> {
    await this.connect();
    return this.contract!;
  }

  private connect(): Promise<void> {
    this.connecting ??= this.open().catch((error) => {
      this.connecting = undefined;
      throw new LedgerError('LEDGER_UNAVAILABLE', `cannot connect to Fabric: ${errorText(error)}`, {
        cause: error,
      });
    });
    return this.connecting;
  }

  private async open(): Promise<void> {
    const o = this.options;
    const profile =
      typeof o.connectionProfile === 'string'
        ? (JSON.parse(await readFile(o.connectionProfile, 'utf8')) as Record<string, unknown>)
        : o.connectionProfile;
    const identity =
      'dir' in o.identity ? await readFabricIdentity(o.identity.dir, o.identity.mspId) : o.identity;
    this.identity = identity;
    const wallet = await Wallets.newInMemoryWallet();
    const x509: X509Identity = {
      type: 'X.509',
      mspId: identity.mspId,
      credentials: { certificate: identity.certificate, privateKey: identity.privateKey },
    };
    await wallet.put('gateway', x509);
    const gateway = new Gateway();
    await gateway.connect(profile, {
      wallet,
      identity: 'gateway',
      discovery: o.discovery ?? { enabled: true, asLocalhost: true },
      eventHandlerOptions: {
        endorseTimeout: o.endorseTimeoutS ?? 30,
        commitTimeout: o.commitTimeoutS ?? 60,
        // Wait for any one peer of our own organisation: the batch is then committed there. A
        // peer of another organisation that has not committed it yet when it endorses the next
        // batch answers LOG_GAP with a shorter log, which is retried (see peerBehind). Waiting for
        // every peer instead would wait out the commit timeout whenever one of them is down.
        strategy: DefaultEventHandlerStrategies.MSPID_SCOPE_ANYFORTX,
      },
      queryHandlerOptions: { timeout: 30, strategy: DefaultQueryHandlerStrategies.MSPID_SCOPE_ROUND_ROBIN },
    });
    const network = await gateway.getNetwork(o.channel);
    this.gateway = gateway;
    this.network = network;
    this.endorsingSets = endorsingSets(
      identity.mspId,
      network
        .getChannel()
        .getEndorsers()
        .map((e) => e.mspid),
    );
    this.contract = network.getContract(o.chaincode);
    this.qscc = network.getContract('qscc');
  }

  /**
   * Submits one transaction and waits for its commit on our organisation's peer. Named transient
   * failures are tried again (up to `attempts`, with backoff); `beforeRetry` runs before each.
   */
  private submit(
    fn: string,
    args: string[],
    transient: Record<string, Uint8Array> = {},
    beforeRetry?: () => Promise<void>,
  ): Promise<SubmitOutcome> {
    return this.submits.run(async () => {
      const attempts = this.options.attempts ?? 4;
      let wait = this.options.backoffMs ?? 250;
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.submitOnce(fn, args, transient);
        } catch (error) {
          const reason = transientReason(error);
          if (reason === 'PEER_BEHIND' && attempt >= attempts) {
            // Still behind (a peer catching up after a restart): the batch stays sealed and the
            // batcher sends it again later — never the LOG_GAP that would halt sealing.
            throw new LedgerError(
              'LEDGER_UNAVAILABLE',
              `${fn}: an endorsing peer has not caught up with the log yet`,
              {
                cause: error,
              },
            );
          }
          if (!reason || attempt >= attempts) throw toFabricLedgerError(error, fn);
          this.options.onRetry?.({ fn, attempt, reason });
          await sleep(wait);
          wait = Math.min(wait * 2, 5000);
          if (reason === 'PEER_UNAVAILABLE' || reason === 'ORDERER_UNAVAILABLE') await this.reconnect();
          await beforeRetry?.();
        }
      }
    });
  }

  private async submitOnce(
    fn: string,
    args: string[],
    transient: Record<string, Uint8Array>,
  ): Promise<SubmitOutcome> {
    const contract = await this.requireContract();
    const network = this.network!;
    const tx = contract.createTransaction(fn);
    if (Object.keys(transient).length > 0) tx.setTransient(toBuffers(transient));
    const asked =
      fn === 'RecordBatch' ? this.endorsingSets[this.endorsingSet % this.endorsingSets.length] : undefined;
    if (asked) tx.setEndorsingOrganizations(...asked);
    const txId = tx.getTransactionId();
    // Our own peers' commit event carries the block number and the contract's events; the
    // submit itself resolves only once the same commit has been seen.
    const peers = network.getChannel().getEndorsers(this.identity!.mspId);
    let seen: CommitEvent | undefined;
    const listener = (error?: Error, event?: CommitEvent) => {
      if (!error && event) seen ??= event;
    };
    await network.addCommitListener(listener, peers, txId);
    try {
      const payload = (await tx.submit(...args)).toString('utf8');
      for (let i = 0; !seen && i < 100; i++) await sleep(10);
      if (!seen)
        throw new LedgerError('LEDGER_FAILED', `${fn} ${txId} committed, but its commit event was not seen`);
      const event = seen as CommitEvent;
      const events = event.getContractEvents().map((e) => e.eventName);
      return {
        payload,
        txId,
        block: Number(event.getBlockEvent().blockNumber.toString()),
        validation: event.status,
        events,
        ...(asked ? { endorsers: [...asked].sort() } : {}),
      };
    } catch (error) {
      // An endorser we asked is unreachable or too slow: ask the next majority next time.
      const reason = transientReason(error);
      if (asked && (reason === 'PEER_UNAVAILABLE' || reason === 'ENDORSEMENT_TIMEOUT')) this.endorsingSet++;
      throw error;
    } finally {
      network.removeCommitListener(listener);
    }
  }

  private async reconnect(): Promise<void> {
    this.gateway?.disconnect();
    this.gateway = undefined;
    this.connecting = undefined;
    await this.connect().catch(() => {});
  }
}

function toBuffers(map: Record<string, Uint8Array>): Record<string, Buffer> {
  return Object.fromEntries(Object.entries(map).map(([k, v]) => [k, Buffer.from(v)]));
}
