// A second chaincode as a service on a running network (network.ts), for benchmarks and
// experiments beside `lianzheng`: its own ccaas package, installed on the three peers, approved by
// the three organisations, committed with the channel's default endorsement policy (a majority)
// and no private data collection, and ONE chaincode server process for it.
//
// One server, not one per organisation: a package id names one package, and its connection.json
// is the same on every peer. network.ts gives each peer `{{.address}}` through its own
// CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG, and that variable already points at the peer's own
// `lianzheng` server; so this package carries a literal address and the three peers all dial the
// same server. Fine for a small contract (a floor, a probe); not how an organisation would run its
// own chaincode in production.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FABRIC_ORGS, type FabricNetwork, type FabricOrg } from './network.ts';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ExtraChaincodeOptions {
  /** The chaincode's name on the channel (also its package label `<name>_1`). */
  name: string;
  /** A folder fabric-shim's server can load: package.json with `main`, exporting `contracts`. */
  modulePath: string;
  /** The chaincode server's port on 127.0.0.1 (pick one outside fabricPorts' range). */
  port: number;
  log?: (line: string) => void;
}

export interface ExtraChaincode {
  name: string;
  packageId: string;
  /** The chaincode server's pid. */
  pid: number;
  /** Seconds each step took. */
  timings: Record<string, number>;
  /** Stops the chaincode server (the definition stays committed on the channel). */
  stop(): Promise<void>;
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolveOpen) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolveOpen(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(port, '127.0.0.1', () => done(true));
  });
}

function tar(args: string[]): Promise<void> {
  return new Promise((resolveTar, reject) =>
    execFile('tar', args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } }, (error, _out, stderr) =>
      error
        ? reject(new Error(`FABRIC_PACKAGE: tar ${args.join(' ')}: ${stderr || error.message}`))
        : resolveTar(),
    ),
  );
}

/** The ccaas package: metadata.json + code.tar.gz holding connection.json with a literal address. */
async function makePackage(dir: string, label: string, port: number): Promise<{ file: string; id: string }> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, 'connection.json'),
    `${JSON.stringify({ address: `127.0.0.1:${port}`, dial_timeout: '10s', tls_required: false }, null, 2)}\n`,
  );
  await writeFile(join(dir, 'metadata.json'), `${JSON.stringify({ type: 'ccaas', label })}\n`);
  const file = join(dir, `${label}.tgz`);
  await tar(['-C', dir, '-czf', join(dir, 'code.tar.gz'), 'connection.json']);
  await tar(['-C', dir, '-czf', file, 'metadata.json', 'code.tar.gz']);
  const digest = createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
  return { file, id: `${label}:${digest}` };
}

/**
 * Starts `options.name`'s server and deploys it on `net`'s channel; resolves once the server
 * listens and every peer has the committed definition (a peer dials the server on its first
 * transaction). On a run folder where the definition is already committed, only the server is
 * started. The server is this process's child: it is killed when this process exits.
 */
