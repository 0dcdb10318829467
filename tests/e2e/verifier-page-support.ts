// Support for the verifier page's browser tests and benchmark: launching Debian's Chromium through
// playwright-core, building the page, and a small fake of the gateway that serves the built page
// through the gateway's real `pages` plugin plus canned API answers. The answers are real: every
// bundle is made here with proof's own functions (ES256 receipts, an Ed25519-signed checkpoint, an
// RFC 6962 inclusion proof), so the page's checks run exactly as they would against the gateway.

import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  appendLeavesWithSubtrees,
  BUNDLE_VERSION,
  cidFromSha256,
  detailsDigest as computeDetailsDigest,
  deriveNotePublicKey,
  type EvidenceRecord,
  emptyFrontier,
  formatCheckpoint,
  fromHex,
  frontierRoot,
  generateInclusionProof,
  MemorySubtreeStore,
  noteVerifierKey,
  type ProofBundle,
  type RecordDetails,
  recordLeafHash,
  signCheckpoint,
  toHex,
} from '@lianzheng/proof';
import { keccak256, toUtf8Bytes } from 'ethers';
import Fastify, { type FastifyInstance } from 'fastify';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { type Browser, chromium } from 'playwright-core';
import pagesPlugin from '../../gateway/src/routes/pages/plugin.ts';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const DIST = `${REPO}verifier-web/dist`;
export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM);
}

export async function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, ...extraArgs],
  });
}

/** Builds the page (the tests always check the current source, never a stale build). */
export function buildPage(): void {
  execFileSync('npx', ['vite', 'build', 'verifier-web', '--logLevel', 'warn'], {
    cwd: REPO,
    stdio: 'inherit',
  });
}

export const sha256Hex = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');

// ---------------------------------------------------------------------------------------------
// Canned evidence, signed for real.

export const PROJECT = {
  id: 'demo-road-1',
  name: '杨家村通组道路硬化工程',
  regionCode: '620102',
  ownerOrg: 'org-yangjia-village',
  budget: '180000000',
  level: 'C',
  milestones: [
    { id: 'm1', name: '路基完成', dueDate: '2025-05-31' },
    { id: 'm2', name: '路面硬化完成', dueDate: '2025-08-31' },
  ],
};

export interface FixtureDoc {
  name: string;
  bytes: Buffer;
  sha256: string;
}

export interface FixtureRecord {
  id: string;
  status: 'accepted' | 'recorded' | 'anchored';
  record: EvidenceRecord;
  details: RecordDetails;
  bundle: ProofBundle;
  supersededBy?: string;
  withdrawnBy?: string;
  flags: {
    code: string;
    rule?: string;
    recordId: string;
    projectId: string;
    detail: object;
    refs?: string[];
    raisedAt: string;
    resolvedBy?: string;
    resolvedAt?: string;
  }[];
}

export interface Fixture {
  docs: {
    contract: FixtureDoc;
    payment: FixtureDoc;
    noticeOld: FixtureDoc;
    noticeNew: FixtureDoc;
    pending: FixtureDoc;
    tamperedPath: FixtureDoc;
    tamperedLedger: FixtureDoc;
    noticeWithdrawn: FixtureDoc;
    withdrawal: FixtureDoc;
  };
  records: FixtureRecord[];
  byId: Map<string, FixtureRecord>;
  keys: { jwks: { keys: object[] }; checkpointKeys: string[]; ledger: 'embedded'; anchor: object };
  ledgerTx: Map<string, { txId: string; block: number; valid: boolean; size: number; root: string }>;
}

const ORIGIN = 'lianzheng.test/log';
export const ANCHOR = {
  chainId: 'eip155:31337',
  contract: '0x5fbdb2315678afecb367f032d93f642f64180aa3',
  txHash: '0x8f1c7d2e4b6a59c3d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7',
  block: 42,
};
/** The operator's anchoring address in the fixture: /v1/keys pins it, the anchor lookup names it. */
const ANCHORER = '0x70997970c51812dc3a010c7d01b50e0d17dc79c8';

function doc(name: string, text: string): FixtureDoc {
  const bytes = Buffer.from(text, 'utf8');
  return { name, bytes, sha256: sha256Hex(bytes) };
}

