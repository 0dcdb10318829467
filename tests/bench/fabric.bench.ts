// Records recorded on Fabric per second, end to end, on this machine: the gateway, its
// PostgreSQL, the Raft orderer, three peers, three `lianzheng` chaincode servers, a floor
// chaincode server and the load generator all share its cores. Beside it, measured in the same run
// on the same network: a FLOOR — a trivial chaincode (tests/bench/fabric-floor) that stores each
// batch of 1,000 records as ONE value — submitted the same way (fabric-network, one transaction in
// flight, a majority of the organisations endorsing, waiting until every peer has committed).
//
//   1. end to end at 1,000 records/s offered open-loop (batches of 100, ten a second): every
//      record's accepted→recorded latency (its 202 → the signed checkpoint that covers it).
//   2. end to end, sustained: batches of 1,000 offered open-loop above the target for a fixed
//      window, then until the last accepted record is recorded; records/s = recorded records ÷
//      (first request → last record recorded), never what intake accepted while a backlog grew.
//   3. the contract alone: FabricLedger.recordBatch of 1,000-record batches (a mixed workload over
//      five projects, 40% restricted) one in flight, interleaved with the floor's Put of the same
//      records' JSON, one in flight; records/s and their ratio.
//   4. block, state and private-data bytes per record on every peer and the orderer, per phase.
//   5. CPU per record of every process (/proc) and, per transaction, where its wall time went,
//      from the peers' and the orderer's own log lines: the chaincode run, endorsed → block cut
//      (the orderer's BatchTimeout), block cut → committed on our peer, and the rest.
//
// The gateway phases come first: a gateway's log must start where the ledger's does (one that
// finds a longer ledger log halts, LEDGER_LOG_MISMATCH); the contract-alone phase then continues
// the same log from the ledger's size. `npm run bench -- fabric` (about 4 minutes), `-- --quick
// fabric` (about 1.5). FABRIC_BENCH_PORT_BASE moves the network's ports (default 28600).

import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { RecordEntry } from '@lianzheng/chaincode';
import fabricCommon from 'fabric-common';
import type { CommitEvent, Contract, Network, X509Identity } from 'fabric-network';
import fabricNetwork from 'fabric-network';
import { FabricLedger } from '../../gateway/src/ledger/ledger-fabric.ts';
import { deployExtraChaincode, type ExtraChaincode } from '../../network/fabric/extra-chaincode.ts';
import {
  DEFAULT_BATCH_TIMEOUT_MS,
  FABRIC_ORGS,
  type FabricNetwork,
  type FabricOrg,
  startFabricNetwork,
} from '../../network/fabric/network.ts';
import { type BenchContext, type BenchResult, compare, median } from './harness.ts';
import type { LoadRequest } from './load/closed-loop.ts';
import { openLoop } from './load/open-loop.ts';
import { childrenOf, loadLine } from './load/proc-stats.ts';
import { type GatewayProcess, seedBench, startBenchDatabase, startGatewayStack } from './load/stack.ts';
import { batchBody, DigestSource, recordedLatency, waitRecorded } from './load/workload.ts';

/** Runs only when named: `npm run bench -- fabric`. */
export const optIn = true;

type Testing = typeof import('@lianzheng/chaincode/testing');

const { Gateway, Wallets, DefaultEventHandlerStrategies } =
  fabricNetwork as unknown as typeof import('fabric-network');
const { BlockDecoder } = fabricCommon as unknown as { BlockDecoder: { decode(bytes: Buffer): DecodedBlock } };

/** What writeSets reads of a block decoded by fabric-common. */
interface DecodedBlock {
  data: {
    data: {
      payload: {
        data: {
          actions?: {
            payload: {
              action: {
                proposal_response_payload: {
                  extension: {
                    results: {
                      ns_rwset: {
                        namespace: string;
                        rwset: { writes: { key: string; value: Uint8Array }[] };
                        collection_hashed_rwset: { hashed_rwset: { hashed_writes: unknown[] } }[];
                      }[];
                    };
                  };
                };
              };
            };
          }[];
        };
      };
    }[];
  };
}

const BATCH = 1000;
const TARGET_RATE = 3000;
const TARGET_RATIO = 0.6;
const TICK_S = 0.01; // USER_HZ = 100 on every Linux this runs on

/** A BenchResult with the run's particulars kept in the JSON results. */
interface FabricResult extends BenchResult {
  detail?: object;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (n: number, digits = 0) => Number(n.toFixed(digits));
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

// ---------------------------------------------------------------------------------------------
// CPU of every process, from /proc

function procTicks(pid: number): number {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime + stime
  } catch {
    return 0;
  }
}

