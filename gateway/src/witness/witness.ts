// A C2SP tlog-witness (https://c2sp.org/tlog-witness): the small program an outside institution
// (a notary office, the audit bureau, a court) runs with its own Ed25519 key. For each log it
// knows (origin + the log's verifier keys) it keeps the latest checkpoint it cosigned, and it
// cosigns a new one (cosignature/v1) only when a consistency proof shows the new tree extends
// that one. A checkpoint that does not extend it — a fork, a rewritten history — is refused and
// logged at error level with both tree heads, since it is evidence against the log operator.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import {
  assertConsistency,
  cosignCheckpoint,
  cosignerVerifierKey,
  fromBase64,
  isProofError,
  parseCheckpoint,
  toBase64,
  verifyCheckpoint,
} from '@lianzheng/proof';

/** Largest add-checkpoint body: 63 proof lines and a checkpoint with a few signatures fit easily. */
export const MAX_REQUEST_BYTES = 64 * 1024;
/** The spec's bound on consistency proof lines. */
const MAX_PROOF_LINES = 63;
const STATE_FILE = 'witness-state.json';

export interface WitnessLog {
  origin: string;
  /** The log's signed-note verifier keys (Ed25519 or SM2); a checkpoint needs one valid signature. */
  keys: string[];
}

export interface WitnessLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

interface LogState {
  size: number;
  rootHash: string;
  /** The cosigned checkpoint body, kept so a refusal can show what the witness saw. */
  body: string;
  cosignedAt: number;
}

interface StateFile {
  version: 1;
  logs: Record<string, LogState>;
}

export interface WitnessAnswer {
  status: number;
  contentType: string;
  body: string;
}

export interface WitnessOptions {
  name: string;
  /** The witness's Ed25519 seed (32 bytes). */
  seed: Uint8Array;
  stateDir: string;
  logs: WitnessLog[];
  logger: WitnessLogger;
  /** POSIX seconds; tests fix it. */
  now?: () => number;
}

function answer(status: number, body: string, contentType = 'text/plain; charset=utf-8'): WitnessAnswer {
  return { status, contentType, body: body.endsWith('\n') ? body : `${body}\n` };
}

/** Reads an Ed25519 private key in PEM (PKCS#8, as `openssl genpkey -algorithm ed25519` writes). */
export function seedFromPem(pem: string): Uint8Array {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new Error('the key file is not a PEM private key');
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error('the witness key must be Ed25519');
  const der = key.export({ format: 'der', type: 'pkcs8' });
  return new Uint8Array(der.subarray(der.length - 32));
}

/** A new Ed25519 key as PKCS#8 PEM, for `lianzheng witness keygen`. */
export function newWitnessKeyPem(): string {
  const { privateKey } = generateKeyPairSync('ed25519');
  return privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

export function witnessVerifierKey(name: string, seed: Uint8Array): string {
  const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  const spki = createPublicKey(createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' })).export({
    format: 'der',
    type: 'spki',
  });
  return cosignerVerifierKey(name, new Uint8Array(spki.subarray(spki.length - 32)));
}

interface ParsedRequest {
  oldSize: number;
  proof: Uint8Array[];
  note: string;
}

function parseRequest(body: string): ParsedRequest | string {
  const firstNl = body.indexOf('\n');
  if (firstNl < 0) return 'the body starts with an "old <size>" line';
  const oldLine = body.slice(0, firstNl);
  const m = /^old (0|[1-9][0-9]{0,15})$/.exec(oldLine);
  if (!m) return 'the first line is "old <size>" in decimal without leading zeros';
  const oldSize = Number(m[1]);
  if (!Number.isSafeInteger(oldSize)) return 'the old size is too large';
  const proof: Uint8Array[] = [];
  let at = firstNl + 1;
  for (;;) {
    const nl = body.indexOf('\n', at);
    if (nl < 0) return 'the proof lines end with an empty line';
    const line = body.slice(at, nl);
    at = nl + 1;
    if (line === '') break;
    if (proof.length >= MAX_PROOF_LINES) return `at most ${MAX_PROOF_LINES} consistency proof lines`;
    let hash: Uint8Array;
    try {
      hash = fromBase64(line);
    } catch {
      return 'a consistency proof line is one base64 hash';
    }
    if (hash.length !== 32) return 'a consistency proof hash is 32 bytes';
    proof.push(hash);
  }
  return { oldSize, proof, note: body.slice(at) };
}

