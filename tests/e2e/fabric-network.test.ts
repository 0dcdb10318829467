// network/fabric against real Fabric 2.5.16 processes: a fresh run folder comes up with the three
// peers on `evidence`, the chaincode committed with its private data collection and initialised
// (finance and construction write, inspection does not); a peer and a chaincode server restart on
// their state; a busy port is named; a second start on the same folder regenerates nothing; and no
// process outlives the tests.
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FABRIC_ORGS,
  type FabricNetwork,
  type FabricNodeName,
  readFabricNetwork,
  startFabricNetwork,
  stopFabricNetwork,
} from '../../network/fabric/network.ts';

const require = createRequire(import.meta.url);
const PORT_BASE = 27000;
let runDir: string;
let network: FabricNetwork | undefined;
/** Every pid the network's processes ever had in this file, checked gone at the end. */
const pids = new Set<number>();

async function recordPids(): Promise<void> {
  for (const name of await fs.readdir(path.join(runDir, 'pids')).catch(() => [])) {
    const pid = Number((await fs.readFile(path.join(runDir, 'pids', name), 'utf8')).trim());
    if (pid > 0) pids.add(pid);
  }
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

async function healthz(port: number): Promise<boolean> {
  return fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2_000) })
    .then((r) => r.ok)
    .catch(() => false);
}

function writers(configJson: string): string[] {
  return [...(JSON.parse(configJson) as { writers: string[] }).writers].sort();
}

beforeAll(async () => {
  runDir = await fs.mkdtemp(path.join(os.tmpdir(), 'lz-fabric-net-'));
  network = await startFabricNetwork({ runDir, portBase: PORT_BASE });
  await recordPids();
}, 180_000);

afterAll(async () => {
  await recordPids().catch(() => {});
  await network?.stop().catch(() => {});
  await stopFabricNetwork(runDir).catch(() => {});
  const left = [...pids].filter(alive);
  await fs.rm(runDir, { recursive: true, force: true });
  expect(left, 'processes left running').toEqual([]);
}, 60_000);

