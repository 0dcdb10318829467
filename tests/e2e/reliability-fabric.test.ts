// kill -9 of a gateway that records on a real Fabric network (LEDGER=fabric), at random moments
// under load: the process dies with batches sealed and not submitted, submitted and not
// committed, committed and not confirmed in PostgreSQL. After the last restart every submission
// that got a 202 is recorded once in PostgreSQL and once on the channel at the same leaf index,
// the peers' root is the gateway's, and `lianzheng audit` — reading the channel through the
// finance bureau's peer — finds nothing to report.
//
// FABRIC_KILLS (default 5) scales it.

import { randomInt } from 'node:crypto';
import fs from 'node:fs/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FabricFixture, startFabricFixture } from './fabric-fixture.ts';
import {
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

const KILLS = Number(process.env.FABRIC_KILLS ?? 5);

let fabric: FabricFixture;
let gateway: GatewayProcess;
let dataDir = '';
let pool: pg.Pool | undefined;
let fabricEnv: Record<string, string> = {};

beforeAll(async () => {
  fabric = await startFabricFixture(27_700);
  fabricEnv = { LEDGER: 'fabric', ...fabric.network.gatewayEnv('finance') };
  dataDir = await makeDataDir('lz-e2e-fabric-crash-');
  // Small batches and a short seal interval, so the kills land in every phase of the pipeline.
  gateway = gatewayProcess({
    dataDir,
    port: await freePort(),
    env: { ...fabricEnv, SEAL_INTERVAL_MS: '50', SEAL_MAX_ITEMS: '60' },
  });
  await gateway.start();
});

afterAll(async () => {
  await pool?.end().catch(() => {});
  await gateway?.stop();
  const db = dataDir ? embeddedPg(dataDir) : undefined;
  if (db && (await db.running())) await db.stop().catch(() => {});
  if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
  await fabric?.stop();
});

describe('kill -9 of a gateway on Fabric, under load', () => {
  it(`loses and doubles nothing over ${KILLS} crashes`, async () => {
    const project = testProject();
    const tokens = await tokensFor(dataDir, project.ownerOrg);
    await registerProject(gateway.base, tokens.unit, project);
    const log = new LoadLog();

    for (let round = 0; round < KILLS; round++) {
      const stop = new AbortController();
      const load = runLoad({
        base: gateway.base,
        token: tokens.unit,
        projectId: project.id,
        concurrency: 8,
        signal: stop.signal,
        log,
      });
      // Long enough for batches to be in flight on the channel when the process dies.
      await sleep(randomInt(300, 1500));
      await gateway.kill9();
      stop.abort();
      await load;
      await gateway.start();
    }

    const db = embeddedPg(dataDir);
    pool = new pg.Pool({ connectionString: await db.url(), max: 4 });
    await waitAllRecorded(pool, 180_000);
    const final = await latestCheckpoint(gateway.base);
    expect(final).toBeDefined();
    const [, sizeLine, rootLine] = final!.split('\n');
    const size = Number(sizeLine);

    // PostgreSQL: every 202 recorded once, with a leaf.
    const ids = [...log.accepted.keys()];
    const { rows } = await pool.query<{ id: string; status: string; leaf_index: string | null }>(
      'select id::text, status, leaf_index from submission_states where id = any($1::uuid[])',
      [ids],
    );
    const leafOf = new Map(rows.map((r) => [r.id, r.leaf_index]));
    const notRecorded = rows.filter((r) => r.status !== 'recorded' && r.status !== 'anchored');
    expect(notRecorded).toEqual([]);
    expect(rows.length).toBe(ids.length);

    // The channel, through the construction bureau's peer: the project's trail names each
    // accepted record once, at the index PostgreSQL gave it, and nothing else.
    const trail = (await fabric.ledgerAs('construction').projectTrail(project.id)) as {
      record: { id: string };
      index: number;
    }[];
    const onLedger = new Map<string, number>();
    const twice: string[] = [];
    for (const r of trail) {
      if (onLedger.has(r.record.id)) twice.push(r.record.id);
      onLedger.set(r.record.id, r.index);
    }
    expect(twice).toEqual([]);
    const misplaced = ids.filter((id) => String(onLedger.get(id)) !== leafOf.get(id));
    expect(misplaced).toEqual([]);
    // Requests cut off by a kill may or may not have been committed; nothing beyond them is.
    expect(trail.length).toBeGreaterThanOrEqual(ids.length);
    expect(trail.length).toBeLessThanOrEqual(ids.length + log.unknown.size);

    const head = await fabric.ledgerAs('inspection').getCheckpoint();
    expect(head).toEqual({ size, root: Buffer.from(rootLine!, 'base64').toString('hex') });
    console.info(
      `fabric crash: ${KILLS} kills, ${log.accepted.size} answered 202, ${log.lost} cut off, ${trail.length} on the channel`,
    );
    expect(log.accepted.size).toBeGreaterThan(KILLS * 5);
    expect(log.outcomes.filter((o) => o.status >= 500)).toEqual([]);

    // The operator's own check: `lianzheng audit` reconciles PostgreSQL with the channel.
    const audit = lianzheng(['audit'], dataDir, fabricEnv);
    expect(audit.status, audit.out).toBe(0);
    expect(audit.out).toMatch(/^clean$/m);
    // …having read every record on the channel (this network holds only this test's project).
    expect(audit.out).toContain(`${trail.length} ledger records`);
    expect(audit.out).toContain("ledger blocks: the fabric ledger's chain is checked by its peers");
  });
});
