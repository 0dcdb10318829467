// An operator's backup and restore, with the commands the README gives: `lianzheng backup DIR`
// beside a gateway that keeps accepting, then — on a new DATA_DIR holding only the old keys —
// `lianzheng restore DIR` and `npm start`'s gateway on it, where every 202 answered before the
// backup is found and its bundle verifies with `lianzheng verify` from outside.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import {
  embeddedPg,
  freePort,
  type GatewayProcess,
  gatewayProcess,
  lianzheng,
  loadOnNewProject,
  makeDataDir,
  root,
  waitAllRecorded,
} from './reliability-support.ts';

const dirs: string[] = [];
const gateways: GatewayProcess[] = [];

afterAll(async () => {
  for (const g of gateways) await g.stop().catch(() => {});
  for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
});

describe('lianzheng backup / restore', () => {
  it('moves a running gateway’s evidence to a new DATA_DIR, where every earlier 202 verifies', async () => {
    const oldDir = await makeDataDir('lz-e2e-backup-old-');
    const newDir = await makeDataDir('lz-e2e-backup-new-');
    const backupDir = path.join(await makeDataDir('lz-e2e-backup-'), 'backup');
    dirs.push(oldDir, newDir, path.dirname(backupDir));

    const old = gatewayProcess({ dataDir: oldDir, port: await freePort() });
    gateways.push(old);
    await old.start();
    const { log, stop } = await loadOnNewProject({
      base: old.base,
      dataDir: oldDir,
      concurrency: 4,
      warmupMs: 1500,
    });
    const answeredBefore = new Map(log.accepted);
    expect(answeredBefore.size).toBeGreaterThan(0);

    // Taken while the load goes on.
    const backup = lianzheng(['backup', backupDir], oldDir);
    await stop();
    expect(backup.status, backup.out).toBe(0);
    expect(backup.out).toMatch(/^backed up \d+ tables, \d+ rows \(\d+ submissions\)/m);
    expect(backup.out).toMatch(/keys are not in it/);
    // A second backup into the same folder is refused, the first left whole.
    const again = lianzheng(['backup', backupDir], oldDir);
    expect(again.status, again.out).toBe(2);
    expect(again.out).toMatch(/OUT_NOT_EMPTY/);
    await old.stop();

    // The new machine: the old keys (kept apart, as the README says), then the restore.
    for (const sub of ['keys', 'pki']) {
      await fs.cp(path.join(oldDir, sub), path.join(newDir, sub), { recursive: true });
    }
    const restore = lianzheng(['restore', backupDir], newDir);
    expect(restore.status, restore.out).toBe(0);
    expect(restore.out).toMatch(/^restored \d+ tables, \d+ rows/m);
    // Audited with the keys: receipts and checkpoints signed by them, every leaf where it was.
    expect(restore.out).toMatch(/^clean$/m);
    expect(restore.out).not.toMatch(/not checked: .*signature/i);

    const moved = gatewayProcess({ dataDir: newDir, port: await freePort() });
    gateways.push(moved);
    await moved.start();
    const pool = new pg.Pool({ connectionString: await embeddedPg(newDir).url(), max: 2 });
    try {
      await waitAllRecorded(pool);
    } finally {
      await pool.end();
    }
    const sample = [...answeredBefore.values()].filter(
      (_, i) => i % Math.ceil(answeredBefore.size / 5) === 0,
    );
    for (const digest of sample) {
      const verify = spawnSync(
        process.execPath,
        ['scripts/lianzheng.mjs', 'verify', '--sha256', digest, '--gateway', moved.base],
        { cwd: root, encoding: 'utf8', timeout: 60_000 },
      );
      expect(verify.status, `${verify.stdout}${verify.stderr}`).toBe(0);
    }

    // A restore into a database that holds data is refused (the gateway still runs on it).
    const twice = lianzheng(['restore', backupDir], newDir);
    expect(twice.status, twice.out).toBe(2);
    expect(twice.out).toMatch(/TARGET_NOT_EMPTY/);
    expect((await fetch(`${moved.base}/readyz`)).status).toBe(200);
  });
});
