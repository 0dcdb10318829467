// The gateway on a real Fabric network (LEDGER=fabric): three organisations' peers, one Raft
// orderer, TLS, the chaincode as a service — started natively by network/fabric — and the gateway
// as the README starts it, submitting as the county finance bureau. The same end-to-end
// scenarios as on the embedded ledger, then what only a real network can show: endorsements by a
// majority, every peer's root equal to the gateway's, restricted details in no block file, a
// writer refused by the contract, a repeated batch not recorded twice, and faults (orderer,
// peer and chaincode server stopped).

import { execFile } from 'node:child_process';
import { randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { type DocumentKind, type ProofBundle, sha256, toHex, verifyBundle } from '@lianzheng/proof';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_PROJECT } from '../../gateway/src/cli/demo.ts';
import {
  checkFabricEvidence,
  decodeFabricTx,
  FABRIC_MEMBERS,
} from '../../gateway/src/evidence-package/fabric.ts';
import { verifyEvidencePackage } from '../../gateway/src/evidence-package/verify.ts';
import { readZip, writeZip } from '../../gateway/src/evidence-package/zip.ts';
import { LedgerError } from '../../gateway/src/ledger/ledger.ts';
import { type FabricFixture, filesContaining, startFabricFixture } from './fabric-fixture.ts';
import { type ReadmeGateway, startReadmeGateway } from './readme-gateway.ts';

const root = path.resolve(import.meta.dirname, '../..');

/** `lianzheng ARGS` as a user runs it; resolves with its exit code and output. */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ['scripts/lianzheng.mjs', ...args],
      {
        cwd: root,
        env: { ...process.env, LIANZHENG_GATEWAY: 'http://127.0.0.1:1' },
      },
    );
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

let fabric: FabricFixture;
let gateway: ReadmeGateway;
let base = '';
let unitToken = '';

const MSPS = ['ConstructionMSP', 'FinanceMSP', 'InspectionMSP'];

async function get(url: string) {
  const res = await fetch(`${base}${url}`);
  return {
    status: res.status,
    body: res.headers.get('content-type')?.includes('json') ? await res.json() : await res.text(),
  };
}

async function submit(body: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${base}/v1/evidence`, {
    method: 'POST',
    headers: { authorization: `Bearer ${unitToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ visibility: 'public', sha256: toHex(sha256(randomBytes(48))), ...body }),
  });
  const answer = await res.json();
  expect(res.status, JSON.stringify(answer)).toBe(202);
  return answer.id as string;
}

/** The record's evidence once it is recorded on the ledger (its bundle has a ledger part). */
async function recorded(
  id: string,
  timeoutMs = 60_000,
): Promise<{ bundle: ProofBundle; flags: { code: string }[] }> {
  return gateway.waitFor(
    `record ${id} recorded on Fabric`,
    async () => {
      const r = await get(`/v1/evidence/${id}`);
      if (r.status !== 200 || r.body.status === 'accepted') return undefined;
      return r.body as { bundle: ProofBundle; flags: { code: string }[] };
    },
    timeoutMs,
  );
}

async function keys() {
  return (await get('/v1/keys')).body;
}

async function verifyOverHttp(bundle: ProofBundle, digest: string) {
  const k = await keys();
  return verifyBundle(bundle, {
    sha256: digest,
    keys: { jwks: k.jwks, checkpointKeys: k.checkpointKeys, tsaRoots: k.tsaRoots ?? [] },
    getLedgerTx: async (ref) => (await get(`/v1/ledger/tx/${ref.txId}`)).body,
  });
}

beforeAll(async () => {
  fabric = await startFabricFixture(27_400);
  try {
    gateway = await startReadmeGateway({
      prefix: 'lz-e2e-fabric-',
      env: { LEDGER: 'fabric', ...fabric.network.gatewayEnv('finance'), SEAL_INTERVAL_MS: '200' },
    });
  } catch (error) {
    await fabric.stop();
    throw error;
  }
  base = gateway.base;
  unitToken = await gateway.unitToken();
});

afterAll(async () => {
  await gateway?.stop();
  await fabric?.stop();
});

