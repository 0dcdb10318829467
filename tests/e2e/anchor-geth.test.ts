// Anchoring against a real geth dev node and a real PostgreSQL: checkpoints → anchor → confirmed
// → the bundle's anchor step verified through the JSON-RPC fetcher; the chain refusing a size that
// does not grow; an altered anchor failing; the genuine checkpoint anchored by a stranger, or on a
// stranger's deployment of the contract, refused by verifyBundle and by `lianzheng verify` (run
// from another folder) once the operator's identity is pinned; every anchored root kept by the
// contract and read back with rootAt; geth stopped and restarted under the anchorer (and the
// anchorer itself restarted) with nothing skipped or doubled; a stuck transaction replaced; the
// move from the first (events-only) contract to the current one, as network/evm/README.md says.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type AnchorIdentity, type ProofBundle, toHex, verifyBundle } from '@lianzheng/proof';
import {
  Contract,
  ContractFactory,
  Interface,
  JsonRpcProvider,
  keccak256,
  toUtf8Bytes,
  Wallet,
} from 'ethers';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANCHOR_ABI } from '../../gateway/src/anchor/abi.ts';
import { type Anchorer, createAnchorer, type TickOutcome } from '../../gateway/src/anchor/anchorer.ts';
import { runAnchorDeploy, runAnchorKeygen } from '../../gateway/src/anchor/commands.ts';
import {
  ANCHOR_V1_ARTEFACT_PATH,
  deployAnchorContract,
  readAnchorArtefact,
} from '../../gateway/src/anchor/deploy.ts';
import { createAnchorHealthProbe } from '../../gateway/src/anchor/health.ts';
import { loadAnchorKey } from '../../gateway/src/anchor/key.ts';
import { pgLatestRecordedCheckpoint } from '../../gateway/src/anchor/pipeline-source.ts';
import anchorPlugin from '../../gateway/src/anchor/plugin.ts';
import { AnchorFetchError, createRpcAnchorFetcher } from '../../gateway/src/anchor/rpc-anchor-fetcher.ts';
import anchorRoutes from '../../gateway/src/routes/anchor/index.ts';
import { freePort, fundFromDevAccount, rpcCall } from '../../network/evm/geth-dev.ts';
import { type AnchorEnv, ORIGIN, startAnchorEnv, TestLog, tickUntil } from './anchor-fixture.ts';

let env: AnchorEnv;
let log: TestLog;
const anchorers: Anchorer[] = [];

function newAnchorer(overrides: Partial<Parameters<typeof createAnchorer>[0]> = {}): Anchorer {
  const anchorer = createAnchorer({
    db: env.pool,
    config: env.config,
    wallet: env.wallet,
    origin: ORIGIN,
    latestRecordedCheckpoint: pgLatestRecordedCheckpoint(env.pool),
    ...overrides,
  });
  anchorers.push(anchorer);
  return anchorer;
}

async function anchorRows() {
  const { rows } = await env.pool.query<{
    size: string;
    root: string;
    status: string;
    nonce: string;
    tx_hash: string;
    tx_hashes: string[];
    block: string | null;
  }>('select size, root, status, nonce, tx_hash, tx_hashes, block from anchors order by id');
  return rows.map((r) => ({ ...r, size: Number(r.size), nonce: Number(r.nonce) }));
}

/** Every Anchored event the operator's key made the contract emit, read straight from the node. */
async function chainEvents(): Promise<{ size: number; root: string; txHash: string }[]> {
  const iface = new Interface(ANCHOR_ABI);
  const logs = await rpcCall<{ data: string; topics: string[]; transactionHash: string }[]>(
    env.geth.rpcUrl,
    'eth_getLogs',
    [{ address: env.contract, fromBlock: '0x0', toBlock: 'latest' }],
  );
  const ours = logs.filter((l) => iface.parseLog(l)?.args.anchorer === env.wallet.address);
  return ours.map((l) => {
    const parsed = iface.parseLog(l);
    return {
      size: Number(parsed?.args.size),
      root: String(parsed?.args.root).slice(2),
      txHash: l.transactionHash,
    };
  });
}

