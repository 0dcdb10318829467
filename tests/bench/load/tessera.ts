// Tessera's POSIX log (github.com/transparency-dev/tessera/cmd/conformance/posix, the pinned
// version scripts/install-go-tools.sh builds and caches) as the sustained bench's baseline: the
// best transparency log we can run on this machine. It takes `POST /add` (the entry is the body),
// answers the entry's index once it is sequenced, and publishes a signed checkpoint (a file,
// `<storage>/checkpoint`) every second; entries count as recorded once a checkpoint covers them —
// the same end point as our gateway's signed checkpoint.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort, ROOT } from './stack.ts';

export const TESSERA_VERSION = 'v1.0.4';

/** Builds (once; cached outside the clone) and returns the posix binary. */
export function tesseraBinary(): string {
  const dir = execFileSync('bash', [path.join(ROOT, 'scripts/install-go-tools.sh'), 'tessera'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  return path.join(dir, 'bin', 'posix');
}

/**
 * A signed-note (golang.org/x/mod/sumdb/note) Ed25519 private key:
 * `PRIVATE+KEY+<name>+<key hash, 8 hex>+<base64(0x01 ‖ seed)>`, where the key hash is the first
 * four bytes of SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key).
 */
export function noteSigningKey(name: string): string {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url');
  const pub = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const hash = createHash('sha256')
    .update(Buffer.concat([Buffer.from(`${name}\n`), Buffer.from([1]), pub]))
    .digest()
    .subarray(0, 4)
    .toString('hex');
  return `PRIVATE+KEY+${name}+${hash}+${Buffer.concat([Buffer.from([1]), seed]).toString('base64')}`;
}

export interface TesseraLog {
  url: string;
  pid: number;
  storage: string;
  /** The size in the latest published checkpoint (0 before the first). */
  checkpointSize(): Promise<number>;
  stop(): Promise<void>;
}

export async function startTessera(): Promise<TesseraLog> {
  const binary = tesseraBinary();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lz-bench-tessera-'));
  const storage = path.join(dir, 'log');
  const keyFile = path.join(dir, 'key');
  await fs.writeFile(keyFile, noteSigningKey('bench.example/tessera'), { mode: 0o600 });
  const port = await freePort();
  const child: ChildProcess = spawn(
    binary,
    [`--listen=127.0.0.1:${port}`, `--storage_dir=${storage}`, `--private_key=${keyFile}`, '--v=0'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let out = '';
  child.stderr?.on('data', (d: Buffer) => {
    out = (out + d.toString()).slice(-10_000);
  });
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', kill);
  const url = `http://127.0.0.1:${port}`;
  const checkpointSize = async (): Promise<number> => {
    try {
      const note = await fs.readFile(path.join(storage, 'checkpoint'), 'utf8');
      return Number(note.split('\n')[1]);
    } catch {
      return 0;
    }
  };
  const deadline = Date.now() + 30_000;
  // Ready once it answers an add (index 0), which also makes its first checkpoint non-empty.
  for (;;) {
    if (child.exitCode !== null) throw new Error(`tessera exited (${child.exitCode}):\n${out}`);
    if (Date.now() > deadline) {
      kill();
      throw new Error(`tessera did not start:\n${out}`);
    }
    try {
      const res = await fetch(`${url}/add`, { method: 'POST', body: 'warm-up' });
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    pid: child.pid!,
    storage,
    checkpointSize,
    async stop() {
      process.removeListener('exit', kill);
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      kill();
    },
  };
}