function uuid7(n: number): string {
  return `0190d3c2-7b1e-7c3a-8f00-${n.toString(16).padStart(12, '0')}`;
}

export async function makeFixture(): Promise<Fixture> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'receipt-test-1', alg: 'ES256', use: 'sig' };
  const seed = new Uint8Array(randomBytes(32));
  const vkey = noteVerifierKey(ORIGIN, deriveNotePublicKey(seed));

  const docs: Fixture['docs'] = {
    contract: doc('施工合同.pdf', '%PDF-1.4 杨家村通组道路硬化工程施工合同 contract body\n'),
    payment: doc('付款审批.pdf', '%PDF-1.4 第一期进度款付款审批 payment approval\n'),
    noticeOld: doc('中标公示-v1.pdf', '%PDF-1.4 中标公示 第一版 award notice v1\n'),
    noticeNew: doc('中标公示-v2.pdf', '%PDF-1.4 中标公示 第二版 award notice v2 (corrected)\n'),
    pending: doc('施工日志.txt', '2025-06-01 施工日志：路基压实 construction log\n'),
    tamperedPath: doc('验收报告.pdf', '%PDF-1.4 路基验收报告 acceptance report\n'),
    tamperedLedger: doc('变更单.pdf', '%PDF-1.4 变更单 change order\n'),
    noticeWithdrawn: doc('停工公示.pdf', '%PDF-1.4 停工公示 stop-work notice\n'),
    withdrawal: doc('撤回声明.pdf', '%PDF-1.4 撤回停工公示 withdrawal\n'),
  };

  type Plan = {
    key: keyof Fixture['docs'];
    kind: EvidenceRecord['kind'];
    details: Omit<RecordDetails, 'salt'>;
    at: string;
    supersedes?: number;
    refs?: number[];
    inLog: boolean;
  };
  const plans: Plan[] = [
    {
      key: 'noticeOld',
      kind: 'award',
      details: { title: '中标公示（第一版）' },
      at: '2025-03-01T02:00:00.000Z',
      inLog: true,
    },
    {
      key: 'noticeNew',
      kind: 'award',
      details: { title: '中标公示（更正版）' },
      at: '2025-03-03T02:00:00.000Z',
      supersedes: 0,
      inLog: true,
    },
    {
      key: 'contract',
      kind: 'contract',
      details: { title: '杨家村通组道路硬化工程施工合同', amount: '150000000' },
      at: '2025-03-20T06:30:00.000Z',
      inLog: true,
    },
    {
      key: 'payment',
      kind: 'payment_approval',
      details: { title: '第一期进度款', amount: '60000000', milestone: 'm1' },
      at: '2025-05-10T08:00:00.000Z',
      refs: [2],
      inLog: true,
    },
    {
      key: 'tamperedPath',
      kind: 'acceptance',
      details: { title: '路基验收报告', milestone: 'm1', result: 'passed' },
      at: '2025-07-02T01:00:00.000Z',
      refs: [2],
      inLog: true,
    },
    {
      key: 'tamperedLedger',
      kind: 'change_order',
      details: { title: '增加排水沟', amount: '12000000' },
      at: '2025-06-05T01:00:00.000Z',
      refs: [2],
      inLog: true,
    },
    {
      key: 'pending',
      kind: 'construction_log',
      details: { title: '施工日志 6 月 1 日' },
      at: '2025-06-06T01:00:00.000Z',
      inLog: false,
    },
    // A notice published and then withdrawn (records 8 and 9).
    {
      key: 'noticeWithdrawn',
      kind: 'notice',
      details: { title: '停工公示' },
      at: '2025-06-10T02:00:00.000Z',
      inLog: true,
    },
    {
      key: 'withdrawal',
      kind: 'withdrawal',
      details: { title: '撤回停工公示', reason: '公示日期有误，已另行公示' },
      at: '2025-06-12T03:30:00.000Z',
      refs: [7],
      inLog: true,
    },
  ];

  const made = plans.map((p, i) => {
    const details: RecordDetails = { salt: toHex(new Uint8Array(randomBytes(16))), ...p.details };
    const sha = docs[p.key].sha256;
    const record: EvidenceRecord = {
      v: 1,
      id: uuid7(i + 1),
      projectId: PROJECT.id,
      kind: p.kind,
      // The withdrawal carries an SM3 digest as well (as uploads under CRYPTO_SUITE dual do): the
      // certificate's "check a file you hold" then checks the file's SM3 too.
      digests:
        p.key === 'withdrawal'
          ? { sha256: sha, sm3: createHash('sm3').update(docs[p.key].bytes).digest('hex') }
          : { sha256: sha },
      cid: cidFromSha256(fromHex(sha)),
      visibility: 'public',
      submitter: { org: PROJECT.ownerOrg },
      acceptedAt: p.at,
      ...(p.supersedes !== undefined ? { supersedes: uuid7(p.supersedes + 1) } : {}),
      ...(p.refs ? { refs: p.refs.map((r) => uuid7(r + 1)) } : {}),
      detailsDigest: computeDetailsDigest(details),
    };
    return { plan: p, record, details, leaf: recordLeafHash(record) };
  });

  // The log: every record that is in a batch, in order.
  const store = new MemorySubtreeStore();
  const inLog = made.filter((m) => m.plan.inLog);
  const appended = appendLeavesWithSubtrees(
    emptyFrontier(),
    inLog.map((m) => m.leaf),
  );
  store.add(appended.subtrees);
  const size = appended.frontier.size;
  const root = frontierRoot(appended.frontier);
  const note = await signCheckpoint(formatCheckpoint({ origin: ORIGIN, size, rootHash: root }), {
    name: ORIGIN,
    privateKey: seed,
  });
  const ledgerRef = {
    network: 'embedded' as const,
    txId: 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90',
    block: 7,
    size,
    root: toHex(root),
    note: 'embedded single-node ledger',
  };
  const ledgerTx = new Map<
    string,
    { txId: string; block: number; valid: boolean; size: number; root: string }
  >([[ledgerRef.txId, { txId: ledgerRef.txId, block: 7, valid: true, size, root: toHex(root) }]]);
  // The change order's bundle names a transaction whose ledger entry records another tree.
  const forgedTx = `${'f'.repeat(60)}0bad`;
  ledgerTx.set(forgedTx, {
    txId: forgedTx,
    block: 8,
    valid: true,
    size,
    root: toHex(new Uint8Array(32).fill(7)),
  });

  const records: FixtureRecord[] = [];
  for (const m of made) {
    const receipt = await new SignJWT({
      sha256: m.record.digests.sha256,
      cid: m.record.cid,
      projectId: m.record.projectId,
      kind: m.record.kind,
      leaf: toHex(m.leaf),
      ledger: 'embedded',
    })
      .setProtectedHeader({ alg: 'ES256', kid: jwk.kid, typ: 'lianzheng-receipt+jwt' })
      .setIssuer('https://gateway.lianzheng.test')
      .setSubject(m.record.id)
      .setIssuedAt(Math.floor(Date.parse(m.record.acceptedAt) / 1000))
      .sign(privateKey);
    const bundle: ProofBundle = { version: BUNDLE_VERSION, record: m.record, details: m.details, receipt };
    if (m.plan.inLog) {
      const index = inLog.indexOf(m);
      const path = (await generateInclusionProof(store, index, size)).map(toHex);
      bundle.inclusion = { index, size, path, checkpoint: note };
      bundle.ledger = { ...ledgerRef };
    }
    if (m.plan.key === 'tamperedPath' && bundle.inclusion) {
      const first = bundle.inclusion.path[0]!;
      bundle.inclusion.path[0] = `${first.slice(0, -1)}${first.endsWith('0') ? '1' : '0'}`;
    }
    if (m.plan.key === 'tamperedLedger' && bundle.ledger) bundle.ledger.txId = forgedTx;
    // The corrected notice is anchored: the anchored tree is this one (an empty consistency proof).
    if (m.plan.key === 'noticeNew') bundle.anchor = { ...ANCHOR, size, root: toHex(root), consistency: [] };
    records.push({
      id: m.record.id,
      status: bundle.anchor ? 'anchored' : m.plan.inLog ? 'recorded' : 'accepted',
      record: m.record,
      details: m.details,
      bundle,
      flags: [],
    });
  }
  const byId = new Map(records.map((r) => [r.id, r]));
  byId.get(uuid7(1))!.supersededBy = uuid7(2);
  byId.get(uuid7(8))!.withdrawnBy = uuid7(9);
  byId.get(uuid7(4))!.flags.push({
    code: 'PAYMENT_BEFORE_ACCEPTANCE',
    recordId: uuid7(4),
    projectId: PROJECT.id,
    detail: { milestone: 'm1' },
    raisedAt: '2025-05-10T08:00:01.000Z',
  });
  byId.get(uuid7(4))!.flags.push({
    code: 'ADVANCE_OVER_LIMIT',
    recordId: uuid7(4),
    projectId: PROJECT.id,
    detail: { limitPercent: 30, advance: '60000000', contract: '150000000' },
    raisedAt: '2025-05-10T08:00:01.000Z',
  });
  // The subgrade's acceptance came 32 days after its due date: it raised the delay flag and, being
  // a passed acceptance of that milestone, resolved it (the ledger answers the flag as resolved).
  byId.get(uuid7(5))!.flags.push({
    code: 'MILESTONE_OVERDUE_30_DAYS',
    rule: 'MILESTONE_OVERDUE_30_DAYS@1',
    recordId: uuid7(5),
    projectId: PROJECT.id,
    detail: { milestone: 'm1', dueDate: '2025-05-31', daysOverdue: 32 },
    refs: [],
    raisedAt: '2025-07-02T01:00:01.000Z',
    resolvedBy: uuid7(5),
    resolvedAt: '2025-07-02T01:00:01.000Z',
  });
  return {
    docs,
    records,
    byId,
    keys: {
      jwks: { keys: [jwk] },
      checkpointKeys: [vkey],
      ledger: 'embedded',
      // The operator's anchoring identity, as GET /v1/keys publishes it: the page pins it.
      anchor: {
        chainId: ANCHOR.chainId,
        contract: ANCHOR.contract,
        anchorer: ANCHORER,
        origin: ORIGIN,
        originHash: keccak256(toUtf8Bytes(ORIGIN)),
        confirmations: 1,
        retired: [],
      },
    },
    ledgerTx,
  };
}

