// The gateway as the README starts it (`npm start` → scripts/start.mjs), for end-to-end tests: on a
// free loopback port with a fresh DATA_DIR and its own embedded PostgreSQL, ready once the demo
// project it seeds through the API answers. Stopping it sends SIGINT (the gateway stops its
// PostgreSQL too), then SIGKILL if it hangs, and removes the data folder.

import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { issueDevToken, loadDevIssuerKey } from '../../gateway/src/auth/dev-issuer.ts';
import { DEMO_ORG, DEMO_PROJECT } from '../../gateway/src/cli/demo.ts';

const root = path.resolve(import.meta.dirname, '../..');

export interface ReadmeGateway {
  /** http://127.0.0.1:<port> */
  base: string;
  dataDir: string;
  /** Everything the gateway printed so far (for failure messages). */
  output(): string;
  /** The pid of `npm start`'s process (scripts/start.mjs); the gateway is its child. */
  pid: number;
  /** A development token for the demo project's owner (role unit). */
  unitToken(): Promise<string>;
  /** Polls `probe` until it returns a value; fails with the gateway's recent output. */
  waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T>;
  stop(): Promise<void>;
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

export async function startReadmeGateway(
  options: { prefix?: string; env?: Record<string, string> } = {},
): Promise<ReadmeGateway> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), options.prefix ?? 'lz-e2e-gateway-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let output = '';
  const child: ChildProcess = spawn(process.execPath, ['scripts/start.mjs'], {
    cwd: root,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      DATABASE_URL: '',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d) => {
    output += d;
  });
  child.stderr?.on('data', (d) => {
    output += d;
  });

  const waitFor = async <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (child.exitCode !== null)
        throw new Error(`the gateway exited (${child.exitCode})\n${output.slice(-3000)}`);
      const value = await probe().catch(() => undefined);
      if (value !== undefined) return value;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`timed out waiting for ${what}\n${output.slice(-3000)}`);
  };

  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    await fs.rm(dataDir, { recursive: true, force: true });
  };

  try {
    await waitFor(
      'the gateway and its demo project',
      async () => ((await fetch(`${base}/v1/projects/${DEMO_PROJECT.id}`)).status === 200 ? true : undefined),
      300_000,
    );
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    base,
    dataDir,
    output: () => output,
    pid: child.pid!,
    unitToken: async () =>
      issueDevToken(await loadDevIssuerKey(path.join(dataDir, 'keys')), {
        role: 'unit',
        org: DEMO_ORG,
        audience: 'lianzheng',
      }),
    waitFor,
    stop,
  };
}
