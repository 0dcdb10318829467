// The data folder's disk fills up: DATA_DIR (with the embedded PostgreSQL's cluster) lives on a
// small tmpfs, and a filler file takes the rest of it under load. Submissions get 503 problems —
// never a 500 — the process stays up, and once the filler is deleted the service resumes by
// itself: every 202 recorded, the audit clean. Needs root (mount); skipped with the reason otherwise.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
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
  loadOnNewProject,
  sleep,
  waitAllRecorded,
} from './reliability-support.ts';

const TMPFS_SIZE = process.env.RELIABILITY_TMPFS_SIZE ?? '200m';

let mountPoint = '';
let skipReason = '';
let gateway: GatewayProcess | undefined;
let pool: pg.Pool | undefined;

function tryMount(dir: string): string {
  if (process.getuid?.() !== 0) return 'not root: mounting a tmpfs needs root';
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_SIZE},mode=0755`, 'tmpfs', dir], {
      stdio: 'pipe',
    });
    return '';
  } catch (e) {
    return `mount -t tmpfs failed: ${String((e as { stderr?: Buffer }).stderr ?? e).trim()}`;
  }
}

/** Writes zeros until the file system says ENOSPC; returns the bytes written. */
async function fillDisk(file: string): Promise<number> {
  const handle = await fs.open(file, 'w');
  const chunk = Buffer.alloc(1 << 20);
  let written = 0;
  try {
    for (;;) {
      const { bytesWritten } = await handle.write(chunk);
      written += bytesWritten;
      if (bytesWritten < chunk.length) break;
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    await handle.close().catch(() => {});
  }
  return written;
}

beforeAll(async () => {
  mountPoint = await fs.mkdtemp(path.join(os.tmpdir(), 'lz-e2e-diskfull-'));
  skipReason = tryMount(mountPoint);
  if (skipReason) return;
  gateway = gatewayProcess({
    dataDir: path.join(mountPoint, 'data'),
    port: await freePort(),
    env: { REQUEST_TIMEOUT_MS: '3000' },
  });
  await gateway.start();
});

afterAll(async () => {
  await pool?.end().catch(() => {});
  await gateway?.stop();
  if (gateway) {
    const db = embeddedPg(gateway.dataDir);
    if (await db.running()) await db.stop().catch(() => {});
  }
  if (!skipReason && mountPoint) {
    try {
      execFileSync('umount', [mountPoint], { stdio: 'pipe' });
    } catch {
      execFileSync('umount', ['-l', mountPoint], { stdio: 'pipe' });
    }
  }
  if (mountPoint) await fs.rm(mountPoint, { recursive: true, force: true });
});

describe('the data folder fills up', () => {
  it('answers 503s while full and recovers with nothing corrupt once space is freed', async (ctx) => {
    if (skipReason) {
      console.warn(`skipped: ${skipReason}`);
      ctx.skip();
      return;
    }
    const gw = gateway!;
    const {
      project,
      tokens,
      log,
      stop: stopLoad,
    } = await loadOnNewProject({
      base: gw.base,
      dataDir: gw.dataDir,
      concurrency: 6,
      warmupMs: 600,
    });
    const filler = path.join(mountPoint, 'filler');
    const filled = await fillDisk(filler);
    expect(filled).toBeGreaterThan(0);

    // Full: new submissions need new heap pages and WAL; they must be refused with a 503.
    const auth = { authorization: `Bearer ${tokens.unit}`, 'content-type': 'application/json' };
    const full: { status: number; type: string; code?: string }[] = [];
    const fullSince = Date.now();
    while (Date.now() - fullSince < 6000) {
      // Large titles use up pages fast.
      const res = await fetch(`${gw.base}/v1/evidence/batch`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({
          items: Array.from({ length: 50 }, () => ({
            sha256: toHex(sha256(randomBytes(16))),
            projectId: project.id,
            kind: 'notice',
            visibility: 'public',
            title: randomBytes(900).toString('hex'),
          })),
        }),
        signal: AbortSignal.timeout(20_000),
      });
      const text = await res.text();
      const entry = {
        status: res.status,
        type: res.headers.get('content-type') ?? '',
        code: undefined as string | undefined,
      };
      if (res.status === 202) {
        for (const r of JSON.parse(text).results) log.accepted.set(r.id, r.sha256);
      } else {
        try {
          entry.code = JSON.parse(text).code;
        } catch {
          // not JSON
        }
      }
      full.push(entry);
      expect(gw.child()?.exitCode ?? null).toBeNull();
      await sleep(100);
    }
    const refused = full.filter((f) => f.status !== 202);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.filter((f) => f.status !== 503 || !f.type.startsWith('application/problem+json'))).toEqual(
      [],
    );
    expect((await fetch(`${gw.base}/healthz`)).status).toBe(200);

    // Space comes back: the service resumes by itself.
    await fs.rm(filler);
    const freedAt = Date.now();
    let resumedIn = -1;
    while (Date.now() - freedAt < 60_000) {
      const res = await fetch(`${gw.base}/v1/evidence`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({
          sha256: toHex(sha256(randomBytes(16))),
          projectId: project.id,
          kind: 'notice',
          visibility: 'public',
        }),
      });
      if (res.status === 202) {
        const body = await res.json();
        log.accepted.set(body.id, body.sha256);
        resumedIn = Date.now() - freedAt;
        break;
      }
      await res.text();
      await sleep(250);
    }
    if (resumedIn < 0) {
      // Say why: what the gateway and PostgreSQL last logged.
      const pgLog = await fs.readFile(path.join(gw.dataDir, 'pg', 'server.log'), 'utf8').catch(() => '');
      console.log(
        `no 202 within 60 s of freeing space\n--- gateway\n${gw.output().slice(-4000)}\n--- PostgreSQL\n${pgLog.slice(-4000)}`,
      );
    }
    expect(resumedIn).toBeGreaterThanOrEqual(0);
    await sleep(500);
    await stopLoad();
    expect(log.outcomes.filter((o) => o.status >= 500 && o.status !== 503)).toEqual([]);

    const db = embeddedPg(gw.dataDir);
    pool = new pg.Pool({ connectionString: await db.url(), max: 4 });
    await waitAllRecorded(pool);
    const vkey = (await (await fetch(`${gw.base}/v1/log/key`)).text()).trim();
    const { problems, recorded } = await checkEndState(pool, log, { checkpointKeys: [vkey] });
    console.info(
      `disk full: ${filled >> 20} MiB filler, ${refused.length}/${full.length} refused with 503 while full, ` +
        `resumed ${resumedIn} ms after space was freed, ${log.accepted.size} answered 202, ${recorded} recorded`,
    );
    expect(problems).toEqual([]);
    expect((await fetch(`${gw.base}/readyz`)).status).toBe(200);
  });
});