function pidFile(runDir: string, name: string): number | undefined {
  try {
    const pid = Number(readFileSync(path.join(runDir, 'pids', `${name}.pid`), 'utf8').trim());
    return pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** A named set of processes whose CPU is added up (pids read again at the end: PostgreSQL's backends come and go). */
interface CpuGroup {
  name: string;
  pids(): number[];
}

const BENCH_PROCESS = 'bench process (client / load generator)';

interface CpuWindow {
  seconds: number;
  /** CPU seconds of each group over the window. */
  cpu: Record<string, number>;
  /** CPU seconds of every other process on the machine (other users of these cores). */
  others: number;
}

/** CPU seconds every process on the machine has used (/proc/stat: all CPUs, not idle or iowait). */
function machineBusySeconds(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  return (f.reduce((a, b) => a + b, 0) - f[3]! - f[4]!) * TICK_S;
}

function cpuMeter(groups: CpuGroup[]): { stop(): CpuWindow } {
  const t0 = performance.now();
  const machine0 = machineBusySeconds();
  const self0 = process.cpuUsage();
  const start = groups.map((g) => new Map(g.pids().map((p) => [p, procTicks(p)])));
  return {
    stop() {
      const cpu: Record<string, number> = {};
      groups.forEach((g, i) => {
        let ticks = 0;
        // A process born in the window counts from 0; one that ended in it is lost (small).
        for (const p of new Set([...start[i]!.keys(), ...g.pids()]))
          ticks += procTicks(p) - (start[i]!.get(p) ?? 0);
        cpu[g.name] = ticks * TICK_S;
      });
      const self = process.cpuUsage(self0);
      cpu[BENCH_PROCESS] = (self.user + self.system) / 1e6;
      const ours = Object.values(cpu).reduce((a, b) => a + b, 0);
      return {
        seconds: (performance.now() - t0) / 1000,
        cpu,
        others: Math.max(0, machineBusySeconds() - machine0 - ours),
      };
    },
  };
}

function addWindows(a: CpuWindow | undefined, b: CpuWindow): CpuWindow {
  if (!a) return b;
  const cpu = { ...a.cpu };
  for (const [k, v] of Object.entries(b.cpu)) cpu[k] = (cpu[k] ?? 0) + v;
  return { seconds: a.seconds + b.seconds, cpu, others: a.others + b.others };
}

interface CpuPerRecord {
  micros: Record<string, number>;
  totalMicros: number;
  /** Our processes' CPU over the window, in cores. */
  cores: number;
  /** Every other process's, in cores. */
  othersCores: number;
}

/** µs of CPU per record, by group, and the total; how busy our processes and the others kept the cores. */
function perRecord(w: CpuWindow, records: number): CpuPerRecord {
  const micros: Record<string, number> = {};
  let total = 0;
  for (const [k, v] of Object.entries(w.cpu)) {
    if (v <= 0) continue;
    micros[k] = round((v * 1e6) / Math.max(1, records), 1);
    total += v;
  }
  return {
    micros,
    totalMicros: (total * 1e6) / Math.max(1, records),
    cores: total / w.seconds,
    othersCores: w.others / w.seconds,
  };
}

function cpuText(p: CpuPerRecord): string {
  const parts = Object.entries(p.micros)
    .filter(([, v]) => v >= 1)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v.toFixed(0)}`);
  return `${parts.join(', ')} µs`;
}

// ---------------------------------------------------------------------------------------------
// Bytes on disk

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += await dirBytes(p);
    else if (e.isFile()) total += (await stat(p).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

type Bytes = Record<string, number>;

/**
 * Each peer's block files (and their index), state LevelDB, private data store and history
 * LevelDB, and the orderer's block files. LevelDB sizes include its write-ahead log (compaction
 * moves bytes between the two); the orderer's Raft WAL is not counted (preallocated 64 MB segments).
 */
async function ledgerBytes(runDir: string): Promise<Bytes> {
  const out: Bytes = { 'orderer blocks': await dirBytes(path.join(runDir, 'orderer', 'ledger', 'chains')) };
  for (const org of FABRIC_ORGS) {
    const d = path.join(runDir, 'peers', org, 'ledgersData');
    out[`${org} blocks`] = await dirBytes(path.join(d, 'chains'));
    out[`${org} state`] = await dirBytes(path.join(d, 'stateLeveldb'));
    out[`${org} private data`] = await dirBytes(path.join(d, 'pvtdataStore'));
    out[`${org} history`] = await dirBytes(path.join(d, 'historyLeveldb'));
  }
  return out;
}

function diffBytes(before: Bytes, after: Bytes, into: Bytes = {}): Bytes {
  for (const k of Object.keys(after)) into[k] = (into[k] ?? 0) + after[k]! - (before[k] ?? 0);
  return into;
}

/** Per record: each kind as the mean over the three peers, the orderer's, and the whole network's. */
function bytesPerRecord(delta: Bytes, records: number) {
  const mean = (kind: string) =>
    FABRIC_ORGS.reduce((a, o) => a + (delta[`${o} ${kind}`] ?? 0), 0) / FABRIC_ORGS.length / records;
  const total = Object.values(delta).reduce((a, b) => a + b, 0) / records;
  return {
    peerBlocks: round(mean('blocks')),
    peerState: round(mean('state')),
    peerPrivate: round(mean('private data')),
    peerHistory: round(mean('history')),
    ordererBlocks: round((delta['orderer blocks'] ?? 0) / records),
    network: round(total),
  };
}

function bytesText(b: ReturnType<typeof bytesPerRecord>): string {
  return `per peer: blocks ${b.peerBlocks} B, state ${b.peerState} B, private data ${b.peerPrivate} B, history ${b.peerHistory} B; orderer blocks ${b.ordererBlocks} B; whole network ${b.network} B`;
}

// ---------------------------------------------------------------------------------------------
// Where a transaction's wall time went, from the nodes' own log lines

interface LogMark {
  [file: string]: number;
}

const LOGS = ['orderer', ...FABRIC_ORGS.map((o) => `peer.${o}`)];

async function markLogs(runDir: string): Promise<LogMark> {
  const mark: LogMark = {};
  for (const name of LOGS) mark[name] = (await stat(path.join(runDir, 'logs', `${name}.log`))).size;
  return mark;
}

async function logSince(runDir: string, name: string, mark: LogMark): Promise<string[]> {
  const buf = await readFile(path.join(runDir, 'logs', `${name}.log`));
  return buf
    .subarray(mark[name] ?? 0)
    .toString('utf8')
    .split('\n');
}

const logTime = (s: string) => Date.parse(`${s.replace(' ', 'T')}Z`);
const ENDORSED =
  /^(\S+ \S+) UTC INFO \[endorser\] callChaincode -> finished chaincode: (\S+) duration: (\d+)ms channel=\S+ txID=([0-9a-f]+)/;
const CUT = /^(\S+ \S+) UTC INFO \[orderer\.consensus\.etcdraft\] propose -> Created block \[(\d+)\]/;
const VALIDATED =
  /^(\S+ \S+) UTC INFO \[committer\.txvalidator\] \S+ -> \[\S+\] Validated block \[(\d+)\] in (\d+)ms/;
const COMMITTED =
  /^(\S+ \S+) UTC INFO \[kvledger\] commit -> \[\S+\] Committed block \[(\d+)\] with \d+ transaction\(s\) in (\d+)ms/;

interface TxTiming {
  txId: string;
  block: number;
  /** The client's whole wait for this transaction (recordBatch / Put, or the gateway's ledger_ms). */
  totalMs: number;
}

interface TxSplit {
  /** Medians over the transactions, in ms. */
  chaincode: number;
  endorsedToCut: number;
  cutToCommitted: number;
  /** Of cutToCommitted: block cut → validation starts (the orderer writing, the peer receiving it). */
  delivery: number;
  validation: number;
  /** The peer's ledger commit ("Committed block … in N ms"). */
  commitOnPeer: number;
  rest: number;
  total: number;
  transactions: number;
  /**
   * Transactions run by more peers than one endorsement needs (2): fabric-network found the first
   * pair's read/write sets different (a peer that had not yet committed the previous batch) and
   * asked another pair.
   */
  reendorsed: number;
  /** Each transaction's block and chaincode run (ms), in the order given. */
  series: { block: number; chaincode: number }[];
}

/**
 * For each transaction: the longest chaincode run of its endorsers ("finished chaincode …
 * duration"), from the last endorsement's end to the orderer cutting its block ("Created block"),
 * from that to the last of the three peers' commits ("Committed block … in N ms"; the clients wait
 * for every peer) with that peer's validation ("Validated block … in N ms") and commit times, and
 * the rest of the client's wait (proposal and envelope building, signing, transfers, the commit
 * events, a FabricLedger's reads after the commit). Medians over the transactions.
 */
async function splitTransactions(runDir: string, mark: LogMark, txs: TxTiming[]): Promise<TxSplit> {
  const endorsed = new Map<string, { at: number; ms: number; runs: number }>();
  for (const org of FABRIC_ORGS) {
    for (const line of await logSince(runDir, `peer.${org}`, mark)) {
      const m = ENDORSED.exec(line);
      if (!m) continue;
      const prev = endorsed.get(m[4]!);
      const at = logTime(m[1]!);
      endorsed.set(m[4]!, {
        at: Math.max(at, prev?.at ?? 0),
        ms: Math.max(Number(m[3]), prev?.ms ?? 0),
        runs: (prev?.runs ?? 0) + 1,
      });
    }
  }
  const cut = new Map<number, number>();
  for (const line of await logSince(runDir, 'orderer', mark)) {
    const m = CUT.exec(line);
    if (m) cut.set(Number(m[2]), logTime(m[1]!));
  }
  // Per block, the peer that committed it last, with its own validation.
  const committed = new Map<number, { at: number; ms: number }>();
  const validated = new Map<number, { at: number; ms: number }>();
  for (const org of FABRIC_ORGS) {
    const own = new Map<number, { at: number; ms: number }>();
    for (const line of await logSince(runDir, `peer.${org}`, mark)) {
      const v = VALIDATED.exec(line);
      if (v) own.set(Number(v[2]), { at: logTime(v[1]!), ms: Number(v[3]) });
      const m = COMMITTED.exec(line);
      if (!m) continue;
      const block = Number(m[2]);
      const at = logTime(m[1]!);
      if (at < (committed.get(block)?.at ?? 0)) continue;
      committed.set(block, { at, ms: Number(m[3]) });
      const ownValidation = own.get(block);
      if (ownValidation) validated.set(block, ownValidation);
      else validated.delete(block);
    }
  }
  type Row = Omit<TxSplit, 'transactions' | 'reendorsed' | 'series'>;
  const rows: Row[] = [];
  const series: TxSplit['series'] = [];
  let reendorsed = 0;
  for (const tx of txs) {
    const e = endorsed.get(tx.txId.slice(0, 8));
    if (e && e.runs > 2) reendorsed++;
    const c = cut.get(tx.block);
    const k = committed.get(tx.block);
    if (!e || c === undefined || !k) continue;
    const endorsedToCut = c - e.at;
    const cutToCommitted = k.at - c;
    const v = validated.get(tx.block);
    series.push({ block: tx.block, chaincode: e.ms });
    rows.push({
      chaincode: e.ms,
      endorsedToCut,
      cutToCommitted,
      delivery: v ? v.at - v.ms - c : Number.NaN,
      validation: v ? v.ms : Number.NaN,
      commitOnPeer: k.ms,
      rest: tx.totalMs - e.ms - endorsedToCut - cutToCommitted,
      total: tx.totalMs,
    });
  }
  const med = (k: keyof Row) => round(median(rows.map((r) => r[k])));
  return {
    chaincode: med('chaincode'),
    endorsedToCut: med('endorsedToCut'),
    cutToCommitted: med('cutToCommitted'),
    delivery: med('delivery'),
    validation: med('validation'),
    commitOnPeer: med('commitOnPeer'),
    rest: med('rest'),
    total: med('total'),
    transactions: rows.length,
    reendorsed,
    series,
  };
}

function splitText(s: TxSplit, blockRule = `BatchTimeout ${DEFAULT_BATCH_TIMEOUT_MS} ms`): string {
  return `per transaction (median of ${s.transactions}): ${s.total} ms = chaincode ${s.chaincode} + endorsed→block cut ${s.endorsedToCut} (${blockRule}) + cut→committed on the last peer ${s.cutToCommitted} (delivery ${s.delivery}, validation ${s.validation}, commit ${s.commitOnPeer}) + rest ${s.rest}${s.reendorsed > 0 ? `; ${s.reendorsed} endorsed twice (read/write sets of the first pair differed)` : ''}`;
}

/**
 * What FabricLedger.recordBatch reads after each commit, timed again afterwards on a few of the
 * run's transactions: GetBatch (the stored batch with its flags, on our own peer) and getTx
 * (qscc's GetTransactionByID and GetBlockByTxID — the whole transaction and its whole block —
 * decoded for the endorsing organisations). Medians, in ms.
 */
async function readsAfterCommit(
  ledger: FabricLedger,
  batches: { txId: string; fromSize: number }[],
): Promise<{ getBatchMs: number; getTxMs: number; sampled: number }> {
  const sample = batches.slice(-3);
  const getBatch: number[] = [];
  const getTx: number[] = [];
  for (const b of sample) {
    let start = performance.now();
    await ledger.evaluate('GetBatch', [String(b.fromSize)]);
    getBatch.push(performance.now() - start);
    start = performance.now();
    await ledger.getTx(b.txId);
    getTx.push(performance.now() - start);
  }
  return { getBatchMs: round(median(getBatch)), getTxMs: round(median(getTx)), sampled: sample.length };
}

function readsText(r: { getBatchMs: number; getTxMs: number }): string {
  return `of the rest, reads after the commit: GetBatch ${r.getBatchMs} ms, getTx (whole transaction + block from qscc) ${r.getTxMs} ms`;
}

// ---------------------------------------------------------------------------------------------
// What the transactions wrote, from their blocks (qscc): exact, unlike LevelDB's files, whose
// sizes move with compaction and compression

interface WriteSets {
  blocks: number;
  /** Serialized blocks, as qscc returns them (each peer and the orderer store about this). */
  blockBytes: number;
  /** Public state writes of the chaincodes (not _lifecycle): count, and key + value bytes. */
  writes: number;
  writeBytes: number;
  /** Private data writes (their hashes are in the block, the values in each member's private store). */
  privateWrites: number;
  /** Public write bytes of each block. */
  perBlock: Map<number, number>;
}

async function writeSets(client: FabricClient, blocks: number[]): Promise<WriteSets> {
  const out: WriteSets = {
    blocks: 0,
    blockBytes: 0,
    writes: 0,
    writeBytes: 0,
    privateWrites: 0,
    perBlock: new Map(),
  };
  for (const n of new Set(blocks)) {
    if (n < 0) continue;
    const bytes = await client.block(n);
    const before = out.writeBytes;
    out.blocks++;
    out.blockBytes += bytes.length;
    for (const envelope of BlockDecoder.decode(bytes).data.data) {
      for (const action of envelope.payload.data.actions ?? []) {
        for (const ns of action.payload.action.proposal_response_payload.extension.results.ns_rwset ?? []) {
          if (ns.namespace.startsWith('_')) continue;
          for (const w of ns.rwset.writes) {
            out.writes++;
            out.writeBytes += Buffer.byteLength(w.key) + (w.value?.length ?? 0);
          }
          for (const c of ns.collection_hashed_rwset ?? [])
            out.privateWrites += c.hashed_rwset.hashed_writes.length;
        }
      }
    }
    out.perBlock.set(n, out.writeBytes - before);
  }
  return out;
}

interface BytesPerRecord {
  /** From the blocks (exact). */
  block: number;
  stateWritten: number;
  writesPerBatch: number;
  privateWritesPerBatch: number;
  /** On disk over the phase (LevelDB: moved by compaction). */
  disk: ReturnType<typeof bytesPerRecord>;
}

function bytesOf(w: WriteSets, disk: Bytes, records: number): BytesPerRecord {
  return {
    block: round(w.blockBytes / records),
    stateWritten: round(w.writeBytes / records),
    writesPerBatch: round(w.writes / Math.max(1, w.blocks), 1),
    privateWritesPerBatch: round(w.privateWrites / Math.max(1, w.blocks), 1),
    disk: bytesPerRecord(disk, records),
  };
}

function bytesOfText(b: BytesPerRecord): string {
  return `block ${b.block} B, state written ${b.stateWritten} B (${b.writesPerBatch} writes + ${b.privateWritesPerBatch} private writes a transaction); on disk ${bytesText(b.disk)}`;
}

// ---------------------------------------------------------------------------------------------
// A client for the floor (and qscc): fabric-network as FabricLedger uses it (discovery, every
// connected peer's commit)

interface FabricClient {
  /** Submits `Put(json)` to the chaincode and waits until every connected peer has committed it. */
  put(json: string): Promise<{ txId: string; block: number }>;
  /** Block `n` as qscc returns it. */
  block(n: number): Promise<Buffer>;
  close(): void;
}

async function fabricClient(
  net: FabricNetwork,
  name: string,
  org: FabricOrg = 'finance',
): Promise<FabricClient> {
  const info = net.orgs[org];
  const wallet = await Wallets.newInMemoryWallet();
  const identity: X509Identity = {
    type: 'X.509',
    mspId: info.mspId,
    credentials: {
      certificate: await readFile(path.join(info.userIdentityDir, 'cert.pem'), 'utf8'),
      privateKey: await readFile(path.join(info.userIdentityDir, 'key.pem'), 'utf8'),
    },
  };
  await wallet.put('bench', identity);
  const gateway = new Gateway();
  await gateway.connect(JSON.parse(await readFile(info.connectionProfile, 'utf8')), {
    wallet,
    identity: 'bench',
    discovery: { enabled: true, asLocalhost: true },
    eventHandlerOptions: {
      endorseTimeout: 30,
      commitTimeout: 60,
      // As FabricLedger: until every connected peer has committed.
      strategy: DefaultEventHandlerStrategies.NETWORK_SCOPE_ALLFORTX,
    },
  });
  const network: Network = await gateway.getNetwork(net.channel);
  const contract: Contract = network.getContract(name);
  const qscc: Contract = network.getContract('qscc');
  const peers = network.getChannel().getEndorsers(info.mspId);
  return {
    async put(json) {
      const tx = contract.createTransaction('Put');
      const txId = tx.getTransactionId();
      let seen: CommitEvent | undefined;
      const listener = (error?: Error, event?: CommitEvent) => {
        if (!error && event) seen ??= event;
      };
      await network.addCommitListener(listener, peers, txId);
      try {
        await tx.submit(json);
        for (let i = 0; !seen && i < 100; i++) await sleep(10);
        return { txId, block: seen ? Number(seen.getBlockEvent().blockNumber.toString()) : -1 };
      } finally {
        network.removeCommitListener(listener);
      }
    },
    block: (n) => qscc.evaluateTransaction('GetBlockByNumber', net.channel, String(n)),
    close: () => gateway.disconnect(),
  };
}

// ---------------------------------------------------------------------------------------------
// The contract-alone workload: five projects, each with a contract recorded first; then payments
// (restricted), change orders (restricted), acceptances, notices and construction logs in turn.

const PROJECTS = Array.from({ length: 5 }, (_, i) => `BENCH-FAB-${i}`);
const contractOf = (t: Testing, p: number) => t.testRecordId(900_000_000 + p);

function contracts(t: Testing): RecordEntry[] {
  return PROJECTS.map((projectId, p) =>
    t.buildEntry({
      id: contractOf(t, p),
      projectId,
      kind: 'contract',
      details: { amount: '100000000000' },
    }),
  );
}

function mixedEntries(t: Testing, offset: number, size: number): RecordEntry[] {
  return Array.from({ length: size }, (_, i) => {
    const n = offset + i;
    const p = n % PROJECTS.length;
    const projectId = PROJECTS[p]!;
    const id = t.testRecordId(n);
    switch (n % 5) {
      case 0:
        return t.buildEntry({
          id,
          projectId,
          kind: 'payment_approval',
          refs: [contractOf(t, p)],
          details: { amount: '1000' },
        });
      case 1:
        return t.buildEntry({
          id,
          projectId,
          kind: 'change_order',
          refs: [contractOf(t, p)],
          details: { amount: '10' },
        });
      case 2:
        return t.buildEntry({
          id,
          projectId,
          kind: 'acceptance',
          visibility: 'public',
          refs: [contractOf(t, p)],
          details: { milestone: 'M1', result: 'passed' },
        });
      case 3:
        return t.buildEntry({
          id,
          projectId,
          kind: 'notice',
          visibility: 'public',
          details: { title: '公示' },
        });
      default:
        return t.buildEntry({
          id,
          projectId,
          kind: 'construction_log',
          visibility: 'public',
          details: { title: '施工日志' },
        });
    }
  });
}

// ---------------------------------------------------------------------------------------------

interface Settings {
  latencySeconds: number;
  throughputSeconds: number;
  /** Records/s offered in the sustained window (open loop, batches of 1,000). */
  offered: number;
  rounds: number;
  perRound: number;
  /** What makes the orderer cut a block here, for the reports. */
  blockRule: string;
}

interface Variant {
  /** Prefix of this network's rows ('' for the network as network.ts starts it). */
  label: string;
  maxMessageCount?: number;
  portBase: number;
  settings: Settings;
}

type Measured = Awaited<ReturnType<typeof measureNetwork>>;

/** One network: started, the floor deployed, the gateway's phases, then the contract alone. */
async function measureNetwork(ctx: BenchContext, t: Testing, v: Variant) {
  const runDir = await mkdtemp(path.join(os.tmpdir(), 'lz-bench-fabric-'));
  let net: FabricNetwork | undefined;
  let floor: ExtraChaincode | undefined;
  try {
    net = await startFabricNetwork({ runDir, portBase: v.portBase, maxMessageCount: v.maxMessageCount });
    ctx.log(
      `${v.label || 'network'} up in ${net.timings.total?.toFixed(1)} s (${runDir}, ports from ${v.portBase})`,
    );
    floor = await deployExtraChaincode(net, {
      name: 'floor',
      modulePath: path.join(import.meta.dirname, 'fabric-floor'),
      port: v.portBase + 41,
    });
    const floorPid = floor.pid;
    ctx.log(`floor chaincode deployed (${floor.packageId.slice(0, 20)}…, one server for the three peers)`);
    const fabricGroups: CpuGroup[] = [
      { name: 'orderer', pids: () => [pidFile(runDir, 'orderer')].filter((p) => p !== undefined) },
      ...FABRIC_ORGS.map((o) => ({
        name: `peer ${o}`,
        pids: () => [pidFile(runDir, `peer.${o}`)].filter((p) => p !== undefined),
      })),
      {
        name: 'lianzheng chaincode (3 servers)',
        pids: () => FABRIC_ORGS.map((o) => pidFile(runDir, `chaincode.${o}`)).filter((p) => p !== undefined),
      },
      { name: 'floor chaincode', pids: () => [floorPid] },
    ];
    const e2e = await endToEnd(ctx, v.settings, net, runDir, fabricGroups);
    const alone = await contractAlone(ctx, v.settings, t, net, runDir, fabricGroups);
    return { ...e2e, ...alone };
  } finally {
    await floor?.stop().catch(() => {});
    await net?.stop().catch(() => {});
    await rm(runDir, { recursive: true, force: true });
  }
}

export async function run(ctx: BenchContext): Promise<BenchResult[]> {
  const blockRule = `BatchTimeout ${DEFAULT_BATCH_TIMEOUT_MS} ms`;
  const settings: Settings = ctx.quick
    ? { latencySeconds: 8, throughputSeconds: 10, offered: 5000, rounds: 2, perRound: 3, blockRule }
    : { latencySeconds: 20, throughputSeconds: 30, offered: 5000, rounds: 4, perRound: 5, blockRule };
  const portBase = Number(process.env.FABRIC_BENCH_PORT_BASE ?? 28600);
  const t: Testing = await import('@lianzheng/chaincode/testing');
  ctx.log(loadLine());
  const main = await measureNetwork(ctx, t, { label: '', portBase, settings });
  const results = rows(ctx, settings, main);
  // What a block per transaction would give (the orderer cuts at once instead of after its
  // BatchTimeout: one transaction is in flight, so the block never fills): the same phases on a
  // second network, fresh, started with MaxMessageCount 1. Not in --quick.
  if (!ctx.quick) {
    const label = 'a block per transaction (MaxMessageCount 1)';
    const short: Settings = {
      latencySeconds: 10,
      throughputSeconds: 20,
      offered: 5000,
      rounds: 2,
      perRound: 5,
      blockRule: 'MaxMessageCount 1',
    };
    const variant = await measureNetwork(ctx, t, {
      label,
      maxMessageCount: 1,
      portBase: portBase + 100,
      settings: short,
    });
    results.push(...rows(ctx, short, variant, { label, main }));
  }
  return results;
}

/** The rows of one network's measurements; a variant's compare with the main network's where that says more. */
function rows(
  ctx: BenchContext,
  s: Settings,
  m: Measured,
  variant?: { label: string; main: Measured },
): FabricResult[] {
  const prefix = variant ? `[${variant.label}] ` : '';
  const results: FabricResult[] = [];
  const floorRate = {
    name: `${prefix}floor: Put of the same 1,000 records as one value, one in flight`,
    value: m.floor.rate,
    unit: 'records/s',
  };
  results.push({
    ...floorRate,
    name: `${floorRate.name} — ${splitText(m.floor.split, s.blockRule)}`,
    detail: { batches: m.floor.batches, split: m.floor.split },
  });
  results.push({
    ...compare(
      {
        name: `${prefix}contract alone: FabricLedger.recordBatch of 1,000 (mixed, 40% restricted), one in flight — ${splitText(m.contract.split, s.blockRule)}; ${readsText(m.contract.reads)}; the same batches' RecordBatch on the in-memory stub (this process) ${m.contract.stubMs} ms${retriesText(m.contract.retries)}`,
        value: m.contract.rate,
        unit: 'records/s',
      },
      floorRate,
    ),
    target: `≥ ${TARGET_RATIO}× the floor`,
    meetsTarget: m.contract.rate >= TARGET_RATIO * m.floor.rate,
    detail: {
      batches: m.contract.batches,
      split: m.contract.split,
      reads: m.contract.reads,
      stubMs: m.contract.stubMs,
      retries: m.contract.retries,
    },
  });
  const g = m.contract.growth;
  if (g.length > 1) {
    const [first, last] = [g[0]!, g[g.length - 1]!];
    const mb = (b: number) => (b / 1e6).toFixed(2);
    results.push({
      ...compare(
        {
          name: `${prefix}contract alone, its last round: ${fmt(last.projectRecords)} records in the five projects before it (state written ${mb(last.writeBytesPerTx)} MB a transaction; floor ${fmt(last.floorRate)} records/s in the same round)`,
          value: last.contractRate,
          unit: 'records/s',
        },
        {
          name: `its first round, at ${fmt(first.projectRecords)} records (${mb(first.writeBytesPerTx)} MB; floor ${fmt(first.floorRate)})`,
          value: first.contractRate,
          unit: 'records/s',
        },
      ),
      detail: g,
    });
  }
  const sustained = m.sustained;
  results.push({
    ...compare(
      {
        name: `${prefix}end to end, sustained: ${fmt(sustained.recorded)} records (offered at ${fmt(s.offered)}/s for ${s.throughputSeconds} s, POSTs of 1,000) recorded in ${sustained.seconds.toFixed(1)} s from the first request; ${sustained.batches.count} gateway batches, median ${fmt(sustained.batches.medianSize)} records: seal ${sustained.batches.medianSealMs} ms + ledger ${sustained.batches.medianLedgerMs} ms + confirm ${sustained.batches.medianConfirmMs} ms — ledger ${splitText(sustained.split, s.blockRule)}; ${readsText(sustained.reads)}; other processes on the machine ${sustained.cpu.othersCores.toFixed(2)} cores`,
        value: sustained.rate,
        unit: 'records/s',
      },
      floorRate,
    ),
    target: `≥ ${fmt(TARGET_RATE)} records/s and ≥ ${TARGET_RATIO}× the floor`,
    meetsTarget: sustained.rate >= TARGET_RATE && sustained.rate >= TARGET_RATIO * m.floor.rate,
    detail: { ...sustained },
  });
  if (variant) {
    results.push(
      compare(
        {
          name: `${prefix}end to end, sustained, beside the main network's`,
          value: sustained.rate,
          unit: 'records/s',
        },
        {
          name: 'end to end on the main network (BatchTimeout)',
          value: variant.main.sustained.rate,
          unit: 'records/s',
        },
      ),
    );
  }
  const full = sustained.growth.filter((g) => g.size === Math.max(...sustained.growth.map((x) => x.size)));
  const [first, last] = [full[0], full[full.length - 1]];
  if (first && last && full.length > 1) {
    const mb = (b: number) => (b / 1e6).toFixed(1);
    results.push({
      ...compare(
        {
          name: `${prefix}chaincode run of a full gateway batch (${fmt(last.size)} records) as the one project grows: at ${fmt(last.projectRecords)} records in it (state written ${mb(last.writeBytes)} MB, ledger ${fmt(last.ledgerMs)} ms)`,
          value: last.chaincodeMs,
          unit: 'ms',
        },
        {
          name: `the first full batch, at ${fmt(first.projectRecords)} records (state written ${mb(first.writeBytes)} MB, ledger ${fmt(first.ledgerMs)} ms)`,
          value: first.chaincodeMs,
          unit: 'ms',
        },
      ),
      detail: sustained.growth,
    });
  }
  const lat = m.latency;
  results.push({
    name: `${prefix}end to end at ${fmt(lat.offered)} records/s offered (batches of 100, open loop, ${s.latencySeconds} s): accepted→recorded p50 (${fmt(lat.count)} records; gateway batches median ${fmt(lat.batches.medianSize)} records, ledger ${lat.batches.medianLedgerMs} ms)`,
    value: lat.p50,
    unit: 'ms',
    target: '≤ 1,000 ms',
    meetsTarget: lat.p50 <= 1000,
    detail: { ...lat },
  });
  results.push({
    name: `${prefix}end to end at ${fmt(lat.offered)} records/s offered: accepted→recorded p99 (max ${fmt(lat.max)} ms)`,
    value: lat.p99,
    unit: 'ms',
    target: '≤ 3,000 ms',
    meetsTarget: lat.p99 <= 3000,
  });
  if (variant) return results;

  // Bytes per record: the blocks' (exact, from qscc), the state written (the write sets), and on
  // disk over the phase (every peer's files and the orderer's; LevelDB's move with compaction).
  const bytesRow = (label: string, b: BytesPerRecord, withBaseline: boolean): FabricResult => {
    const row = {
      name: `bytes per record, ${label} — ${bytesOfText(b)}`,
      value: b.block,
      unit: 'block bytes/record',
    };
    return withBaseline
      ? {
          ...compare(row, {
            name: 'floor, block bytes',
            value: m.floor.bytes.block,
            unit: 'block bytes/record',
          }),
          detail: b,
        }
      : { ...row, detail: b };
  };
  results.push(
    bytesRow('floor (the same mixed records, details included, as one value)', m.floor.bytes, false),
  );
  results.push(bytesRow('contract alone (mixed records, 40% restricted)', m.contract.bytes, true));
  results.push(bytesRow('end to end (hash-only records)', sustained.bytes, true));
  results.push({
    name: `bytes per record on disk, end to end, whole network (3 peers' blocks, state, private data and history, the orderer's blocks; ${fmt(sustained.recorded)} records)`,
    value: sustained.bytes.disk.network,
    unit: 'bytes/record',
  });

  // CPU per record, by process.
  const cores = os.availableParallelism();
  const floorCpu = { name: 'floor, all processes', value: m.floor.cpu.totalMicros, unit: 'µs/record' };
  const cpuRow = (label: string, p: CpuPerRecord, withBaseline: boolean): FabricResult => {
    const row = {
      name: `CPU per record, ${label} (ours ${p.cores.toFixed(2)} of ${cores} cores, other processes ${p.othersCores.toFixed(2)}) — ${cpuText(p)}`,
      value: p.totalMicros,
      unit: 'µs/record',
    };
    return withBaseline ? { ...compare(row, floorCpu), detail: p } : { ...row, detail: p };
  };
  results.push(cpuRow('floor', m.floor.cpu, false));
  results.push(cpuRow('contract alone', m.contract.cpu, true));
  results.push(cpuRow('end to end, sustained', sustained.cpu, true));
  results.push(cpuRow(`end to end at ${fmt(lat.offered)}/s`, lat.cpu, true));
  // What these cores could do at that cost, all of them busy with this work alone.
  const ceiling = (cores * 1e6) / sustained.cpu.totalMicros;
  results.push({
    ...compare(
      {
        name: `CPU-bound ceiling end to end: ${cores} cores ÷ ${sustained.cpu.totalMicros.toFixed(0)} µs of CPU per record (every process of ours, sustained run)`,
        value: ceiling,
        unit: 'records/s',
      },
      { name: 'target', value: TARGET_RATE, unit: 'records/s' },
    ),
    target: `≥ ${fmt(TARGET_RATE)} records/s possible on these cores`,
    meetsTarget: ceiling >= TARGET_RATE,
  });
  ctx.log(`CPU-bound ceiling end to end: ${fmt(ceiling)} records/s`);
  return results;
}

