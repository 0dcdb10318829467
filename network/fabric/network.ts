// A native Hyperledger Fabric 2.5 network for tests, `npm run network:up` and `npm run start:fabric`:
// one Raft orderer and one peer for each of the three organisations (finance bureau, housing and
// construction bureau, discipline inspection commission), TLS everywhere, the `evidence` channel made
// through the channel participation API, the `lianzheng` chaincode run as a service (one Node
// process per organisation) and initialised. No Docker: the binaries come from
// scripts/install-fabric.sh. Everything the network keeps — crypto, config, ledgers, logs, pid
// files — lives under one run folder, so a second start on the same folder resumes the same network.
// See network/fabric/README.md for the layout, the ports and the measured times.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer, Socket } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..');

export type FabricOrg = 'finance' | 'construction' | 'inspection';
export type FabricNodeName = 'orderer' | `peer.${FabricOrg}` | `chaincode.${FabricOrg}`;

export const FABRIC_ORGS: readonly FabricOrg[] = ['finance', 'construction', 'inspection'];
export const FABRIC_CHANNEL = 'evidence';
export const FABRIC_CHAINCODE = 'lianzheng';
export const FABRIC_COLLECTION = 'restrictedDetails';
export const DEFAULT_PORT_BASE = 17000;
export const DEFAULT_BATCH_TIMEOUT_MS = 200;
export const DEFAULT_MAX_MESSAGE_COUNT = 10;
/** The contract's configuration set by InitLedger: finance administers, inspection only reads. */
export const FABRIC_LEDGER_CONFIG = { adminMsp: 'FinanceMSP', writers: ['FinanceMSP', 'ConstructionMSP'] };

const GRPC_MAX_BYTES = 100 * 1024 * 1024;
/** Fabric's default log format less its colour codes, so log files and error tails read plainly. */
const LOG_FORMAT = '%{time:2006-01-02 15:04:05.000 MST} %{level:.4s} [%{module}] %{shortfunc} -> %{message}';
const ORDERER_DOMAIN = 'lianzheng.test';
const ORDERER_HOST = `orderer.${ORDERER_DOMAIN}`;
const CHAINCODE_LABEL = `${FABRIC_CHAINCODE}_1`;

const ORG_META: Record<FabricOrg, { mspId: string; domain: string; index: number }> = {
  finance: { mspId: 'FinanceMSP', domain: 'finance.lianzheng.test', index: 0 },
  construction: { mspId: 'ConstructionMSP', domain: 'construction.lianzheng.test', index: 1 },
  inspection: { mspId: 'InspectionMSP', domain: 'inspection.lianzheng.test', index: 2 },
};

export interface FabricNetworkOptions {
  /** ALL state (crypto, config, ledgers, logs, pid files) lives under it. */
  runDir: string;
  /** First port of the network's range (portBase … portBase+33, see fabricPorts). */
  portBase?: number;
  /** Folder with bin/, ccaas_builder/bin/ and config/; default: output of scripts/install-fabric.sh. */
  fabricHome?: string;
  batchTimeoutMs?: number;
  maxMessageCount?: number;
  /** The `restrictedDetails` private data collection: members (default all three), blockToLive (default 0, kept). */
  collection?: { members?: FabricOrg[]; blockToLive?: number };
  log?: (line: string) => void;
}

export interface FabricOrgInfo {
  mspId: string;
  /** localhost:PORT */
  peerEndpoint: string;
  /** peer0.<org domain>, the name in the peer's TLS certificate. */
  peerHostAlias: string;
  /** The organisation's TLS CA certificate. */
  tlsRootCertPath: string;
  /** A fabric-network 2.2 connection profile (JSON) with this organisation as client.organization. */
  connectionProfile: string;
  /** cert.pem, key.pem and msp-id of User1 of this organisation. */
  userIdentityDir: string;
  /** The same for its Admin. */
  adminIdentityDir: string;
}

export interface FabricPorts {
  orderer: { listen: number; admin: number; operations: number };
  peers: Record<
    FabricOrg,
    { listen: number; chaincodeListen: number; operations: number; chaincodeServer: number }
  >;
}

/** What runDir/network.json holds: the network without its functions. */
export interface FabricNetworkDescription {
  runDir: string;
  channel: string;
  chaincode: string;
  collection: string;
  packageId: string;
  ordererEndpoint: string;
  ordererTlsRootCertPath: string;
  orgs: Record<FabricOrg, FabricOrgInfo>;
  portBase: number;
  ports: FabricPorts;
  fabricHome: string;
  /** gatewayEnv(org) for each organisation. */
  gatewayEnvByOrg: Record<FabricOrg, Record<string, string>>;
}

export interface PeerCommandOptions {
  /** Whose MSP the CLI signs with: the organisation's Admin (default) or User1. */
  identity?: 'admin' | 'user';
  timeoutMs?: number;
}

export interface FabricNetwork extends FabricNetworkDescription {
  /** FABRIC_CONNECTION_PROFILE, FABRIC_IDENTITY_DIR (User1), FABRIC_CHANNEL, FABRIC_CHAINCODE, FABRIC_MSP_ID; org defaults to finance. */
  gatewayEnv(org?: FabricOrg): Record<string, string>;
  /** SIGTERM, wait for exit. */
  stopNode(name: FabricNodeName): Promise<void>;
  /** SIGKILL, wait for exit. */
  killNode(name: FabricNodeName): Promise<void>;
  /** Restart on the same state and wait until healthy (a peer: until it answers a chaincode query). */
  startNode(name: FabricNodeName): Promise<void>;
  /** Block files of every peer and the orderer. */
  blockFiles(): Promise<string[]>;
  /** Stops every process of the network; its state stays. */
  stop(): Promise<void>;
  /** Runs the `peer` CLI against this organisation's peer; throws FABRIC_COMMAND_FAILED with its output. */
  peer(
    org: FabricOrg,
    args: string[],
    options?: PeerCommandOptions,
  ): Promise<{ stdout: string; stderr: string }>;
  /** `peer chaincode query` on the organisation's peer as its User1; the payload as text. */
  query(org: FabricOrg, fn: string, args?: string[]): Promise<string>;
  /** `peer chaincode invoke --waitForEvent` as `org`'s User1, endorsed by `endorsers` (default: org and finance or construction). */
  invoke(org: FabricOrg, fn: string, args?: string[], endorsers?: FabricOrg[]): Promise<string>;
  /** Seconds each phase of the last start took. */
  timings: Record<string, number>;
}

/** The network's ports: orderer at base+0..2, the peers at base+10.., base+20.., base+30... */
export function fabricPorts(portBase: number): FabricPorts {
  const peer = (org: FabricOrg) => {
    const p = portBase + 10 * (ORG_META[org].index + 1);
    return { listen: p, chaincodeListen: p + 1, operations: p + 2, chaincodeServer: p + 3 };
  };
  return {
    orderer: { listen: portBase, admin: portBase + 1, operations: portBase + 2 },
    peers: { finance: peer('finance'), construction: peer('construction'), inspection: peer('inspection') },
  };
}

