// GATEWAY_ROLE with real processes on one PostgreSQL: an `api` process accepts, two `sealer`
// processes seal and record. Everything answered 202 is recorded exactly once — in the database,
// in the log and on the embedded ledger — and the two sealers' steps never overlap in time (each
// logs when it took the seal lock and when it confirmed). Then, with the sealers gone, the api's
// /readyz says so, and a sealer with a ten-minute interval is woken by the api's NOTIFY alone.

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { sha256, toHex } from '@lianzheng/proof';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../gateway/src/auth/api-keys.ts';
import { issueDevToken, loadDevIssuerKey } from '../../gateway/src/auth/dev-issuer.ts';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../../gateway/src/storage/embedded-postgres.ts';

const root = path.resolve(import.meta.dirname, '../..');
const ORG = 'roles-county-roads';
const PROJECT = {
  id: 'roles-620102-county-road',
  name: 'Roles test road',
  regionCode: '620102',
  ownerOrg: ORG,
  budget: '100000000',
  milestones: [{ id: 'm1', name: 'm1', dueDate: '2030-01-01' }],
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

interface RoleProcess {
  role: string;
  base: string;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

let dir = '';
let server: EmbeddedPostgres;
let pool: pg.Pool;
const running: RoleProcess[] = [];

async function startRole(role: 'api' | 'sealer', env: Record<string, string> = {}): Promise<RoleProcess> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, ['--import', 'tsx', 'gateway/src/server.ts'], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      GATEWAY_ROLE: role,
      DATABASE_URL: server.url,
      DATA_DIR: path.join(dir, 'gw'),
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      SEAL_INTERVAL_MS: '40',
      SEAL_MAX_ITEMS: '37',
      TSA_ENABLED: 'false',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${role} exited (${child.exitCode}):\n${out.slice(-3000)}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${role} did not become ready:\n${out.slice(-3000)}`);
    }
    try {
      const res = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  const proc: RoleProcess = {
    role,
    base,
    child,
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(20_000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
  running.push(proc);
  return proc;
}

/** The 'batch recorded' lines a sealer logged (pino JSON). */
function recordedBatches(
  p: RoleProcess,
): { fromSize: number; toSize: number; lockedAt: number; confirmedAt: number }[] {
  return p
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{') && l.includes('"batch recorded"'))
    .map((l) => JSON.parse(l));
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const digest = () => toHex(sha256(randomBytes(32)));

let api: RoleProcess;
let apiKey = '';

/** The fields these tests read from a 202 (single or batch). */
interface Answer {
  id: string;
  results: { id: string }[];
}

async function post(body: unknown, route = '/v1/evidence'): Promise<{ status: number; body: Answer }> {
  const res = await fetch(`${api.base}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

const item = (sha: string) => ({
  projectId: PROJECT.id,
  kind: 'construction_log',
  visibility: 'public',
  sha256: sha,
});

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lz-roles-'));
  server = await startEmbeddedPostgres({ dir: path.join(dir, 'pg') });
  pool = new pg.Pool({ connectionString: server.url, max: 4 });
});

