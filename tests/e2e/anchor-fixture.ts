// Shared by the anchoring end-to-end tests and benchmark: a real geth dev node, a real embedded
// PostgreSQL with the gateway's migrations, the Anchor contract deployed by the anchorer's own
// funded key, and a log of records written into the pipeline's tables the way the pipeline
// writes them (subtrees, signed checkpoints, recorded ledger batches, recorded submissions), from
// which real proof bundles are built. Not a test file itself.
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  appendLeavesWithSubtrees,
  canonicalJson,
  cidFromSha256,
  deriveNotePublicKey,
  detailsDigest,
  type EvidenceRecord,
  emptyFrontier,
  type Frontier,
  formatCheckpoint,
  frontierRoot,
  generateInclusionProof,
  type JSONWebKeySet,
  noteVerifierKey,
  type ProofBundle,
  type RecordDetails,
  recordLeafHash,
  sha256,
  signCheckpoint,
  toHex,
} from '@lianzheng/proof';
import { JsonRpcProvider, type Wallet } from 'ethers';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import pg from 'pg';
import { anchorRefFor } from '../../gateway/src/anchor/anchor-ref.ts';
import type { AnchorConfig } from '../../gateway/src/anchor/config.ts';
import { ANCHOR_ARTEFACT_PATH, deployAnchorContract } from '../../gateway/src/anchor/deploy.ts';
import { createAnchorKeyFile, loadAnchorKey } from '../../gateway/src/anchor/key.ts';
import { CachedSubtreeStore, writeSubtrees } from '../../gateway/src/log/subtree-store.ts';
import { startEmbeddedPostgres } from '../../gateway/src/storage/embedded-postgres.ts';
import { runMigrations } from '../../gateway/src/storage/migrate.ts';
import { fundFromDevAccount, type GethDevNode, startGethDev } from '../../network/evm/geth-dev.ts';

const repoRoot = path.join(import.meta.dirname, '..', '..');

export const ORIGIN = 'lianzheng.test/log';

export interface AnchorEnv {
  dir: string;
  pool: pg.Pool;
  geth: GethDevNode;
  gethDatadir: string;
  wallet: Wallet;
  contract: string;
  config: AnchorConfig & { contract: string };
  /** Stops geth (if running), PostgreSQL, and removes the temp folder. */
  stop(): Promise<void>;
  /** Stops the geth node and starts it again on the same chain and port after `downMs`. */
  restartGeth(downMs: number): Promise<void>;
  stopGeth(): Promise<void>;
  startGeth(): Promise<void>;
}

/** Compiles the contract when the build has not (a single test file run on a fresh clone). */
export function ensureArtefact(): void {
  if (!existsSync(ANCHOR_ARTEFACT_PATH)) {
    execFileSync(process.execPath, [path.join(repoRoot, 'network', 'evm', 'compile.mjs')], {
      stdio: 'inherit',
    });
  }
}

/**
 * A new anchoring key in `dir`/anchor.key, funded from the dev account, that deploys the Anchor
 * contract: the operator's first steps (`lianzheng anchor keygen` then `deploy`). The key's first
 * transaction is the deployment, so its nonce afterwards counts its anchor transactions plus one.
 */
export async function deployWithNewAnchorKey(
  geth: GethDevNode,
  dir: string,
): Promise<{ keyFile: string; wallet: Wallet; contract: string }> {
  const keyFile = path.join(dir, 'anchor.key');
  await createAnchorKeyFile(keyFile);
  const wallet = await loadAnchorKey(keyFile);
  await fundFromDevAccount(geth, wallet.address, 100n * 10n ** 18n);
  const provider = new JsonRpcProvider(geth.rpcUrl, geth.chainId, { staticNetwork: true });
  const deployed = await deployAnchorContract(wallet.connect(provider)).finally(() => provider.destroy());
  return { keyFile, wallet, contract: deployed.address };
}

