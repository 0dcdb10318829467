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

  it('a withdrawn record exits 5 and a superseded one 6, each saying so first; a standing one 0', async () => {
    const project = testProject();
    const tokens = await tokensFor(dataDir, project.ownerOrg);
    await registerProject(gateway.base, tokens.unit, project);
    const submit = (args: string[]) => {
      const r = lianzheng(
        ['submit', ...args, '--project', project.id, '--org', project.ownerOrg, '--gateway', gateway.base],
        dataDir,
      );
      expect(r.status, r.out).toBe(0);
      return JSON.parse(r.out.slice(r.out.indexOf('{'))) as { id: string; sha256: string };
    };
    const digest = (n: number) => n.toString(16).padStart(64, 'c');
    const withdrawn = submit(['--sha256', digest(1), '--kind', 'notice', '--title', '公示']);
    const older = submit(['--sha256', digest(2), '--kind', 'notice', '--title', '公示 v1']);
    const pool = new pg.Pool({ connectionString: await embeddedPg(dataDir).url(), max: 2 });
    try {
      await waitAllRecorded(pool);
      const withdrawal = submit([
        '--sha256',
        digest(3),
        '--kind',
        'withdrawal',
        '--refs',
        withdrawn.id,
        '--reason',
        '公示内容有误',
      ]);
      const newer = submit([
        '--sha256',
        digest(4),
        '--kind',
        'notice',
        '--title',
        '公示 v2',
        '--supersedes',
        older.id,
      ]);
      await waitAllRecorded(pool);

      const w = lianzheng(['verify', '--sha256', digest(1), '--gateway', gateway.base], dataDir);
      expect(w.status, w.out).toBe(5);
      expect(w.out).toMatch(
        new RegExp(
          `^WITHDRAWN ${withdrawn.id}: genuine, but withdrawn by ${withdrawal.id} on \\S+; reason: 公示内容有误$`,
          'm',
        ),
      );

      const s = lianzheng(['verify', '--sha256', digest(2), '--gateway', gateway.base], dataDir);
      expect(s.status, s.out).toBe(6);
      expect(s.out).toMatch(new RegExp(`^SUPERSEDED BY ${newer.id}: ${older.id} is genuine`, 'm'));

      const ok = lianzheng(['verify', '--sha256', digest(4), '--gateway', gateway.base], dataDir);
      expect(ok.status, ok.out).toBe(0);
      expect(ok.out).toMatch(new RegExp(`^VERIFIED ${newer.id}$`, 'm'));
      // The embedded ledger says what it is: one operator, no endorsement, nothing anchored.
      expect(ok.out).toContain(
        "  assurance: the gateway's embedded single-node ledger (one operator, no endorsement); not anchored (the operator does not anchor); time from a TSA certified by the gateway's own root; no witnesses",
      );

      // The API says the same, per record: standing and assurance.
      const answer = (await (await fetch(`${gateway.base}/v1/verify/${digest(1)}`)).json()) as {
        records: { standing: object; assurance: { ledger: object; onChain: boolean; time: object } }[];
      };
      expect(answer.records[0]!.standing).toMatchObject({
        state: 'withdrawn',
        by: withdrawal.id,
        reason: '公示内容有误',
      });
      expect(answer.records[0]!.assurance).toMatchObject({
        ledger: { level: 'embedded' },
        onChain: false,
        time: { level: 'operator-tsa' },
      });

      // Pinned keys: the gateway's own trust file passes; another receipt key fails loudly (exit 7).
      const trustFile = path.join(dataDir, 'trust.json');
      const trust = (await (await fetch(`${gateway.base}/v1/trust.json`)).json()) as {
        receiptKeys: { thumbprint: string }[];
      };
      await fs.writeFile(trustFile, JSON.stringify(trust));
      const pinned = lianzheng(
        ['verify', '--sha256', digest(4), '--gateway', gateway.base, '--trust', trustFile],
        dataDir,
      );
      expect(pinned.status, pinned.out).toBe(0);
      trust.receiptKeys = trust.receiptKeys.map((k) => ({ ...k, thumbprint: `x${k.thumbprint.slice(1)}` }));
      await fs.writeFile(trustFile, JSON.stringify(trust));
      const mismatch = lianzheng(
        ['verify', '--sha256', digest(4), '--gateway', gateway.base, '--trust', trustFile],
        dataDir,
      );
      expect(mismatch.status, mismatch.out).toBe(7);
      expect(mismatch.out).toContain('TRUST MISMATCH');
      expect(mismatch.out).not.toContain('VERIFIED');

      // --json carries the verdict too.
      const j = lianzheng(['verify', '--sha256', digest(2), '--gateway', gateway.base, '--json'], dataDir);
      expect(j.status).toBe(6);
      expect(JSON.parse(j.out.slice(j.out.indexOf('{')))).toMatchObject({
        verdict: 'superseded',
        results: [{ verdict: 'superseded', standing: { state: 'superseded', by: newer.id } }],
      });
    } finally {
      await pool.end();
    }
  });
});