/** The Fabric binaries' folder: scripts/install-fabric.sh's answer (cached build, FABRIC_BIN, ...). */
export async function findFabricHome(): Promise<string> {
  const { stdout } = await run('bash', [join(repoRoot, 'scripts', 'install-fabric.sh')], {
    env: process.env,
    timeoutMs: 30 * 60_000,
  });
  const dir = stdout.trim().split('\n').pop() ?? '';
  if (!existsSync(join(dir, 'bin', 'peer')))
    throw new Error(`FABRIC_NOT_FOUND: install-fabric.sh answered '${dir}'`);
  return dir;
}

/** runDir/network.json of a network started before (by this or another process). */
export async function readFabricNetwork(runDir: string): Promise<FabricNetworkDescription> {
  const file = join(resolve(runDir), 'network.json');
  try {
    return JSON.parse(await readFile(file, 'utf8')) as FabricNetworkDescription;
  } catch (error) {
    throw new Error(`FABRIC_NOT_SET_UP: no readable ${file} (${(error as Error).message})`);
  }
}

// ---------------------------------------------------------------------------------------------
// Processes

const NODE_NAMES: FabricNodeName[] = [
  'orderer',
  ...FABRIC_ORGS.map((o) => `peer.${o}` as const),
  ...FABRIC_ORGS.map((o) => `chaincode.${o}` as const),
];

const RUN_DIR_ENV = 'LIANZHENG_FABRIC_RUN_DIR';

/** Is `pid` a live (not zombie) process started for this runDir? */
function aliveOurs(pid: number, runDir: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
    return environ.split('\0').includes(`${RUN_DIR_ENV}=${runDir}`);
  } catch {
    return false;
  }
}

function readPid(runDir: string, name: FabricNodeName): number | undefined {
  try {
    const pid = Number(readFileSync(join(runDir, 'pids', `${name}.pid`), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitExit(pid: number, runDir: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!aliveOurs(pid, runDir)) return true;
    await sleep(50);
  }
  return !aliveOurs(pid, runDir);
}

async function signalAndWait(
  runDir: string,
  name: FabricNodeName,
  signal: 'SIGTERM' | 'SIGKILL',
): Promise<void> {
  const pid = readPid(runDir, name);
  if (pid !== undefined && aliveOurs(pid, runDir)) {
    try {
      process.kill(pid, signal);
    } catch {}
    if (!(await waitExit(pid, runDir, signal === 'SIGTERM' ? 15_000 : 5_000)) && signal === 'SIGTERM') {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
      await waitExit(pid, runDir, 5_000);
    }
  }
  await rm(join(runDir, 'pids', `${name}.pid`), { force: true });
}

/** Stops the network started on runDir, from its pid files (for a process other than the starter). */
export async function stopFabricNetwork(runDir: string): Promise<void> {
  const dir = resolve(runDir);
  // Clients first (chaincode servers, peers), the orderer last.
  await Promise.all(
    NODE_NAMES.filter((n) => n.startsWith('chaincode.')).map((n) => signalAndWait(dir, n, 'SIGTERM')),
  );
  await Promise.all(
    NODE_NAMES.filter((n) => n.startsWith('peer.')).map((n) => signalAndWait(dir, n, 'SIGTERM')),
  );
  await signalAndWait(dir, 'orderer', 'SIGTERM');
}

export interface FabricNodeStatus {
  name: FabricNodeName;
  pid?: number;
  running: boolean;
  healthy: boolean;
}

/** Which of the network's processes run and answer their health check. */
export async function fabricNetworkStatus(runDir: string): Promise<FabricNodeStatus[]> {
  const dir = resolve(runDir);
  const description = await readFabricNetwork(dir);
  return Promise.all(
    NODE_NAMES.map(async (name) => {
      const pid = readPid(dir, name);
      const running = pid !== undefined && aliveOurs(pid, dir);
      const healthy = running && (await nodeHealthy(name, description.ports));
      return { name, pid, running, healthy };
    }),
  );
}

async function httpOk(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolveOpen) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolveOpen(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(port, '127.0.0.1', () => done(true));
  });
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolveFree) => {
    const server = createServer();
    server.once('error', () => resolveFree(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolveFree(true)));
  });
}

async function portFreeWithin(port: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await portFree(port)) return true;
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
}

async function nodeHealthy(name: FabricNodeName, ports: FabricPorts): Promise<boolean> {
  if (name === 'orderer') return httpOk(`http://127.0.0.1:${ports.orderer.operations}/healthz`);
  const [kind, org] = name.split('.') as ['peer' | 'chaincode', FabricOrg];
  if (kind === 'peer') return httpOk(`http://127.0.0.1:${ports.peers[org].operations}/healthz`);
  return tcpOpen(ports.peers[org].chaincodeServer);
}

function nodePorts(name: FabricNodeName, ports: FabricPorts): Array<[number, string]> {
  if (name === 'orderer') {
    return [
      [ports.orderer.listen, 'orderer listen'],
      [ports.orderer.admin, 'orderer admin'],
      [ports.orderer.operations, 'orderer operations'],
    ];
  }
  const [kind, org] = name.split('.') as ['peer' | 'chaincode', FabricOrg];
  const p = ports.peers[org];
  if (kind === 'chaincode') return [[p.chaincodeServer, `${name} server`]];
  return [
    [p.listen, `${name} listen`],
    [p.chaincodeListen, `${name} chaincode listen`],
    [p.operations, `${name} operations`],
  ];
}

// ---------------------------------------------------------------------------------------------
// Commands

interface RunOptions {
  env: NodeJS.ProcessEnv;
  timeoutMs?: number;
  cwd?: string;
}

class CommandError extends Error {
  constructor(
    message: string,
    readonly output: string,
  ) {
    super(message);
  }
}

function run(
  command: string,
  args: string[],
  options: RunOptions,
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolveRun, reject) => {
    execFile(
      command,
      args,
      { env: options.env, cwd: options.cwd, timeout: options.timeoutMs ?? 60_000, maxBuffer: 256 << 20 },
      (error, stdout, stderr) => {
        if (error) {
          const output = `${stdout}${stderr}`.trim();
          const shown = args.map((a) => (a.length > 200 ? `${a.slice(0, 200)}…` : a)).join(' ');
          reject(
            new CommandError(
              `FABRIC_COMMAND_FAILED: ${command.split('/').pop()} ${shown} (${error.code ?? error.signal ?? 'failed'}): ${tail(output, 20)}`,
              output,
            ),
          );
        } else resolveRun({ stdout, stderr });
      },
    );
  });
}

function tail(text: string, lines: number): string {
  return text.split('\n').slice(-lines).join('\n');
}

function logTail(runDir: string, name: FabricNodeName, lines = 25): string {
  try {
    const text = readFileSync(join(runDir, 'logs', `${name}.log`), 'utf8');
    return `\n--- last lines of ${join(runDir, 'logs', `${name}.log`)} ---\n${tail(text.trimEnd(), lines)}`;
  } catch {
    return '';
  }
}

