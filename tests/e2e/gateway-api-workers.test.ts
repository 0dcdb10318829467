// API_WORKERS=2 as an operator would run it (`npm start` with the variable set): the supervisor
// starts the embedded PostgreSQL, a sealer and two api processes sharing the port. Checked from
// outside, over fresh connections (node:cluster hands each new connection to the next worker):
// the api workers run at a lower CPU priority than the sealer; the demo is seeded and a
// submission is recorded through the sealer; /metrics adds up every
// process; the public rate limit is split between the workers; a key rotated through one worker
// is published by all at once and signs everywhere within seconds; a killed worker is replaced
// while the other keeps answering; SIGINT stops every process and PostgreSQL.

import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { sha256, toHex } from '@lianzheng/proof';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueDevToken, loadDevIssuerKey } from '../../gateway/src/auth/dev-issuer.ts';
import { DEMO_PROJECT } from '../../gateway/src/cli/demo.ts';
import { freePort, type ReadmeGateway, startReadmeGateway } from './readme-gateway.ts';

let gateway: ReadmeGateway;
let adminToken = '';

/** One request on a connection of its own, so that the cluster picks the next worker for it. */
function fresh(
  method: string,
  url: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${gateway.base}${url}`, { method, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        text += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${url}: no answer in 10 s`)));
    req.end(body);
  });
}

/** The gateway processes under `npm start`: the supervisor and its workers (by command line). */
function gatewayProcesses(): { pid: number; ppid: number; args: string }[] {
  const out = execFileSync('ps', ['-eo', 'pid=,ppid=,args='], { encoding: 'utf8' });
  const all = out
    .split('\n')
    .map((line) => line.trim().match(/^(\d+)\s+(\d+)\s+(.*)$/))
    .filter((m): m is RegExpMatchArray => m !== null)
    .map((m) => ({ pid: Number(m[1]), ppid: Number(m[2]), args: m[3]! }));
  const supervisor = all.find((p) => p.ppid === gateway.pid && p.args.includes('gateway/src/server.ts'));
  if (!supervisor) return [];
  return [supervisor, ...all.filter((p) => p.ppid === supervisor.pid && p.args.includes('server.ts'))];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  gateway = await startReadmeGateway({ prefix: 'lz-e2e-workers-', env: { API_WORKERS: '2' } });
  const key = await loadDevIssuerKey(path.join(gateway.dataDir, 'keys'));
  adminToken = await issueDevToken(key, { role: 'admin', subject: 'workers-test', audience: 'lianzheng' });
});

afterAll(async () => {
  await gateway?.stop();
});