describe('a fresh network', () => {
  it('describes itself in network.json and gateway.env', async () => {
    const net = network!;
    const described = await readFabricNetwork(runDir);
    expect(described.channel).toBe('evidence');
    expect(described.chaincode).toBe('lianzheng');
    expect(described.ordererEndpoint).toBe(`localhost:${PORT_BASE}`);
    expect(described.orgs.inspection.mspId).toBe('InspectionMSP');
    expect(described.packageId).toMatch(/^lianzheng_1:[0-9a-f]{64}$/);
    expect(net.gatewayEnv()).toEqual({
      FABRIC_CONNECTION_PROFILE: net.orgs.finance.connectionProfile,
      FABRIC_IDENTITY_DIR: net.orgs.finance.userIdentityDir,
      FABRIC_CHANNEL: 'evidence',
      FABRIC_CHAINCODE: 'lianzheng',
      FABRIC_MSP_ID: 'FinanceMSP',
    });
    const envFile = await fs.readFile(path.join(runDir, 'gateway.env'), 'utf8');
    expect(envFile).toContain(`FABRIC_IDENTITY_DIR=${net.orgs.finance.userIdentityDir}`);
    for (const org of FABRIC_ORGS) {
      const info = net.orgs[org];
      for (const dir of [info.userIdentityDir, info.adminIdentityDir]) {
        expect((await fs.readFile(path.join(dir, 'msp-id'), 'utf8')).trim()).toBe(info.mspId);
        expect(await fs.readFile(path.join(dir, 'cert.pem'), 'utf8')).toContain('BEGIN CERTIFICATE');
        expect(await fs.readFile(path.join(dir, 'key.pem'), 'utf8')).toContain('PRIVATE KEY');
      }
      const profile = JSON.parse(await fs.readFile(info.connectionProfile, 'utf8'));
      expect(profile.client.organization).toBe(info.mspId);
      expect(Object.keys(profile.peers)).toHaveLength(3);
      expect(profile.peers[info.peerHostAlias].url).toBe(`grpcs://${info.peerEndpoint}`);
    }
  });

  it('has all three peers on the evidence channel', async () => {
    const net = network!;
    for (const org of FABRIC_ORGS) {
      const { stdout } = await net.peer(org, ['channel', 'list']);
      expect(stdout.split('\n')).toContain('evidence');
      const info = await net.peer(org, ['channel', 'getinfo', '-c', 'evidence']);
      const height = JSON.parse(`${info.stdout}${info.stderr}`.replace(/^[^{]*/s, '').trim()).height;
      // block 0, the three approvals (one block when they meet in the orderer), the commit, InitLedger
      expect(height).toBeGreaterThanOrEqual(4);
    }
  });

  it('has the chaincode committed with the restrictedDetails collection, approved by all three', async () => {
    const { stdout } = await network!.peer('inspection', [
      'lifecycle',
      'chaincode',
      'querycommitted',
      '-C',
      'evidence',
      '--name',
      'lianzheng',
      '-O',
      'json',
    ]);
    const committed = JSON.parse(stdout);
    expect(committed.sequence).toBe(1);
    expect(committed.version).toBe('1');
    expect(committed.approvals).toEqual({ FinanceMSP: true, ConstructionMSP: true, InspectionMSP: true });
    const collection = committed.collections.config[0].Payload.StaticCollectionConfig;
    expect(collection.name).toBe('restrictedDetails');
    expect(collection.maximum_peer_count).toBe(2);
    expect(collection.required_peer_count ?? 0).toBe(0);
    expect(collection.block_to_live ?? 0).toBe(0);
    expect(collection.member_only_read).toBe(true);
    expect(collection.member_only_write).toBe(true);
    // Members: any one of the three organisations (the inspection commission reads restricted amounts).
    const policy = collection.member_orgs_policy.Payload.SignaturePolicy;
    expect(policy.rule.Type.NOutOf.n).toBe(1);
    const members = policy.identities.map((i: { principal: string }) =>
      Buffer.from(i.principal, 'base64')
        .toString('utf8')
        .replace(/^[\s\S]{2}/, ''),
    );
    expect(members.sort()).toEqual(['ConstructionMSP', 'FinanceMSP', 'InspectionMSP']);
  });

  it('answers GetConfig on every peer: finance and construction write', async () => {
    for (const org of FABRIC_ORGS) {
      expect(writers(await network!.query(org, 'GetConfig'))).toEqual(['ConstructionMSP', 'FinanceMSP']);
    }
    expect(JSON.parse(await network!.query('inspection', 'GetConfig')).adminMsp).toBe('FinanceMSP');
  });

  it('refuses RegisterProject from the inspection commission with NOT_A_WRITER', async () => {
    const project = {
      id: 'LZ-NET-TEST-001',
      name: '南岭村村道硬化工程',
      regionCode: '430521',
      ownerOrg: '南岭村村民委员会',
      budget: '120000000',
      milestones: [{ id: 'M1', name: '路基完成', dueDate: '2025-04-30' }],
    };
    await expect(
      network!.invoke('inspection', 'RegisterProject', [JSON.stringify(project)], ['inspection', 'finance']),
    ).rejects.toThrow(/NOT_A_WRITER/);
  });

  it('serves a fabric-network client with discovery off through its connection profile', async () => {
    const { Gateway, Wallets } = require('fabric-network');
    const info = network!.orgs.inspection;
    const wallet = await Wallets.newInMemoryWallet();
    await wallet.put('user', {
      type: 'X.509',
      mspId: info.mspId,
      credentials: {
        certificate: await fs.readFile(path.join(info.userIdentityDir, 'cert.pem'), 'utf8'),
        privateKey: await fs.readFile(path.join(info.userIdentityDir, 'key.pem'), 'utf8'),
      },
    });
    const gateway = new Gateway();
    try {
      await gateway.connect(JSON.parse(await fs.readFile(info.connectionProfile, 'utf8')), {
        wallet,
        identity: 'user',
        discovery: { enabled: false, asLocalhost: true },
      });
      const contract = (await gateway.getNetwork('evidence')).getContract('lianzheng');
      expect(writers((await contract.evaluateTransaction('GetConfig')).toString())).toEqual([
        'ConstructionMSP',
        'FinanceMSP',
      ]);
    } finally {
      gateway.disconnect();
    }
  });

  it('lists the block files of every peer and the orderer', async () => {
    const files = await network!.blockFiles();
    expect(files).toHaveLength(4);
    for (const file of files) expect((await fs.stat(file)).size).toBeGreaterThan(0);
  });
});

describe('processes', () => {
  it('restarts a stopped peer and a killed chaincode server on their state', async () => {
    const net = network!;
    const ops = net.ports.peers.construction.operations;
    await net.stopNode('peer.construction');
    expect(await healthz(ops)).toBe(false);
    await net.startNode('peer.construction');
    await recordPids();
    expect(await healthz(ops)).toBe(true);
    expect(writers(await net.query('construction', 'GetConfig'))).toEqual(['ConstructionMSP', 'FinanceMSP']);

    await net.killNode('chaincode.finance');
    await expect(net.query('finance', 'GetConfig')).rejects.toThrow();
    await net.startNode('chaincode.finance');
    await recordPids();
    // The peer dials the restarted server again on the next call.
    await expect
      .poll(() => net.query('finance', 'GetConfig').catch(() => ''), { timeout: 20_000 })
      .toContain('FinanceMSP');
  });

  it('names a port another process holds', async () => {
    const other = await fs.mkdtemp(path.join(os.tmpdir(), 'lz-fabric-busy-'));
    const { createServer } = await import('node:net');
    const squatter = createServer();
    await new Promise<void>((r) => squatter.listen(PORT_BASE + 110, '127.0.0.1', () => r()));
    try {
      await expect(startFabricNetwork({ runDir: other, portBase: PORT_BASE + 100 })).rejects.toThrow(
        new RegExp(`FABRIC_PORT_IN_USE: port ${PORT_BASE + 110} \\(peer\\.finance listen\\)`),
      );
      // What it had started is stopped again.
      for (const name of ['orderer', 'peer.inspection', 'chaincode.finance'] as FabricNodeName[]) {
        const pid = await fs.readFile(path.join(other, 'pids', `${name}.pid`), 'utf8').catch(() => '');
        if (pid) expect(alive(Number(pid))).toBe(false);
      }
    } finally {
      await new Promise((r) => squatter.close(r));
      await stopFabricNetwork(other);
      await fs.rm(other, { recursive: true, force: true });
    }
  });

  it('stops everything, then starts again on the same folder without regenerating anything', async () => {
    const before = network!;
    const caCert = await fs.readFile(before.orgs.finance.tlsRootCertPath, 'utf8');
    const userCert = await fs.readFile(path.join(before.orgs.finance.userIdentityDir, 'cert.pem'), 'utf8');
    await recordPids();
    await before.stop();
    expect([...pids].filter(alive)).toEqual([]);
    expect(await healthz(before.ports.orderer.operations)).toBe(false);

    network = await startFabricNetwork({ runDir }); // the port base comes from the folder
    await recordPids();
    const after = network;
    expect(Object.keys(after.timings)).not.toContain('crypto, channel block and package');
    expect(after.packageId).toBe(before.packageId);
    expect(after.ordererEndpoint).toBe(`localhost:${PORT_BASE}`);
    expect(await fs.readFile(after.orgs.finance.tlsRootCertPath, 'utf8')).toBe(caCert);
    expect(await fs.readFile(path.join(after.orgs.finance.userIdentityDir, 'cert.pem'), 'utf8')).toBe(
      userCert,
    );
    expect(writers(await after.query('inspection', 'GetConfig'))).toEqual(['ConstructionMSP', 'FinanceMSP']);
    await expect(startFabricNetwork({ runDir, portBase: PORT_BASE + 500 })).rejects.toThrow(
      /FABRIC_BAD_OPTION/,
    );
  });
});