/** Retries a step the orderer may refuse for a moment after (re)starting (FABRIC.md pitfall 11). */
async function retrying<T>(fn: () => Promise<T>, attempts = 8): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (error) {
      const text = (error as Error).message;
      const transient =
        /SERVICE_UNAVAILABLE|no Raft leader|connection refused|failed to connect|deadline exceeded|not found in orderer|could not find channel|UNAVAILABLE/i.test(
          text,
        );
      if (!transient || i >= attempts) throw error;
      await sleep(250 * i);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Layout

class Layout {
  constructor(readonly runDir: string) {}
  path(...parts: string[]) {
    return join(this.runDir, ...parts);
  }
  get crypto() {
    return this.path('crypto');
  }
  peerOrgDir(org: FabricOrg) {
    return join(this.crypto, 'peerOrganizations', ORG_META[org].domain);
  }
  peerDir(org: FabricOrg) {
    return join(this.peerOrgDir(org), 'peers', `peer0.${ORG_META[org].domain}`);
  }
  orgTlsCa(org: FabricOrg) {
    return join(this.peerOrgDir(org), 'tlsca', `tlsca.${ORG_META[org].domain}-cert.pem`);
  }
  userMsp(org: FabricOrg, who: 'admin' | 'user') {
    const user = who === 'admin' ? 'Admin' : 'User1';
    return join(this.peerOrgDir(org), 'users', `${user}@${ORG_META[org].domain}`, 'msp');
  }
  get ordererOrgDir() {
    return join(this.crypto, 'ordererOrganizations', ORDERER_DOMAIN);
  }
  get ordererDir() {
    return join(this.ordererOrgDir, 'orderers', ORDERER_HOST);
  }
  get ordererTlsCa() {
    return join(this.ordererOrgDir, 'tlsca', `tlsca.${ORDERER_DOMAIN}-cert.pem`);
  }
  get ordererAdminTls() {
    return join(this.ordererOrgDir, 'users', `Admin@${ORDERER_DOMAIN}`, 'tls');
  }
  get peerConfig() {
    return this.path('config', 'peer');
  }
  get ordererConfig() {
    return this.path('config', 'orderer');
  }
  get channelBlock() {
    return this.path('artifacts', `${FABRIC_CHANNEL}.block`);
  }
  get fetchedBlock() {
    return this.path('artifacts', `${FABRIC_CHANNEL}-0.block`);
  }
  get packageFile() {
    return this.path('artifacts', `${CHAINCODE_LABEL}.tgz`);
  }
  get collections() {
    return this.path('config', 'collections.json');
  }
  identityDir(org: FabricOrg, who: 'admin' | 'user') {
    return this.path('identities', org, who);
  }
  connectionProfile(org: FabricOrg) {
    return this.path('connection', `${org}.json`);
  }
}

interface Settings {
  portBase: number;
  batchTimeoutMs: number;
  maxMessageCount: number;
  collection: { members: FabricOrg[]; blockToLive: number };
  packageId: string;
}

type Stage = 'ordererJoined' | 'peersJoined' | 'installed' | 'approved' | 'committed' | 'initialised';

// ---------------------------------------------------------------------------------------------
// Start

/**
 * Starts the network on options.runDir. A fresh folder gets crypto, config, the channel, the
 * chaincode and its initialisation; a folder set up before just gets its processes started (and
 * any step a previous start did not finish). Resolves when every node is healthy, the orderer
 * leads its Raft cluster and the chaincode answers GetConfig on every peer.
 */
export async function startFabricNetwork(options: FabricNetworkOptions): Promise<FabricNetwork> {
  const runDir = resolve(options.runDir);
  const L = new Layout(runDir);
  const log = options.log ?? (() => {});
  const fabricHome = resolve(options.fabricHome ?? (await findFabricHome()));
  const bin = (tool: string) => join(fabricHome, 'bin', tool);
  const timings: Record<string, number> = {};
  const started = Date.now();
  let phaseStart = started;
  const phase = (name: string) => {
    const now = Date.now();
    timings[name] = (now - phaseStart) / 1000;
    log(`fabric: ${name} ${timings[name]?.toFixed(2)} s`);
    phaseStart = now;
  };

  await mkdir(runDir, { recursive: true });
  const settingsFile = L.path('settings.json');
  let settings: Settings;
  const fresh = !existsSync(settingsFile);
  if (fresh) {
    // Anything half-made by an interrupted first start goes.
    for (const d of ['crypto', 'artifacts', 'config', 'orderer', 'peers', 'identities', 'connection']) {
      await rm(L.path(d), { recursive: true, force: true });
    }
    const members = options.collection?.members ?? [...FABRIC_ORGS];
    for (const m of members)
      if (!FABRIC_ORGS.includes(m)) throw new Error(`FABRIC_BAD_OPTION: collection member '${m}'`);
    settings = {
      portBase: options.portBase ?? DEFAULT_PORT_BASE,
      batchTimeoutMs: options.batchTimeoutMs ?? DEFAULT_BATCH_TIMEOUT_MS,
      maxMessageCount: options.maxMessageCount ?? DEFAULT_MAX_MESSAGE_COUNT,
      collection: { members, blockToLive: options.collection?.blockToLive ?? 0 },
      packageId: '',
    };
  } else {
    settings = JSON.parse(await readFile(settingsFile, 'utf8')) as Settings;
    if (options.portBase !== undefined && options.portBase !== settings.portBase) {
      throw new Error(
        `FABRIC_BAD_OPTION: ${runDir} holds a network on portBase ${settings.portBase} (its channel names those ports); portBase ${options.portBase} needs another runDir`,
      );
    }
  }
  const ports = fabricPorts(settings.portBase);

  // Config files are rewritten on every start (FABRIC_HOME may have moved); crypto and blocks are not.
  await writeNodeConfig(L, fabricHome);
  if (fresh) {
    await generate(L, fabricHome, settings, ports);
    settings.packageId = await makePackage(L);
    await writeFile(L.path('stages.json'), '[]\n');
    await writeFile(settingsFile, `${JSON.stringify(settings, null, 2)}\n`);
    phase('crypto, channel block and package');
  }
  const stages = new Set<Stage>(JSON.parse(await readFile(L.path('stages.json'), 'utf8')) as Stage[]);
  const done = async (stage: Stage) => {
    stages.add(stage);
    await writeFile(L.path('stages.json'), `${JSON.stringify([...stages])}\n`);
  };
  await buildChaincodeIfStale();
  await writeIdentitiesAndProfiles(L, ports);

  const description = describe(L, settings, ports, fabricHome);
  await writeFile(L.path('network.json'), `${JSON.stringify(description, null, 2)}\n`);
  // What the gateway reads for LEDGER=fabric (gateway/src/config.ts): the finance bureau's User1.
  const envLines = Object.entries(description.gatewayEnvByOrg.finance).map(([k, v]) => `${k}=${v}`);
  await writeFile(L.path('gateway.env'), `${envLines.join('\n')}\n`);

  // ---- processes
  const children = new Map<FabricNodeName, ChildProcess>();
  /** Nodes this network stopped or killed: their ports may take a moment to be released. */
  const stoppedHere = new Set<FabricNodeName>();
  await mkdir(L.path('logs'), { recursive: true });
  await mkdir(L.path('pids'), { recursive: true });

  const nodeEnv = (name: FabricNodeName): Record<string, string> => {
    const base: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? runDir,
      [RUN_DIR_ENV]: runDir,
    };
    if (name === 'orderer') return { ...base, ...ordererEnv(L, ports) };
    const [kind, org] = name.split('.') as ['peer' | 'chaincode', FabricOrg];
    if (kind === 'peer') return { ...base, ...peerEnv(L, org, ports) };
    return {
      ...base,
      CORE_CHAINCODE_ID: settings.packageId,
      CORE_CHAINCODE_ADDRESS: `127.0.0.1:${ports.peers[org].chaincodeServer}`,
      CORE_CHAINCODE_LOGGING_LEVEL: 'WARNING',
      NODE_ENV: 'production',
    };
  };
  const nodeCommand = (name: FabricNodeName): [string, string[]] => {
    if (name === 'orderer') return [bin('orderer'), []];
    if (name.startsWith('peer.')) return [bin('peer'), ['node', 'start']];
    // The shim's server directly, not through npm (FABRIC.md pitfall 9).
    const org = name.split('.')[1] as FabricOrg;
    return [
      process.execPath,
      [
        join(repoRoot, 'node_modules', 'fabric-shim', 'cli.js'),
        'server',
        '--chaincode-address',
        `127.0.0.1:${ports.peers[org].chaincodeServer}`,
        '--chaincode-id',
        settings.packageId,
        '--module-path',
        join(repoRoot, 'chaincode', 'dist'),
      ],
    ];
  };

  const runningPid = (name: FabricNodeName): number | undefined => {
    const pid = readPid(runDir, name);
    return pid !== undefined && aliveOurs(pid, runDir) ? pid : undefined;
  };

  const checkPorts = async (names: FabricNodeName[]) => {
    for (const name of names) {
      for (const [port, what] of nodePorts(name, ports)) {
        // A node just stopped may still hold its port for a moment: the kernel releases a dying
        // process's memory (its /proc environ, which aliveOurs reads, goes) before it closes its
        // sockets, and on a loaded machine that gap lasted seconds. Wait for it before refusing.
        if (!(await portFreeWithin(port, stoppedHere.has(name) ? 10_000 : 0))) {
          throw new Error(
            `FABRIC_PORT_IN_USE: port ${port} (${what}) on 127.0.0.1 is taken by another process; stop it or choose another portBase`,
          );
        }
      }
    }
  };
  const spawnNode = async (name: FabricNodeName): Promise<void> => {
    if (runningPid(name) !== undefined) return; // started before by another process: adopt it
    await checkPorts([name]);
    const [command, args] = nodeCommand(name);
    const logFile = join(L.path('logs'), `${name}.log`);
    const fd = openSync(logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(command, args, {
        cwd: name.startsWith('chaincode.') ? repoRoot : runDir,
        env: nodeEnv(name), // built explicitly: no inherited ORDERER_*/CORE_*/FABRIC_* (pitfall 6)
        detached: true,
        stdio: ['ignore', fd, fd],
      });
    } finally {
      closeSync(fd);
    }
    if (child.pid === undefined) {
      await new Promise((r) => child.once('error', r));
      throw new Error(`FABRIC_START_FAILED: ${name} could not be spawned (${command})`);
    }
    child.unref();
    children.set(name, child);
    child.once('exit', () => {
      if (children.get(name) === child) children.delete(name);
    });
    await writeFile(join(L.path('pids'), `${name}.pid`), `${child.pid}\n`);
  };

  const waitUntil = async (
    name: FabricNodeName,
    what: string,
    check: () => Promise<boolean>,
    timeoutMs = 30_000,
  ): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await check()) return;
      if (runningPid(name) === undefined) {
        throw new Error(
          `FABRIC_NODE_EXITED: ${name} exited while waiting for ${what}${logTail(runDir, name)}`,
        );
      }
      if (Date.now() > deadline) {
        throw new Error(
          `FABRIC_TIMEOUT: ${name}: ${what} not reached in ${timeoutMs / 1000} s${logTail(runDir, name)}`,
        );
      }
      await sleep(100);
    }
  };
  const waitHealthy = (name: FabricNodeName) => waitUntil(name, 'health', () => nodeHealthy(name, ports));

  const ordererLeads = async () => {
    try {
      const res = await fetch(`http://127.0.0.1:${ports.orderer.operations}/metrics`, {
        signal: AbortSignal.timeout(2_000),
      });
      const text = await res.text();
      return new RegExp(`consensus_etcdraft_is_leader\\{channel="${FABRIC_CHANNEL}"\\} 1`).test(text);
    } catch {
      return false;
    }
  };

  // ---- CLI helpers
  const peerCli = (org: FabricOrg, args: string[], opts: PeerCommandOptions = {}) => {
    const who = opts.identity ?? 'admin';
    return run(bin('peer'), args, {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? runDir,
        FABRIC_CFG_PATH: L.peerConfig,
        FABRIC_LOGGING_SPEC: 'warning',
        CORE_PEER_LOCALMSPID: ORG_META[org].mspId,
        CORE_PEER_MSPCONFIGPATH: L.userMsp(org, who),
        CORE_PEER_ADDRESS: `localhost:${ports.peers[org].listen}`,
        CORE_PEER_TLS_ENABLED: 'true',
        CORE_PEER_TLS_ROOTCERT_FILE: L.orgTlsCa(org),
      },
      cwd: runDir,
      timeoutMs: opts.timeoutMs ?? 60_000,
    });
  };
  const ordererArgs = ['-o', `localhost:${ports.orderer.listen}`, '--tls', '--cafile', L.ordererTlsCa];
  const peerTargets = (orgs: FabricOrg[]) =>
    orgs.flatMap((o) => [
      '--peerAddresses',
      `localhost:${ports.peers[o].listen}`,
      '--tlsRootCertFiles',
      L.orgTlsCa(o),
    ]);
  const osnadmin = (args: string[]) =>
    run(
      bin('osnadmin'),
      [
        ...args,
        '-o',
        `localhost:${ports.orderer.admin}`,
        '--ca-file',
        L.ordererTlsCa,
        '--client-cert',
        join(L.ordererAdminTls, 'client.crt'),
        '--client-key',
        join(L.ordererAdminTls, 'client.key'),
      ],
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? runDir }, cwd: runDir },
    );
  const query = async (org: FabricOrg, fn: string, args: string[] = []) => {
    const { stdout } = await peerCli(
      org,
      [
        'chaincode',
        'query',
        '-C',
        FABRIC_CHANNEL,
        '-n',
        FABRIC_CHAINCODE,
        '-c',
        JSON.stringify({ function: fn, Args: args }),
      ],
      { identity: 'user' },
    );
    return stdout.trim();
  };
  const invoke = async (
    org: FabricOrg,
    fn: string,
    args: string[] = [],
    endorsers?: FabricOrg[],
    identity: 'admin' | 'user' = 'user',
  ) => {
    const targets = endorsers ?? [org, org === 'finance' ? 'construction' : 'finance'];
    const { stdout, stderr } = await peerCli(
      org,
      [
        'chaincode',
        'invoke',
        ...ordererArgs,
        '-C',
        FABRIC_CHANNEL,
        '-n',
        FABRIC_CHAINCODE,
        ...peerTargets(targets),
        '-c',
        JSON.stringify({ function: fn, Args: args }),
        '--waitForEvent',
      ],
      { identity },
    );
    return `${stdout}${stderr}`.trim();
  };

  const chaincodeAnswers = async (org: FabricOrg) => {
    try {
      await query(org, 'GetConfig');
      return true;
    } catch {
      return false;
    }
  };

  const startAndWait = async (name: FabricNodeName) => {
    await spawnNode(name);
    await waitHealthy(name);
  };

  try {
    // Every port checked before anything starts; then all nodes at once (the chaincode servers
    // only wait for the peers to dial them), each to its health check.
    await checkPorts(NODE_NAMES.filter((name) => runningPid(name) === undefined));
    const results = await Promise.allSettled(NODE_NAMES.map(startAndWait));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    phase('processes healthy');

    // ---- orderer joins the channel (channel participation API, no system channel)
    if (!stages.has('ordererJoined')) {
      const { stdout } = await osnadmin(['channel', 'list']);
      if (!stdout.includes(`"${FABRIC_CHANNEL}"`)) {
        await osnadmin(['channel', 'join', '--channelID', FABRIC_CHANNEL, '--config-block', L.channelBlock]);
      }
      await done('ordererJoined');
    }
    await waitUntil('orderer', `Raft leadership of ${FABRIC_CHANNEL}`, ordererLeads);
    phase('orderer leads the channel');

    // ---- peers join with block 0 fetched from the orderer
    if (!stages.has('peersJoined')) {
      await retrying(() =>
        peerCli('finance', ['channel', 'fetch', '0', L.fetchedBlock, '-c', FABRIC_CHANNEL, ...ordererArgs]),
      );
      await Promise.all(
        FABRIC_ORGS.map(async (org) => {
          const { stdout } = await peerCli(org, ['channel', 'list']);
          if (!stdout.split('\n').includes(FABRIC_CHANNEL)) {
            await peerCli(org, ['channel', 'join', '-b', L.fetchedBlock]);
          }
        }),
      );
      await done('peersJoined');
      phase('peers joined');
    }

    // ---- chaincode as a service: one package on every peer, approved by every org, committed
    if (!stages.has('installed')) {
      await Promise.all(
        FABRIC_ORGS.map(async (org) => {
          const { stdout } = await peerCli(org, ['lifecycle', 'chaincode', 'queryinstalled']);
          if (!stdout.includes(settings.packageId)) {
            await peerCli(org, ['lifecycle', 'chaincode', 'install', L.packageFile]);
          }
        }),
      );
      await done('installed');
      phase('chaincode installed');
    }
    const definition = [
      '-C',
      FABRIC_CHANNEL,
      '--name',
      FABRIC_CHAINCODE,
      '--version',
      '1',
      '--sequence',
      '1',
      '--collections-config',
      L.collections,
    ];
    // Whether the channel already has the definition (a start interrupted after its commit).
    const chaincodeCommitted = async () =>
      (
        await peerCli('finance', [
          'lifecycle',
          'chaincode',
          'querycommitted',
          '-C',
          FABRIC_CHANNEL,
          '-O',
          'json',
        ])
      ).stdout.includes(`"${FABRIC_CHAINCODE}"`);
    if (!stages.has('approved')) {
      if (!(await chaincodeCommitted())) {
        const readiness = await peerCli('finance', [
          'lifecycle',
          'chaincode',
          'checkcommitreadiness',
          ...definition,
          '-O',
          'json',
        ]);
        const approvals = (JSON.parse(readiness.stdout) as { approvals: Record<string, boolean> }).approvals;
        await Promise.all(
          FABRIC_ORGS.filter((org) => !approvals[ORG_META[org].mspId]).map((org) =>
            retrying(() =>
              peerCli(org, [
                'lifecycle',
                'chaincode',
                'approveformyorg',
                ...ordererArgs,
                ...definition,
                '--package-id',
                settings.packageId,
                '--waitForEvent',
              ]),
            ),
          ),
        );
      }
      await done('approved');
      phase('chaincode approved');
    }
    if (!stages.has('committed')) {
      if (!(await chaincodeCommitted())) {
        await retrying(() =>
          peerCli('finance', [
            'lifecycle',
            'chaincode',
            'commit',
            ...ordererArgs,
            ...definition,
            ...peerTargets(['finance', 'construction']),
            '--waitForEvent',
          ]),
        );
      }
      await Promise.all(
        FABRIC_ORGS.map((org) =>
          waitUntil(`peer.${org}`, 'the committed chaincode definition', async () => {
            try {
              await peerCli(org, [
                'lifecycle',
                'chaincode',
                'querycommitted',
                '-C',
                FABRIC_CHANNEL,
                '--name',
                FABRIC_CHAINCODE,
              ]);
              return true;
            } catch {
              return false;
            }
          }),
        ),
      );
      await done('committed');
      phase('chaincode committed');
    }
    if (!stages.has('initialised')) {
      const current = await retrying(() => query('finance', 'GetConfig'));
      if (current === 'null' || current === '') {
        await retrying(() =>
          invoke(
            'finance',
            'InitLedger',
            [JSON.stringify(FABRIC_LEDGER_CONFIG)],
            ['finance', 'construction'],
            'admin',
          ),
        );
      }
      await done('initialised');
      phase('contract initialised');
    }
    // The chaincode answers on every peer (its first call dials the chaincode server).
    await Promise.all(
      FABRIC_ORGS.map((org) => waitUntil(`peer.${org}`, 'a GetConfig answer', () => chaincodeAnswers(org))),
    );
    phase('chaincode answers on every peer');
    await waitForDiscovery(description, log);
    phase('service discovery answers');
  } catch (error) {
    await stopFabricNetwork(runDir).catch(() => {});
    throw error;
  }
  timings.total = (Date.now() - started) / 1000;
  log(`fabric: network up in ${timings.total.toFixed(2)} s (${runDir})`);

  const network: FabricNetwork = {
    ...description,
    timings,
    gatewayEnv: (org: FabricOrg = 'finance') => ({ ...description.gatewayEnvByOrg[org] }),
    async stopNode(name: FabricNodeName) {
      stoppedHere.add(name);
      await signalAndWait(runDir, name, 'SIGTERM');
    },
    async killNode(name: FabricNodeName) {
      stoppedHere.add(name);
      await signalAndWait(runDir, name, 'SIGKILL');
    },
    async startNode(name: FabricNodeName) {
      await startAndWait(name);
      if (name === 'orderer') await waitUntil('orderer', 'Raft leadership', ordererLeads);
      if (name.startsWith('peer.')) {
        const org = name.split('.')[1] as FabricOrg;
        await waitUntil(name, 'a GetConfig answer', () => chaincodeAnswers(org));
      }
    },
    blockFiles: () => blockFiles(L),
    stop: () => stopFabricNetwork(runDir),
    peer: peerCli,
    query,
    invoke: (org: FabricOrg, fn: string, args?: string[], endorsers?: FabricOrg[]) =>
      invoke(org, fn, args, endorsers, 'user'),
  };
  return network;
}