export async function startAnchorEnv(
  options: { period?: number; minerGasPriceWei?: bigint; config?: Partial<AnchorConfig> } = {},
): Promise<AnchorEnv> {
  ensureArtefact();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lz-anchor-'));
  // Whatever was started before a failure is stopped again, or the test run would hang on it.
  const cleanups: (() => Promise<unknown>)[] = [];
  const undo = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    cleanups.length = 0;
    await fs.rm(dir, { recursive: true, force: true });
  };
  try {
    const server = await startEmbeddedPostgres({ dir: path.join(dir, 'pg') });
    cleanups.push(() => server.stop());
    const pool = new pg.Pool({ connectionString: server.url, max: 8 });
    cleanups.push(() => pool.end());
    await runMigrations(pool);

    const gethDatadir = path.join(dir, 'geth');
    const gethOptions = {
      datadir: gethDatadir,
      period: options.period ?? 1,
      ...(options.minerGasPriceWei !== undefined ? { minerGasPriceWei: options.minerGasPriceWei } : {}),
    };
    let geth = await startGethDev(gethOptions);
    let running = true;
    cleanups.push(async () => {
      if (running) await geth.stop();
      running = false;
    });

    const { keyFile, wallet, contract } = await deployWithNewAnchorKey(geth, dir);

    const config: AnchorConfig & { contract: string } = {
      rpcUrl: geth.rpcUrl,
      chainId: geth.chainId,
      keyFile,
      confirmations: 2,
      intervalMs: 300,
      pollMs: 100,
      replaceAfterMs: 60_000,
      maxFeePerGas: 200n * 10n ** 9n,
      maxPriorityFeePerGas: 5n * 10n ** 9n,
      rpcTimeoutMs: 2_000,
      ...options.config,
      contract,
    };

    const env: AnchorEnv = {
      dir,
      pool,
      get geth() {
        return geth;
      },
      gethDatadir,
      wallet,
      contract,
      config,
      async stopGeth() {
        if (running) await geth.stop();
        running = false;
      },
      async startGeth() {
        if (!running) geth = await startGethDev({ ...gethOptions, port: geth.port });
        running = true;
      },
      async restartGeth(downMs: number) {
        await env.stopGeth();
        await new Promise((r) => setTimeout(r, downMs));
        await env.startGeth();
      },
      async stop() {
        await undo();
      },
    };
    return env;
  } catch (e) {
    await undo();
    throw e;
  }
}

interface Entry {
  record: EvidenceRecord;
  details: RecordDetails;
  receipt: string;
  leafIndex: number;
  /** The size of the checkpoint its batch was recorded in. */
  batchSize: number;
}

/**
 * A Merkle log written into the pipeline's tables, batch by batch, each batch recorded (a
 * `ledger_batches` row with status 'recorded' and its signed checkpoint) as the pipeline does.
 */
export class TestLog {
  private frontier: Frontier = emptyFrontier();
  readonly entries: Entry[] = [];
  readonly subtrees: CachedSubtreeStore;
  private readonly notes = new Map<number, string>();

  private constructor(
    private readonly pool: pg.Pool,
    private readonly noteKey: Uint8Array,
    private readonly receiptKey: CryptoKey,
    readonly keys: { jwks: JSONWebKeySet; checkpointKeys: string[] },
  ) {
    this.subtrees = new CachedSubtreeStore(pool);
  }

