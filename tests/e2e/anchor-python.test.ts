// network/evm/check_anchor.py — the anchor check in another language (Python, standard library
// only, plain JSON-RPC) — run against a real geth dev node: the operator's anchor passes and reads
// the same as proof's readAnchorFromChain; a stranger's anchor of the genuine (size, root) from its
// own address, one on a stranger's deployment, an altered root and too few confirmations fail
// (exit 1, naming the check); a node nobody answers at is a network error (exit 3). And the
// TypeScript reader's finality: the anchor reads as final once geth finalizes its block.

import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type JsonRpcCall, JsonRpcError, readAnchorFromChain } from '@lianzheng/proof';
import {
  Contract,
  ContractFactory,
  type HDNodeWallet,
  JsonRpcProvider,
  keccak256,
  toUtf8Bytes,
  Wallet,
} from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANCHOR_ABI } from '../../gateway/src/anchor/abi.ts';
import { deployAnchorContract, readAnchorArtefact } from '../../gateway/src/anchor/deploy.ts';
import { freePort, fundFromDevAccount, type GethDevNode, startGethDev } from '../../network/evm/geth-dev.ts';
import { ensureArtefact } from './anchor-fixture.ts';

const SCRIPT = path.join(import.meta.dirname, '..', '..', 'network', 'evm', 'check_anchor.py');
const ORIGIN = 'lianzheng.test/python-check';
const ROOT = 'ab'.repeat(32);
const SIZE = 42;

let dir = '';
let geth: GethDevNode;
let provider: JsonRpcProvider;
let operator: HDNodeWallet;
let contract = '';
let genuineTx = '';

interface Run {
  code: number;
  out: string;
}

/** Runs the script from a folder outside the repository, as a stranger would. */
async function python(bundle: object, identity: object, rpc = geth.rpcUrl): Promise<Run> {
  const work = await fs.mkdtemp(path.join(dir, 'run-'));
  await fs.writeFile(path.join(work, 'bundle.json'), JSON.stringify(bundle));
  await fs.writeFile(path.join(work, 'identity.json'), JSON.stringify(identity));
  const args = [
    SCRIPT,
    '--rpc',
    rpc,
    '--bundle',
    'bundle.json',
    '--identity',
    'identity.json',
    '--timeout',
    '5',
  ];
  return new Promise((resolve) => {
    execFile('python3', args, { cwd: work, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? -1) : 0, out: `${stdout}${stderr}` });
    });
  });
}

function identity(extra: object = {}) {
  return {
    chainId: `eip155:${geth.chainId}`,
    contract,
    anchorer: operator.address.toLowerCase(),
    origin: ORIGIN,
    originHash: keccak256(toUtf8Bytes(ORIGIN)),
    confirmations: 2,
    retired: [],
    ...extra,
  };
}

function bundle(anchor: object = {}) {
  return {
    anchor: {
      chainId: `eip155:${geth.chainId}`,
      contract,
      txHash: genuineTx,
      block: 0,
      size: SIZE,
      root: ROOT,
      consistency: [],
      ...anchor,
    },
  };
}