describe('the gateway on a three-organisation Fabric network', () => {
  it('records every document kind; each bundle verifies and names its Fabric transaction and endorsers', async () => {
    const digests = new Map<string, string>();
    const send = async (kind: DocumentKind, fields: Record<string, unknown> = {}) => {
      const digest = toHex(sha256(randomBytes(48)));
      const id = await submit({ projectId: DEMO_PROJECT.id, kind, sha256: digest, ...fields });
      digests.set(id, digest);
      return id;
    };
    await send('approval', { title: '立项批复' });
    await send('tender', { title: '招标公告' });
    await send('award', { title: '中标公示' });
    const contract = await send('contract', { visibility: 'restricted', amount: '120000000' });
    await send('construction_log');
    await send('change_order', { refs: [contract], amount: '6000000', visibility: 'restricted' });
    await send('acceptance', {
      refs: [contract],
      result: 'passed',
      milestone: DEMO_PROJECT.milestones[0]!.id,
    });
    await send('payment_approval', {
      refs: [contract],
      amount: '30000000',
      milestone: DEMO_PROJECT.milestones[0]!.id,
      visibility: 'restricted',
    });
    const notice = await send('notice', { title: '公示' });
    await send('withdrawal', { refs: [notice], reason: 'published in error' });
    await send('other');

    for (const [id, digest] of digests) {
      const { bundle } = await recorded(id);
      expect(bundle.ledger).toMatchObject({
        network: 'fabric',
        channel: 'evidence',
        chaincode: 'lianzheng',
        validation: 'VALID',
      });
      // MAJORITY of three: at least two organisations endorsed the batch's transaction.
      expect(bundle.ledger!.endorsers!.length).toBeGreaterThanOrEqual(2);
      for (const msp of bundle.ledger!.endorsers!) expect(MSPS).toContain(msp);
      const result = await verifyOverHttp(bundle, digest);
      expect(result.ok, JSON.stringify(result.steps)).toBe(true);
      expect(result.steps.find((s) => s.step === 'ledger')?.status).toBe('pass');
      const tx = (await get(`/v1/ledger/tx/${bundle.ledger!.txId}`)).body;
      expect(tx).toMatchObject({
        network: 'fabric',
        valid: true,
        validation: 'VALID',
        fn: 'RecordBatch',
        block: bundle.ledger!.block,
      });
    }
    // The withdrawn notice stands withdrawn, by the withdrawal recorded on Fabric.
    const withdrawn = (await get(`/v1/evidence/${notice}`)).body;
    expect(withdrawn.standing, JSON.stringify(withdrawn)).toMatchObject({ state: 'withdrawn' });
    expect(digests.has(withdrawn.standing.by)).toBe(true);
  });

  it('packages the Fabric block, processed transaction and endorsements; verify-package checks them offline', async () => {
    const id = await submit({ projectId: DEMO_PROJECT.id, kind: 'notice', title: '证据包' });
    const { bundle } = await recorded(id);
    const trust = (await get('/v1/trust.json')).body;
    const res = await fetch(`${base}/v1/evidence/${id}/package`);
    expect(res.status).toBe(200);
    const zip = Buffer.from(await res.arrayBuffer());
    const result = await verifyEvidencePackage(zip, { trust });
    expect(result.ok, JSON.stringify(result.checks.filter((c) => c.status === 'fail'))).toBe(true);
    expect(result.checks.filter((c) => c.id.startsWith('fabric.')).map((c) => [c.id, c.status])).toEqual([
      ['fabric.block.data-hash', 'pass'],
      ['fabric.transaction', 'pass'],
      ['fabric.endorsements', 'pass'],
      ['fabric.endorsers', 'pass'],
    ]);
    const files = await readZip(zip);
    const listed = JSON.parse(files.get(FABRIC_MEMBERS.endorsements)!.toString('utf8'));
    expect(listed).toMatchObject({
      txId: bundle.ledger!.txId,
      block: bundle.ledger!.block,
      validation: 'VALID',
    });
    expect([...new Set(listed.endorsements.map((e: { mspId: string }) => e.mspId))].sort()).toEqual(
      [...bundle.ledger!.endorsers!].sort(),
    );
    for (const e of listed.endorsements) expect(new X509Certificate(e.certificate).subject).toContain('peer');

    // A changed byte of block.pb: the manifest's digest refuses it, naming the file.
    const blockBytes = files.get(FABRIC_MEMBERS.block)!;
    const changed = Buffer.from(blockBytes);
    changed[changed.length >> 1]! ^= 0x01;
    const tampered = await verifyEvidencePackage(
      await writeZip(
        [...files].map(([name, data]) => ({ name, data: name === FABRIC_MEMBERS.block ? changed : data })),
        new Date(),
      ),
      { trust },
    );
    expect(tampered.ok).toBe(false);
    expect(tampered.checks.find((c) => c.id === `file:${FABRIC_MEMBERS.block}`)?.code).toBe(
      'FILE_DIGEST_MISMATCH',
    );

    // The manifest is signed, so a forger cannot re-list a changed block: the block checks
    // themselves, on the real block with one byte of an endorsement signature or of the header's
    // data hash changed.
    const expected = {
      txId: bundle.ledger!.txId,
      block: bundle.ledger!.block,
      endorsers: bundle.ledger!.endorsers!,
    };
    const flip = (needle: Uint8Array, offset: number) => {
      const copy = Buffer.from(blockBytes);
      const at = copy.indexOf(Buffer.from(needle));
      expect(at).toBeGreaterThanOrEqual(0);
      copy[at + offset]! ^= 0x01;
      return checkFabricEvidence(new Map(files).set(FABRIC_MEMBERS.block, copy), expected)
        .filter((c) => c.status === 'fail')
        .map((c) => `${c.id}:${c.code}`);
    };
    const decoded = decodeFabricTx(blockBytes, bundle.ledger!.txId);
    expect(flip(decoded.endorsements[0]!.signature, 10)).toContain(
      'fabric.endorsements:FABRIC_ENDORSEMENT_SIGNATURE',
    );
    expect(flip(decoded.block.header!.data_hash, 3)).toEqual([
      'fabric.block.data-hash:FABRIC_DATA_HASH_MISMATCH',
    ]);
  });

  it('raises every rule flag on Fabric, as the contract does on the embedded ledger', async () => {
    const projectId = `fabric-flags-${randomUUID().slice(0, 8)}`;
    const registered = await fetch(`${base}/v1/projects`, {
      method: 'POST',
      headers: { authorization: `Bearer ${unitToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        ...DEMO_PROJECT,
        id: projectId,
        name: '规则测试工程',
        budget: '1000000',
        milestones: [{ id: 'm1', name: '主体', dueDate: '2026-01-15' }],
      }),
    });
    expect(registered.status, await registered.clone().text()).toBeLessThan(300);
    const p = { projectId };
    const orphanPayment = await submit({ ...p, kind: 'payment_approval', amount: '100' });
    const contract = await submit({ ...p, kind: 'contract', amount: '1000000' });
    const change = await submit({ ...p, kind: 'change_order', refs: [contract], amount: '200000' });
    const advance = await submit({
      ...p,
      kind: 'payment_approval',
      refs: [contract],
      amount: '400000',
      milestone: 'm1',
    });
    const over = await submit({ ...p, kind: 'payment_approval', refs: [contract], amount: '900000' });
    const replacement = await submit({ ...p, kind: 'contract', amount: '1000000', supersedes: contract });
    const codes = async (id: string) => (await recorded(id)).flags.map((f) => f.code);
    expect(await codes(orphanPayment)).toContain('PAYMENT_WITHOUT_CONTRACT');
    expect(await codes(change)).toContain('CHANGE_OVER_15_PERCENT');
    expect(await codes(advance)).toEqual(
      expect.arrayContaining(['ADVANCE_OVER_LIMIT', 'PAYMENT_BEFORE_ACCEPTANCE']),
    );
    expect(await codes(over)).toContain('OVERPAYMENT');
    expect(await codes(replacement)).toContain('SUPERSEDED_AFTER_RELIANCE');
    const onPeer = (await fabric.ledgerAs('inspection').getFlags(projectId)).map(
      (f) => `${f.code} ${f.recordId}`,
    );
    expect(onPeer.some((f) => f.startsWith('MILESTONE_OVERDUE_30_DAYS '))).toBe(true);
    // The inspection commission's own peer holds the same flags, in the same order, as the
    // gateway shows the project's owner.
    const res = await fetch(`${base}/v1/projects/${projectId}/flags`, {
      headers: { authorization: `Bearer ${unitToken}` },
    });
    const shown = ((await res.json()) as { flags: { code: string; recordId: string }[] }).flags;
    expect(shown.map((f) => `${f.code} ${f.recordId}`)).toEqual(onPeer);
  });

  it("every organisation's peer holds the gateway's log root", async () => {
    const checkpoint = (await get('/v1/log/checkpoint')).body as string;
    const [, sizeLine, rootLine] = (
      typeof checkpoint === 'string' ? checkpoint : JSON.stringify(checkpoint)
    ).split('\n');
    const size = Number(sizeLine);
    const rootHex = Buffer.from(rootLine!, 'base64').toString('hex');
    for (const org of ['finance', 'construction', 'inspection'] as const) {
      const cp = await fabric.ledgerAs(org).getCheckpoint(size);
      expect(cp, org).toMatchObject({ size, root: rootHex });
    }
  });

  it('keeps restricted details out of every block file: only their salted digest is on the chain', async () => {
    const title = `保密合同-${randomUUID()}`;
    const amount = String(900_000_000 + Math.floor(Math.random() * 99_999_999));
    const id = await submit({
      projectId: DEMO_PROJECT.id,
      kind: 'contract',
      visibility: 'restricted',
      title,
      amount,
    });
    const { bundle } = await recorded(id);
    expect(bundle.record.visibility).toBe('restricted');
    const files = await fabric.network.blockFiles();
    expect(files.length).toBeGreaterThanOrEqual(4); // the orderer and three peers
    expect(await filesContaining(files, title)).toEqual([]);
    expect(await filesContaining(files, amount)).toEqual([]);
    // …while the record itself is on the chain, and a member of the collection reads the details.
    expect((await filesContaining(files, id)).length).toBeGreaterThanOrEqual(4);
    const stored = await fabric.ledgerAs('inspection').getRecord(id);
    expect(stored?.details).toMatchObject({ title, amount });
  });

  it("lets an inspector verify a record through the inspection commission's own peer, no gateway", async () => {
    const digest = toHex(sha256(randomBytes(48)));
    const id = await submit({ projectId: DEMO_PROJECT.id, kind: 'notice', sha256: digest, title: '公示' });
    await recorded(id);
    const org = fabric.network.orgs.inspection;
    const ok = await cli([
      'verify',
      '--sha256',
      digest,
      '--fabric',
      org.connectionProfile,
      '--identity',
      org.userIdentityDir,
    ]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`VERIFIED ${id}`);
    expect(ok.stdout).toMatch(
      /PASS transaction: RecordBatch [0-9a-f]{64} in block \d+, VALID, endorsed by \w+MSP, \w+MSP/,
    );
    expect(ok.stdout).toContain('PASS checkpoint');
    const narrowed = await cli([
      'verify',
      '--sha256',
      digest,
      '--project',
      DEMO_PROJECT.id,
      '--fabric',
      org.connectionProfile,
      '--identity',
      org.userIdentityDir,
    ]);
    expect(narrowed.code, narrowed.stdout + narrowed.stderr).toBe(0);
    const unknown = await cli([
      'verify',
      '--sha256',
      toHex(sha256(randomBytes(8))),
      '--fabric',
      org.connectionProfile,
      '--identity',
      org.userIdentityDir,
    ]);
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toContain('not on the ledger');
    // A withdrawn document is said to be withdrawn, not passed off as standing.
    await submit({ projectId: DEMO_PROJECT.id, kind: 'withdrawal', refs: [id], reason: '发布有误' });
    const withdrawn = await gateway.waitFor(
      'the withdrawal on the ledger',
      async () => {
        const r = await cli([
          'verify',
          '--sha256',
          digest,
          '--fabric',
          org.connectionProfile,
          '--identity',
          org.userIdentityDir,
        ]);
        return r.stdout.includes('WITHDRAWN') ? r : undefined;
      },
      60_000,
    );
    expect(withdrawn.stdout).toContain(`WITHDRAWN ${id}`);
    expect(withdrawn.stdout).toContain('genuine, but withdrawn by');
    expect(withdrawn.code).toBe(5); // the CLI's exit code for a withdrawn record
  });

  it('refuses the discipline inspection commission as a writer', async () => {
    const inspection = fabric.ledgerAs('inspection');
    const error = await inspection
      .registerProject({ ...DEMO_PROJECT, id: `inspection-${randomUUID().slice(0, 8)}` })
      .catch((e) => e);
    expect(error).toBeInstanceOf(LedgerError);
    expect((error as LedgerError).code).toBe('NOT_A_WRITER');
  });

  it('answers a batch sent again (a lost reply) with its first transaction, never recording it twice', async () => {
    const finance = fabric.ledgerAs('finance');
    const trail = await finance.projectTrail(DEMO_PROJECT.id);
    const first = trail.filter((r) => (r as { index: number }).index === 0)[0] as
      | { txId: string }
      | undefined;
    expect(first).toBeDefined();
    const batchRecords = trail.filter((r) => (r as { txId: string }).txId === first!.txId) as {
      record: never;
      details: never;
      index: number;
    }[];
    const before = await finance.getCheckpoint();
    const again = await finance.recordBatch({
      fromSize: 0,
      records: batchRecords
        .sort((a, b) => a.index - b.index)
        .map((r) => ({ record: r.record, details: r.details })),
    });
    expect(again.repeated).toBe(true);
    expect(again.txId).toBe(first!.txId);
    expect((await finance.getCheckpoint())?.size).toBe(before?.size);
  });

  it('keeps recording with one peer down (two of three still endorse) and after a chaincode server restarts', async () => {
    const construction = fabric.ledgerAs('construction');
    let during: string;
    let signed: number;
    let ownChaincodeDown = false;
    try {
      await fabric.network.stopNode('peer.construction');
      try {
        const id = await submit({ projectId: DEMO_PROJECT.id, kind: 'other' });
        const { bundle } = await recorded(id, 90_000);
        expect(bundle.ledger!.endorsers).not.toContain('ConstructionMSP');
        // The log as the gateway signed it (the stopped peer will have to catch up to it).
        signed = Number(((await get('/v1/log/checkpoint')).body as string).split('\n')[1]);
        // Our own chaincode down as well: no majority can endorse until the stopped peer is back.
        // The gateway's client took its discovery view while that peer was down, and keeps a view
        // for minutes; it must take a fresh one to find the peer again.
        ownChaincodeDown = true;
        await fabric.network.killNode('chaincode.finance');
        during = await submit({ projectId: DEMO_PROJECT.id, kind: 'other' });
        // Long enough for the batcher (every 200 ms) to try every majority and back off.
        await new Promise((r) => setTimeout(r, 5_000));
      } finally {
        await fabric.network.startNode('peer.construction');
      }
      // Only the restarted peer and the third can endorse now.
      await gateway.waitFor(
        'a batch endorsed by the restarted peer, without our own chaincode',
        async () => (((await construction.getCheckpoint())?.size ?? 0) > signed ? true : undefined),
        90_000,
      );
    } finally {
      if (ownChaincodeDown) await fabric.network.startNode('chaincode.finance');
    }
    // The gateway confirms the batch once its own peer answers again: the flags' facts are in our
    // organisation's collection.
    const { bundle } = await recorded(during, 90_000);
    expect(bundle.ledger!.endorsers).toEqual(['ConstructionMSP', 'InspectionMSP']);
  });

  it('accepts while the orderer is down for a minute under load, then drains the backlog: nothing lost, nothing doubled', async () => {
    await fabric.network.stopNode('orderer');
    const ids: string[] = [];
    const outageMs = Number(process.env.LZ_FABRIC_OUTAGE_MS ?? 60_000);
    try {
      // Intake is PostgreSQL's, not Fabric's: every submission is answered 202 while the ledger
      // is away, and stays accepted until it can be recorded.
      for (const until = Date.now() + outageMs; Date.now() < until; ) {
        ids.push(await submit({ projectId: DEMO_PROJECT.id, kind: 'other' }));
        await new Promise((r) => setTimeout(r, 50));
      }
      expect((await get(`/v1/evidence/${ids[0]}`)).body.status).toBe('accepted');
    } finally {
      await fabric.network.startNode('orderer');
    }
    expect(ids.length).toBeGreaterThan(100);
    const indexes = new Set<number>();
    await recorded(ids[ids.length - 1]!, 120_000);
    for (let i = 0; i < ids.length; i += 25) {
      const bundles = await Promise.all(ids.slice(i, i + 25).map((id) => recorded(id, 60_000)));
      for (const { bundle } of bundles) indexes.add(bundle.inclusion!.index);
    }
    expect(indexes.size).toBe(ids.length);
    const head = await fabric.ledgerAs('construction').getCheckpoint();
    const checkpoint = (await get('/v1/log/checkpoint')).body as string;
    expect(head?.size).toBe(Number(checkpoint.split('\n')[1]));
  });
});