// ---------------------------------------------------------------------------------------------
// Generation

function fill(template: string, values: Record<string, string | number>): string {
  return template.replace(/\$\{([A-Z_]+)\}/g, (whole, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`FABRIC_TEMPLATE: no value for ${whole}`);
    return String(value);
  });
}

/** core.yaml and orderer.yaml from FABRIC_HOME/config, with what cannot come from the environment changed. */
async function writeNodeConfig(L: Layout, fabricHome: string): Promise<void> {
  const sample = join(fabricHome, 'config');
  let core = await readFile(join(sample, 'core.yaml'), 'utf8');
  const edits: Array<[RegExp, string, string]> = [
    // An empty CORE_VM_ENDPOINT does not override the Docker endpoint: empty it here (pitfall 1).
    [/^(\s+)endpoint: unix:\/\/\/var\/run\/docker\.sock$/m, '$1endpoint: ""', 'vm.endpoint'],
    // The chaincode-as-a-service builder from FABRIC_HOME (pitfall 2).
    [
      /^(\s+)path: \/opt\/hyperledger\/ccaas_builder$/m,
      `$1path: ${join(fabricHome, 'ccaas_builder')}`,
      'externalBuilders',
    ],
  ];
  for (const [pattern, replacement, what] of edits) {
    if (!pattern.test(core))
      throw new Error(`FABRIC_CONFIG: ${sample}/core.yaml has no ${what} line to change`);
    core = core.replace(pattern, replacement);
  }
  await mkdir(L.peerConfig, { recursive: true });
  await mkdir(L.ordererConfig, { recursive: true });
  await writeFile(join(L.peerConfig, 'core.yaml'), core);
  // The orderer's file stays the sample's: every difference is an ORDERER_* variable (ordererEnv).
  await copyFile(join(sample, 'orderer.yaml'), join(L.ordererConfig, 'orderer.yaml'));
}