describe('the gateway as a supervisor of a sealer and two api workers (API_WORKERS=2)', () => {
  it('runs three gateway processes under one supervisor, and records what the api workers accept', async () => {
    const processes = gatewayProcesses();
    expect(processes).toHaveLength(4); // supervisor, sealer, two api workers
    // The api workers run API_WORKERS_NICE (5) below the sealer: sealing first when cores are short.
    const nice = (pid: number) => {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    };
    const [base, ...workers] = processes.map((p) => nice(p.pid)) as [number, ...number[]];
    expect(workers.sort((a, b) => a - b)).toEqual([base, base + 5, base + 5]);
    // Each worker runs with its role's young generation (node-flags.ts): the sealer's larger than
    // the api workers'; the supervisor, which only forks, with none of the gateway's flags.
    const semi = (args: string) => args.match(/--max-semi-space-size=(\d+)/)?.[1];
    const oldFloor = (args: string) => args.match(/--initial-old-space-size=(\d+)/)?.[1];
    const [supervisor, ...children] = processes;
    expect(semi(supervisor!.args)).toBeUndefined();
    const byRole = children.map((p) => `${nice(p.pid) === base ? 'sealer' : 'api'} ${semi(p.args)}`).sort();
    expect(byRole).toEqual(['api 32', 'api 32', 'sealer 64']);
    // …and only the sealer with the old generation's floor.
    const floors = children
      .map((p) => `${nice(p.pid) === base ? 'sealer' : 'api'} ${oldFloor(p.args)}`)
      .sort();
    expect(floors).toEqual(['api undefined', 'api undefined', 'sealer 512']);
    const unitToken = await gateway.unitToken();
    const digest = toHex(sha256(randomBytes(32)));
    const accepted = await fresh(
      'POST',
      '/v1/evidence',
      { authorization: `Bearer ${unitToken}`, 'content-type': 'application/json' },
      JSON.stringify({ projectId: DEMO_PROJECT.id, kind: 'notice', visibility: 'public', sha256: digest }),
    );
    expect(accepted.status, accepted.text).toBe(202);
    const status = await gateway.waitFor(
      'the submission to be recorded by the sealer',
      async () => {
        const res = await fresh('GET', `/v1/verify/${digest}`);
        const record = (JSON.parse(res.text) as { records: { status: string }[] }).records[0];
        return record && record.status !== 'accepted' ? record.status : undefined;
      },
      60_000,
    );
    expect(['recorded', 'anchored']).toContain(status);
  });

  it('answers /metrics with the sum over every process', async () => {
    for (let i = 0; i < 10; i++) expect((await fresh('GET', '/healthz')).status).toBe(200);
    const res = await fresh('GET', '/metrics', { authorization: `Bearer ${adminToken}` });
    expect(res.status).toBe(200);
    expect(res.text).not.toContain('# lianzheng: metrics of this worker');
    // Ten requests spread over two workers: each worker alone would count about five.
    expect(res.text).toMatch(
      /^http_request_duration_seconds_count\{method="GET",route="\/healthz",status_code="200"\} 10$/m,
    );
  });

  it('gives each api worker its share of the public rate limit', async () => {
    const res = await fresh('GET', `/v1/projects/${DEMO_PROJECT.id}`);
    expect(res.status).toBe(200);
    expect(res.headers['x-ratelimit-limit']).toBe('300'); // RATE_LIMIT_PUBLIC_PER_MIN 600 / 2
  });

  it('publishes a key rotated by one worker from every worker at once, and signs with it everywhere', async () => {
    const rotated = await fresh('POST', '/v1/admin/keys/rotate', { authorization: `Bearer ${adminToken}` });
    expect(rotated.status, rotated.text).toBe(200);
    const { kid } = JSON.parse(rotated.text) as { kid: string };
    for (let i = 0; i < 6; i++) {
      const jwks = JSON.parse((await fresh('GET', '/.well-known/jwks.json')).text) as {
        keys: { kid: string }[];
      };
      expect(jwks.keys.map((k) => k.kid)).toContain(kid);
    }
    await sleep(1500); // the other worker checks the key file every second
    const unitToken = await gateway.unitToken();
    for (let i = 0; i < 6; i++) {
      const res = await fresh(
        'POST',
        '/v1/evidence',
        { authorization: `Bearer ${unitToken}`, 'content-type': 'application/json' },
        JSON.stringify({
          projectId: DEMO_PROJECT.id,
          kind: 'notice',
          visibility: 'public',
          sha256: toHex(sha256(randomBytes(32))),
        }),
      );
      expect(res.status, res.text).toBe(202);
      const receipt = (JSON.parse(res.text) as { receipt: string }).receipt;
      const header = JSON.parse(Buffer.from(receipt.split('.')[0]!, 'base64url').toString('utf8'));
      expect(header.kid).toBe(kid);
    }
  });

  it('replaces a worker that dies, while the other keeps answering', async () => {
    const before = gatewayProcesses();
    const supervisor = before[0]!;
    const workers = before.slice(1);
    // The api workers are the ones listening on the public port; the sealer was forked first.
    const victim = workers.sort((a, b) => a.pid - b.pid).at(-1)!;
    process.kill(victim.pid, 'SIGKILL');
    // node:cluster's primary hands a new connection to a worker before it knows the worker died:
    // a connection made in that instant waits for a worker that is gone (until its client gives
    // up). From when the supervisor has seen the exit, the survivor takes every connection.
    await gateway.waitFor(
      'the supervisor to see the worker exit',
      async () => (gateway.output().includes('gateway worker exited; restarting it') ? true : undefined),
      10_000,
    );
    for (let i = 0; i < 6; i++) expect((await fresh('GET', '/healthz')).status).toBe(200);
    const after = await gateway.waitFor(
      'a replacement worker',
      async () => {
        const now = gatewayProcesses();
        return now.length === 4 && !now.some((p) => p.pid === victim.pid) ? now : undefined;
      },
      30_000,
    );
    expect(after[0]!.pid).toBe(supervisor.pid);
    await gateway.waitFor(
      'the replacement to answer',
      async () => ((await fresh('GET', '/readyz')).status === 200 ? true : undefined),
      30_000,
    );
  });

  it('stops every process and PostgreSQL on SIGINT', async () => {
    const pids = gatewayProcesses().map((p) => p.pid);
    expect(pids.length).toBe(4);
    await gateway.stop();
    const alive = pids.filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
    expect(alive).toEqual([]);
    const postgres = execFileSync('ps', ['-eo', 'args='], { encoding: 'utf8' })
      .split('\n')
      .filter((a) => a.includes(gateway.dataDir));
    expect(postgres).toEqual([]);
  });
});

