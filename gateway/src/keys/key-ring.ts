import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
} from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  buildReceiptGroup,
  checkpointKeyRotationText,
  deriveNotePublicKey,
  jwkThumbprint,
  KEY_ROTATION_JWS_TYPE,
  type KeyRotation,
  keyRotationClaims,
  keyRotationPayload,
  type NoteAlgorithm,
  noteVerifierKey,
  RECEIPT_GROUP_TYPE,
  RECEIPT_SM2_ALG,
  RECEIPT_TYPE,
  type ReceiptClaims,
  type ReceiptGroup,
  type ReceiptGroupClaims,
  type ReceiptItemClaims,
  signNote,
  signSm2Jws,
  signSm2JwsAsync,
  signSm2ReceiptGroup,
  sm2RandomPrivateKey,
} from '@lianzheng/proof';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type { CryptoSuite } from '../config.ts';
import { SigningThread, signEs256OnPool } from './signing-thread.ts';

export interface PublicJwk extends JWK {
  kid: string;
}

export interface JsonWebKeySet {
  keys: PublicJwk[];
}

/** Signs receipts: a compact JWS, ES256 (or SM2-with-SM3), `kid` and `typ` in the protected header. */
export interface ReceiptSigner {
  kid: string;
  alg: 'ES256' | typeof RECEIPT_SM2_ALG;
  /** One record's receipt (typ `lianzheng-receipt+jwt`). */
  sign(claims: ReceiptClaims): string;
  /**
   * The same receipt, signed on libuv's thread pool instead of the calling thread: the ECDSA
   * signature (25–50 µs) then costs the event loop only its hand-off.
   */
  signAsync(claims: ReceiptClaims): Promise<string>;
  /**
   * Receipts for records accepted together (one group commit), in order: a group receipt each,
   * all under one signature (proof/'s `ReceiptGroup`); a group of one gets a plain receipt.
   */
  signGroup(shared: Pick<ReceiptGroupClaims, 'iss' | 'iat' | 'ledger'>, items: ReceiptItemClaims[]): string[];
  /**
   * The group receipts of a group already built (`buildReceiptGroup`, two or more items): with
   * CRYPTO_SUITE dual both signers sign one group, so its tree is hashed once.
   */
  signBuiltGroup(group: ReceiptGroup, shared: Pick<ReceiptGroupClaims, 'iss' | 'iat' | 'ledger'>): string[];
  /**
   * `signGroup`, with the signature's costly part made on libuv's thread pool (ES256: the whole
   * signature; SM2: the nonce's [k]G), so the event loop pays the rest only.
   */
  signGroupAsync(
    shared: Pick<ReceiptGroupClaims, 'iss' | 'iat' | 'ledger'>,
    items: ReceiptItemClaims[],
  ): Promise<string[]>;
}

/** The checkpoint signer the pipeline uses with proof's `signCheckpoint`. */
export interface CheckpointSigner {
  /** The note key name; the log origin. */
  name: string;
  /** The 32-byte Ed25519 seed. */
  privateKey: Uint8Array;
  publicKey: Uint8Array;
  /** `name+hash+base64` verifier key. */
  vkey: string;
  /** `ed25519` (the Ed25519 key) or `sm2` (the SM2 key); proof's `signCheckpoint` reads it. */
  algorithm: NoteAlgorithm;
}

/** The JWS `alg` of SM2 receipt signatures (proof's RECEIPT_SM2_ALG; docs/gm-crypto.md). */
export const SM2_JWS_ALG = RECEIPT_SM2_ALG;

/** The gateway's SM2 key (CRYPTO_SUITE dual or gm): signs SM2 receipt and checkpoint signatures. */
export interface Sm2Key {
  /** RFC 7638 thumbprint of its public JWK. */
  kid: string;
  privateKey: Uint8Array;
  /** 04 ‖ x ‖ y. */
  publicKey: Uint8Array;
  /** `{kty: 'EC', crv: 'SM2', x, y, kid, alg: 'SM2-with-SM3', use: 'sig'}`. */
  jwk: PublicJwk;
}

export interface StoredReceiptKey {
  kid: string;
  /** Private JWK (P-256). */
  jwk: JWK;
  createdAt: string;
  retiredAt?: string;
}

interface ReceiptKeyFile {
  current: string;
  keys: StoredReceiptKey[];
  /**
   * One statement per rotation, oldest first (proof's `followRotations`): in this file, so the new
   * key and the statement handing over to it are written by one rename — a crash cannot leave a
   * key without its statement (a gap) or a statement for a key that was never kept (a fork later).
   */
  rotations?: KeyRotation[];
  /**
   * The SM2 receipt keys once the SM2 key has been rotated (absent before: the key of
   * sm2-key.json signs SM2 receipts). Here, not in their own file, so that one rotation of both
   * keys is one rename under one lock, and `refresh()` takes both. The key of sm2-key.json keeps
   * signing the SM2 checkpoint lines (as the Ed25519 checkpoint key is not rotated with ES256):
   * a trust file's pinned checkpoint keys stay valid.
   */
  sm2?: Sm2ReceiptKeys;
}

interface StoredSm2ReceiptKey {
  kid: string;
  /** Hex SM2 private key (32 bytes). */
  privateKey: string;
  createdAt: string;
  retiredAt?: string;
}