afterAll(async () => {
  for (const p of running.reverse()) await p.stop();
  await pool?.end();
  await server?.stop();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

describe('GATEWAY_ROLE=api beside two GATEWAY_ROLE=sealer processes', () => {
  let sealers: RoleProcess[] = [];
  const accepted: { id: string; sha256: string }[] = [];

  it('records every accepted submission exactly once, and the sealers never overlap', async () => {
    // The first sealer migrates the database and makes the keys the others share.
    sealers = [await startRole('sealer')];
    sealers.push(await startRole('sealer'));
    api = await startRole('api', { SEALER_STALL_MS: '1500' });

    // A sealer answers the operators' routes only.
    expect((await fetch(`${sealers[0]!.base}/v1/keys`)).status).toBe(404);
    expect((await fetch(`${sealers[0]!.base}/healthz`)).status).toBe(200);

    const key = await loadDevIssuerKey(path.join(dir, 'gw', 'keys'));
    const token = await issueDevToken(key, { role: 'unit', org: ORG, audience: 'lianzheng', ttl: 600 });
    const reg = await fetch(`${api.base}/v1/projects`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(PROJECT),
    });
    expect(reg.status).toBeLessThan(300);
    apiKey = (await createApiKey(pool, { org: ORG, role: 'partner', label: 'roles' })).key;

    // Waves of single and batch submissions over a few seconds, so both sealers get turns.
    for (let wave = 0; wave < 12; wave++) {
      const singles = Array.from({ length: 12 }, () => digest());
      const answers = await Promise.all(singles.map((sha) => post(item(sha))));
      answers.forEach((a, i) => {
        expect(a.status).toBe(202);
        accepted.push({ id: a.body.id, sha256: singles[i]! });
      });
      const batch = Array.from({ length: 40 }, () => digest());
      const b = await post({ items: batch.map(item) }, '/v1/evidence/batch');
      expect(b.status).toBe(202);
      b.body.results.forEach((r: { id: string }, i: number) => {
        accepted.push({ id: r.id, sha256: batch[i]! });
      });
      await sleep(150);
    }
    const n = accepted.length;
    expect(n).toBe(12 * 52);

    await waitFor(
      'every submission recorded',
      async () => {
        const { rows } = await pool.query<{ n: string }>(
          "select count(*) as n from submission_states where status = 'recorded'",
        );
        return Number(rows[0]!.n) === n ? true : undefined;
      },
      45_000,
    );

    // The database: each accepted id recorded once, leaf indexes exactly 0..n-1.
    const subs = await pool.query<{ id: string; leaf_index: string }>(
      'select id, leaf_index from submission_states order by leaf_index',
    );
    expect(subs.rows.length).toBe(n);
    expect(subs.rows.map((r) => Number(r.leaf_index))).toEqual([...Array(n).keys()]);
    expect(new Set(subs.rows.map((r) => r.id))).toEqual(new Set(accepted.map((a) => a.id)));

    // The outbox: contiguous batches, all recorded, the last at size n with its checkpoint.
    const batches = await pool.query<{ from_size: string; to_size: string; status: string }>(
      'select from_size, to_size, status from ledger_batches order by from_size',
    );
    let size = 0;
    for (const b of batches.rows) {
      expect(Number(b.from_size)).toBe(size);
      expect(b.status).toBe('recorded');
      size = Number(b.to_size);
    }
    expect(size).toBe(n);
    const cp = await pool.query<{ size: string }>('select max(size) as size from checkpoints');
    expect(Number(cp.rows[0]!.size)).toBe(n);

    // The ledger: one RecordBatch block per batch, and every record in exactly one of them.
    const blocks = await pool.query<{ payload: Buffer; log_size: string }>(
      "select payload, log_size from ledger_blocks where fn = 'RecordBatch' order by number",
    );
    expect(blocks.rows.length).toBe(batches.rows.length);
    const onLedger: string[] = [];
    for (const b of blocks.rows) {
      const payload = JSON.parse(b.payload.toString()) as { args: string[] };
      const batch = JSON.parse(payload.args[0]!) as { records: { record: { id: string } }[] };
      for (const r of batch.records) onLedger.push(r.record.id);
    }
    expect(onLedger.length).toBe(n);
    expect(new Set(onLedger)).toEqual(new Set(accepted.map((a) => a.id)));

    // Both sealers worked, and no two steps held the seal lock at the same time.
    // (A sealer logs after its commit: wait for the pipes to deliver the last lines.)
    const steps = await waitFor(
      'every recorded batch in the sealers’ logs',
      async () => {
        const all = sealers.flatMap((s, who) => recordedBatches(s).map((b) => ({ ...b, who })));
        return all.length >= batches.rows.length ? all : undefined;
      },
      5000,
    );
    expect(steps.length).toBe(batches.rows.length);
    expect(new Set(steps.map((s) => s.who)).size).toBe(2);
    // A step holds the lock from `lockedAt` until its last batch is confirmed; a pipelined step
    // (SEAL_PIPELINE) records several batches, each logged with the step's `lockedAt`.
    const held = new Map<string, { lockedAt: number; until: number }>();
    for (const s of steps) {
      const step = held.get(`${s.who}:${s.lockedAt}`) ?? { lockedAt: s.lockedAt, until: 0 };
      step.until = Math.max(step.until, s.confirmedAt);
      held.set(`${s.who}:${s.lockedAt}`, step);
    }
    const spans = [...held.values()].sort((a, b) => a.lockedAt - b.lockedAt);
    for (let i = 1; i < spans.length; i++) {
      expect(spans[i]!.lockedAt).toBeGreaterThanOrEqual(spans[i - 1]!.until);
    }

    // Reads through the api see the sealers' work.
    const v = await fetch(`${api.base}/v1/verify/${accepted[0]!.sha256}`);
    expect(v.status).toBe(200);
    const vb = (await v.json()) as { records: { id: string; status: string }[] };
    expect(vb.records.map((r) => [r.id, r.status])).toEqual([[accepted[0]!.id, 'recorded']]);
    expect((await fetch(`${api.base}/readyz`)).status).toBe(200);
  });

  it('api /readyz reports a stalled sealer; a sealer is woken by NOTIFY, not by its interval', async () => {
    for (const s of sealers) await s.stop();
    const first = await post(item(digest()));
    expect(first.status).toBe(202);
    const stalled = await waitFor(
      'the api to report no sealer',
      async () => {
        const res = await fetch(`${api.base}/readyz`);
        return res.status === 503
          ? ((await res.json()) as { checks: { ledger: { reason: string } } })
          : undefined;
      },
      15_000,
    );
    expect(stalled.checks.ledger.reason.split(':')[0]).toBe('SEALER_STALLED');

    // Ten minutes between seals: only its first step (at start) and NOTIFY can seal anything.
    const sealer = await startRole('sealer', { SEAL_INTERVAL_MS: '600000', SEAL_MAX_ITEMS: '30' });
    await waitFor(
      'the pending submission recorded at the sealer start',
      async () => {
        const { rows } = await pool.query(
          "select 1 from submission_states where id = $1 and status = 'recorded'",
          [first.body.id],
        );
        return rows.length === 1 ? true : undefined;
      },
      15_000,
    );
    // The sealer's LISTEN is set up right after its first step; give it a moment.
    await sleep(500);
    const batch = Array.from({ length: 30 }, () => digest());
    const b = await post({ items: batch.map(item) }, '/v1/evidence/batch');
    expect(b.status).toBe(202);
    const ids = b.body.results.map((r: { id: string }) => r.id);
    await waitFor(
      'a full batch recorded after NOTIFY',
      async () => {
        const { rows } = await pool.query<{ n: string }>(
          "select count(*) as n from submission_states where id = any($1::uuid[]) and status = 'recorded'",
          [ids],
        );
        return Number(rows[0]!.n) === 30 ? true : undefined;
      },
      15_000,
    );
    expect((await fetch(`${api.base}/readyz`)).status).toBe(200);
    await sealer.stop();
  });
});