export class Witness {
  readonly name: string;
  readonly vkey: string;
  #seed: Uint8Array;
  #stateDir: string;
  #logs: Map<string, string[]>;
  readonly logger: WitnessLogger;
  #now: () => number;
  #state: StateFile | undefined;
  // add-checkpoint's check of the old size and the write of the new state are one step (the
  // spec's rollback race): requests run one at a time through this chain.
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: WitnessOptions) {
    this.name = options.name;
    this.#seed = options.seed;
    this.vkey = witnessVerifierKey(options.name, options.seed);
    this.#stateDir = options.stateDir;
    this.#logs = new Map(options.logs.map((l) => [l.origin, l.keys]));
    this.logger = options.logger;
    this.#now = options.now ?? (() => Math.floor(Date.now() / 1000));
  }

  async #load(): Promise<StateFile> {
    if (this.#state) return this.#state;
    try {
      const parsed = JSON.parse(
        await fs.readFile(path.join(this.#stateDir, STATE_FILE), 'utf8'),
      ) as StateFile;
      if (parsed.version !== 1 || typeof parsed.logs !== 'object' || parsed.logs === null) {
        throw new Error(`${STATE_FILE} is not a version 1 witness state`);
      }
      this.#state = parsed;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      this.#state = { version: 1, logs: {} };
    }
    return this.#state;
  }

  /** Write to a temporary file, fsync it, rename over the old one, fsync the directory. */
  async #save(state: StateFile): Promise<void> {
    await fs.mkdir(this.#stateDir, { recursive: true, mode: 0o700 });
    const final = path.join(this.#stateDir, STATE_FILE);
    const tmp = `${final}.${process.pid}.tmp`;
    const fh = await fs.open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(`${JSON.stringify(state, null, 1)}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, final);
    const dir = await fs.open(this.#stateDir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  /** The latest cosigned size and root of a log (for monitors and tests). */
  async latest(origin: string): Promise<LogState | undefined> {
    return (await this.#load()).logs[origin];
  }

  addCheckpoint(body: string): Promise<WitnessAnswer> {
    const run = this.#queue.then(() => this.#add(body));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #add(body: string): Promise<WitnessAnswer> {
    const req = parseRequest(body);
    if (typeof req === 'string') return answer(400, req);
    let origin: string;
    try {
      origin = parseCheckpoint(req.note).origin;
    } catch (e) {
      return answer(400, `the checkpoint cannot be read: ${(e as Error).message}`);
    }
    const keys = this.#logs.get(origin);
    if (!keys) return answer(404, `unknown log origin ${JSON.stringify(origin)}`);
    let checkpoint: Awaited<ReturnType<typeof verifyCheckpoint>>['checkpoint'];
    try {
      checkpoint = (await verifyCheckpoint(req.note, keys)).checkpoint;
    } catch (e) {
      if (isProofError(e) && (e.code === 'BAD_SIGNATURE' || e.code === 'UNKNOWN_KEY')) {
        this.logger.warn({ origin, err: e.message }, 'witness: checkpoint signature refused');
        return answer(403, 'no signature by a trusted key of this log verifies');
      }
      return answer(400, `the checkpoint cannot be read: ${(e as Error).message}`);
    }
    if (req.oldSize > checkpoint.size) return answer(400, 'the old size exceeds the checkpoint size');
    const state = await this.#load();
    const known = state.logs[origin];
    const knownSize = known?.size ?? 0;
    const newRoot = toBase64(checkpoint.rootHash);
    const heads = {
      origin,
      cosigned: known ? { size: known.size, rootHash: known.rootHash } : { size: 0 },
      offered: { size: checkpoint.size, rootHash: newRoot, oldSize: req.oldSize },
    };
    if (req.oldSize !== knownSize) {
      this.logger.info(heads, 'witness: old size does not match the cosigned size (409)');
      return answer(409, String(knownSize), 'text/x.tlog.size');
    }
    if (known && req.oldSize === checkpoint.size && known.rootHash !== newRoot) {
      this.logger.error(
        { ...heads, evidence: req.note },
        'WITNESS REFUSED: same size, different root — the log shows two histories (fork)',
      );
      return answer(409, String(knownSize), 'text/x.tlog.size');
    }
    if (req.oldSize === 0 && req.proof.length > 0) return answer(422, 'the proof from size 0 is empty');
    if (known && req.oldSize > 0) {
      try {
        assertConsistency(
          req.oldSize,
          checkpoint.size,
          req.proof,
          fromBase64(known.rootHash),
          checkpoint.rootHash,
        );
      } catch (e) {
        this.logger.error(
          { ...heads, err: (e as Error).message, evidence: req.note },
          'WITNESS REFUSED: the checkpoint does not extend the one cosigned (consistency proof fails)',
        );
        return answer(422, 'the consistency proof does not verify');
      }
    }
    const time = this.#now();
    const line = cosignCheckpoint(req.note, { name: this.name, privateKey: this.#seed }, time);
    const next: StateFile = {
      version: 1,
      logs: {
        ...state.logs,
        [origin]: {
          size: checkpoint.size,
          rootHash: newRoot,
          body: req.note.slice(0, req.note.indexOf('\n\n') + 1),
          cosignedAt: time,
        },
      },
    };
    // Persist before answering (spec): a cosignature must never outlive the state that backs it.
    await this.#save(next);
    this.#state = next;
    return answer(200, line);
  }
}

export interface WitnessServer {
  url: string;
  witness: Witness;
  close(): Promise<void>;
}

/** Serves `POST /add-checkpoint` (and `GET /` with the witness's name and key) over HTTP. */
export async function startWitnessServer(
  witness: Witness,
  { port = 0, host = '127.0.0.1' }: { port?: number; host?: string } = {},
): Promise<WitnessServer> {
  const server = http.createServer((req, res) => {
    const send = (a: WitnessAnswer) => {
      res.writeHead(a.status, { 'content-type': a.contentType, 'cache-control': 'no-store' });
      res.end(a.body);
    };
    const url = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && url === '/') {
      send(answer(200, `${witness.name}\n${witness.vkey}\n`));
      return;
    }
    if (url !== '/add-checkpoint') {
      send(answer(404, 'not found'));
      return;
    }
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      send(answer(405, 'add-checkpoint is POST'));
      return;
    }
    const chunks: Buffer[] = [];
    let length = 0;
    let refused = false;
    req.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > MAX_REQUEST_BYTES) {
        if (!refused) send(answer(413, `at most ${MAX_REQUEST_BYTES} bytes`));
        refused = true;
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (refused) return;
      const text = Buffer.concat(chunks).toString('utf8');
      witness.addCheckpoint(text).then(send, (e: Error) => {
        send(answer(500, 'the witness could not store its state'));
        // The state could not be written: say so, and cosign nothing until it can.
        witness.logger.error({ err: e.message }, 'witness: cannot store the state; nothing cosigned');
      });
    });
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`,
    witness,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