interface Sm2ReceiptKeys {
  current: string;
  /** Oldest first: the first is the key of sm2-key.json. */
  keys: StoredSm2ReceiptKey[];
  /** One statement per SM2 rotation, oldest first, signed by the old and the new SM2 key. */
  rotations: KeyRotation[];
}

interface CheckpointKeyFile {
  name: string;
  /** Hex Ed25519 seed. */
  seed: string;
  createdAt: string;
}

interface Sm2KeyFile {
  kid: string;
  /** Hex SM2 private key (32 bytes). */
  privateKey: string;
  createdAt: string;
}

/**
 * The SM2 checkpoint keys once the SM2 checkpoint key has been rotated (absent before: the key of
 * sm2-key.json signs the SM2 checkpoint lines). Every key stays (its verifier key stays published,
 * so the checkpoints it signed keep verifying); `rotations` are the signed notes handing over
 * (proof's checkpoint-key-rotation.ts), oldest first, written in the same rename as the new key.
 */
interface Sm2CheckpointKeyFile {
  current: string;
  /** Oldest first: the first is the key of sm2-key.json. */
  keys: StoredSm2ReceiptKey[];
  rotations: string[];
}

const RECEIPT_FILE = 'receipt-keys.json';
const CHECKPOINT_FILE = 'checkpoint-key.json';
const SM2_FILE = 'sm2-key.json';
const SM2_CHECKPOINT_FILE = 'sm2-checkpoint-keys.json';

function b64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

/** Writes a secret file atomically with owner-only permissions. */
export async function writeSecretFile(file: string, content: string): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await fs.open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(tmp, file);
}

/**
 * Writes `content` to `file` only if there is no such file, atomically (a hard link to a finished
 * private file fails with EEXIST when another got there first), and answers what the file holds:
 * processes starting together on an empty keys folder — API workers, two gateways — all end up
 * with the one key written first, never each with its own.
 */
async function createSecretFileOnce(file: string, content: string): Promise<string> {
  const tmp = `${file}.${randomBytes(6).toString('hex')}.new`;
  await writeSecretFile(tmp, content);
  try {
    await fs.link(tmp, file);
    return content;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    return fs.readFile(file, 'utf8');
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

/**
 * Runs `fn` holding `<file>.lock` (created exclusively), so processes sharing the keys folder —
 * API workers rotating through the admin route, `lianzheng keys rotate` — rotate one at a time and
 * none writes a copy read before another's rotation. A lock older than 30 s is left by a process
 * that died mid-rotation (a rotation takes milliseconds) and is removed.
 */
async function withFileLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${file}.lock`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await (await fs.open(lock, 'wx', 0o600)).close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const st = await fs.stat(lock).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > 30_000) {
        await fs.rm(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline)
        throw new Error(`${lock} has been held for 10 s; remove it if no rotation is running`);
      await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 40));
    }
  }
  try {
    return await fn();
  } finally {
    await fs.rm(lock, { force: true });
  }
}

/** A compact ES256 JWS (typ `typ`, `kid`) over `payload`, by a stored private JWK. */
function signEs256(jwk: JWK, kid: string, typ: string, payload: string): string {
  const key = createPrivateKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
  const input = `${b64url(JSON.stringify({ alg: 'ES256', kid, typ }))}.${b64url(payload)}`;
  const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

/** The statement that `previous` hands over to `next`, signed by both (proof's key-rotation.ts). */
export function signReceiptKeyRotation(
  previous: StoredReceiptKey,
  next: StoredReceiptKey,
  at: string,
): KeyRotation {
  const claims = keyRotationClaims(
    { kid: previous.kid, jwk: publicJwkOf(previous.jwk) as Record<string, unknown> },
    { kid: next.kid, jwk: publicJwkOf(next.jwk) as Record<string, unknown> },
    at,
  );
  const payload = keyRotationPayload(claims);
  return {
    byPrevious: signEs256(previous.jwk, previous.kid, KEY_ROTATION_JWS_TYPE, payload),
    byNext: signEs256(next.jwk, next.kid, KEY_ROTATION_JWS_TYPE, payload),
  };
}

/** The published JWK of an SM2 public key; its kid is the RFC 7638 thumbprint. */
function sm2PublicJwk(publicKey: Uint8Array): PublicJwk {
  const members = {
    kty: 'EC',
    crv: 'SM2',
    x: Buffer.from(publicKey.subarray(1, 33)).toString('base64url'),
    y: Buffer.from(publicKey.subarray(33)).toString('base64url'),
  };
  return { ...members, kid: jwkThumbprint(members), alg: SM2_JWS_ALG, use: 'sig' };
}

function sm2KeyOf(stored: StoredSm2ReceiptKey): Sm2Key {
  if (!/^[0-9a-f]{64}$/.test(stored.privateKey))
    throw new Error(`SM2 receipt key ${stored.kid}: privateKey is not 64 hex digits`);
  const privateKey = Uint8Array.from(Buffer.from(stored.privateKey, 'hex'));
  const publicKey = deriveNotePublicKey(privateKey, 'sm2');
  const jwk = sm2PublicJwk(publicKey);
  if (jwk.kid !== stored.kid) throw new Error(`SM2 receipt key ${stored.kid}: kid is not its thumbprint`);
  return { kid: jwk.kid, privateKey, publicKey, jwk };
}

/**
 * The statement that SM2 key `previous` hands over to `next`, signed by both with SM2 (proof's
 * key-rotation.ts verifies SM2-with-SM3 signatures as it does ES256 ones). The payload is the
 * canonical JSON of the claims: JSON.stringify of its parse keeps that order.
 */
export function signSm2KeyRotation(previous: Sm2Key, next: Sm2Key, at: string): KeyRotation {
  const claims = keyRotationClaims(
    { kid: previous.kid, jwk: { ...previous.jwk } },
    { kid: next.kid, jwk: { ...next.jwk } },
    at,
  );
  const payload = JSON.parse(keyRotationPayload(claims)) as object;
  return {
    byPrevious: signSm2Jws(previous, KEY_ROTATION_JWS_TYPE, payload),
    byNext: signSm2Jws(next, KEY_ROTATION_JWS_TYPE, payload),
  };
}

/** The SM2 receipt keys after one more rotation from `have` (or from `first`, never rotated). */
function rotateSm2Keys(
  have: Sm2ReceiptKeys | undefined,
  first: StoredSm2ReceiptKey,
  now: string,
): Sm2ReceiptKeys {
  const base = have ?? { current: first.kid, keys: [first], rotations: [] };
  const previous = base.keys.find((k) => k.kid === base.current);
  if (!previous) throw new Error(`SM2 receipt keys name current key ${base.current}, which they do not hold`);
  const privateKey = sm2RandomPrivateKey();
  const created: StoredSm2ReceiptKey = {
    kid: sm2PublicJwk(deriveNotePublicKey(privateKey, 'sm2')).kid,
    privateKey: Buffer.from(privateKey).toString('hex'),
    createdAt: now,
  };
  return {
    current: created.kid,
    keys: [...base.keys.map((k) => (k.kid === base.current ? { ...k, retiredAt: now } : k)), created],
    rotations: [...base.rotations, signSm2KeyRotation(sm2KeyOf(previous), sm2KeyOf(created), now)],
  };
}

/**
 * Key files written before rotations were published: the statements for the rotations they
 * record, made now with the retired keys (kept in the file), each dated when its key was made.
 * Undefined when nothing is missing.
 */
function backfillRotations(file: ReceiptKeyFile): ReceiptKeyFile | undefined {
  const have = file.rotations ?? [];
  if (have.length >= file.keys.length - 1) return undefined;
  const rotations: KeyRotation[] = [];
  for (let i = 1; i < file.keys.length; i++) {
    const prev = file.keys[i - 1]!;
    const next = file.keys[i]!;
    rotations.push(have[i - 1] ?? signReceiptKeyRotation(prev, next, next.createdAt));
  }
  return { ...file, rotations };
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as T;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read key file ${file}: ${(e as Error).message}`);
  }
}