// ---------------------------------------------------------------------------------------------
// The fake gateway.

export interface FakeGateway {
  url: string;
  app: FastifyInstance;
  /** Milliseconds every /v1 answer waits; a test sets it to make the gateway "slow". */
  delayMs: number;
  /** When true, every /v1 request has its connection cut: the gateway is "down". */
  down: boolean;
  requests: string[];
  close(): Promise<void>;
}

/** The standing the gateway reports beside a record (GET /v1/verify, /v1/evidence/{id}). */
function standingOf(fx: Fixture, r: FixtureRecord) {
  if (r.withdrawnBy) {
    const w = fx.byId.get(r.withdrawnBy)!;
    return { state: 'withdrawn', by: w.id, reason: w.details.reason, at: w.record.acceptedAt };
  }
  if (r.supersededBy) {
    const n = fx.byId.get(r.supersededBy)!;
    return { state: 'superseded', by: n.id, at: n.record.acceptedAt };
  }
  return { state: 'standing' };
}

function verifyEntry(fx: Fixture, r: FixtureRecord) {
  return {
    id: r.id,
    status: r.status,
    projectId: r.record.projectId,
    kind: r.record.kind,
    acceptedAt: r.record.acceptedAt,
    submitter: r.record.submitter,
    ...(r.supersededBy ? { supersededBy: r.supersededBy } : {}),
    ...(r.withdrawnBy ? { withdrawnBy: r.withdrawnBy } : {}),
    standing: standingOf(fx, r),
    flags: r.flags,
    bundle: r.bundle,
  };
}

