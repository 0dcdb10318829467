// Starts and stops a geth node in dev mode on loopback for tests, benchmarks and local runs.
// The node's data folder is the caller's, so a test can stop the node and start it again on the
// same chain (an RPC outage that the anchorer must survive).
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface GethDevOptions {
  /** The chain's data folder; reuse it to restart the same chain. */
  datadir: string;
  /** HTTP JSON-RPC port on 127.0.0.1; a free one when omitted. */
  port?: number;
  /** Seconds between blocks; 0 mines only when a transaction arrives. */
  period?: number;
  /** The geth binary; built with scripts/install-go-tools.sh when omitted. */
  gethBin?: string;
  /** Where geth's own log goes; `<datadir>/geth.log` when omitted. */
  logFile?: string;
  /** Lowest tip the dev miner includes, in wei (geth's --miner.gasprice). */
  minerGasPriceWei?: bigint;
  /**
   * Web origins whose pages may call the JSON-RPC endpoint (geth's --http.corsdomain), e.g. the
   * verifier page's origin when it reads the chain itself; none when omitted (geth's default).
   */
  corsDomain?: string;
  /**
   * Keep every block's state on disk as it is made (geth's hash scheme, `--gcmode archive`). By
   * default geth keeps recent state in memory and writes it at a clean shutdown, so a SIGKILLed dev
   * node comes back at genesis (its own transactions re-mined from the pool's journal): the chain
   * itself is gone, not just its RPC. Archive mode is what lets a test kill the node and restart
   * the same chain (a few trailing blocks may still be lost). Only for a fresh data folder.
   */
  archive?: boolean;
}

export interface GethDevNode {
  rpcUrl: string;
  port: number;
  datadir: string;
  pid: number;
  /** The prefunded, unlocked dev account. */
  devAccount: string;
  chainId: number;
  /** SIGINT (or `signal`, e.g. SIGKILL for a crash) and wait for exit (SIGKILL after 15 s). */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** The pinned geth binary: $GETH_BIN, or the cached build from scripts/install-go-tools.sh. */
export async function findGethBinary(): Promise<string> {
  const fromEnv = process.env.GETH_BIN;
  if (fromEnv) return fromEnv;
  const { stdout } = await promisify(execFile)(
    'bash',
    [join(repoRoot, 'scripts', 'install-go-tools.sh'), 'geth'],
    {
      maxBuffer: 1 << 20,
      timeout: 30 * 60_000,
    },
  );
  const dir = stdout.trim().split('\n').pop() ?? '';
  const bin = join(dir, 'bin', 'geth');
  if (!existsSync(bin)) throw new Error(`GETH_NOT_FOUND: ${bin}`);
  return bin;
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** One JSON-RPC call over HTTP; throws `RPC_ERROR: …` on a JSON-RPC error. */
export async function rpcCall<T = unknown>(
  rpcUrl: string,
  method: string,
  params: unknown[] = [],
): Promise<T> {
  const res = await fetch(rpcUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as { result?: T; error?: { code: number; message: string } };
  if (body.error) throw new Error(`RPC_ERROR: ${method}: ${body.error.code} ${body.error.message}`);
  return body.result as T;
}

export async function startGethDev(options: GethDevOptions): Promise<GethDevNode> {
  const gethBin = options.gethBin ?? (await findGethBinary());
  const port = options.port ?? (await freePort());
  await mkdir(options.datadir, { recursive: true });
  const args = [
    '--dev',
    '--dev.period',
    String(options.period ?? 1),
    '--datadir',
    options.datadir,
    '--http',
    '--http.addr',
    '127.0.0.1',
    '--http.port',
    String(port),
    '--http.api',
    'eth,net,web3,debug,txpool',
    // Loopback only: no peer-to-peer listener, no discovery, no IPC socket, no websocket.
    '--nodiscover',
    '--maxpeers',
    '0',
    '--port',
    '0',
    '--ipcdisable',
    '--authrpc.addr',
    '127.0.0.1',
    '--authrpc.port',
    '0',
    '--verbosity',
    '2',
  ];
  if (options.minerGasPriceWei !== undefined)
    args.push('--miner.gasprice', options.minerGasPriceWei.toString());
  if (options.corsDomain !== undefined) args.push('--http.corsdomain', options.corsDomain);
  if (options.archive) args.push('--state.scheme', 'hash', '--gcmode', 'archive');
  const logFile = options.logFile ?? join(options.datadir, 'geth.log');
  const log = createWriteStream(logFile, { flags: 'a' });
  const child: ChildProcess = spawn(gethBin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  let exited = false;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
  });
  const rpcUrl = `http://127.0.0.1:${port}`;
  const stop = async (signal: NodeJS.Signals = 'SIGINT'): Promise<void> => {
    if (!exited) {
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exitPromise;
      clearTimeout(timer);
    }
    log.end();
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`GETH_EXITED: see ${logFile}`);
    }
    try {
      const accounts = await rpcCall<string[]>(rpcUrl, 'eth_accounts');
      const chainId = Number(await rpcCall<string>(rpcUrl, 'eth_chainId'));
      const devAccount = accounts[0];
      if (devAccount) {
        return { rpcUrl, port, datadir: options.datadir, pid: child.pid ?? -1, devAccount, chainId, stop };
      }
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`GETH_START_TIMEOUT: see ${logFile}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Sends `weiHex` from the dev account to `to` and waits for the receipt. */
export async function fundFromDevAccount(node: GethDevNode, to: string, wei: bigint): Promise<string> {
  const txHash = await rpcCall<string>(node.rpcUrl, 'eth_sendTransaction', [
    { from: node.devAccount, to, value: `0x${wei.toString(16)}` },
  ]);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    // A fresh node answers "transaction indexing is in progress" for a moment: ask again.
    const receipt = await rpcCall<{ status: string } | null>(node.rpcUrl, 'eth_getTransactionReceipt', [
      txHash,
    ]).catch(() => null);
    if (receipt) {
      if (receipt.status !== '0x1') throw new Error(`FUNDING_FAILED: ${txHash}`);
      return txHash;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`FUNDING_TIMEOUT: ${txHash}`);
}
