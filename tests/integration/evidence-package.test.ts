// The evidence package (issue #24): GET /v1/evidence/{id}/package and verify-package. The ZIP holds
// what the issue lists; the certificate PDF passes pdfsig and carries the Chinese text; every
// RFC 3161 token passes `openssl ts -verify`; the Python tool in the package checks the inclusion
// and the checkpoint signature; verify-package passes the package with the pinned trust.json and
// refuses it — naming the member — when any byte of any member changed; restricted details are
// inside only for those who may read them.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseCheckpoint, sha256, toHex } from '@lianzheng/proof';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pdfsig, pdftotext } from '../../gateway/src/documents/poppler.ts';
import { verifyPdfSignature } from '../../gateway/src/documents/verify.ts';
import { MEMBERS } from '../../gateway/src/evidence-package/checks.ts';
import { MANIFEST_COMMANDS } from '../../gateway/src/evidence-package/report.ts';
import { verifyEvidencePackage } from '../../gateway/src/evidence-package/verify.ts';
import { readZip, writeZip } from '../../gateway/src/evidence-package/zip.ts';
import { seedProject, startGatewayFixture } from './gateway-fixture.ts';
import { demoProject, type TestDatabase } from './pipeline-support.ts';

const run = promisify(execFile);

let db: TestDatabase;
let app: FastifyInstance;
let trust: unknown;
let work: string;
const project = { ...demoProject(), name: '村道硬化工程' };
const auth: Record<string, Record<string, string>> = {};
let ids: Record<string, string> = {};
const documents: Record<string, Buffer> = {};
const SECRET_TITLE = '进度款审批机密';
const SECRET_AMOUNT = '7310000000123';

const as = (who: string, opts: InjectOptions): Promise<LightMyRequestResponse> =>
  app.inject({ ...opts, headers: { ...(opts.headers as Record<string, string>), ...auth[who] } });

async function packageOf(who: string, id: string): Promise<Buffer> {
  const res = await as(who, { method: 'GET', url: `/v1/evidence/${id}/package` });
  expect(res.statusCode, res.body.slice(0, 300)).toBe(200);
  return res.rawPayload;
}

async function unpack(zip: Buffer, into: string): Promise<Map<string, Buffer>> {
  const files = await readZip(zip);
  for (const [name, data] of files) {
    await fs.mkdir(path.dirname(path.join(into, name)), { recursive: true });
    await fs.writeFile(path.join(into, name), data);
  }
  return files;
}

beforeAll(async () => {
  const fixture = await startGatewayFixture();
  ({ db, app } = fixture);
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'lianzheng-package-'));
  auth.anonymous = {};
  auth.owner = await fixture.bearer({ role: 'unit', org: project.ownerOrg });
  // The documents' bytes are kept: the package is verified against them below.
  documents.notice = randomBytes(64);
  documents.payment = randomBytes(64);
  ids = await seedProject(app, auth.owner, project, {
    notice: {
      sha256: toHex(sha256(documents.notice)),
      kind: 'notice',
      visibility: 'public',
      title: '开工公告 第一期',
    },
    payment: {
      sha256: toHex(sha256(documents.payment)),
      kind: 'payment_approval',
      visibility: 'restricted',
      title: SECRET_TITLE,
      amount: SECRET_AMOUNT,
      milestone: 'm1',
    },
  });
  trust = (await app.inject({ method: 'GET', url: '/v1/trust.json' })).json();
});

afterAll(async () => {
  await app?.close();
  await db?.stop();
  if (work) await fs.rm(work, { recursive: true, force: true });
});