const confirmed = (o: TickOutcome) => o.action === 'confirmed';

/** The operator's identity as /v1/keys publishes it (gateway/src/anchor/plugin.ts). */
function pinned(): AnchorIdentity {
  return {
    chainId: `eip155:${env.geth.chainId}`,
    contract: env.contract,
    anchorer: env.wallet.address.toLowerCase(),
    origin: ORIGIN,
    originHash: keccak256(toUtf8Bytes(ORIGIN)),
    confirmations: env.config.confirmations,
    retired: [],
  };
}

const repoRoot = path.join(import.meta.dirname, '..', '..');

/** `lianzheng verify` as a stranger runs it: from a folder outside the repository. */
async function cliVerify(
  bundle: ProofBundle,
  keys: object,
  extra: string[],
): Promise<{ code: number; out: string }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lz-cli-verify-'));
  try {
    await fs.writeFile(path.join(dir, 'bundle.json'), JSON.stringify(bundle));
    await fs.writeFile(path.join(dir, 'keys.json'), JSON.stringify(keys));
    const args = [
      path.join(repoRoot, 'scripts', 'lianzheng.mjs'),
      'verify',
      '--sha256',
      bundle.record.digests.sha256,
      '--bundle',
      'bundle.json',
      '--keys',
      'keys.json',
      ...extra,
    ];
    return await new Promise((resolve) => {
      execFile(process.execPath, args, { cwd: dir, timeout: 120_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? Number((err as { code?: number }).code ?? -1) : 0, out: `${stdout}${stderr}` });
      });
    });
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

beforeAll(async () => {
  env = await startAnchorEnv();
  log = await TestLog.create(env.pool);
});

afterAll(async () => {
  for (const a of anchorers) await a.stop();
  await env?.stop();
});