export function collectionsConfig(collection: { members: FabricOrg[]; blockToLive: number }) {
  const members = collection.members.map((o) => `'${ORG_META[o].mspId}.member'`).join(', ');
  return [
    {
      name: FABRIC_COLLECTION,
      policy: `OR(${members})`,
      requiredPeerCount: 0,
      maxPeerCount: 2,
      blockToLive: collection.blockToLive,
      memberOnlyRead: true,
      memberOnlyWrite: true,
    },
  ];
}

async function generate(
  L: Layout,
  fabricHome: string,
  settings: Settings,
  ports: FabricPorts,
): Promise<void> {
  const config = L.path('config');
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? L.runDir };
  await mkdir(config, { recursive: true });
  await mkdir(L.path('artifacts'), { recursive: true });
  await copyFile(join(here, 'templates', 'crypto-config.yaml'), join(config, 'crypto-config.yaml'));
  const configtx = fill(await readFile(join(here, 'templates', 'configtx.yaml'), 'utf8'), {
    CRYPTO: L.crypto,
    ORDERER_PORT: ports.orderer.listen,
    FINANCE_PEER_PORT: ports.peers.finance.listen,
    CONSTRUCTION_PEER_PORT: ports.peers.construction.listen,
    INSPECTION_PEER_PORT: ports.peers.inspection.listen,
    BATCH_TIMEOUT_MS: settings.batchTimeoutMs,
    MAX_MESSAGE_COUNT: settings.maxMessageCount,
  });
  await writeFile(join(config, 'configtx.yaml'), configtx);
  await writeFile(L.collections, `${JSON.stringify(collectionsConfig(settings.collection), null, 2)}\n`);
  await run(
    join(fabricHome, 'bin', 'cryptogen'),
    ['generate', '--config', join(config, 'crypto-config.yaml'), '--output', L.crypto],
    { env },
  );
  await run(
    join(fabricHome, 'bin', 'configtxgen'),
    ['-profile', 'EvidenceChannel', '-outputBlock', L.channelBlock, '-channelID', FABRIC_CHANNEL],
    { env: { ...env, FABRIC_CFG_PATH: config } },
  );
}

