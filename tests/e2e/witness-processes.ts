// Witnesses as an outside institution runs them, for the e2e tests: each `lianzheng witness serve`
// its own process with its own key, made by `lianzheng witness keygen`, and the WITNESSES setting
// that points the gateway at them.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');

/** Runs the CLI as a user would (`scripts/lianzheng.mjs`); answers its exit code and output. */
export function lianzheng(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['scripts/lianzheng.mjs', ...args], { cwd: root, stdio: 'pipe' });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    child.on('exit', (code) => resolve({ code: code ?? 1, out }));
  });
}

export interface WitnessProcess {
  child: ChildProcess;
  output: () => string;
  url: string;
}

/** Witness i of `names`, keyed `<dir>/w<i>.pem`, on `ports[i]`. */
export class WitnessSet {
  readonly vkeys: string[] = [];

  constructor(
    readonly dir: string,
    readonly names: readonly string[],
    readonly ports: readonly number[],
  ) {}

  /** Makes each witness's key with `lianzheng witness keygen` and keeps its verifier key. */
  async keygen(): Promise<void> {
    for (const [i, name] of this.names.entries()) {
      const r = await lianzheng(['witness', 'keygen', '--out', this.keyFile(i), '--name', name]);
      if (r.code !== 0) throw new Error(`witness keygen ${name} exited ${r.code}:\n${r.out}`);
      this.vkeys.push(r.out.trim());
    }
  }

  /** WITNESSES for the gateway: each witness named `<label> i` (zh `见证方i`). */
  gatewayEnv(label: string): string {
    return JSON.stringify(
      this.names.map((_, i) => ({
        name: `${label} ${i + 1}`,
        nameZh: `见证方${i + 1}`,
        url: this.url(i),
        vkey: this.vkeys[i],
      })),
    );
  }

  url(i: number): string {
    return `http://127.0.0.1:${this.ports[i]}`;
  }

  private keyFile(i: number): string {
    return path.join(this.dir, `w${i}.pem`);
  }

  /** Starts witness i for the log `origin` with its keys, state in `stateDir`; waits until it listens. */
  async start(i: number, log: { origin: string; keys: string[] }, stateDir: string): Promise<WitnessProcess> {
    const args = ['scripts/lianzheng.mjs', 'witness', 'serve', '--key', this.keyFile(i)];
    args.push('--state', stateDir, '--port', String(this.ports[i]), '--name', this.names[i]!);
    args.push('--log-origin', log.origin);
    for (const k of log.keys) args.push('--log-key', k);
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.on('data', (d) => {
      output += d;
    });
    child.stderr?.on('data', (d) => {
      output += d;
    });
    const deadline = Date.now() + 60_000;
    while (!output.includes('listening on')) {
      if (child.exitCode !== null || Date.now() > deadline)
        throw new Error(`witness ${i} did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return { child, output: () => output, url: this.url(i) };
  }
}

/** SIGTERM, then SIGKILL after 10 s. */
export async function stopWitness(p: WitnessProcess | undefined): Promise<void> {
  if (!p || p.child.exitCode !== null) return;
  const exited = new Promise((r) => p.child.once('exit', r));
  p.child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  if (p.child.exitCode === null) p.child.kill('SIGKILL');
}