export async function startFakeGateway(fx: Fixture): Promise<FakeGateway> {
  const app = Fastify();
  const state: FakeGateway = {
    url: '',
    app,
    delayMs: 0,
    down: false,
    requests: [],
    close: () => app.close(),
  };
  app.addHook('onRequest', async (request, reply) => {
    if (!request.url.startsWith('/v1/')) return;
    state.requests.push(request.url);
    if (state.down) {
      request.raw.socket.destroy();
      return reply.hijack();
    }
    if (state.delayMs > 0) await new Promise((r) => setTimeout(r, state.delayMs));
  });
  const notFound = { type: 'https://lianzheng.dev/problems/not-found', title: 'Not found', status: 404 };
  app.get('/v1/keys', async () => fx.keys);
  app.get<{ Params: { sha256: string } }>('/v1/verify/:sha256', async (request, reply) => {
    const sha = request.params.sha256;
    if (!/^[0-9a-f]{64}$/.test(sha))
      return reply.code(400).type('application/problem+json').send({ status: 400 });
    return {
      sha256: sha,
      records: fx.records.filter((r) => r.record.digests.sha256 === sha).map((r) => verifyEntry(fx, r)),
    };
  });
  app.get<{ Params: { id: string } }>('/v1/evidence/:id', async (request, reply) => {
    const r = fx.byId.get(request.params.id);
    if (!r) return reply.code(404).type('application/problem+json').send(notFound);
    return verifyEntry(fx, r);
  });
  app.get<{ Params: { txId: string } }>('/v1/ledger/tx/:txId', async (request, reply) => {
    const tx = fx.ledgerTx.get(request.params.txId);
    if (!tx) return reply.code(404).type('application/problem+json').send(notFound);
    return tx;
  });
  app.get<{ Params: { txHash: string } }>('/v1/anchor/tx/:txHash', async (request, reply) => {
    const anchored = fx.records.find((r) => r.bundle.anchor?.txHash === request.params.txHash)?.bundle.anchor;
    if (!anchored) return reply.code(404).type('application/problem+json').send(notFound);
    return {
      size: anchored.size,
      root: anchored.root,
      block: anchored.block,
      chainId: anchored.chainId,
      contract: anchored.contract,
      anchorer: ANCHORER,
      from: ANCHORER,
      originHash: keccak256(toUtf8Bytes(ORIGIN)),
      confirmations: 5,
      storedRoot: anchored.root,
    };
  });
  app.get<{ Params: { id: string } }>('/v1/projects/:id', async (request, reply) => {
    if (request.params.id !== PROJECT.id)
      return reply.code(404).type('application/problem+json').send(notFound);
    return PROJECT;
  });
  app.get<{ Params: { id: string } }>('/v1/projects/:id/records', async (request, reply) => {
    if (request.params.id !== PROJECT.id)
      return reply.code(404).type('application/problem+json').send(notFound);
    return {
      records: fx.records.map((r) => ({
        record: r.record,
        details: r.details,
        status: r.status,
        ...(r.supersededBy ? { supersededBy: r.supersededBy } : {}),
        ...(r.withdrawnBy ? { withdrawnBy: r.withdrawnBy } : {}),
        flags: r.flags,
      })),
    };
  });
  app.get<{ Params: { id: string } }>('/v1/projects/:id/flags', async (request, reply) => {
    if (request.params.id !== PROJECT.id)
      return reply.code(404).type('application/problem+json').send(notFound);
    return { flags: fx.records.flatMap((r) => r.flags) };
  });
  // A minimal page from the same server: the benchmark's baseline for "page ready".
  app.get('/__blank', async (_request, reply) =>
    reply.type('text/html; charset=utf-8').send('<!doctype html><title>blank</title><p>blank</p>'),
  );
  await app.register(pagesPlugin, { root: DIST });
  await app.listen({ host: '127.0.0.1', port: 0 });
  state.url = `http://localhost:${(app.server.address() as AddressInfo).port}`;
  return state;
}

/**
 * A same-origin front for a real gateway that does not serve the page itself yet: the built page
 * through the real `pages` plugin, and every API request relayed to the gateway unchanged.
 */
export async function startPageFront(gatewayUrl: string): Promise<{ url: string; close(): Promise<void> }> {
  const app = Fastify();
  const relay = async (request: { url: string }, reply: import('fastify').FastifyReply) => {
    const res = await fetch(gatewayUrl + request.url, { headers: { accept: 'application/json' } });
    reply.code(res.status);
    const type = res.headers.get('content-type');
    if (type) reply.type(type);
    return reply.send(Buffer.from(await res.arrayBuffer()));
  };
  app.get('/v1/*', relay);
  app.get('/.well-known/*', relay);
  await app.register(pagesPlugin, { root: DIST });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { url: `http://localhost:${(app.server.address() as AddressInfo).port}`, close: () => app.close() };
}
