// PostgreSQL stopped under load (pg_ctl stop, as the gateway's storage drives it) for
// RELIABILITY_DB_OUTAGE_MS (default 10 s; the 30 s with RELIABILITY_DB_OUTAGE_MS=30000):
// every request gets a quick 503 problem+json — never a 500, never a hang beyond the request
// timeout — /readyz says the database is why, and the service comes back by itself when the
// database does, with every 202 recorded and the audit clean. A clean stop is an operator's act,
// which the gateway's watchdog leaves alone; then the postmaster is killed with -9 under load,
// and the watchdog must bring it back with nobody's help.

import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { sha256, toHex } from '@lianzheng/proof';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkEndState,
  embeddedPg,
  freePort,
  type GatewayProcess,
  gatewayProcess,
  type LoadLog,
  loadOnNewProject,
  makeDataDir,
  sleep,
  tokensFor,
  waitAllRecorded,
} from './reliability-support.ts';

const OUTAGE_MS = Number(process.env.RELIABILITY_DB_OUTAGE_MS ?? 10_000);
const REQUEST_TIMEOUT_MS = 2000;
/** A 503 must come within the request timeout, plus scheduling slack on a busy 2-core machine. */
const QUICK_MS = REQUEST_TIMEOUT_MS + 1500;

let gateway: GatewayProcess;
let dataDir = '';
let pool: pg.Pool | undefined;

beforeAll(async () => {
  dataDir = await makeDataDir('lz-e2e-dbdown-');
  gateway = gatewayProcess({
    dataDir,
    port: await freePort(),
    env: { REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS) },
  });
  await gateway.start();
});

afterAll(async () => {
  await pool?.end().catch(() => {});
  const db = embeddedPg(dataDir);
  if (!(await db.running())) await db.start().catch(() => {});
  await gateway?.stop();
  if (await db.running()) await db.stop().catch(() => {});
  if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
});