export function publicJwkOf(jwk: JWK): JWK {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, oth: _oth, ...pub } = jwk;
  return pub;
}

export async function newEs256Jwk(): Promise<{ kid: string; jwk: JWK }> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' }) as JWK;
  const kid = await calculateJwkThumbprint(publicJwkOf(jwk), 'sha256');
  return { kid, jwk: { ...jwk, kid, alg: 'ES256', use: 'sig' } };
}

/**
 * What `signGroup` makes — a plain receipt for one item, group receipts (`<JWS>~<item>`, one
 * signature over the group's root) for more — with the signatures made off the event loop: the
 * one plain receipt by `signer.signAsync`, the group's by `signGroupClaims`.
 */
async function signGroupAsyncWith(
  shared: Pick<ReceiptGroupClaims, 'iss' | 'iat' | 'ledger'>,
  items: ReceiptItemClaims[],
  signer: Pick<ReceiptSigner, 'signAsync'>,
  signGroupClaims: (claims: ReceiptGroupClaims) => Promise<string>,
): Promise<string[]> {
  if (items.length === 0) return [];
  const { iss, iat, ledger } = shared;
  if (items.length === 1) {
    const { sub, sha256, cid, projectId, kind, leaf } = items[0]!;
    return [await signer.signAsync({ iss, sub, iat, sha256, cid, projectId, kind, leaf, ledger })];
  }
  const group = buildReceiptGroup(items);
  const jws = await signGroupClaims(group.claims(shared));
  return group.items.map((item) => `${jws}~${item}`);
}

let signingThread: SigningThread | undefined;

/** One signing thread per process, shared by its key rings; idle, it holds nothing open. */
function processSigningThread(): SigningThread {
  signingThread ??= new SigningThread();
  return signingThread;
}

class Es256ReceiptSigner implements ReceiptSigner {
  readonly alg = 'ES256' as const;
  private readonly key: KeyObject;
  private readonly headerB64: string;
  private readonly groupHeaderB64: string;
  constructor(
    readonly kid: string,
    jwk: JWK,
    /** Where `signAsync` signs: this thread (signing-thread.ts), or else libuv's pool. */
    private readonly thread?: SigningThread,
  ) {
    this.key = createPrivateKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
    this.headerB64 = b64url(JSON.stringify({ alg: 'ES256', kid, typ: RECEIPT_TYPE }));
    this.groupHeaderB64 = b64url(JSON.stringify({ alg: 'ES256', kid, typ: RECEIPT_GROUP_TYPE }));
  }
  // node:crypto directly rather than jose's async WebCrypto path: the receipt signature is the
  // hottest one in the service. The output is a standard JWS.
  private signJws(headerB64: string, payload: object): string {
    const input = `${headerB64}.${b64url(JSON.stringify(payload))}`;
    const signature = sign('sha256', Buffer.from(input), { key: this.key, dsaEncoding: 'ieee-p1363' });
    return `${input}.${signature.toString('base64url')}`;
  }

