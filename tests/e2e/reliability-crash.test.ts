// kill -9 of the gateway at random moments under load, again and again. The process dies with
// requests in flight, group commits half-way, batches sealed and not recorded, recorded and not
// confirmed. After the last restart: every submission that got a 202 is in PostgreSQL, in the log
// and on the ledger exactly once, the audit is clean, and every checkpoint seen along the way is
// consistent with every later one.
//
// RELIABILITY_KILLS (default 20) and RELIABILITY_LOAD_MS (the longest burst, default 700) scale it.

import { randomInt } from 'node:crypto';
import fs from 'node:fs/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkCheckpointsConsistent,
  checkEndState,
  embeddedPg,
  freePort,
  type GatewayProcess,
  gatewayProcess,
  LoadLog,
  latestCheckpoint,
  lianzheng,
  makeDataDir,
  registerProject,
  runLoad,
  sleep,
  testProject,
  tokensFor,
  waitAllRecorded,
} from './reliability-support.ts';

const KILLS = Number(process.env.RELIABILITY_KILLS ?? 20);
const LOAD_MS = Number(process.env.RELIABILITY_LOAD_MS ?? 700);

let gateway: GatewayProcess;
let dataDir = '';
let pool: pg.Pool | undefined;

beforeAll(async () => {
  dataDir = await makeDataDir('lz-e2e-crash-');
  // Small batches and a short seal interval, so kills land in every phase of the pipeline.
  gateway = gatewayProcess({
    dataDir,
    port: await freePort(),
    env: { SEAL_INTERVAL_MS: '30', SEAL_MAX_ITEMS: '40' },
  });
  await gateway.start();
});

afterAll(async () => {
  await pool?.end().catch(() => {});
  await gateway?.stop();
  const db = embeddedPg(dataDir);
  if (await db.running()) await db.stop().catch(() => {});
  if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
});

describe('kill -9 under load', () => {
  it(`loses and doubles nothing over ${KILLS} crashes`, async () => {
    const project = testProject();
    const tokens = await tokensFor(dataDir, project.ownerOrg);
    await registerProject(gateway.base, tokens.unit, project);
    const log = new LoadLog();
    const notes: string[] = [];

    for (let round = 0; round < KILLS; round++) {
      const stop = new AbortController();
      const load = runLoad({
        base: gateway.base,
        token: tokens.unit,
        projectId: project.id,
        concurrency: 12,
        signal: stop.signal,
        log,
      });
      // A random moment: sometimes right after start, sometimes mid-batch.
      await sleep(randomInt(40, LOAD_MS));
      const note = await latestCheckpoint(gateway.base);
      if (note) notes.push(note);
      await sleep(randomInt(0, 60));
      await gateway.kill9();
      stop.abort();
      await load;
      await gateway.start();
    }

    // Let the last restart drain the outbox, then look at the end state from outside.
    const db = embeddedPg(dataDir);
    pool = new pg.Pool({ connectionString: await db.url(), max: 4 });
    await waitAllRecorded(pool);
    const final = await latestCheckpoint(gateway.base);
    expect(final).toBeDefined();
    notes.push(final!);

    const vkey = (await (await fetch(`${gateway.base}/v1/log/key`)).text()).trim();
    const { recorded, problems } = await checkEndState(pool, log, { checkpointKeys: [vkey] });
    console.info(
      `crash: ${KILLS} kills, ${log.accepted.size} answered 202, ${log.lost} cut off, ` +
        `${recorded} recorded, ${new Set(notes).size} checkpoints compared`,
    );
    expect(problems).toEqual([]);
    expect(log.accepted.size).toBeGreaterThan(KILLS * 5);
    // Requests cut off by the kills may or may not have been committed; nothing beyond them is.
    expect(recorded).toBeGreaterThanOrEqual(log.accepted.size);
    expect(recorded).toBeLessThanOrEqual(log.accepted.size + log.unknown.size);
    expect(log.lost).toBeGreaterThan(0);
    // No answer under load was a 5xx: requests either got their answer or lost their connection.
    expect(log.outcomes.filter((o) => o.status >= 500)).toEqual([]);

    // Checkpoints of several different sizes were compared, not one seen again and again.
    expect(new Set(notes.map((n) => n.split('\n')[1])).size).toBeGreaterThanOrEqual(Math.min(4, KILLS));
    expect(await checkCheckpointsConsistent(gateway.base, notes)).toEqual([]);
    // The final checkpoint covers every recorded leaf.
    expect(Number(final!.split('\n')[1])).toBe(recorded);

    // The operator's own check, as a command: `lianzheng audit` on the same DATA_DIR (it adopts
    // the running PostgreSQL, checks receipts and checkpoints with the keys it finds there, and
    // replays every block through the contract).
    const audit = lianzheng(['audit', '--replay'], dataDir);
    expect(audit.status, audit.out).toBe(0);
    expect(audit.out).toMatch(/^clean$/m);
    expect(audit.out).not.toMatch(/not checked/);
  });
});