async function probe(url: string, init: RequestInit = {}) {
  const started = performance.now();
  const res = await fetch(`${gateway.base}${url}`, { ...init, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  return {
    status: res.status,
    ms: performance.now() - started,
    type: res.headers.get('content-type') ?? '',
    body: text.startsWith('{') ? JSON.parse(text) : text,
  };
}

/** The load generator's own view: anything but a 202 or a quick 503 problem (a 500, a hang). */
function notQuick503sOr202s(log: LoadLog) {
  return log.outcomes.filter(
    (o) =>
      (o.status !== 202 && o.status !== 503) ||
      (o.status === 503 && !o.contentType?.startsWith('application/problem+json')) ||
      o.ms > QUICK_MS,
  );
}

/** Once every accepted submission is recorded: what the end-state checks find wrong. */
async function endStateProblems(log: LoadLog) {
  if (!pool) {
    pool = new pg.Pool({ connectionString: await embeddedPg(dataDir).url(), max: 4 });
    // Its idle clients are cut when a test kills the postmaster.
    pool.on('error', () => {});
  }
  await waitAllRecorded(pool);
  const vkey = (await (await fetch(`${gateway.base}/v1/log/key`)).text()).trim();
  const { problems } = await checkEndState(pool, log, { checkpointKeys: [vkey] });
  return problems;
}

describe('PostgreSQL stopped under load', () => {
  it('answers quick 503s, says why, and resumes by itself', async () => {
    const db = embeddedPg(dataDir);
    const {
      project,
      tokens,
      log,
      stop: stopLoad,
    } = await loadOnNewProject({ base: gateway.base, dataDir, concurrency: 8 });
    const before = [...log.accepted.entries()];
    expect(before.length).toBeGreaterThan(0);
    const [knownId, knownDigest] = before[0]!;

    await db.stop();
    const downAt = Date.now();
    const auth = { authorization: `Bearer ${tokens.unit}`, 'content-type': 'application/json' };
    const seen: { what: string; status: number; ms: number; type: string; code?: string }[] = [];
    let readyReason = '';
    while (Date.now() - downAt < OUTAGE_MS) {
      const post = await probe('/v1/evidence', {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({
          sha256: toHex(sha256(randomBytes(16))),
          projectId: project.id,
          kind: 'notice',
          visibility: 'public',
        }),
      });
      const verify = await probe(`/v1/verify/${knownDigest}`);
      const evidence = await probe(`/v1/evidence/${knownId}`);
      const projectPage = await probe(`/v1/projects/${project.id}/records`);
      const checkpoint = await probe('/v1/log/checkpoint');
      for (const [what, r] of Object.entries({ post, verify, evidence, projectPage, checkpoint })) {
        seen.push({ what, status: r.status, ms: r.ms, type: r.type, code: r.body?.code });
      }
      const ready = await probe('/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body.ready).toBe(false);
      expect(ready.body.checks.database.ok).toBe(false);
      readyReason = ready.body.checks.database.reason;
      expect((await probe('/healthz')).status).toBe(200);
      await sleep(300);
    }
    expect(readyReason).toMatch(/\S/);
    expect(gateway.logged(/shut down cleanly by someone else/)).toBe(true);
    // Every answer during the outage: a 503 problem+json, quickly.
    const bad = seen.filter(
      (s) => s.status !== 503 || !s.type.startsWith('application/problem+json') || s.ms > QUICK_MS,
    );
    expect(bad).toEqual([]);
    expect(new Set(seen.map((s) => s.code))).toEqual(new Set(['SERVICE_UNAVAILABLE']));

    await db.start();
    const upAt = Date.now();
    let resumedIn = -1;
    while (Date.now() - upAt < 30_000) {
      const ready = await probe('/readyz');
      if (ready.status === 200) {
        resumedIn = Date.now() - upAt;
        break;
      }
      await sleep(200);
    }
    expect(resumedIn).toBeGreaterThanOrEqual(0);
    const after = await probe('/v1/evidence', {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({
        sha256: toHex(sha256(randomBytes(16))),
        projectId: project.id,
        kind: 'notice',
        visibility: 'public',
      }),
    });
    expect(after.status).toBe(202);
    log.accepted.set(after.body.id, after.body.sha256);
    await sleep(500);
    await stopLoad();

    expect(notQuick503sOr202s(log)).toEqual([]);
    expect(log.outcomes.some((o) => o.status === 503)).toBe(true);
    expect(log.lost).toBe(0);

    const problems = await endStateProblems(log);
    console.info(
      `db outage: ${OUTAGE_MS} ms down, ${seen.length} probes all 503 (max ${Math.round(
        Math.max(...seen.map((s) => s.ms)),
      )} ms), ready again ${resumedIn} ms after the database, ${log.accepted.size} answered 202`,
    );
    expect(problems).toEqual([]);
  });
  it('brings a postmaster killed with -9 back by itself, losing no 202', async () => {
    const db = embeddedPg(dataDir);
    // On its own too: the test above leaves the database running unless it failed midway.
    if (!(await db.running())) await db.start();
    const { log, stop: stopLoad } = await loadOnNewProject({ base: gateway.base, dataDir, concurrency: 8 });
    const acceptedBefore = log.accepted.size;
    expect(acceptedBefore).toBeGreaterThan(0);

    const pidFile = path.join(dataDir, 'pg', 'data', 'postmaster.pid');
    const pid = Number((await fs.readFile(pidFile, 'utf8')).split('\n')[0]);
    process.kill(pid, 'SIGKILL');
    const killedAt = Date.now();
    // Nothing but the gateway's own watchdog may start it again. Resumed means ready on a new
    // postmaster: right after the kill the gateway may not have noticed yet, and the old one's
    // pid file still stands.
    let resumedIn = -1;
    while (Date.now() - killedAt < 60_000) {
      const current = Number((await fs.readFile(pidFile, 'utf8').catch(() => '')).split('\n')[0]);
      const ready = await probe('/readyz');
      if (ready.status === 200 && current > 0 && current !== pid && (await db.running())) {
        resumedIn = Date.now() - killedAt;
        break;
      }
      await sleep(200);
    }
    expect(resumedIn, gateway.output().slice(-3000)).toBeGreaterThanOrEqual(0);
    const acceptedAtResume = log.accepted.size;
    await sleep(1500);
    await stopLoad();
    expect(log.accepted.size).toBeGreaterThan(acceptedAtResume);
    expect(gateway.logged(/not shut down cleanly; restarting it/)).toBe(true);
    expect(gateway.logged(/^PostgreSQL restarted$/)).toBe(true);
    const metrics = await fetch(`${gateway.base}/metrics`, {
      headers: { authorization: `Bearer ${(await tokensFor(dataDir, 'ops')).admin}` },
    });
    expect(await metrics.text()).toMatch(/^embedded_postgres_restarts_total 1$/m);

    // A connection cut by the crash is a 503; never a 500, and nothing answered 202 is lost.
    expect(notQuick503sOr202s(log)).toEqual([]);
    expect(log.lost).toBe(0);

    const problems = await endStateProblems(log);
    console.info(
      `postmaster killed: ready again ${resumedIn} ms later by the watchdog, ${log.accepted.size} answered 202`,
    );
    expect(problems).toEqual([]);
  });
});