// ---------------------------------------------------------------------------------------------
// 1 and 2: the gateway (LEDGER=fabric, the finance bureau's user), its own PostgreSQL

/**
 * Waits until every accepted record is recorded; fails at once when the gateway stops sealing
 * (/readyz names LEDGER_LOG_MISMATCH or LEDGER_ROOT_MISMATCH: it will never catch up).
 */
async function drain(pool: import('pg').Pool, gw: GatewayProcess, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await waitRecorded(pool, 1_000)) return true;
    const res = await fetch(`${gw.url}/readyz`).catch(() => undefined);
    const body = res ? await res.text() : '';
    if (/LEDGER_(LOG|ROOT)_MISMATCH/.test(body))
      throw new Error(`the gateway stopped sealing: ${body.slice(0, 500)}\n${gw.output().slice(-2000)}`);
  }
  return false;
}

interface GatewayBatches {
  count: number;
  medianSize: number;
  medianLedgerMs: number;
  /** Medians over the batches, ms: sealing (the DB transaction before the ledger call), the confirm and the next step's start. */
  medianSealMs: number;
  medianConfirmMs: number;
}

async function endToEnd(
  ctx: BenchContext,
  s: Settings,
  net: FabricNetwork,
  runDir: string,
  fabricGroups: CpuGroup[],
) {
  const db = await startBenchDatabase('lz-bench-fabric-pg-');
  let stack: Awaited<ReturnType<typeof startGatewayStack>> | undefined;
  try {
    stack = await startGatewayStack(db.url, {
      env: { LEDGER: 'fabric', ...net.gatewayEnv('finance'), LOG_LEVEL: 'warn' },
    });
    const gw = stack.gateway;
    const creds = await seedBench(gw, db.pool);
    const postmaster = await db.postmasterPid();
    const groups: CpuGroup[] = [
      { name: 'gateway', pids: () => stack!.pids },
      { name: 'PostgreSQL', pids: () => (postmaster ? [postmaster, ...childrenOf(postmaster)] : []) },
      ...fabricGroups,
    ];
    const digests = new DigestSource();
    const request = (items: number): LoadRequest => ({
      method: 'POST',
      path: '/v1/evidence/batch',
      headers: { 'content-type': 'application/json', 'x-api-key': creds.apiKey },
      body: () => batchBody(creds.projectId, digests, items),
    });
    const batchesSince = async (from: Date): Promise<{ rows: BatchRow[]; summary: GatewayBatches }> => {
      const { rows } = await db.pool.query<BatchRow>(
        `select from_size::int as from_size, (to_size - from_size)::int as size, tx_id, block::int as block,
                ledger_ms, sealed_at, recorded_at
           from ledger_batches where status = 'recorded' and sealed_at >= $1 order by from_size`,
        [from],
      );
      const ms = (a: Date, b: Date) => a.getTime() - b.getTime();
      return {
        rows,
        summary: {
          count: rows.length,
          medianSize: median(rows.map((r) => r.size)),
          medianLedgerMs: median(rows.map((r) => r.ledger_ms)),
          // recorded_at is the confirm transaction's now(): after the ledger call returned.
          medianSealMs: median(rows.map((r) => ms(r.recorded_at, r.sealed_at) - r.ledger_ms)),
          medianConfirmMs: median(rows.slice(1).map((r, i) => ms(r.sealed_at, rows[i]!.recorded_at))),
        },
      };
    };

    // Warm-up: a few batches, recorded, so the first measured batch pays no connection set-up.
    await openLoop(gw.url, request(100), { rate: 5, seconds: 1, connections: 2 });
    if (!(await drain(db.pool, gw, 60_000)))
      throw new Error(`warm-up not recorded\n${gw.output().slice(-2000)}`);

    // ---- 1. latency at 1,000 records/s offered
    const latFrom = new Date();
    const wLat = cpuMeter(groups);
    const l = await openLoop(gw.url, request(100), {
      rate: 10,
      seconds: s.latencySeconds,
      connections: 4,
      graceMs: 30_000,
    });
    const latTo = new Date();
    const latDrained = await drain(db.pool, gw, 120_000);
    const latCpu = wLat.stop();
    if (!latDrained) ctx.log('latency run: not every record was recorded within 120 s');
    const latency = await recordedLatency(db.pool, latFrom, latTo);
    const latBatches = await batchesSince(latFrom);
    ctx.log(
      `1,000/s offered: ${l.ok} batches answered (${JSON.stringify(l.status)}), ${latency.count} records recorded, accepted→recorded p50 ${latency.p50.toFixed(0)} ms p99 ${latency.p99.toFixed(0)} ms max ${latency.max.toFixed(0)} ms; gateway batches ${latBatches.summary.count} (median ${latBatches.summary.medianSize} records, ledger ${latBatches.summary.medianLedgerMs} ms); ${loadLine()}`,
    );
    const latencyResult = {
      offered: l.rate * 100,
      status: l.status,
      unanswered: l.unanswered,
      count: latency.count,
      p50: latency.p50,
      p99: latency.p99,
      max: latency.max,
      batches: latBatches.summary,
      cpu: perRecord(latCpu, latency.count),
    };

    // ---- 2. sustained: offered above the target, then drained
    const bytesBefore = await ledgerBytes(runDir);
    const mark = await markLogs(runDir);
    const from = new Date();
    const firstRequest = Date.now();
    const w = cpuMeter(groups);
    const b = await openLoop(gw.url, request(BATCH), {
      rate: s.offered / BATCH,
      seconds: s.throughputSeconds,
      connections: 4,
      graceMs: 30_000,
    });
    const to = new Date();
    ctx.log(
      `sustained: offered ${fmt(s.offered)}/s for ${s.throughputSeconds} s, ${b.ok} batches accepted (${JSON.stringify(b.status)}); waiting until recorded`,
    );
    const drained = await drain(db.pool, gw, ctx.quick ? 240_000 : 600_000);
    const cpu = w.stop();
    if (!drained) ctx.log('sustained run: not every record was recorded before the timeout');
    const bytesAfter = await ledgerBytes(runDir);
    const { rows } = await db.pool.query<{ n: number; last: Date }>(
      `select count(*)::int as n, max(b.recorded_at) as last
         from submission_states s
         join ledger_batches b on s.leaf_index >= b.from_size and s.leaf_index < b.to_size
        where s.accepted_at >= $1 and s.accepted_at < $2 and b.status = 'recorded'`,
      [from, to],
    );
    const recorded = rows[0]!.n;
    if (recorded === 0 || !rows[0]!.last)
      throw new Error(`sustained run: nothing recorded\n${gw.output().slice(-3000)}`);
    const seconds = (rows[0]!.last.getTime() - firstRequest) / 1000;
    const batches = await batchesSince(from);
    const split = await splitTransactions(
      runDir,
      mark,
      batches.rows.map((r) => ({ txId: r.tx_id, block: r.block, totalMs: r.ledger_ms })),
    );
    const probe = new FabricLedger({
      connectionProfile: net.orgs.finance.connectionProfile,
      identity: { dir: net.orgs.finance.userIdentityDir },
      channel: net.channel,
      chaincode: net.chaincode,
      attempts: 1,
    });
    const reads = await readsAfterCommit(
      probe,
      batches.rows.map((r) => ({ txId: r.tx_id, fromSize: r.from_size })),
    ).finally(() => probe.close());
    const blocks = await fabricClient(net, net.chaincode);
    const written = await writeSets(
      blocks,
      batches.rows.map((r) => r.block),
    ).finally(() => blocks.close());
    // Every record goes to the bench project, whose key holds a fact per record (chaincode/src/book.ts)
    // and is read and rewritten by each batch: the series shows what that costs as it grows.
    const growth = batches.rows.map((r) => ({
      projectRecords: r.from_size,
      size: r.size,
      ledgerMs: r.ledger_ms,
      chaincodeMs: split.series.find((x) => x.block === r.block)?.chaincode ?? Number.NaN,
      writeBytes: written.perBlock.get(r.block) ?? Number.NaN,
    }));
    const sustained = {
      offered: s.offered,
      accepted: b.ok * BATCH,
      status: b.status,
      recorded,
      seconds,
      rate: recorded / seconds,
      drained,
      batches: batches.summary,
      split,
      reads,
      growth,
      bytes: bytesOf(written, diffBytes(bytesBefore, bytesAfter), recorded),
      cpu: perRecord(cpu, recorded),
    };
    ctx.log(
      `sustained: ${fmt(recorded)} recorded in ${seconds.toFixed(1)} s = ${fmt(sustained.rate)} records/s; gateway batches ${batches.summary.count} (median ${fmt(batches.summary.medianSize)} records: seal ${batches.summary.medianSealMs} ms, ledger ${batches.summary.medianLedgerMs} ms, confirm ${batches.summary.medianConfirmMs} ms); ${splitText(split, s.blockRule)}; ${readsText(reads)}; CPU ${cpuText(sustained.cpu)}; ${bytesOfText(sustained.bytes)}; ${loadLine()}`,
    );
    ctx.log(
      `growth of the project's key: ${growth.map((g) => `${fmt(g.projectRecords)}: ${g.chaincodeMs} ms, ${(g.writeBytes / 1e6).toFixed(1)} MB`).join('; ')}`,
    );
    return { latency: latencyResult, sustained };
  } finally {
    await stack?.stop().catch(() => {});
    await db.stop().catch(() => {});
  }
}