  static async create(pool: pg.Pool): Promise<TestLog> {
    const noteKey = new Uint8Array(randomBytes(32));
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'test-receipt-1', alg: 'ES256', use: 'sig' };
    return new TestLog(pool, noteKey, privateKey as CryptoKey, {
      jwks: { keys: [jwk] },
      checkpointKeys: [noteVerifierKey(ORIGIN, deriveNotePublicKey(noteKey))],
    });
  }

  get size(): number {
    return this.frontier.size;
  }

  /** Appends `count` records as one recorded batch; returns the new checkpoint size. */
  async appendBatch(count: number): Promise<number> {
    const fromSize = this.frontier.size;
    const fresh: Entry[] = [];
    for (let i = 0; i < count; i++) {
      const digest = sha256(randomBytes(32));
      const details: RecordDetails = {
        salt: randomBytes(16).toString('hex'),
        title: `document ${fromSize + i}`,
      };
      const record: EvidenceRecord = {
        v: 1,
        id: randomUUID(),
        projectId: 'village-road-1',
        kind: 'construction_log',
        digests: { sha256: toHex(digest) },
        cid: cidFromSha256(digest),
        visibility: 'public',
        submitter: { org: 'org-county-transport' },
        acceptedAt: new Date().toISOString(),
        detailsDigest: detailsDigest(details),
      };
      const receipt = await new SignJWT({
        sha256: record.digests.sha256,
        cid: record.cid,
        projectId: record.projectId,
        kind: record.kind,
        leaf: toHex(recordLeafHash(record)),
        ledger: 'embedded',
      })
        .setProtectedHeader({ alg: 'ES256', kid: 'test-receipt-1', typ: 'lianzheng-receipt+jwt' })
        .setIssuer('urn:lianzheng:test')
        .setSubject(record.id)
        .setIssuedAt()
        .sign(this.receiptKey);
      fresh.push({ record, details, receipt, leafIndex: fromSize + i, batchSize: fromSize + count });
    }
    const { frontier, subtrees } = appendLeavesWithSubtrees(
      this.frontier,
      fresh.map((e) => recordLeafHash(e.record)),
    );
    const root = frontierRoot(frontier);
    const note = await signCheckpoint(
      formatCheckpoint({ origin: ORIGIN, size: frontier.size, rootHash: root }),
      {
        name: ORIGIN,
        privateKey: this.noteKey,
      },
    );
    const client = await this.pool.connect();
    try {
      await client.query('begin');
      await writeSubtrees(client, subtrees);
      for (const e of fresh) {
        await client.query(
          `with s as (
             insert into submissions (id, project_id, sha256, kind, record_json, details_json, receipt, accepted_at)
             values ($1, $2, $3, $4, $5, $6, $7, $9) returning seq)
           insert into log_leaves (leaf_index, seq) select $8, seq from s`,
          [
            e.record.id,
            e.record.projectId,
            e.record.digests.sha256,
            e.record.kind,
            canonicalJson(e.record),
            canonicalJson(e.details),
            e.receipt,
            e.leafIndex,
            e.record.acceptedAt,
          ],
        );
      }
      await client.query('insert into checkpoints (size, root, note) values ($1, $2, $3)', [
        frontier.size,
        root,
        note,
      ]);
      await client.query(
        `insert into ledger_batches (from_size, to_size, root, status, network, tx_id, block, recorded_at)
         values ($1, $2, $3, 'recorded', 'embedded', $4, $5, now())`,
        [fromSize, frontier.size, root, `tx-${frontier.size}`, this.notes.size + 1],
      );
      await client.query('commit');
    } catch (e) {
      await client.query('rollback');
      throw e;
    } finally {
      client.release();
    }
    this.frontier = frontier;
    this.notes.set(frontier.size, note);
    this.entries.push(...fresh);
    return frontier.size;
  }

  /** The proof bundle of the record at `leafIndex`, with its anchor ref when it has one. */
  async bundleFor(leafIndex: number): Promise<ProofBundle> {
    const e = this.entries[leafIndex];
    if (!e) throw new Error(`no leaf ${leafIndex}`);
    const path = await generateInclusionProof(this.subtrees, leafIndex, e.batchSize);
    const note = this.notes.get(e.batchSize) ?? '';
    const anchor = await anchorRefFor(this.pool, leafIndex, e.batchSize, this.subtrees, { origin: ORIGIN });
    const { rows } = await this.pool.query<{ root: Buffer; tx_id: string; block: string }>(
      'select root, tx_id, block from ledger_batches where to_size = $1',
      [e.batchSize],
    );
    const batch = rows[0];
    return {
      version: 'lianzheng-bundle/1',
      record: e.record,
      details: e.details,
      receipt: e.receipt,
      inclusion: { index: leafIndex, size: e.batchSize, path: path.map((h) => toHex(h)), checkpoint: note },
      ...(batch
        ? {
            ledger: {
              network: 'embedded' as const,
              txId: batch.tx_id,
              block: Number(batch.block),
              size: e.batchSize,
              root: toHex(new Uint8Array(batch.root)),
            },
          }
        : {}),
      ...(anchor ? { anchor } : {}),
    };
  }
}

/** Ticks until `predicate` holds for the outcome or the deadline passes; returns every outcome. */
export async function tickUntil<T extends { action: string }>(
  tick: () => Promise<T>,
  predicate: (outcome: T) => boolean,
  timeoutMs: number,
  pauseMs = 100,
): Promise<T[]> {
  const outcomes: T[] = [];
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const outcome = await tick();
    outcomes.push(outcome);
    if (predicate(outcome)) return outcomes;
    await new Promise((r) => setTimeout(r, pauseMs));
  }
  throw new Error(`TICK_TIMEOUT: ${outcomes.map((o) => o.action).join(',')}`);
}