/** Plain JSON-RPC to the node, in the shape proof's readAnchorFromChain takes. */
const rpc: JsonRpcCall = async (method, params) => {
  const res = await fetch(geth.rpcUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  const body = (await res.json()) as { result?: unknown; error?: { code: number; message: string } };
  if (body.error) throw new JsonRpcError(body.error.code, body.error.message);
  return body.result;
};

async function anchorFrom(wallet: HDNodeWallet, at: string): Promise<string> {
  const tx = await new Contract(at, ANCHOR_ABI, wallet).getFunction('anchor')(ORIGIN, SIZE, `0x${ROOT}`);
  expect((await tx.wait(1))?.status).toBe(1);
  return tx.hash;
}

beforeAll(async () => {
  ensureArtefact();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lz-e2e-anchor-python-'));
  geth = await startGethDev({ datadir: path.join(dir, 'geth'), period: 1 });
  provider = new JsonRpcProvider(geth.rpcUrl, geth.chainId, { staticNetwork: true });
  operator = Wallet.createRandom().connect(provider);
  await fundFromDevAccount(geth, operator.address, 10n ** 18n);
  contract = (await deployAnchorContract(operator)).address.toLowerCase();
  genuineTx = await anchorFrom(operator, contract);
  await new Promise((r) => setTimeout(r, 2_500)); // two more blocks: confirmed as the identity asks
});

afterAll(async () => {
  provider?.destroy();
  await geth?.stop();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

describe('check_anchor.py against geth', () => {
  it("passes the operator's anchor, and reads what proof's readAnchorFromChain reads", async () => {
    const run = await python(bundle(), identity());
    expect(run.out).toContain(`PASS chain eip155:${geth.chainId}`);
    expect(run.out).toMatch(
      new RegExp(
        `PASS event size ${SIZE} root ${ROOT} sent by ${operator.address.toLowerCase()} in block (\\d+)`,
      ),
    );
    expect(run.out).toContain(`PASS rootAt(${SIZE}) = ${ROOT}`);
    expect(run.out).toMatch(/PASS (\d+) confirmations \(at least 2\)/);
    expect(run.code).toBe(0);
    // The TypeScript reading (the page's and the CLI's) agrees on every value both print.
    const ts = await readAnchorFromChain(rpc, {
      chainId: `eip155:${geth.chainId}`,
      contract,
      txHash: genuineTx,
    });
    const block = Number(/in block (\d+)/.exec(run.out)?.[1]);
    expect(ts).toMatchObject({
      size: SIZE,
      root: ROOT,
      block,
      from: operator.address.toLowerCase(),
      anchorer: operator.address.toLowerCase(),
      originHash: keccak256(toUtf8Bytes(ORIGIN)),
      storedRoot: ROOT,
    });
  });

  it("refuses a stranger's anchor of the genuine (size, root), on the operator's contract or its own", async () => {
    const stranger = Wallet.createRandom().connect(provider);
    await fundFromDevAccount(geth, stranger.address, 10n ** 18n);
    const onOurs = await anchorFrom(stranger, contract);
    const artefact = await readAnchorArtefact();
    const theirs = await new ContractFactory(artefact.abi, artefact.bytecode, stranger).deploy();
    await theirs.waitForDeployment();
    const deployment = (await theirs.getAddress()).toLowerCase();
    const onTheirs = await anchorFrom(stranger, deployment);
    await new Promise((r) => setTimeout(r, 2_500));

    const foreignSender = await python(bundle({ txHash: onOurs }), identity());
    expect(foreignSender.out).toMatch(/FAIL FOREIGN_SENDER: sent by 0x[0-9a-f]{40}/);
    expect(foreignSender.code).toBe(1);
    const foreignContract = await python(bundle({ txHash: onTheirs, contract: deployment }), identity());
    expect(foreignContract.out).toContain('FAIL FOREIGN_CONTRACT');
    expect(foreignContract.code).toBe(1);
  });

  it('fails an altered root, too few confirmations and another chain; a silent node is exit 3', async () => {
    const altered = await python(bundle({ root: 'cd'.repeat(32) }), identity());
    expect(altered.out).toContain(`FAIL MISMATCH: the chain holds size ${SIZE}, root ${ROOT}`);
    expect(altered.code).toBe(1);
    const shallow = await python(bundle(), identity({ confirmations: 100_000 }));
    expect(shallow.out).toMatch(/FAIL NOT_CONFIRMED: \d+ of 100000 confirmations/);
    expect(shallow.code).toBe(1);
    const otherChain = await python(bundle(), identity({ chainId: 'eip155:1' }));
    expect(otherChain.out).toContain('FAIL FOREIGN_CHAIN');
    expect(otherChain.code).toBe(1);
    const down = await python(bundle(), identity(), `http://127.0.0.1:${await freePort()}`);
    expect(down.out).toMatch(/^NETWORK eth_chainId: /m);
    expect(down.code).toBe(3);
    const malformed = await python({ anchor: { ...bundle().anchor, txHash: '0x12' } }, identity());
    expect(malformed.out).toContain('ERROR anchor.txHash is malformed');
    expect(malformed.code).toBe(2);
  });

  it('reads finality from geth: the anchor is final once the dev chain finalizes its block', async () => {
    // geth's dev mode finalizes blocks some way behind the head (block 0 for the first blocks).
    const ref = { chainId: `eip155:${geth.chainId}`, contract, txHash: genuineTx };
    let read = await readAnchorFromChain(rpc, ref);
    const deadline = Date.now() + 120_000;
    while (read.finalized !== true && Date.now() < deadline) {
      expect(read.finalized).toBe(false); // the tag is offered: never absent on geth
      await new Promise((r) => setTimeout(r, 2_000));
      read = await readAnchorFromChain(rpc, ref);
    }
    expect(read.finalized).toBe(true);
    const finalized = await rpc('eth_getBlockByNumber', ['finalized', false]);
    expect(Number.parseInt((finalized as { number: string }).number, 16)).toBeGreaterThanOrEqual(read.block);
  }, 180_000);
});