  sign(claims: ReceiptClaims): string {
    return this.signJws(this.headerB64, claims);
  }

  /**
   * `signJws` off the event loop: on the signing thread, with the others asked for in this turn,
   * or on the thread pool (node:crypto signs there when given a callback).
   */
  private signJwsAsync(headerB64: string, payload: object): Promise<string> {
    const input = `${headerB64}.${b64url(JSON.stringify(payload))}`;
    const signing = this.thread
      ? this.thread.sign(this.kid, this.key, input)
      : signEs256OnPool(this.key, input);
    return signing.then((signature) => `${input}.${signature}`);
  }

  signAsync(claims: ReceiptClaims): Promise<string> {
    return this.signJwsAsync(this.headerB64, claims);
  }

  signGroup(
    shared: Pick<ReceiptGroupClaims, 'iss' | 'iat' | 'ledger'>,
    items: ReceiptItemClaims[],
  ): string[] {
    if (items.length === 0) return [];
    if (items.length === 1) {
      const { sub, sha256, cid, projectId, kind, leaf } = items[0]!;
      const { iss, iat, ledger } = shared;
      return [this.sign({ iss, sub, iat, sha256, cid, projectId, kind, leaf, ledger })];
    }
    return this.signBuiltGroup(buildReceiptGroup(items), shared);
  }

  signBuiltGroup(group: ReceiptGroup, shared: Pick<ReceiptGroupClaims, 'iss' | 'iat' | 'ledger'>): string[] {
    const jws = this.signJws(this.groupHeaderB64, group.claims(shared));
    return group.items.map((item) => `${jws}~${item}`);
  }

  signGroupAsync(
    shared: Pick<ReceiptGroupClaims, 'iss' | 'iat' | 'ledger'>,
    items: ReceiptItemClaims[],
  ): Promise<string[]> {
    return signGroupAsyncWith(shared, items, this, (claims) =>
      this.signJwsAsync(this.groupHeaderB64, claims),
    );
  }
}

/**
 * SM2 receipts (proof's signSm2Jws): the same claims and forms as the ES256 signer's; `signAsync`
 * makes the nonce's [k]G on the thread pool (docs/gm-crypto.md has the measured cost).
 */
class Sm2ReceiptSigner implements ReceiptSigner {
  readonly alg = RECEIPT_SM2_ALG;
  constructor(private readonly key: Sm2Key) {}
  get kid(): string {
    return this.key.kid;
  }
  sign(claims: ReceiptClaims): string {
    return signSm2Jws(this.key, RECEIPT_TYPE, claims);
  }
  signAsync(claims: ReceiptClaims): Promise<string> {
    // The nonce's [k]G is made on the thread pool (proof's sm2SignAsync): the event loop pays the
    // arithmetic only, as with ES256.
    return signSm2JwsAsync(this.key, RECEIPT_TYPE, claims);
  }
  signGroup(
    shared: Pick<ReceiptGroupClaims, 'iss' | 'iat' | 'ledger'>,
    items: ReceiptItemClaims[],
  ): string[] {
    return signSm2ReceiptGroup(this.key, shared, items);
  }
  signBuiltGroup(group: ReceiptGroup, shared: Pick<ReceiptGroupClaims, 'iss' | 'iat' | 'ledger'>): string[] {
    const jws = signSm2Jws(this.key, RECEIPT_GROUP_TYPE, group.claims(shared));
    return group.items.map((item) => `${jws}~${item}`);
  }
  /**
   * What `signGroup` makes (proof's signSm2ReceiptGroup: a plain receipt for one item, group
   * receipts for more), the nonce's [k]G made on the thread pool: signed on the event loop, that
   * multiplication was ~230 µs of the ~300 µs each group commit of single POSTs cost it
   * (docs/benchmarks.md, issue #26).
   */
  signGroupAsync(
    shared: Pick<ReceiptGroupClaims, 'iss' | 'iat' | 'ledger'>,
    items: ReceiptItemClaims[],
  ): Promise<string[]> {
    return signGroupAsyncWith(shared, items, this, (claims) =>
      signSm2JwsAsync(this.key, RECEIPT_GROUP_TYPE, claims),
    );
  }
}

/**
 * The gateway's signing keys, kept under `keysDir` and reused on restart: the current ES256
 * receipt key, retired receipt keys (still published so old receipts verify), and the Ed25519
 * checkpoint key.
 */
export class KeyRing {
  private constructor(
    private readonly dir: string,
    private receiptFile: ReceiptKeyFile,
    private signer: ReceiptSigner,
    readonly checkpointSigner: CheckpointSigner,
    private cachedJwks: JsonWebKeySet,
    /** Which signatures this gateway makes (CRYPTO_SUITE). */
    readonly suite: CryptoSuite,
    /** The SM2 key: made for `dual` and `gm`, and kept published once made (old signatures). */
    readonly sm2: (Sm2Key & { checkpointSigner: CheckpointSigner; createdAt: string }) | undefined,
  ) {}

  /** The receipt key file as last read or written (inode, mtime, size): see `refresh()`. */
  private receiptStamp = '';

  private static async stampOf(file: string): Promise<string> {
    const st = await fs.stat(file);
    return `${st.ino}:${st.mtimeMs}:${st.size}`;
  }