interface BatchRow {
  from_size: number;
  size: number;
  tx_id: string;
  block: number;
  ledger_ms: number;
  sealed_at: Date;
  recorded_at: Date;
}

// ---------------------------------------------------------------------------------------------
// 3: the contract alone (FabricLedger, as the gateway's batcher calls it) beside the floor

function retriesText(retries: Record<string, number>): string {
  const parts = Object.entries(retries).map(([reason, n]) => `${n} ${reason}`);
  return parts.length > 0 ? `; FabricLedger tried again: ${parts.join(', ')}` : '';
}

interface AloneSide {
  records: number;
  ms: number;
  txs: (TxTiming & { fromSize: number })[];
  cpu?: CpuWindow;
  bytes: Bytes;
}

async function contractAlone(
  ctx: BenchContext,
  s: Settings,
  t: Testing,
  net: FabricNetwork,
  runDir: string,
  fabricGroups: CpuGroup[],
) {
  const info = net.orgs.finance;
  // As the gateway makes it (gateway/src/ledger/index.ts): its retries are counted by reason.
  const retries: Record<string, number> = {};
  const ledger = new FabricLedger({
    connectionProfile: info.connectionProfile,
    identity: { dir: info.userIdentityDir },
    channel: net.channel,
    chaincode: net.chaincode,
    onRetry: ({ reason }) => {
      retries[reason] = (retries[reason] ?? 0) + 1;
    },
  });
  const floor = await fabricClient(net, 'floor');
  // The contract's own work on the same batches, in this process on the in-memory stub (no Fabric).
  const driver = new t.ContractDriver();
  await driver.init();
  for (const p of PROJECTS) await driver.register(t.villageRoadProject(p));
  await driver.record(contracts(t));
  const stubMs: number[] = [];
  try {
    await ledger.ready();
    for (const p of PROJECTS) await ledger.registerProject(t.villageRoadProject(p));
    let size = (await ledger.getCheckpoint())?.size ?? 0;
    size = (await ledger.recordBatch({ fromSize: size, records: contracts(t) })).toSize;
    let offset = 1;
    // Warm-up, untimed: one batch each (the floor's first also waits for discovery to know it).
    const warm = mixedEntries(t, offset, BATCH);
    offset += BATCH;
    size = (await ledger.recordBatch({ fromSize: size, records: warm })).toSize;
    await driver.record(warm);
    for (let attempt = 1; ; attempt++) {
      try {
        await floor.put(JSON.stringify({ fromSize: 0, records: warm }));
        break;
      } catch (error) {
        if (attempt >= 20) throw error;
        await sleep(500);
      }
    }

    const sides: Record<'contract' | 'floor', AloneSide> = {
      contract: { records: 0, ms: 0, txs: [], bytes: {} },
      floor: { records: 0, ms: 0, txs: [], bytes: {} },
    };
    const mark = await markLogs(runDir);
    // Each round's rates, and the records already in the five projects when it started: each batch
    // touches all five, and their keys keep a fact per record (chaincode/src/book.ts).
    const rounds: {
      projectRecords: number;
      contractRate: number;
      floorRate: number;
      stubMs: number;
      blocks: number[];
    }[] = [];
    for (let r = 0; r < s.rounds; r++) {
      const at = { contract: { ms: sides.contract.ms, n: sides.contract.txs.length }, floor: sides.floor.ms };
      const projectRecords = offset - 1 + PROJECTS.length;
      const stubFrom = stubMs.length;
      const batches = Array.from({ length: s.perRound }, (_, i) =>
        mixedEntries(t, offset + i * BATCH, BATCH),
      );
      offset += s.perRound * BATCH;
      // The contract's batches, then the floor's Put of the same records; their rounds alternate.
      for (const side of ['contract', 'floor'] as const) {
        const bytes0 = await ledgerBytes(runDir);
        const meter = cpuMeter(fabricGroups);
        for (const records of batches) {
          const start = performance.now();
          const fromSize = size;
          let tx: { txId: string; block: number };
          if (side === 'contract') {
            const out = await ledger.recordBatch({ fromSize: size, records });
            size = out.toSize;
            tx = out;
          } else {
            tx = await floor.put(JSON.stringify({ fromSize: size, records }));
          }
          const ms = performance.now() - start;
          sides[side].ms += ms;
          sides[side].records += records.length;
          sides[side].txs.push({ txId: tx.txId, block: tx.block, totalMs: ms, fromSize });
        }
        sides[side].cpu = addWindows(sides[side].cpu, meter.stop());
        diffBytes(bytes0, await ledgerBytes(runDir), sides[side].bytes);
      }
      for (const records of batches) {
        const start = performance.now();
        const out = await driver.submitBatch(driver.size, records);
        stubMs.push(performance.now() - start);
        driver.size = (out.result as { toSize: number }).toSize;
      }
      const roundRecords = s.perRound * BATCH;
      rounds.push({
        projectRecords,
        contractRate: (roundRecords * 1000) / (sides.contract.ms - at.contract.ms),
        floorRate: (roundRecords * 1000) / (sides.floor.ms - at.floor),
        stubMs: round(median(stubMs.slice(stubFrom))),
        blocks: sides.contract.txs.slice(at.contract.n).map((tx) => tx.block),
      });
      const last = rounds[rounds.length - 1]!;
      ctx.log(
        `round ${r + 1}/${s.rounds} (${fmt(projectRecords)} records in the 5 projects before it): contract ${fmt(last.contractRate)} records/s, floor ${fmt(last.floorRate)}; stub ${last.stubMs} ms a batch; ${loadLine()}`,
      );
    }
    const summarise = async (side: AloneSide, writes?: WriteSets) => {
      const split = await splitTransactions(runDir, mark, side.txs);
      writes ??= await writeSets(
        floor,
        side.txs.map((tx) => tx.block),
      );
      return {
        rate: (side.records * 1000) / side.ms,
        batches: side.txs.length,
        split,
        bytes: bytesOf(writes, side.bytes, side.records),
        cpu: perRecord(side.cpu!, side.records),
      };
    };
    const contractWrites = await writeSets(
      floor,
      sides.contract.txs.map((tx) => tx.block),
    );
    const growth = rounds.map(({ blocks, ...g }) => ({
      ...g,
      contractRate: round(g.contractRate),
      floorRate: round(g.floorRate),
      writeBytesPerTx: round(median(blocks.map((b) => contractWrites.perBlock.get(b) ?? Number.NaN))),
    }));
    const out = {
      contract: {
        ...(await summarise(sides.contract, contractWrites)),
        growth,
        reads: await readsAfterCommit(ledger, sides.contract.txs),
        stubMs: round(median(stubMs)),
        retries: { ...retries },
      },
      floor: await summarise(sides.floor),
    };
    for (const side of ['contract', 'floor'] as const) {
      ctx.log(
        `${side}: ${fmt(out[side].rate)} records/s; ${splitText(out[side].split, s.blockRule)}${side === 'contract' ? `; ${readsText(out.contract.reads)}; on the in-memory stub ${out.contract.stubMs} ms a batch${retriesText(out.contract.retries)}` : ''}; CPU ${cpuText(out[side].cpu)}; ${bytesOfText(out[side].bytes)}`,
      );
    }
    return out;
  } finally {
    floor.close();
    await ledger.close().catch(() => {});
  }
}
