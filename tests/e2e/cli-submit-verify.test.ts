// `lianzheng submit FILE` and `lianzheng verify FILE` against a running gateway, as a project
// unit's clerk would use them: the file is hashed locally with SHA-256 and SM3, the record is
// written by the ledger with both, and verifying the file checks both; a wrong SM3 fails (exit 1).
import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  embeddedPg,
  freePort,
  type GatewayProcess,
  gatewayProcess,
  lianzheng,
  makeDataDir,
  registerProject,
  testProject,
  tokensFor,
  waitAllRecorded,
} from './reliability-support.ts';

let dataDir = '';
let gateway: GatewayProcess;

beforeAll(async () => {
  dataDir = await makeDataDir('lz-e2e-cli-');
  gateway = gatewayProcess({ dataDir, port: await freePort() });
  await gateway.start();
});

afterAll(async () => {
  await gateway?.stop();
  if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
});

describe('lianzheng submit / verify with a file', () => {
  it('records SHA-256 and SM3 from the file and checks both when verifying it', async () => {
    const project = testProject();
    const tokens = await tokensFor(dataDir, project.ownerOrg);
    await registerProject(gateway.base, tokens.unit, project);
    const file = path.join(dataDir, '验收报告.pdf');
    await fs.writeFile(
      file,
      Buffer.from('%PDF-1.7 acceptance report, signed by three parties\n'.repeat(200)),
    );

    const submitted = lianzheng(
      [
        'submit',
        file,
        '--project',
        project.id,
        '--kind',
        'notice',
        '--title',
        '验收公示',
        '--org',
        project.ownerOrg,
        '--gateway',
        gateway.base,
      ],
      dataDir,
    );
    expect(submitted.status, submitted.out).toBe(0);
    const { id, sha256 } = JSON.parse(submitted.out.slice(submitted.out.indexOf('{'))) as {
      id: string;
      sha256: string;
    };

    const pool = new pg.Pool({ connectionString: await embeddedPg(dataDir).url(), max: 2 });
    let digests: { sha256: string; sm3?: string };
    try {
      await waitAllRecorded(pool);
      const { rows } = await pool.query<{ record_json: string }>(
        'select record_json from submissions where id = $1',
        [id],
      );
      digests = JSON.parse(rows[0]!.record_json).digests;
    } finally {
      await pool.end();
    }
    expect(digests.sha256).toBe(sha256);
    expect(digests.sm3).toMatch(/^[0-9a-f]{64}$/);

    const verified = lianzheng(['verify', file, '--gateway', gateway.base], dataDir);
    expect(verified.status, verified.out).toBe(0);
    expect(verified.out).toMatch(/^VERIFIED /m);
    expect(verified.out).toContain(`SM3 ${digests.sm3}`);

    // The same SHA-256 with another SM3: the digest step fails, and so does the command.
    const wrong = lianzheng(
      ['verify', '--sha256', sha256, '--sm3', 'f'.repeat(64), '--gateway', gateway.base],
      dataDir,
    );
    expect(wrong.status, wrong.out).toBe(1);
    expect(wrong.out).toMatch(/FAIL +digest \(DIGEST_MISMATCH\): SM3: /);
  });
});