  /**
   * Loads the keys from `dir`, generating any that are missing: the SM2 key only for a suite
   * that signs with it (default `intl`: tools that only read keys never make one).
   */
  static async load(
    dir: string,
    options: {
      logOrigin: string;
      suite?: CryptoSuite;
      /** Sign receipts off the event loop on the process's signing thread (signing-thread.ts). */
      signingThread?: boolean;
    },
  ): Promise<KeyRing> {
    const suite = options.suite ?? 'intl';
    const thread = options.signingThread ? processSigningThread() : undefined;
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    let receipts = await readJson<ReceiptKeyFile>(path.join(dir, RECEIPT_FILE));
    if (!receipts) {
      const { kid, jwk } = await newEs256Jwk();
      const made: ReceiptKeyFile = {
        current: kid,
        keys: [{ kid, jwk, createdAt: new Date().toISOString() }],
      };
      receipts = JSON.parse(
        await createSecretFileOnce(path.join(dir, RECEIPT_FILE), JSON.stringify(made, null, 2)),
      ) as ReceiptKeyFile;
    } else if (receipts.keys.length === 0) {
      const { kid, jwk } = await newEs256Jwk();
      receipts = { current: kid, keys: [{ kid, jwk, createdAt: new Date().toISOString() }] };
      await writeSecretFile(path.join(dir, RECEIPT_FILE), JSON.stringify(receipts, null, 2));
    }
    if (backfillRotations(receipts)) {
      const file = path.join(dir, RECEIPT_FILE);
      receipts = await withFileLock(file, async () => {
        const fresh = (await readJson<ReceiptKeyFile>(file)) ?? receipts!;
        const filled = backfillRotations(fresh);
        if (filled) await writeSecretFile(file, JSON.stringify(filled, null, 2));
        return filled ?? fresh;
      });
    }
    let checkpoint = await readJson<CheckpointKeyFile>(path.join(dir, CHECKPOINT_FILE));
    if (!checkpoint) {
      const made: CheckpointKeyFile = {
        name: options.logOrigin,
        seed: randomBytes(32).toString('hex'),
        createdAt: new Date().toISOString(),
      };
      checkpoint = JSON.parse(
        await createSecretFileOnce(path.join(dir, CHECKPOINT_FILE), JSON.stringify(made, null, 2)),
      ) as CheckpointKeyFile;
    }
    // The note key name is part of every verifier key: keep the name the key was made with.
    const seed = Uint8Array.from(Buffer.from(checkpoint.seed, 'hex'));
    const publicKey = deriveNotePublicKey(seed);
    const checkpointSigner: CheckpointSigner = {
      name: checkpoint.name,
      privateKey: seed,
      publicKey,
      vkey: noteVerifierKey(checkpoint.name, publicKey),
      algorithm: 'ed25519',
    };
    const sm2 = await KeyRing.loadSm2(dir, checkpoint.name, suite !== 'intl');
    const ring = new KeyRing(
      dir,
      receipts,
      KeyRing.signerFor(receipts, thread),
      checkpointSigner,
      { keys: [] },
      suite,
      sm2,
    );
    ring.thread = thread;
    ring.cachedJwks = await ring.buildJwks();
    ring.receiptStamp = await KeyRing.stampOf(path.join(dir, RECEIPT_FILE));
    if (sm2) await ring.reloadSm2CheckpointKeys();
    return ring;
  }

  /** The SM2 checkpoint key file as last read (see `refresh()`), and what it holds. */
  private sm2CheckpointStamp = '';
  private sm2CheckpointFile: Sm2CheckpointKeyFile | undefined;

  /**
   * Reads sm2-checkpoint-keys.json when it changed, and makes its current key the one the SM2
   * checkpoint signer signs with. The signer object is updated in place: the batcher holds it
   * (`checkpointSigners()`), so a rotation made by another process (`lianzheng keys rotate
   * --sm2-checkpoint`) reaches the sealing process within a refresh. Returns whether it changed.
   */
  private async reloadSm2CheckpointKeys(): Promise<boolean> {
    if (!this.sm2) return false;
    const file = path.join(this.dir, SM2_CHECKPOINT_FILE);
    const stamp = await KeyRing.stampOf(file).catch(() => '');
    if (stamp === this.sm2CheckpointStamp) return false;
    const read = stamp ? await readJson<Sm2CheckpointKeyFile>(file) : undefined;
    const current = read?.keys.find((k) => k.kid === read.current);
    if (read && !current)
      throw new Error(`${file} names current key ${read.current}, which it does not hold`);
    this.sm2CheckpointStamp = stamp;
    this.applySm2CheckpointKeys(read);
    return true;
  }

  private applySm2CheckpointKeys(file: Sm2CheckpointKeyFile | undefined): void {
    const sm2 = this.sm2!;
    this.sm2CheckpointFile = file;
    const stored = file?.keys.find((k) => k.kid === file.current);
    const key = stored ? sm2KeyOf(stored) : sm2;
    const signer = sm2.checkpointSigner;
    signer.privateKey = key.privateKey;
    signer.publicKey = key.publicKey;
    signer.vkey = noteVerifierKey(signer.name, key.publicKey, 'sm2');
  }

  /** The SM2 checkpoint verifier keys, oldest first (the key of sm2-key.json, then rotated ones). */
  private sm2CheckpointVkeys(): string[] {
    const sm2 = this.sm2;
    if (!sm2) return [];
    const file = this.sm2CheckpointFile;
    if (!file) return [sm2.checkpointSigner.vkey];
    return file.keys.map((k) => noteVerifierKey(sm2.checkpointSigner.name, sm2KeyOf(k).publicKey, 'sm2'));
  }

