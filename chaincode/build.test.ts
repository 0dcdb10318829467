// The chaincode-as-a-service bundle: it builds, fabric-shim can load its contracts, and
// `fabric-chaincode-node server` starts on it and listens.

import { execFile, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
const require = createRequire(import.meta.url);

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('chaincode/dist', () => {
  beforeAll(async () => {
    await promisify(execFile)(process.execPath, [join(here, 'build.mjs')]);
  }, 60_000);

  it('is a CommonJS module whose package.json main exports the contracts', async () => {
    const manifest = JSON.parse(await readFile(join(dist, 'package.json'), 'utf8'));
    expect(manifest.main).toBe('index.js');
    expect(Object.keys(manifest.dependencies).sort()).toEqual(['fabric-contract-api', 'fabric-shim']);
    const Bootstrap = require('fabric-shim/lib/contract-spi/bootstrap.js');
    const info = Bootstrap.getInfoFromContract(dist);
    expect(info.contracts.map((c: { name: string }) => c.name)).toEqual(['EvidenceContract']);
    const contract = new info.contracts[0]();
    expect(contract.getName()).toBe('EvidenceContract');
  });

  it('starts under fabric-chaincode-node server', async () => {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [
        require.resolve('fabric-shim/cli.js'),
        'server',
        '--chaincode-address',
        `127.0.0.1:${port}`,
        '--chaincode-id',
        'lianzheng:test',
        '--module-path',
        dist,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CORE_CHAINCODE_LOGGING_LEVEL: 'WARNING' } },
    );
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    try {
      let listening = false;
      for (let i = 0; i < 100 && !listening && child.exitCode === null; i++) {
        await new Promise((r) => setTimeout(r, 100));
        listening = await accepts(port);
      }
      expect(stderr).not.toMatch(/Major failure/);
      expect(listening).toBe(true);
    } finally {
      child.kill('SIGTERM');
    }
  }, 30_000);
});