/** The CCaaS package: metadata.json (type ccaas) + code.tar.gz holding connection.json with an {{.address}} template. */
async function makePackage(L: Layout): Promise<string> {
  const dir = L.path('artifacts', 'package');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, 'connection.json'),
    `${JSON.stringify({ address: '{{.address}}', dial_timeout: '10s', tls_required: false }, null, 2)}\n`,
  );
  await writeFile(
    join(dir, 'metadata.json'),
    `${JSON.stringify({ type: 'ccaas', label: CHAINCODE_LABEL })}\n`,
  );
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  await run('tar', ['-C', dir, '-czf', join(dir, 'code.tar.gz'), 'connection.json'], { env });
  await run('tar', ['-C', dir, '-czf', L.packageFile, 'metadata.json', 'code.tar.gz'], { env });
  const digest = createHash('sha256')
    .update(await readFile(L.packageFile))
    .digest('hex');
  return `${CHAINCODE_LABEL}:${digest}`;
}

/** chaincode/dist from chaincode/build.mjs when missing or older than a source file. */
async function buildChaincodeIfStale(): Promise<void> {
  const out = join(repoRoot, 'chaincode', 'dist', 'index.js');
  let builtAt = 0;
  try {
    builtAt = statSync(out).mtimeMs;
  } catch {}
  const newest = async (dir: string): Promise<number> => {
    let latest = 0;
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, entry.name);
      if (entry.isDirectory()) latest = Math.max(latest, await newest(p));
      else if (entry.name.endsWith('.ts')) latest = Math.max(latest, statSync(p).mtimeMs);
    }
    return latest;
  };
  if (builtAt > 0 && builtAt >= (await newest(join(repoRoot, 'chaincode', 'src')))) return;
  await run(process.execPath, [join(repoRoot, 'chaincode', 'build.mjs')], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/' },
    cwd: repoRoot,
  });
}

function firstFile(dir: string): string {
  const names = readdirSync(dir).filter((n) => !n.startsWith('.'));
  if (names.length === 0) throw new Error(`FABRIC_CRYPTO: nothing in ${dir}`);
  return join(dir, names[0] as string);
}

async function writeIdentity(L: Layout, org: FabricOrg, who: 'admin' | 'user'): Promise<string> {
  const dir = L.identityDir(org, who);
  const msp = L.userMsp(org, who);
  await mkdir(dir, { recursive: true });
  await copyFile(firstFile(join(msp, 'signcerts')), join(dir, 'cert.pem'));
  await copyFile(firstFile(join(msp, 'keystore')), join(dir, 'key.pem'));
  await writeFile(join(dir, 'msp-id'), `${ORG_META[org].mspId}\n`);
  return dir;
}

