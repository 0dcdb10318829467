// `lianzheng package` and `lianzheng verify-package` (issue #24): the package is fetched from a
// listening gateway, then the gateway is stopped and every network call made impossible, and the
// package is checked from the file alone — passed as made, refused (exit 1, the member named) with
// a byte changed in any member, exit 7 against a trust.json that pins other keys.
import fs from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../gateway/src/cli/main.ts';
import { MEMBERS } from '../../gateway/src/evidence-package/checks.ts';
import { readZip, writeZip } from '../../gateway/src/evidence-package/zip.ts';
import { seedProject, startGatewayFixture } from './gateway-fixture.ts';
import { demoProject, type TestDatabase } from './pipeline-support.ts';

let db: TestDatabase;
let app: FastifyInstance | undefined;
let work: string;
let gateway = '';
let token = '';
let recordId = '';
const project = demoProject();

function capture() {
  const lines: string[] = [];
  return { lines, out: { log: (s: string) => lines.push(s), error: (s: string) => lines.push(s) } };
}

beforeAll(async () => {
  const fixture = await startGatewayFixture();
  db = fixture.db;
  app = fixture.app;
  await app.listen({ port: 0, host: '127.0.0.1' });
  gateway = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'lianzheng-package-cli-'));
  token = await fixture.token({ role: 'unit', org: project.ownerOrg });
  const ids = await seedProject(app, { authorization: `Bearer ${token}` }, project, {
    payment: {
      kind: 'payment_approval',
      visibility: 'restricted',
      title: '进度款审批',
      amount: '120000',
      milestone: 'm1',
    },
  });
  recordId = ids.payment!;
  await fs.writeFile(
    path.join(work, 'trust.json'),
    (await app.inject({ method: 'GET', url: '/v1/trust.json' })).body,
  );
});

afterAll(async () => {
  await app?.close();
  await db?.stop();
  if (work) await fs.rm(work, { recursive: true, force: true });
});

/** Runs verify-package with every way out to the network shut. */
async function verifyOffline(args: string[]) {
  const realFetch = globalThis.fetch;
  globalThis.fetch = () => Promise.reject(new Error('verify-package must not use the network'));
  try {
    const { lines, out } = capture();
    const code = await run(['verify-package', ...args], {}, out);
    return { code, text: lines.join('\n') };
  } finally {
    globalThis.fetch = realFetch;
  }
}

describe('lianzheng package / verify-package', () => {
  const zipPath = () => path.join(work, 'package.zip');

  it("package saves the record's package from the gateway", async () => {
    const { lines, out } = capture();
    const code = await run(
      ['package', recordId, '--out', zipPath(), '--gateway', gateway, '--token', token],
      {},
      out,
    );
    expect(code, lines.join('\n')).toBe(0);
    const files = await readZip(await fs.readFile(zipPath()));
    expect(JSON.parse(files.get(MEMBERS.bundle)!.toString()).details.title).toBe('进度款审批');
    // Refusals come back as the gateway's problem codes.
    const missing = capture();
    expect(
      await run(
        ['package', '01a24df4-d339-7062-b377-217578f1c5d8', '--out', zipPath() + '.x', '--gateway', gateway],
        {},
        missing.out,
      ),
    ).toBe(4);
    expect(missing.lines.join('\n')).toContain('NOT_FOUND');
    expect(await run(['package', recordId], {}, capture().out)).toBe(2);
  });

  it('verify-package passes it with the gateway stopped and no network', async () => {
    await app!.close();
    app = undefined;
    const { code, text } = await verifyOffline([zipPath(), '--trust', path.join(work, 'trust.json')]);
    expect(code, text).toBe(0);
    expect(text).toContain('PACKAGE VERIFIED');
    expect(text).toContain('PASS  manifest.signature');
    expect(text).toContain('PASS  certificate.signature');
    expect(text).toContain('PASS  bundle.inclusion');
    expect(text).not.toMatch(/^FAIL/m);
  });

  it('refuses a byte changed in any member (exit 1), naming it', async () => {
    const files = await readZip(await fs.readFile(zipPath()));
    for (const [name, data] of files) {
      const changed = Buffer.from(data);
      const at = Math.floor(changed.length / 3);
      changed[at] = changed[at]! ^ 0x20;
      const tampered = path.join(work, 'tampered.zip');
      await fs.writeFile(
        tampered,
        await writeZip(
          [...files].map(([n, d]) => ({ name: n, data: n === name ? changed : d })),
          new Date(),
        ),
      );
      const { code, text } = await verifyOffline([tampered, '--trust', path.join(work, 'trust.json')]);
      expect(code, `${name}\n${text}`).toBe(1);
      const refused = /^PACKAGE REFUSED: (.*)$/m.exec(text)?.[1] ?? '';
      const expected =
        name === MEMBERS.manifest || name === MEMBERS.manifestJws
          ? 'manifest.signature'
          : name === MEMBERS.manifestToken
            ? 'manifest.timestamp'
            : `file:${name}`;
      expect(refused, name).toContain(expected);
    }
  });

  it('exits 7 when the pinned trust.json names other keys, 2 on usage errors', async () => {
    const trust = JSON.parse(await fs.readFile(path.join(work, 'trust.json'), 'utf8'));
    const other = path.join(work, 'other-trust.json');
    await fs.writeFile(other, JSON.stringify({ ...trust, checkpointKeys: ['other+00000000+AQ=='] }));
    const { code, text } = await verifyOffline([zipPath(), '--trust', other]);
    expect(code, text).toBe(7);
    expect(text).toContain('KEYS_NOT_PINNED');
    expect((await verifyOffline([])).code).toBe(2);
    expect((await verifyOffline([path.join(work, 'nope.zip')])).code).toBe(2);
    // Not a ZIP at all.
    const junk = path.join(work, 'junk.zip');
    await fs.writeFile(junk, 'not a zip');
    const notZip = await verifyOffline([junk]);
    expect(notZip.code).toBe(1);
    expect(notZip.text).toContain('PACKAGE_MALFORMED');
  });
});