  /** The SM2 checkpoint public keys (04 ‖ x ‖ y) by kid, oldest first, for the PKI to certify. */
  sm2CheckpointPublicKeys(): { kid: string; publicKey: Uint8Array }[] {
    if (!this.sm2) return [];
    return (this.sm2CheckpointFile?.keys ?? []).map((k) => {
      const key = sm2KeyOf(k);
      return { kid: key.kid, publicKey: key.publicKey };
    });
  }

  /** The checkpoint key rotation statements (signed notes), oldest first: GET /v1/keys should publish them. */
  checkpointRotations(): string[] {
    return [...(this.sm2CheckpointFile?.rotations ?? [])];
  }

  /**
   * Makes a new SM2 checkpoint key current (CRYPTO_SUITE dual or gm, or an SM2 key made by them
   * before). The old verifier key stays published, so checkpoints it signed keep verifying; a note
   * signed by the old and the new key (proof's `checkpointKeyRotationText`) publishes the hand-over,
   * so a trust file pinning the old key follows it. Written with the new key in one rename under a
   * lock, as receipt key rotations are. The Ed25519 checkpoint key is not rotated (not built).
   */
  async rotateSm2CheckpointKey(): Promise<{ vkey: string; statement: string }> {
    const sm2 = this.sm2;
    if (!sm2) throw new Error('there is no SM2 key to rotate (CRYPTO_SUITE dual or gm makes one)');
    const file = path.join(this.dir, SM2_CHECKPOINT_FILE);
    const name = sm2.checkpointSigner.name;
    const written = await withFileLock(file, async () => {
      const base: Sm2CheckpointKeyFile = (await readJson<Sm2CheckpointKeyFile>(file)) ?? {
        current: sm2.kid,
        keys: [
          { kid: sm2.kid, privateKey: Buffer.from(sm2.privateKey).toString('hex'), createdAt: sm2.createdAt },
        ],
        rotations: [],
      };
      const previousStored = base.keys.find((k) => k.kid === base.current);
      if (!previousStored)
        throw new Error(`${file} names current key ${base.current}, which it does not hold`);
      const previous = sm2KeyOf(previousStored);
      const privateKey = sm2RandomPrivateKey();
      const now = new Date().toISOString();
      const created: StoredSm2ReceiptKey = {
        kid: sm2PublicJwk(deriveNotePublicKey(privateKey, 'sm2')).kid,
        privateKey: Buffer.from(privateKey).toString('hex'),
        createdAt: now,
      };
      const next = sm2KeyOf(created);
      const text = checkpointKeyRotationText(
        noteVerifierKey(name, previous.publicKey, 'sm2'),
        noteVerifierKey(name, next.publicKey, 'sm2'),
        now,
      );
      const statement = signNote(
        signNote(text, { name, privateKey: previous.privateKey, algorithm: 'sm2' }),
        { name, privateKey: next.privateKey, algorithm: 'sm2' },
      );
      const out: Sm2CheckpointKeyFile = {
        current: created.kid,
        keys: [...base.keys.map((k) => (k.kid === base.current ? { ...k, retiredAt: now } : k)), created],
        rotations: [...base.rotations, statement],
      };
      await writeSecretFile(file, JSON.stringify(out, null, 2));
      return { out, stamp: await KeyRing.stampOf(file) };
    });
    this.sm2CheckpointStamp = written.stamp;
    this.applySm2CheckpointKeys(written.out);
    return { vkey: sm2.checkpointSigner.vkey, statement: written.out.rotations.at(-1)! };
  }

  /**
   * Re-reads the receipt key file if someone else changed it — `lianzheng keys rotate` on the
   * files, or another process of the same gateway (API_WORKERS) rotating through the admin route:
   * its new current key then signs here too, and this process publishes it. The file is replaced
   * atomically (`writeSecretFile`), so a changed inode or mtime is a whole new file. Returns
   * whether the keys changed; an unreadable file leaves them as they are.
   */
  async refresh(): Promise<boolean> {
    const receipts = await this.refreshReceiptKeys();
    // A rotated SM2 checkpoint key (its own file) is picked up the same way; an unreadable file
    // throws after the receipt keys were taken (the keys plugin logs it and keeps the old key).
    return (await this.reloadSm2CheckpointKeys()) || receipts;
  }

  private async refreshReceiptKeys(): Promise<boolean> {
    const file = path.join(this.dir, RECEIPT_FILE);
    let stamp: string;
    try {
      stamp = await KeyRing.stampOf(file);
    } catch {
      return false;
    }
    if (stamp === this.receiptStamp) return false;
    const next = await readJson<ReceiptKeyFile>(file).catch(() => undefined);
    if (!next?.keys?.some((k) => k.kid === next.current)) return false;
    this.receiptStamp = stamp;
    if (JSON.stringify(next) === JSON.stringify(this.receiptFile)) return false;
    this.receiptFile = next;
    this.signer = KeyRing.signerFor(next, this.thread);
    this.cachedJwks = await this.buildJwks();
    return true;
  }