describe('GET /v1/evidence/{id}/package', () => {
  let ownerZip: Buffer;
  let files: Map<string, Buffer>;
  const dir = () => path.join(work, 'owner');

  it('answers a ZIP with every member the issue lists, never cached', async () => {
    const res = await as('owner', { method: 'GET', url: `/v1/evidence/${ids.payment}/package` });
    expect(res.statusCode, res.body.slice(0, 300)).toBe(200);
    expect(res.headers['content-type']).toBe('application/zip');
    expect(res.headers['cache-control']).toBe('private, no-store');
    expect(res.headers['content-disposition']).toBe(
      `attachment; filename="lianzheng-evidence-${ids.payment}.zip"`,
    );
    ownerZip = res.rawPayload;
    files = await unpack(ownerZip, dir());
    for (const name of [
      MEMBERS.certificate,
      MEMBERS.bundle,
      MEMBERS.tlogProof,
      MEMBERS.keys,
      MEMBERS.trust,
      MEMBERS.certificates,
      MEMBERS.root,
      MEMBERS.fingerprints,
      MEMBERS.ledgerTx,
      MEMBERS.ledgerRecord,
      MEMBERS.ledgerCheckpoint,
      MEMBERS.checkpointToken,
      MEMBERS.certificateToken,
      MEMBERS.pythonTool,
      MEMBERS.report,
      MEMBERS.reportPdf,
      MEMBERS.reportToken,
      MEMBERS.manifest,
      MEMBERS.manifestJws,
      MEMBERS.manifestToken,
    ]) {
      expect(files.has(name), name).toBe(true);
    }
    const manifest = JSON.parse(files.get(MEMBERS.manifest)!.toString('utf8'));
    expect(manifest).toMatchObject({
      format: 'lianzheng-evidence-package/1',
      recordId: ids.payment,
      restrictedDetails: true,
    });
    for (const f of manifest.files) {
      expect(f.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(f.sm3).toMatch(/^[0-9a-f]{64}$/);
    }
    // The owner's package carries the restricted details.
    expect(JSON.parse(files.get(MEMBERS.bundle)!.toString('utf8')).details).toMatchObject({
      title: SECRET_TITLE,
      amount: SECRET_AMOUNT,
    });
  });

  it('verify-package passes it with the pinned trust.json, and with the document itself', async () => {
    const result = await verifyEvidencePackage(ownerZip, { trust, document: documents.payment });
    const failed = result.checks.filter((c) => c.status === 'fail');
    expect(failed, JSON.stringify(failed)).toEqual([]);
    expect(result.ok).toBe(true);
    const status = Object.fromEntries(result.checks.map((c) => [c.id, c.status]));
    expect(status).toMatchObject({
      'keys.trust': 'pass',
      'manifest.signature': 'pass',
      'manifest.timestamp': 'pass',
      'manifest.files': 'pass',
      'bundle.digest': 'pass',
      'bundle.details': 'pass',
      'bundle.leaf': 'pass',
      'bundle.inclusion': 'pass',
      'bundle.checkpoint': 'pass',
      'bundle.receipt': 'pass',
      'bundle.ledger': 'pass',
      'bundle.timestamp': 'pass',
      'tlog-proof': 'pass',
      'timestamps.checkpoint-file': 'pass',
      'certificate.signature': 'pass',
      'timestamps.certificate-file': 'pass',
      'report.signature': 'pass',
      'timestamps.report-file': 'pass',
    });
    // Another document is not the one deposited.
    const other = await verifyEvidencePackage(ownerZip, { trust, document: documents.notice });
    expect(other.ok).toBe(false);
    expect(other.checks.find((c) => c.id === 'bundle.digest')).toMatchObject({
      status: 'fail',
      code: 'DIGEST_MISMATCH',
    });
    // Without a trust.json the package's own keys are used, and the report says so.
    const unpinned = await verifyEvidencePackage(ownerZip);
    expect(unpinned.ok).toBe(true);
    expect(unpinned.checks.find((c) => c.id === 'keys.trust')).toMatchObject({
      status: 'warn',
      code: 'KEYS_UNPINNED',
    });
  });

  it('its certificate passes pdfsig and carries the Chinese text; its report lists the checks', async () => {
    const pdf = files.get(MEMBERS.certificate)!;
    const sig = await pdfsig(pdf, [files.get(MEMBERS.root)!.toString('utf8')]);
    expect(sig.signature).toBe('Signature is Valid.');
    expect(sig.certificate).toBe('Certificate is Trusted.');
    const text = await pdftotext(pdf, { raw: true });
    expect(text).toContain('电子数据存证证书');
    expect(text.replace(/[\s-]+/g, '')).toContain(ids.payment!.replace(/-/g, ''));
    expect(text.replace(/\s+/g, '')).toContain(SECRET_TITLE);
    // The same opinion as a signed PDF.
    const reportPdf = files.get(MEMBERS.reportPdf)!;
    expect((await pdfsig(reportPdf, [files.get(MEMBERS.root)!.toString('utf8')])).signature).toBe(
      'Signature is Valid.',
    );
    const reportText = await pdftotext(reportPdf, { raw: true });
    expect(reportText).toContain('电子数据验证意见书');
    expect(reportText).toContain('bundle.inclusion');
    expect(reportText).toContain('所有已执行的检查均通过');
    const html = files.get(MEMBERS.report)!.toString('utf8');
    expect(html).toContain('验证意见书');
    expect(html).toContain('openssl ts -verify');
    expect(html).toContain('pdfsig');
    expect(html).not.toContain('未通过 FAIL');
  });

  it('every RFC 3161 token passes openssl ts -verify; the Python tool checks inclusion and the checkpoint', async () => {
    const bundle = JSON.parse(files.get(MEMBERS.bundle)!.toString('utf8'));
    const root = Buffer.from(parseCheckpoint(bundle.inclusion.checkpoint).rootHash).toString('hex');
    const sigCheck = await verifyPdfSignature(files.get(MEMBERS.certificate)!, [
      files.get(MEMBERS.root)!.toString('utf8'),
    ]);
    const verifyTs = (args: string[]) =>
      run('openssl', ['ts', '-verify', ...args, '-token_in', '-CAfile', MEMBERS.root], { cwd: dir() });
    for (const args of [
      ['-digest', root, '-in', MEMBERS.checkpointToken],
      ['-digest', sigCheck.signatureValueSha256!, '-in', MEMBERS.certificateToken],
      ['-data', MEMBERS.manifest, '-in', MEMBERS.manifestToken],
    ]) {
      expect((await verifyTs(args)).stdout).toContain('Verification: OK');
    }
    const py = await run('python3', [MEMBERS.pythonTool, MEMBERS.tlogProof, MEMBERS.bundle, MEMBERS.keys], {
      cwd: dir(),
    });
    expect(py.stdout).toContain(': OK');
    expect(py.stdout).toContain('checkpoint signature: OK');
  });

  it('the commands the report prints run as printed, in the unpacked folder, and pass', async () => {
    // The checks' commands as the gateway wrote them (verify-package gives the same list).
    const result = await verifyEvidencePackage(ownerZip, { trust });
    const runnable = result.checks
      .filter((c) => c.status === 'pass')
      .flatMap((c) => c.commands.map((cmd) => ({ id: c.id, cmd })))
      // Commands that need what a package does not hold (the reader's document, a chain node).
      .filter(({ cmd }) => !/YOUR-|RECORD-ID|package\.zip/.test(cmd));
    const ids = new Set(runnable.map((r) => r.id));
    for (const id of [
      'bundle.receipt',
      'bundle.timestamp',
      'bundle.checkpoint',
      'tlog-proof',
      'certificate.signature',
      'report.signature',
      'manifest.signature',
      'manifest.timestamp',
    ]) {
      expect(ids.has(id), id).toBe(true);
    }
    for (const { id, cmd } of [...runnable, ...MANIFEST_COMMANDS.map((cmd) => ({ id: 'manifest', cmd }))]) {
      await fs.rm(path.join(dir(), 'nss'), { recursive: true, force: true });
      const { stdout, stderr } = await run('sh', ['-c', cmd], { cwd: dir() }).catch((err) => {
        throw new Error(`${id}: ${cmd}\n${err.stdout}${err.stderr}`);
      });
      const out = `${stdout}${stderr}`;
      expect(out, `${id}: ${cmd}`).not.toMatch(/FAILED|Invalid|not Trusted/);
      if (cmd.startsWith('openssl ts -verify')) expect(out, cmd).toContain('Verification: OK');
      if (cmd.includes('pdfsig')) expect(out, cmd).toContain('Signature is Valid.');
    }
  });

  it('refuses a package with any byte of any member changed, naming the member', async () => {
    expect(files.size).toBeGreaterThanOrEqual(20);
    for (const [name, data] of files) {
      const changed = Buffer.from(data);
      // A byte in the middle: inside the signed content of every kind of member.
      const at = Math.floor(changed.length / 2);
      changed[at] = changed[at]! ^ 0x01;
      const zip = await writeZip(
        [...files].map(([n, d]) => ({ name: n, data: n === name ? changed : d })),
        new Date(),
      );
      const result = await verifyEvidencePackage(zip, { trust });
      expect(result.ok, name).toBe(false);
      const failed = result.checks.filter((c) => c.status === 'fail');
      const named =
        name === MEMBERS.manifest
          ? failed.some((c) => c.id === 'manifest.signature' && c.code === 'MANIFEST_JWS_PAYLOAD')
          : name === MEMBERS.manifestJws
            ? failed.some((c) => c.id === 'manifest.signature')
            : name === MEMBERS.manifestToken
              ? failed.some((c) => c.id === 'manifest.timestamp')
              : failed.some((c) => c.id === `file:${name}` && c.code === 'FILE_DIGEST_MISMATCH');
      expect(named, `${name}: ${JSON.stringify(failed)}`).toBe(true);
    }
    // A byte changed inside the ZIP itself (compressed data): the CRC-32 check refuses it.
    const raw = Buffer.from(ownerZip);
    raw[200] = raw[200]! ^ 0xff;
    const broken = await verifyEvidencePackage(raw, { trust });
    expect(broken.ok).toBe(false);
    // A member the manifest does not list is refused too.
    const extra = await writeZip(
      [...[...files].map(([name, data]) => ({ name, data })), { name: 'extra.txt', data: Buffer.from('x') }],
      new Date(),
    );
    const withExtra = await verifyEvidencePackage(extra, { trust });
    expect(withExtra.checks.find((c) => c.id === 'file:extra.txt')).toMatchObject({
      status: 'fail',
      code: 'FILE_NOT_IN_MANIFEST',
    });
  });

  it('refuses a trust.json that pins other roots', async () => {
    const other = { ...(trust as object), tsaRoots: ['00'.repeat(32)] };
    const result = await verifyEvidencePackage(ownerZip, { trust: other });
    expect(result.ok).toBe(false);
    expect(result.checks.find((c) => c.id === 'keys.root')).toMatchObject({ code: 'ROOT_NOT_PINNED' });
    expect(result.checks.find((c) => c.id === 'keys.trust')).toMatchObject({
      status: 'fail',
      code: 'KEYS_NOT_PINNED',
    });
  });

  it("gives the public the record and its proof, without a restricted record's details", async () => {
    const zip = await packageOf('anonymous', ids.payment!);
    const pub = await readZip(zip);
    expect(JSON.parse(pub.get(MEMBERS.bundle)!.toString('utf8')).details).toBeUndefined();
    expect(JSON.parse(pub.get(MEMBERS.manifest)!.toString('utf8')).restrictedDetails).toBe(false);
    for (const [name, data] of pub) {
      expect(data.includes(Buffer.from(SECRET_TITLE)), name).toBe(false);
      expect(data.includes(Buffer.from(SECRET_AMOUNT)), name).toBe(false);
    }
    const text = (await pdftotext(pub.get(MEMBERS.certificate)!, { raw: true })).replace(/\s+/g, '');
    expect(text).not.toContain(SECRET_TITLE);
    expect(text).not.toContain(SECRET_AMOUNT);
    expect((await verifyEvidencePackage(zip, { trust })).ok).toBe(true);
    // A public record's details are public.
    const notice = await readZip(await packageOf('anonymous', ids.notice!));
    expect(JSON.parse(notice.get(MEMBERS.bundle)!.toString('utf8')).details.title).toBe('开工公告 第一期');
  });

  it('answers problem+json for an unknown or malformed id', async () => {
    for (const [id, status, code] of [
      ['01a24df4-d339-7062-b377-217578f1c5d8', 404, 'NOT_FOUND'],
      ['not-an-id', 400, 'VALIDATION_FAILED'],
    ] as const) {
      const res = await app.inject({ method: 'GET', url: `/v1/evidence/${id}/package` });
      expect(res.statusCode, id).toBe(status);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json().code).toBe(code);
    }
  });
});