async function writeIdentitiesAndProfiles(L: Layout, ports: FabricPorts): Promise<void> {
  const pem = (file: string) => readFileSync(file, 'utf8');
  const grpcOptions = (host: string) => ({
    'ssl-target-name-override': host,
    hostnameOverride: host,
    'grpc.max_receive_message_length': GRPC_MAX_BYTES,
    'grpc.max_send_message_length': GRPC_MAX_BYTES,
  });
  const peers: Record<string, unknown> = {};
  const organizations: Record<string, unknown> = {};
  const channelPeers: Record<string, unknown> = {};
  for (const org of FABRIC_ORGS) {
    const host = `peer0.${ORG_META[org].domain}`;
    peers[host] = {
      url: `grpcs://localhost:${ports.peers[org].listen}`,
      tlsCACerts: { pem: pem(L.orgTlsCa(org)) },
      grpcOptions: grpcOptions(host),
    };
    organizations[ORG_META[org].mspId] = {
      mspid: ORG_META[org].mspId,
      peers: [host],
      certificateAuthorities: [],
    };
    channelPeers[host] = {
      endorsingPeer: true,
      chaincodeQuery: true,
      ledgerQuery: true,
      eventSource: true,
      discover: true,
    };
  }
  await mkdir(L.path('connection'), { recursive: true });
  for (const org of FABRIC_ORGS) {
    await writeIdentity(L, org, 'user');
    await writeIdentity(L, org, 'admin');
    const profile = {
      name: `lianzheng-${FABRIC_CHANNEL}-${org}`,
      version: '1.0.0',
      client: {
        organization: ORG_META[org].mspId,
        connection: { timeout: { peer: { endorser: '300' }, orderer: '300' } },
      },
      channels: { [FABRIC_CHANNEL]: { orderers: [ORDERER_HOST], peers: channelPeers } },
      organizations,
      orderers: {
        [ORDERER_HOST]: {
          url: `grpcs://localhost:${ports.orderer.listen}`,
          tlsCACerts: { pem: pem(L.ordererTlsCa) },
          grpcOptions: grpcOptions(ORDERER_HOST),
        },
      },
      peers,
    };
    await writeFile(L.connectionProfile(org), `${JSON.stringify(profile, null, 2)}\n`);
  }
}

function describe(
  L: Layout,
  settings: Settings,
  ports: FabricPorts,
  fabricHome: string,
): FabricNetworkDescription {
  const orgs = {} as Record<FabricOrg, FabricOrgInfo>;
  const gatewayEnv = {} as Record<FabricOrg, Record<string, string>>;
  for (const org of FABRIC_ORGS) {
    orgs[org] = {
      mspId: ORG_META[org].mspId,
      peerEndpoint: `localhost:${ports.peers[org].listen}`,
      peerHostAlias: `peer0.${ORG_META[org].domain}`,
      tlsRootCertPath: L.orgTlsCa(org),
      connectionProfile: L.connectionProfile(org),
      userIdentityDir: L.identityDir(org, 'user'),
      adminIdentityDir: L.identityDir(org, 'admin'),
    };
    gatewayEnv[org] = {
      FABRIC_CONNECTION_PROFILE: L.connectionProfile(org),
      FABRIC_IDENTITY_DIR: L.identityDir(org, 'user'),
      FABRIC_CHANNEL: FABRIC_CHANNEL,
      FABRIC_CHAINCODE: FABRIC_CHAINCODE,
      FABRIC_MSP_ID: ORG_META[org].mspId,
    };
  }
  return {
    runDir: L.runDir,
    channel: FABRIC_CHANNEL,
    chaincode: FABRIC_CHAINCODE,
    collection: FABRIC_COLLECTION,
    packageId: settings.packageId,
    ordererEndpoint: `localhost:${ports.orderer.listen}`,
    ordererTlsRootCertPath: L.ordererTlsCa,
    orgs,
    portBase: settings.portBase,
    ports,
    fabricHome,
    gatewayEnvByOrg: gatewayEnv,
  };
}

async function blockFiles(L: Layout): Promise<string[]> {
  const dirs = [
    L.path('orderer', 'ledger', 'chains', FABRIC_CHANNEL),
    ...FABRIC_ORGS.map((o) => L.path('peers', o, 'ledgersData', 'chains', 'chains', FABRIC_CHANNEL)),
  ];
  const files: string[] = [];
  for (const dir of dirs) {
    try {
      for (const name of await readdir(dir)) if (name.startsWith('blockfile')) files.push(join(dir, name));
    } catch {}
  }
  return files;
}

// ---------------------------------------------------------------------------------------------
// Node environments (everything a node is told comes from here, pitfall 6)

function ordererEnv(L: Layout, ports: FabricPorts): Record<string, string> {
  const tls = join(L.ordererDir, 'tls');
  const ca = L.ordererTlsCa;
  return {
    FABRIC_CFG_PATH: L.ordererConfig,
    FABRIC_LOGGING_SPEC: 'info',
    FABRIC_LOGGING_FORMAT: LOG_FORMAT,
    ORDERER_GENERAL_LISTENADDRESS: '127.0.0.1',
    ORDERER_GENERAL_LISTENPORT: String(ports.orderer.listen),
    ORDERER_GENERAL_LOCALMSPID: 'OrdererMSP',
    ORDERER_GENERAL_LOCALMSPDIR: join(L.ordererDir, 'msp'),
    ORDERER_GENERAL_TLS_ENABLED: 'true',
    ORDERER_GENERAL_TLS_PRIVATEKEY: join(tls, 'server.key'),
    ORDERER_GENERAL_TLS_CERTIFICATE: join(tls, 'server.crt'),
    ORDERER_GENERAL_TLS_ROOTCAS: `[${ca}]`,
    ORDERER_GENERAL_CLUSTER_CLIENTCERTIFICATE: join(tls, 'server.crt'),
    ORDERER_GENERAL_CLUSTER_CLIENTPRIVATEKEY: join(tls, 'server.key'),
    ORDERER_GENERAL_CLUSTER_ROOTCAS: `[${ca}]`,
    // No system channel: channels are joined through the admin endpoint (pitfall 5).
    ORDERER_GENERAL_BOOTSTRAPMETHOD: 'none',
    ORDERER_CHANNELPARTICIPATION_ENABLED: 'true',
    ORDERER_GENERAL_MAXRECVMSGSIZE: String(GRPC_MAX_BYTES),
    ORDERER_GENERAL_MAXSENDMSGSIZE: String(GRPC_MAX_BYTES),
    ORDERER_ADMIN_LISTENADDRESS: `127.0.0.1:${ports.orderer.admin}`,
    ORDERER_ADMIN_TLS_ENABLED: 'true',
    ORDERER_ADMIN_TLS_PRIVATEKEY: join(tls, 'server.key'),
    ORDERER_ADMIN_TLS_CERTIFICATE: join(tls, 'server.crt'),
    ORDERER_ADMIN_TLS_ROOTCAS: `[${ca}]`,
    ORDERER_ADMIN_TLS_CLIENTAUTHREQUIRED: 'true',
    ORDERER_ADMIN_TLS_CLIENTROOTCAS: `[${ca}]`,
    ORDERER_OPERATIONS_LISTENADDRESS: `127.0.0.1:${ports.orderer.operations}`,
    ORDERER_OPERATIONS_TLS_ENABLED: 'false',
    // Prometheus on the operations port: consensus_etcdraft_is_leader tells when Raft has a leader.
    ORDERER_METRICS_PROVIDER: 'prometheus',
    ORDERER_FILELEDGER_LOCATION: L.path('orderer', 'ledger'),
    ORDERER_CONSENSUS_WALDIR: L.path('orderer', 'etcdraft', 'wal'),
    ORDERER_CONSENSUS_SNAPDIR: L.path('orderer', 'etcdraft', 'snapshot'),
  };
}