describe('anchoring on geth', () => {
  let firstBundle: ProofBundle;
  let firstTx: string;
  let otherTx: string;
  let plainTx: string;

  it('anchors the newest recorded checkpoint, marks records anchored, and the bundle verifies through the chain', async () => {
    await log.appendBatch(3);
    const size = await log.appendBatch(4);
    const anchorer = newAnchorer();
    const outcomes = await tickUntil(() => anchorer.tick(), confirmed, 30_000);
    expect(outcomes[0]?.action).toBe('created');
    expect(outcomes.at(-1)).toMatchObject({ action: 'confirmed', size });

    const rows = await anchorRows();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ size: 7, status: 'confirmed', nonce: 1 });
    firstTx = rows[0]?.tx_hash ?? '';
    const { rows: subs } = await env.pool.query<{ status: string; n: string }>(
      'select status, count(*) as n from submission_states group by status',
    );
    expect(subs).toEqual([{ status: 'anchored', n: '7' }]);

    // The record in the first batch: its inclusion is against size 3, the anchor is at size 7.
    firstBundle = await log.bundleFor(1);
    expect(firstBundle.anchor).toMatchObject({
      chainId: `eip155:${env.geth.chainId}`,
      contract: env.contract,
      size: 7,
    });
    expect(firstBundle.anchor?.consistency.length).toBeGreaterThan(0);
    const getAnchor = createRpcAnchorFetcher({ rpcUrl: env.geth.rpcUrl, minConfirmations: 2 });
    const result = await verifyBundle(firstBundle, {
      sha256: firstBundle.record.digests.sha256,
      keys: { ...log.keys, anchor: pinned() },
      getAnchor,
    });
    expect(result.steps.find((s) => s.step === 'anchor')).toMatchObject({ status: 'pass' });
    expect(result.steps.filter((s) => s.status === 'fail')).toEqual([]);
    expect(result.ok).toBe(true);

    const onChain = await getAnchor(firstBundle.anchor as NonNullable<ProofBundle['anchor']>);
    expect(onChain).toMatchObject({
      size: 7,
      root: rows[0]?.root,
      contract: env.contract,
      anchorer: env.wallet.address.toLowerCase(),
      from: env.wallet.address.toLowerCase(),
    });
    expect(onChain.originHash).toBe(keccak256(toUtf8Bytes(ORIGIN)));
    // The root is read back from the contract's storage, not only from the event log.
    expect(onChain.storedRoot).toBe(rows[0]?.root);
    expect(result.steps.find((s) => s.step === 'anchor')?.detail).toContain(
      'root read back from the contract',
    );

    // Nothing new: the log did not grow, so the next interval anchors nothing.
    await new Promise((r) => setTimeout(r, env.config.intervalMs));
    expect((await anchorer.tick()).action).toBe('idle');
    expect(await anchorRows()).toHaveLength(1);
  });

  it('serves the anchor through the gateway proxy route', async () => {
    const app = Fastify();
    await app.register(anchorPlugin, { config: env.config, db: env.pool, origin: ORIGIN, run: false });
    await app.register(anchorRoutes);
    await app.ready();
    try {
      const ok = await app.inject({ method: 'GET', url: `/v1/anchor/tx/${firstTx}` });
      expect(ok.statusCode).toBe(200);
      expect(ok.json()).toMatchObject({
        size: 7,
        chainId: `eip155:${env.geth.chainId}`,
        contract: env.contract,
        from: env.wallet.address.toLowerCase(),
        anchorer: env.wallet.address.toLowerCase(),
      });
      expect(app.anchor.identity).toEqual(pinned());
      // Only the operator's own contracts are read through the proxy.
      const foreign = await app.inject({
        method: 'GET',
        url: `/v1/anchor/tx/${firstTx}?contract=0x${'77'.repeat(20)}`,
      });
      expect(foreign.statusCode).toBe(404);
      expect(foreign.json()).toMatchObject({ anchorCode: 'ANCHOR_FOREIGN_CONTRACT' });
      const missing = await app.inject({ method: 'GET', url: `/v1/anchor/tx/0x${'ab'.repeat(32)}` });
      expect(missing.statusCode).toBe(404);
      expect(missing.json()).toMatchObject({ code: 'NOT_FOUND', anchorCode: 'ANCHOR_TX_NOT_FOUND' });
      const bad = await app.inject({ method: 'GET', url: '/v1/anchor/tx/0x1234' });
      expect(bad.statusCode).toBe(400);
    } finally {
      await app.close();
    }
  });

  it('makes a key and deploys a contract from the configuration (`lianzheng anchor keygen/deploy`)', async () => {
    // Another key, so the anchorer's own nonces stay untouched.
    const keyFile = path.join(env.dir, 'deployer.key');
    const keygen = await runAnchorKeygen(keyFile, env.config);
    const deployer = (await loadAnchorKey(keyFile)).address;
    expect(keygen.join('\n')).toContain(deployer);
    const envVars = {
      ANCHOR_RPC_URL: env.geth.rpcUrl,
      ANCHOR_CHAIN_ID: String(env.geth.chainId),
      ANCHOR_KEY_FILE: keyFile,
      ANCHOR_CONFIRMATIONS: '1',
    };
    await expect(runAnchorDeploy(envVars)).rejects.toMatchObject({ code: 'DEPLOY_FAILED' }); // no funds yet
    await fundFromDevAccount(env.geth, deployer, 10n ** 18n);
    const lines = await runAnchorDeploy(envVars);
    const address = lines.at(-1)?.replace('ANCHOR_CONTRACT=', '') ?? '';
    expect(address).toMatch(/^0x[0-9a-f]{40}$/);
    expect(address).not.toBe(env.contract);
    const code = await rpcCall<string>(env.geth.rpcUrl, 'eth_getCode', [address, 'latest']);
    const artefact = await readAnchorArtefact();
    expect(code).toBe(artefact.deployedBytecode);
    await expect(
      runAnchorDeploy({
        ANCHOR_RPC_URL: env.geth.rpcUrl,
        ANCHOR_CHAIN_ID: '1',
        ANCHOR_KEY_FILE: env.config.keyFile ?? '',
      }),
    ).rejects.toMatchObject({ code: 'CHAIN_MISMATCH' });
  });

  it('the chain itself refuses a size that does not grow, per sender', async () => {
    const provider = new JsonRpcProvider(env.geth.rpcUrl, env.geth.chainId, { staticNetwork: true });
    try {
      const contract = new Contract(env.contract, ANCHOR_ABI, env.wallet.connect(provider));
      const root = `0x${'11'.repeat(32)}`;
      for (const size of [7, 6, 1]) {
        const err = await contract
          .getFunction('anchor')(ORIGIN, size, root)
          .then(
            () => null,
            (e: { code?: string; data?: string }) => e,
          );
        expect(err?.code).toBe('CALL_EXCEPTION');
        const decoded = contract.interface.parseError(err?.data ?? '0x');
        expect(decoded?.name).toBe('NotAppendOnly');
        expect(decoded?.args.map(Number)).toEqual([7, size]);
      }
      // Another key has its own series: nobody can block ours by anchoring a huge size first.
      const other = Wallet.createRandom().connect(provider);
      plainTx = await fundFromDevAccount(env.geth, other.address, 10n ** 18n);
      const otherContract = new Contract(env.contract, ANCHOR_ABI, other);
      const tx = await otherContract.getFunction('anchor')(ORIGIN, 1_000_000, root);
      expect((await tx.wait())?.status).toBe(1);
      otherTx = tx.hash;
      const latest = await contract.getFunction('latestSize')(
        env.wallet.address,
        keccak256(toUtf8Bytes(ORIGIN)),
      );
      expect(Number(latest)).toBe(7);

      // Every anchored root stays readable with one eth_call; a size never anchored reads zero,
      // the other key's series is its own, and a zero root (the "none" answer) is refused.
      const rootAt = contract.getFunction('rootAt');
      const originHash = keccak256(toUtf8Bytes(ORIGIN));
      const [ours] = await anchorRows();
      expect(await rootAt(env.wallet.address, originHash, 7)).toBe(`0x${ours?.root}`);
      expect(await rootAt(env.wallet.address, originHash, 6)).toBe(`0x${'00'.repeat(32)}`);
      expect(await rootAt(other.address, originHash, 1_000_000)).toBe(root);
      expect(await rootAt(other.address, originHash, 7)).toBe(`0x${'00'.repeat(32)}`);
      const zero = await otherContract
        .getFunction('anchor')(ORIGIN, 2_000_000, `0x${'00'.repeat(32)}`)
        .then(
          () => null,
          (e: { data?: string }) => e,
        );
      expect(contract.interface.parseError(zero?.data ?? '0x')?.name).toBe('ZeroRoot');
    } finally {
      provider.destroy();
    }
  });

  it('an altered anchor fails the anchor step', async () => {
    const getAnchor = createRpcAnchorFetcher({ rpcUrl: env.geth.rpcUrl });
    const anchor = firstBundle.anchor as NonNullable<ProofBundle['anchor']>;
    const alteredRoot = { ...firstBundle, anchor: { ...anchor, root: toHex(new Uint8Array(32).fill(7)) } };
    const r1 = await verifyBundle(alteredRoot, { keys: log.keys, getAnchor });
    expect(r1.steps.find((s) => s.step === 'anchor')?.status).toBe('fail');
    expect(r1.ok).toBe(false);

    // A bundle pointing at another anchor transaction of the same contract (here another key's):
    // the consistency proof holds, but the chain holds another checkpoint at that transaction.
    const elsewhere = { ...firstBundle, anchor: { ...anchor, txHash: otherTx } };
    const r2 = await verifyBundle(elsewhere, { keys: log.keys, getAnchor });
    expect(r2.steps.find((s) => s.step === 'anchor')).toMatchObject({
      status: 'fail',
      code: 'ANCHOR_MISMATCH',
    });

    // The fetcher refuses a transaction that is not an anchor of that contract, and another chain.
    await expect(getAnchor({ ...anchor, txHash: plainTx })).rejects.toMatchObject({
      code: 'ANCHOR_EVENT_MISSING',
    });
    await expect(getAnchor({ ...anchor, chainId: 'eip155:1' })).rejects.toBeInstanceOf(AnchorFetchError);
    await expect(getAnchor({ ...anchor, chainId: 'eip155:1' })).rejects.toMatchObject({
      code: 'ANCHOR_CHAIN_MISMATCH',
    });
  });

  it('refuses the genuine checkpoint anchored by a stranger or on a stranger’s contract: verifyBundle and the CLI', async () => {
    const anchor = firstBundle.anchor as NonNullable<ProofBundle['anchor']>;
    const provider = new JsonRpcProvider(env.geth.rpcUrl, env.geth.chainId, { staticNetwork: true });
    let strangerTx: string;
    let deploymentTx: string;
    let deployment: string;
    try {
      // A stranger anchors the operator's very (size, root) from its own address, on the operator's
      // contract: the contract accepts it (every sender has its own series)…
      const stranger = Wallet.createRandom().connect(provider);
      await fundFromDevAccount(env.geth, stranger.address, 10n ** 18n);
      const onOurs = new Contract(env.contract, ANCHOR_ABI, stranger);
      const tx = await onOurs.getFunction('anchor')(ORIGIN, anchor.size, `0x${anchor.root}`);
      expect((await tx.wait())?.status).toBe(1);
      strangerTx = tx.hash;
      // …and deploys a contract of its own (the same code) and anchors it there too.
      const artefact = await readAnchorArtefact();
      const factory = new ContractFactory(artefact.abi, artefact.bytecode, stranger);
      const theirs = await factory.deploy();
      await theirs.waitForDeployment();
      deployment = (await theirs.getAddress()).toLowerCase();
      const tx2 = await theirs.getFunction('anchor')(ORIGIN, anchor.size, `0x${anchor.root}`);
      expect((await tx2.wait())?.status).toBe(1);
      deploymentTx = tx2.hash;
    } finally {
      provider.destroy();
    }
    const getAnchor = createRpcAnchorFetcher({ rpcUrl: env.geth.rpcUrl });
    const keys = { ...log.keys, anchor: pinned() };
    const sha256 = firstBundle.record.digests.sha256;
    const bySomeoneElse = structuredClone(firstBundle);
    bySomeoneElse.anchor!.txHash = strangerTx;
    const elsewhere = structuredClone(firstBundle);
    elsewhere.anchor!.txHash = deploymentTx;
    elsewhere.anchor!.contract = deployment;
    await new Promise((r) => setTimeout(r, 2_500)); // two more blocks: both are confirmed enough

    const anchorStep = async (bundle: ProofBundle, k: typeof log.keys & { anchor?: AnchorIdentity }) =>
      (await verifyBundle(bundle, { sha256, keys: k, getAnchor })).steps.find((s) => s.step === 'anchor');
    expect(await anchorStep(bySomeoneElse, keys)).toMatchObject({
      status: 'fail',
      code: 'ANCHOR_FOREIGN_SENDER',
    });
    expect(await anchorStep(elsewhere, keys)).toMatchObject({
      status: 'fail',
      code: 'ANCHOR_FOREIGN_CONTRACT',
    });
    // Before pinning, the very same anchors were passed on size and root alone; now they are
    // "not pinned" at best — never a pass.
    expect(await anchorStep(bySomeoneElse, log.keys)).toMatchObject({
      status: 'skipped',
      code: 'ANCHOR_NOT_PINNED',
    });
    expect(await anchorStep(firstBundle, keys)).toMatchObject({ status: 'pass' });

    // The CLI, run from a folder outside the repository with the keys JSON of /v1/keys.
    const rpc = ['--rpc', env.geth.rpcUrl];
    const good = await cliVerify(firstBundle, keys, rpc);
    expect(good.out).toMatch(/PASS anchor/);
    expect(good.out).toContain(`anchor pinned to eip155:${env.geth.chainId}, contract ${env.contract}`);
    expect(good.code).toBe(0);
    const foreignSender = await cliVerify(bySomeoneElse, keys, rpc);
    expect(foreignSender.out).toMatch(/FAIL anchor \(ANCHOR_FOREIGN_SENDER\)/);
    expect(foreignSender.code).toBe(1);
    const foreignContract = await cliVerify(elsewhere, keys, rpc);
    expect(foreignContract.out).toMatch(/FAIL anchor \(ANCHOR_FOREIGN_CONTRACT\)/);
    expect(foreignContract.code).toBe(1);
    // The operator's confirmations (published with the identity) bind the CLI unless it asks for more.
    const tooFew = await cliVerify(firstBundle, keys, [...rpc, '--confirmations', '1000']);
    expect(tooFew.out).toMatch(/FAIL anchor \(ANCHOR_NOT_CONFIRMED\)/);
    expect(tooFew.code).toBe(1);
    // An RPC endpoint nobody answers at: a network error (3), not a failed verification (1).
    const down = await cliVerify(firstBundle, keys, ['--rpc', `http://127.0.0.1:${await freePort()}`]);
    expect(down.out).toMatch(/FAIL anchor \(ANCHOR_LOOKUP_FAILED\)/);
    expect(down.out).toContain('network error');
    expect(down.code).toBe(3);
    // So is a gateway nobody answers at (asked for the record's standing, its ledger transaction
    // and its anchor proxy): the first look-up that fails ends the check with a network error.
    const noGateway = await cliVerify(firstBundle, keys, [
      '--gateway',
      `http://127.0.0.1:${await freePort()}`,
    ]);
    expect(noGateway.out).toMatch(
      /cannot reach http:\/\/127\.0\.0\.1:\d+\/|FAIL anchor \(ANCHOR_LOOKUP_FAILED\)/,
    );
    expect(noGateway.code).toBe(3);
    // And its help, from that other folder too (tsx with the repository's tsconfig).
    const help = await cliVerify(firstBundle, keys, ['--help']);
    expect(help.out).toContain('--confirmations N');
    expect(help.code).toBe(0);
  });

  it('resumes after the node is stopped and restarted (and the anchorer too): nothing skipped or doubled', async () => {
    const before = newAnchorer();
    const size12 = await log.appendBatch(5);
    await new Promise((r) => setTimeout(r, env.config.intervalMs));
    // Signed, persisted and sent; then the node goes away before it can be confirmed.
    const sent = await tickUntil(
      () => before.tick(),
      (o) => o.action === 'created' || o.action === 'error',
      10_000,
    );
    expect(sent.at(-1)).toMatchObject({ action: 'created', size: size12 });
    await env.stopGeth();

    const size15 = await log.appendBatch(3);
    const during: TickOutcome[] = [];
    for (let i = 0; i < 5; i++) {
      during.push(await before.tick());
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(during.every((o) => o.action === 'error')).toBe(true);
    // Counted as the chain's failures, not the database's.
    expect(before.status()).toMatchObject({ rpcErrors: 5, lastError: { source: 'rpc' } });
    // What the gauges and /readyz read: an anchor in flight, and the log ahead of the last anchor.
    const health = await createAnchorHealthProbe(env.pool, {
      chainId: env.geth.chainId,
      contract: env.contract,
      origin: ORIGIN,
    })();
    expect(health).toMatchObject({ lastSize: 7, recordedSize: size15, lagEntries: size15 - 7 });
    expect(health.pendingSeconds).toBeGreaterThan(0.5);
    expect(health.lagSeconds).toBeGreaterThan(0.5);
    expect(health.lastAnchoredAt).toBeGreaterThan(Date.now() / 1000 - 600);
    // The gateway restarts too: a new anchorer resumes from the outbox alone.
    await before.stop();
    await env.startGeth();
    const after = newAnchorer();
    const resumed = await tickUntil(() => after.tick(), confirmed, 60_000);
    expect(resumed.at(-1)).toMatchObject({ action: 'confirmed', size: size12 });
    await new Promise((r) => setTimeout(r, env.config.intervalMs));
    const next = await tickUntil(() => after.tick(), confirmed, 60_000);
    expect(next.at(-1)).toMatchObject({ action: 'confirmed', size: size15 });

    const rows = await anchorRows();
    expect(rows.map((r) => [r.size, r.status])).toEqual([
      [7, 'confirmed'],
      [12, 'confirmed'],
      [15, 'confirmed'],
    ]);
    expect(rows.map((r) => r.nonce)).toEqual([1, 2, 3]);
    // The anchor that was in flight was re-sent as the very same transaction, not a new one.
    expect(rows[1]?.tx_hashes).toHaveLength(1);
    const ours = (await chainEvents()).filter((e) => e.size !== 1_000_000);
    expect(ours.map((e) => e.size)).toEqual([7, 12, 15]);
    expect(ours.map((e) => e.txHash)).toEqual(rows.map((r) => r.tx_hash));
    expect(ours.map((e) => e.root)).toEqual(rows.map((r) => r.root));
    const { rows: subs } = await env.pool.query<{ status: string; n: string }>(
      'select status, count(*) as n from submission_states group by status',
    );
    expect(subs).toEqual([{ status: 'anchored', n: '15' }]);
  });

  it('replaces a stuck transaction with the same nonce and higher fees', async () => {
    let first = true;
    const stuckFees = async (provider: JsonRpcProvider) => {
      const block = await provider.getBlock('latest');
      const real = block?.baseFeePerGas ?? 0n;
      const tip = BigInt(await provider.send('eth_maxPriorityFeePerGas', []));
      // The first suggestion is a base fee far below the real one (as when fees jump right after
      // signing): that transaction cannot be mined until the base fee falls a long way.
      const baseFee = first ? real / 8n : real;
      first = false;
      return { baseFee, maxPriorityFeePerGas: tip, maxFeePerGas: baseFee + tip };
    };
    const anchorer = newAnchorer({
      suggestFees: stuckFees,
      config: { ...env.config, replaceAfterMs: 1_500 },
    });
    const size = await log.appendBatch(2);
    await new Promise((r) => setTimeout(r, env.config.intervalMs));
    const outcomes = await tickUntil(() => anchorer.tick(), confirmed, 60_000, 200);
    expect(outcomes.map((o) => o.action)).toContain('replaced');
    expect(outcomes.at(-1)).toMatchObject({ action: 'confirmed', size });
    const row = (await anchorRows()).at(-1);
    expect(row?.nonce).toBe(4);
    expect(row?.tx_hashes.length).toBeGreaterThanOrEqual(2);
    expect(row?.tx_hash).toBe(row?.tx_hashes.at(-1));
    expect((await chainEvents()).filter((e) => e.size === size)).toHaveLength(1);
  });
  it('runs on its timer inside the plugin; two gateways anchoring at once never double an anchor', async () => {
    const apps = [Fastify(), Fastify()];
    for (const app of apps) {
      await app.register(anchorPlugin, {
        config: { ...env.config, intervalMs: 200, pollMs: 50 },
        db: env.pool,
        origin: ORIGIN,
      });
    }
    await Promise.all(apps.map((a) => a.ready()));
    try {
      const before = (await anchorRows()).length;
      const sizes: number[] = [];
      for (let i = 0; i < 3; i++) {
        sizes.push(await log.appendBatch(1));
        const deadline = Date.now() + 30_000;
        while (Date.now() < deadline) {
          const last = (await anchorRows()).at(-1);
          if (last?.size === sizes.at(-1) && last?.status === 'confirmed') break;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      const rows = (await anchorRows()).slice(before);
      expect(rows.map((r) => [r.size, r.status])).toEqual(sizes.map((size) => [size, 'confirmed']));
      const nonces = (await anchorRows()).map((r) => r.nonce);
      expect(nonces).toEqual(nonces.map((_, i) => i + 1));
      const events = (await chainEvents()).filter((e) => e.size !== 1_000_000).map((e) => e.size);
      expect(events).toEqual((await anchorRows()).map((r) => r.size));
      expect(apps[0]?.anchor.anchorer?.status()).toMatchObject({ running: true });
    } finally {
      await Promise.all(apps.map((a) => a.close()));
    }
    expect(apps[0]?.anchor.anchorer?.status().running).toBe(false);
  });
  it('moves from the first (events-only) contract: old bundles verify as retired, new anchors keep their roots', async () => {
    const provider = new JsonRpcProvider(env.geth.rpcUrl, env.geth.chainId, { staticNetwork: true });
    const deploy = async (artefactPath?: string) =>
      (
        await deployAnchorContract(env.wallet.connect(provider), {
          confirmations: 1,
          ...(artefactPath ? { artefact: await readAnchorArtefact(artefactPath) } : {}),
        })
      ).address;
    let v1: string;
    let current: string;
    try {
      v1 = await deploy(ANCHOR_V1_ARTEFACT_PATH);
    } catch (e) {
      provider.destroy();
      throw e;
    }
    const chainId = `eip155:${env.geth.chainId}`;
    const anchorer = env.wallet.address.toLowerCase();
    try {
      // The operator anchored on the first contract…
      const onV1 = newAnchorer({ config: { ...env.config, contract: v1 } });
      const size = await log.appendBatch(2);
      await new Promise((r) => setTimeout(r, env.config.intervalMs));
      expect((await tickUntil(() => onV1.tick(), confirmed, 30_000)).at(-1)).toMatchObject({ size });
      await onV1.stop();
      const oldBundle = await log.bundleFor(size - 1);
      expect(oldBundle.anchor?.contract).toBe(v1);
      const getAnchor = createRpcAnchorFetcher({ rpcUrl: env.geth.rpcUrl });
      const onChain = await getAnchor(oldBundle.anchor!);
      expect(onChain.storedRoot).toBeNull(); // no rootAt: the root lives in the event only

      // …then deploys the current one and publishes it, the first one retired (network/evm/README.md).
      current = await deploy();
      const moved = newAnchorer({ config: { ...env.config, contract: current } });
      expect((await tickUntil(() => moved.tick(), confirmed, 30_000)).at(-1)).toMatchObject({ size });
      const identity: AnchorIdentity = {
        ...pinned(),
        contract: current,
        retired: [{ chainId, contract: v1, anchorer }],
      };
      const anchorStep = async (bundle: ProofBundle, anchor: AnchorIdentity) =>
        (
          await verifyBundle(bundle, { keys: { ...log.keys, anchor }, getAnchor, anchorConfirmations: 1 })
        ).steps.find((s) => s.step === 'anchor');
      const old = await anchorStep(oldBundle, identity);
      expect(old).toMatchObject({ status: 'pass' });
      expect(old?.detail).toContain('keeps no roots');
      // Without the retired entry the old anchor is another contract's.
      expect(await anchorStep(oldBundle, { ...identity, retired: [] })).toMatchObject({
        code: 'ANCHOR_FOREIGN_CONTRACT',
      });
      // The new contract's anchor of the same size: its root read back with rootAt.
      const { rows } = await env.pool.query<{ tx_hash: string }>(
        `select tx_hash from anchors where contract = $1 and status = 'confirmed'`,
        [current],
      );
      const newBundle = structuredClone(oldBundle);
      newBundle.anchor = { ...oldBundle.anchor!, contract: current, txHash: rows[0]!.tx_hash };
      const fresh = await anchorStep(newBundle, identity);
      expect(fresh).toMatchObject({ status: 'pass' });
      expect(fresh?.detail).toContain('root read back from the contract');

      // The proxy of a gateway configured that way reads both (ANCHOR_RETIRED).
      const app = Fastify();
      await app.register(anchorPlugin, {
        config: {
          ...env.config,
          contract: current,
          retired: [{ chainId: env.geth.chainId, contract: v1, anchorer }],
        },
        db: env.pool,
        origin: ORIGIN,
        run: false,
      });
      await app.register(anchorRoutes);
      await app.ready();
      try {
        expect(app.anchor.identity).toEqual(identity);
        const viaProxy = await app.inject({
          url: `/v1/anchor/tx/${oldBundle.anchor!.txHash}?contract=${v1}`,
        });
        expect(viaProxy.statusCode).toBe(200);
        expect(viaProxy.json()).toMatchObject({ contract: v1, from: anchorer, storedRoot: null });
      } finally {
        await app.close();
      }
    } finally {
      provider.destroy();
    }
  });
});