  /** The SM2 key file, read, or made when `create` and missing; its note key has the log's name. */
  private static async loadSm2(dir: string, noteName: string, create: boolean) {
    const file = path.join(dir, SM2_FILE);
    let stored = await readJson<Sm2KeyFile>(file);
    if (!stored && !create) return undefined;
    if (!stored) {
      const privateKey = sm2RandomPrivateKey();
      stored = {
        kid: KeyRing.sm2Jwk(deriveNotePublicKey(privateKey, 'sm2')).kid,
        privateKey: Buffer.from(privateKey).toString('hex'),
        createdAt: new Date().toISOString(),
      };
      stored = JSON.parse(await createSecretFileOnce(file, JSON.stringify(stored, null, 2))) as Sm2KeyFile;
    }
    if (!/^[0-9a-f]{64}$/.test(stored.privateKey))
      throw new Error(`${file}: privateKey is not 64 hex digits`);
    const privateKey = Uint8Array.from(Buffer.from(stored.privateKey, 'hex'));
    const publicKey = deriveNotePublicKey(privateKey, 'sm2');
    const jwk = KeyRing.sm2Jwk(publicKey);
    const checkpointSigner: CheckpointSigner = {
      name: noteName,
      privateKey,
      publicKey,
      vkey: noteVerifierKey(noteName, publicKey, 'sm2'),
      algorithm: 'sm2',
    };
    return { kid: jwk.kid, privateKey, publicKey, jwk, checkpointSigner, createdAt: stored.createdAt };
  }

  /** The published JWK of an SM2 public key; its kid is the RFC 7638 thumbprint. */
  private static sm2Jwk(publicKey: Uint8Array): PublicJwk {
    return sm2PublicJwk(publicKey);
  }

  /**
   * The checkpoint signers of this suite, in the order their lines appear on a checkpoint:
   * Ed25519 (`intl`, `dual`), then SM2 (`dual`, `gm`).
   */
  checkpointSigners(): CheckpointSigner[] {
    if (this.suite === 'intl' || !this.sm2) return [this.checkpointSigner];
    if (this.suite === 'gm') return [this.sm2.checkpointSigner];
    return [this.checkpointSigner, this.sm2.checkpointSigner];
  }

  /**
   * Every checkpoint verifier key published (GET /v1/keys, trust.json): the Ed25519 key always
   * (checkpoints made before a switch to `gm` keep verifying), and the SM2 key once there is one.
   */
  checkpointKeys(): string[] {
    // Every SM2 checkpoint key, retired ones too: the checkpoints they signed keep verifying.
    return [this.checkpointSigner.vkey, ...this.sm2CheckpointVkeys()];
  }

  /** The process's signing thread, when receipts are signed on it (load's `signingThread`). */
  private thread: SigningThread | undefined;

  private static signerFor(file: ReceiptKeyFile, thread: SigningThread | undefined): ReceiptSigner {
    const current = file.keys.find((k) => k.kid === file.current);
    if (!current)
      throw new Error(`receipt key file names current key ${file.current}, which it does not hold`);
    return new Es256ReceiptSigner(current.kid, current.jwk, thread);
  }

  /**
   * The signer of every receipt's `receipt`: the current ES256 key, or under CRYPTO_SUITE gm the
   * SM2 key.
   */
  get receiptSigner(): ReceiptSigner {
    return this.suite === 'gm' && this.sm2Signer ? this.sm2Signer : this.signer;
  }

  /** CRYPTO_SUITE dual only: the SM2 signer of `receiptSm2`, the same claims beside the ES256 receipt. */
  get receiptSm2Signer(): ReceiptSigner | undefined {
    return this.suite === 'dual' ? this.sm2Signer : undefined;
  }

  private get sm2Signer(): ReceiptSigner | undefined {
    if (!this.sm2) return undefined;
    const rotated = this.receiptFile.sm2;
    const kid = rotated?.current ?? this.sm2.kid;
    if (this.cachedSm2Signer?.kid !== kid) {
      const stored = rotated?.keys.find((k) => k.kid === kid);
      this.cachedSm2Signer = new Sm2ReceiptSigner(stored ? sm2KeyOf(stored) : this.sm2);
    }
    return this.cachedSm2Signer;
  }
  private cachedSm2Signer: ReceiptSigner | undefined;

  /** SM2 receipt key ids, newest first, with their state (empty without an SM2 key). */
  sm2ReceiptKeys(): { kid: string; current: boolean; createdAt: string; retiredAt?: string }[] {
    const rotated = this.receiptFile.sm2;
    if (!rotated)
      return this.sm2 ? [{ kid: this.sm2.kid, current: true, createdAt: this.sm2.createdAt }] : [];
    return [...rotated.keys].reverse().map((k) => ({
      kid: k.kid,
      current: k.kid === rotated.current,
      createdAt: k.createdAt,
      retiredAt: k.retiredAt,
    }));
  }

  /**
   * The SM2 receipt public keys (04 ‖ x ‖ y), oldest first — the key of sm2-key.json, then those
   * made by rotation — for the PKI to certify under the SM2 root (empty without an SM2 key).
   */
  sm2ReceiptPublicKeys(): { kid: string; publicKey: Uint8Array }[] {
    const rotated = this.receiptFile.sm2;
    if (!rotated) return this.sm2 ? [{ kid: this.sm2.kid, publicKey: this.sm2.publicKey }] : [];
    return rotated.keys.map((k) => {
      const key = sm2KeyOf(k);
      return { kid: key.kid, publicKey: key.publicKey };
    });
  }

  /** Public keys: current and retired receipt keys (ES256) and the checkpoint key (Ed25519). */
  jwks(): JsonWebKeySet {
    return this.cachedJwks;
  }