describe('lianzheng serve with API_WORKERS=2', () => {
  /** `lianzheng serve` with two api workers on a data folder of its own, its output collected. */
  async function serve() {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'lz-e2e-serve-workers-'));
    const port = await freePort();
    const run = { dataDir, port, output: '' };
    const child = spawn(process.execPath, ['scripts/lianzheng.mjs', 'serve'], {
      cwd: path.resolve(import.meta.dirname, '../..'),
      env: {
        ...process.env,
        DATA_DIR: dataDir,
        PORT: String(port),
        HOST: '127.0.0.1',
        API_WORKERS: '2',
        DATABASE_URL: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (d) => {
      run.output += d;
    });
    child.stderr.on('data', (d) => {
      run.output += d;
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const cleanUp = async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      await fs.rm(dataDir, { recursive: true, force: true });
    };
    return { run, child, exited, cleanUp };
  }

  /** Waits up to 120 s (or until the process exits) for `done` to hold. */
  async function waitFor(child: { exitCode: number | null }, done: () => Promise<boolean> | boolean) {
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline && child.exitCode === null) {
      if (await done()) return true;
      await sleep(100);
    }
    return false;
  }

  // The CLI loads TypeScript through tsx in-process, not with --import: its workers must still
  // get tsx (they once failed with ERR_UNKNOWN_FILE_EXTENSION).
  it('starts the supervised gateway and stops it cleanly on SIGTERM', async () => {
    const { run, child, exited, cleanUp } = await serve();
    try {
      const ready = await waitFor(child, () =>
        fetch(`http://127.0.0.1:${run.port}/readyz`).then(
          (r) => r.status === 200,
          () => false,
        ),
      );
      expect(ready, run.output.slice(-3000)).toBe(true);
      child.kill('SIGTERM');
      expect(await exited, run.output.slice(-3000)).toBe(0);
      expect(run.output).toContain('shutting down the gateway processes');
    } finally {
      await cleanUp();
    }
  });

  // CI once sent SIGTERM when the first api worker answered /readyz and the second was still
  // starting: the supervisor took that worker's exit for a failed start and exited 1.
  it('takes a SIGTERM while the api processes are still starting for a stop, not a failed start', async () => {
    const { run, child, exited, cleanUp } = await serve();
    try {
      // The sealer listens first; the api workers are forked then and need seconds to listen.
      const sealerUp = await waitFor(child, () =>
        /"role":"sealer","msg":"gateway listening"/.test(run.output),
      );
      expect(sealerUp, run.output.slice(-3000)).toBe(true);
      child.kill('SIGTERM');
      expect(await exited, run.output.slice(-3000)).toBe(0);
      expect(run.output).toContain('shutting down the gateway processes');
      expect(run.output).not.toContain('did not start');
      const postgres = execFileSync('ps', ['-eo', 'args='], { encoding: 'utf8' })
        .split('\n')
        .filter((a) => a.includes(run.dataDir));
      expect(postgres).toEqual([]);
    } finally {
      await cleanUp();
    }
  });
});