function peerEnv(L: Layout, org: FabricOrg, ports: FabricPorts): Record<string, string> {
  const p = ports.peers[org];
  const tls = join(L.peerDir(org), 'tls');
  const endpoint = `localhost:${p.listen}`;
  return {
    FABRIC_CFG_PATH: L.peerConfig,
    FABRIC_LOGGING_SPEC: 'gossip=warning:info',
    FABRIC_LOGGING_FORMAT: LOG_FORMAT,
    CORE_PEER_ID: `peer0.${ORG_META[org].domain}`,
    CORE_PEER_ADDRESS: endpoint,
    CORE_PEER_LISTENADDRESS: `127.0.0.1:${p.listen}`,
    CORE_PEER_CHAINCODELISTENADDRESS: `127.0.0.1:${p.chaincodeListen}`,
    CORE_PEER_CHAINCODEADDRESS: `127.0.0.1:${p.chaincodeListen}`,
    CORE_PEER_GOSSIP_BOOTSTRAP: endpoint,
    CORE_PEER_GOSSIP_EXTERNALENDPOINT: endpoint,
    // Three peers on loopback: gossip faster than the sample's 4-5 s rounds, so that service
    // discovery knows every organisation's peer and chaincode about a second after a (re)start.
    CORE_PEER_GOSSIP_PUBLISHSTATEINFOINTERVAL: '500ms',
    CORE_PEER_GOSSIP_REQUESTSTATEINFOINTERVAL: '500ms',
    CORE_PEER_GOSSIP_ALIVETIMEINTERVAL: '1s',
    CORE_PEER_GOSSIP_RECONNECTINTERVAL: '2s',
    CORE_PEER_LOCALMSPID: ORG_META[org].mspId,
    CORE_PEER_MSPCONFIGPATH: join(L.peerDir(org), 'msp'),
    CORE_PEER_TLS_ENABLED: 'true',
    CORE_PEER_TLS_CERT_FILE: join(tls, 'server.crt'),
    CORE_PEER_TLS_KEY_FILE: join(tls, 'server.key'),
    CORE_PEER_TLS_ROOTCERT_FILE: join(tls, 'ca.crt'),
    CORE_PEER_FILESYSTEMPATH: L.path('peers', org),
    CORE_PEER_MAXRECVMSGSIZE: String(GRPC_MAX_BYTES),
    CORE_PEER_MAXSENDMSGSIZE: String(GRPC_MAX_BYTES),
    CORE_LEDGER_STATE_STATEDATABASE: 'goleveldb',
    CORE_LEDGER_SNAPSHOTS_ROOTDIR: L.path('peers', org, 'snapshots'),
    CORE_OPERATIONS_LISTENADDRESS: `127.0.0.1:${p.operations}`,
    CORE_OPERATIONS_TLS_ENABLED: 'false',
    CORE_METRICS_PROVIDER: 'disabled',
    // The package's connection.json says {{.address}}: each peer dials its own org's server (pitfall 2).
    CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG: JSON.stringify({ address: `127.0.0.1:${p.chaincodeServer}` }),
  };
}

// ---------------------------------------------------------------------------------------------
// Service discovery

interface ProbeContract {
  getDiscoveryHandler(): Promise<unknown>;
  discoveryService?: Promise<{
    discoveryResults?: { endorsement_plan?: { groups?: Record<string, unknown> } };
  }>;
}
interface ProbeGateway {
  connect(profile: unknown, options: unknown): Promise<void>;
  getNetwork(channel: string): Promise<{ getContract(name: string): ProbeContract }>;
  disconnect(): void;
}
interface FabricNetworkModule {
  Gateway: new () => ProbeGateway;
  Wallets: { newInMemoryWallet(): Promise<{ put(label: string, identity: unknown): Promise<void> }> };
}

/**
 * Waits until service discovery gives an endorsement plan for the chaincode that names all three
 * organisations' peers (gossip has told the peers about each other and their chaincodes), as a
 * gateway with discovery on needs. Asks through fabric-network with the finance connection
 * profile; skipped when fabric-network is not installed.
 */
async function waitForDiscovery(net: FabricNetworkDescription, log: (line: string) => void): Promise<void> {
  let fabricNetwork: FabricNetworkModule;
  try {
    fabricNetwork = createRequire(join(repoRoot, 'package.json'))('fabric-network') as FabricNetworkModule;
  } catch {
    log('fabric: fabric-network is not installed; service discovery not checked');
    return;
  }
  const info = net.orgs.finance;
  const wallet = await fabricNetwork.Wallets.newInMemoryWallet();
  await wallet.put('probe', {
    type: 'X.509',
    mspId: info.mspId,
    credentials: {
      certificate: await readFile(join(info.userIdentityDir, 'cert.pem'), 'utf8'),
      privateKey: await readFile(join(info.userIdentityDir, 'key.pem'), 'utf8'),
    },
  });
  const profile = JSON.parse(await readFile(info.connectionProfile, 'utf8')) as unknown;
  const deadline = Date.now() + 30_000;
  let last = '';
  while (Date.now() < deadline) {
    const gateway = new fabricNetwork.Gateway();
    try {
      await gateway.connect(profile, {
        wallet,
        identity: 'probe',
        discovery: { enabled: true, asLocalhost: true },
      });
      const contract = (await gateway.getNetwork(net.channel)).getContract(net.chaincode);
      await contract.getDiscoveryHandler();
      const groups = (await contract.discoveryService)?.discoveryResults?.endorsement_plan?.groups ?? {};
      if (Object.keys(groups).length === FABRIC_ORGS.length) return;
      last = `the plan names ${Object.keys(groups).length} of ${FABRIC_ORGS.length} organisations`;
    } catch (error) {
      last = (error as Error).message;
    } finally {
      gateway.disconnect();
    }
    await sleep(200);
  }
  throw new Error(
    `FABRIC_DISCOVERY: service discovery gave no full endorsement plan for ${net.chaincode} in 30 s: ${last}`,
  );
}