  /** Receipt key ids, newest first, with their state. */
  receiptKeys(): { kid: string; current: boolean; createdAt: string; retiredAt?: string }[] {
    return [...this.receiptFile.keys].reverse().map((k) => ({
      kid: k.kid,
      current: k.kid === this.receiptFile.current,
      createdAt: k.createdAt,
      retiredAt: k.retiredAt,
    }));
  }

  /** The receipt key rotation statements, oldest first (GET /v1/keys `rotations`, trust.json). */
  rotations(): KeyRotation[] {
    // Both chains in one list: followRotations follows each from its own pinned key.
    return [...(this.receiptFile.rotations ?? []), ...(this.receiptFile.sm2?.rotations ?? [])];
  }

  /** The statements of the last rotation: the ES256 one, and the SM2 one when it rotated too. */
  lastRotation(): { es256?: KeyRotation; sm2?: KeyRotation } {
    return { es256: this.receiptFile.rotations?.at(-1), sm2: this.receiptFile.sm2?.rotations.at(-1) };
  }

  /**
   * A compact JWS (typ `typ`) over `payload` by the current ES256 receipt key: statements the
   * operator publishes beside its keys, such as an anchoring identity change. Kept per key, so a
   * statement published on every GET /v1/keys is signed once.
   */
  signStatement(typ: string, payload: string): string {
    const current = this.receiptFile.keys.find((k) => k.kid === this.receiptFile.current)!;
    const memo = `${current.kid}\n${typ}\n${payload}`;
    let jws = this.statements.get(memo);
    if (jws === undefined) {
      jws = signEs256(current.jwk, current.kid, typ, payload);
      if (this.statements.size > 64) this.statements.clear();
      this.statements.set(memo, jws);
    }
    return jws;
  }
  private readonly statements = new Map<string, string>();

  /**
   * Makes a new receipt key current and retires the old one, which stays in the JWKS so receipts
   * it signed keep verifying; a statement signed by the old key and the new one publishes the
   * hand-over. Persisted before it takes effect. Returns the new kid. The SM2 receipt key, when
   * there is one (CRYPTO_SUITE dual or gm, or made by them before), is rotated in the same write
   * the same way, with a statement signed by its old and new SM2 keys.
   */
  async rotate(): Promise<string> {
    const file = path.join(this.dir, RECEIPT_FILE);
    const { next, stamp } = await withFileLock(file, async () => {
      // Build on the file as it is now, under the lock: another process may have rotated since we
      // read it, and writing our stale copy back would drop its key (and strand the receipts it
      // signed) or fork the chain of statements.
      const base = (await readJson<ReceiptKeyFile>(file)) ?? this.receiptFile;
      const previous = base.keys.find((k) => k.kid === base.current);
      if (!previous)
        throw new Error(`receipt key file names current key ${base.current}, which it does not hold`);
      const { kid, jwk } = await newEs256Jwk();
      const now = new Date().toISOString();
      const created: StoredReceiptKey = { kid, jwk, createdAt: now };
      const filled = backfillRotations(base) ?? base;
      const written: ReceiptKeyFile = {
        current: kid,
        keys: [...base.keys.map((k) => (k.kid === base.current ? { ...k, retiredAt: now } : k)), created],
        rotations: [...(filled.rotations ?? []), signReceiptKeyRotation(previous, created, now)],
        ...(this.sm2
          ? {
              sm2: rotateSm2Keys(
                base.sm2,
                {
                  kid: this.sm2.kid,
                  privateKey: Buffer.from(this.sm2.privateKey).toString('hex'),
                  createdAt: this.sm2.createdAt,
                },
                now,
              ),
            }
          : base.sm2
            ? { sm2: base.sm2 }
            : {}),
      };
      await writeSecretFile(file, JSON.stringify(written, null, 2));
      // Stamped under the lock: a rotation by another process right after ours is then seen.
      return { next: written, stamp: await KeyRing.stampOf(file) };
    });
    const kid = next.current;
    this.receiptStamp = stamp;
    this.receiptFile = next;
    this.signer = KeyRing.signerFor(next, this.thread);
    this.cachedJwks = await this.buildJwks();
    return kid;
  }

  private async buildJwks(): Promise<JsonWebKeySet> {
    const keys: PublicJwk[] = this.receiptFile.keys.map((k) => ({
      ...(publicJwkOf(k.jwk) as PublicJwk),
      kid: k.kid,
      alg: 'ES256',
      use: 'sig',
    }));
    const okp = createPublicKey({
      key: {
        kty: 'OKP',
        crv: 'Ed25519',
        x: Buffer.from(this.checkpointSigner.publicKey).toString('base64url'),
      },
      format: 'jwk',
    }).export({ format: 'jwk' }) as JWK;
    const okpKid = await calculateJwkThumbprint(okp, 'sha256');
    keys.push({ ...okp, kid: okpKid, alg: 'EdDSA', use: 'sig' } as PublicJwk);
    // Last, so keys[0] stays the current receipt key for the tools that read it so.
    if (this.sm2) keys.push(this.sm2.jwk);
    // SM2 receipt keys made by rotations, current and retired (old SM2 receipts keep verifying);
    // the first is the key of sm2-key.json, already pushed.
    for (const k of this.receiptFile.sm2?.keys ?? [])
      if (!keys.some((have) => have.kid === k.kid)) keys.push(sm2KeyOf(k).jwk);
    return { keys };
  }
}