export async function deployExtraChaincode(
  net: FabricNetwork,
  options: ExtraChaincodeOptions,
): Promise<ExtraChaincode> {
  const log = options.log ?? (() => {});
  const label = `${options.name}_1`;
  const timings: Record<string, number> = {};
  let phaseStart = Date.now();
  const phase = (name: string) => {
    const now = Date.now();
    timings[name] = (now - phaseStart) / 1000;
    log(`fabric ${options.name}: ${name} ${timings[name]?.toFixed(2)} s`);
    phaseStart = now;
  };
  const pkg = await makePackage(join(net.runDir, 'artifacts', options.name), label, options.port);

  // ---- the server, first: the peers only dial it when the chaincode is first invoked
  if (await tcpOpen(options.port)) {
    throw new Error(`FABRIC_PORT_IN_USE: port ${options.port} (chaincode ${options.name}) is taken`);
  }
  await mkdir(join(net.runDir, 'logs'), { recursive: true });
  const logFile = join(net.runDir, 'logs', `chaincode-${options.name}.log`);
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(
      process.execPath,
      [
        join(repoRoot, 'node_modules', 'fabric-shim', 'cli.js'),
        'server',
        '--chaincode-address',
        `127.0.0.1:${options.port}`,
        '--chaincode-id',
        pkg.id,
        '--module-path',
        resolve(options.modulePath),
      ],
      {
        cwd: repoRoot,
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: process.env.HOME ?? net.runDir,
          CORE_CHAINCODE_LOGGING_LEVEL: 'WARNING',
          NODE_ENV: 'production',
        },
        stdio: ['ignore', fd, fd],
      },
    );
  } finally {
    closeSync(fd);
  }
  if (child.pid === undefined) throw new Error(`FABRIC_START_FAILED: chaincode ${options.name} not spawned`);
  const pid = child.pid;
  const killOnExit = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  await writeFile(join(net.runDir, 'pids', `chaincode-${options.name}.pid`), `${pid}\n`);
  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5_000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    await rm(join(net.runDir, 'pids', `chaincode-${options.name}.pid`), { force: true });
  };
  const tail = () => {
    try {
      return `\n--- ${logFile} ---\n${readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-15).join('\n')}`;
    } catch {
      return '';
    }
  };

  try {
    for (let i = 0; !(await tcpOpen(options.port)); i++) {
      if (child.exitCode !== null) throw new Error(`FABRIC_NODE_EXITED: chaincode ${options.name}${tail()}`);
      if (i > 300) throw new Error(`FABRIC_TIMEOUT: chaincode ${options.name} does not listen${tail()}`);
      await sleep(100);
    }
    phase('server listening');

    const ordererArgs = ['-o', net.ordererEndpoint, '--tls', '--cafile', net.ordererTlsRootCertPath];
    const definition = ['-C', net.channel, '--name', options.name, '--version', '1', '--sequence', '1'];
    const committed = async (org: FabricOrg) => {
      try {
        await net.peer(org, [
          'lifecycle',
          'chaincode',
          'querycommitted',
          '-C',
          net.channel,
          '--name',
          options.name,
        ]);
        return true;
      } catch {
        return false;
      }
    };
    if (!(await committed('finance'))) {
      await Promise.all(
        FABRIC_ORGS.map(async (org) => {
          const { stdout } = await net.peer(org, ['lifecycle', 'chaincode', 'queryinstalled']);
          if (!stdout.includes(pkg.id)) await net.peer(org, ['lifecycle', 'chaincode', 'install', pkg.file]);
        }),
      );
      phase('installed on 3 peers');
      await Promise.all(
        FABRIC_ORGS.map((org) =>
          net.peer(org, [
            'lifecycle',
            'chaincode',
            'approveformyorg',
            ...ordererArgs,
            ...definition,
            '--package-id',
            pkg.id,
            '--waitForEvent',
          ]),
        ),
      );
      phase('approved by 3 organisations');
      const endorsers: FabricOrg[] = ['finance', 'construction'];
      await net.peer('finance', [
        'lifecycle',
        'chaincode',
        'commit',
        ...ordererArgs,
        ...definition,
        ...endorsers.flatMap((o) => [
          '--peerAddresses',
          net.orgs[o].peerEndpoint,
          '--tlsRootCertFiles',
          net.orgs[o].tlsRootCertPath,
        ]),
        '--waitForEvent',
      ]);
    }
    for (const org of FABRIC_ORGS) {
      for (let i = 0; !(await committed(org)); i++) {
        if (i > 100) throw new Error(`FABRIC_TIMEOUT: ${org}'s peer has no definition of ${options.name}`);
        await sleep(100);
      }
    }
    phase('committed');
  } catch (error) {
    await stop();
    throw error;
  }
  return { name: options.name, packageId: pkg.id, pid, timings, stop };
}
