// A native Fabric network for end-to-end tests (network/fabric): three organisations, one Raft
// orderer, TLS, the chaincode as a service. One per test file, in a temporary run folder on its
// own ports; stopped (and its folder removed) in afterAll, also when the tests failed.

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FabricLedger } from '../../gateway/src/ledger/ledger-fabric.ts';
import { type FabricNetwork, type FabricOrg, startFabricNetwork } from '../../network/fabric/network.ts';

export interface FabricFixture {
  network: FabricNetwork;
  /** A FabricLedger client as one organisation's user (its own peer answers its queries). */
  ledgerAs(org: FabricOrg): FabricLedger;
  stop(): Promise<void>;
}

export async function startFabricFixture(portBase: number): Promise<FabricFixture> {
  const runDir = await fs.mkdtemp(path.join(os.tmpdir(), 'lz-fabric-'));
  const clients: FabricLedger[] = [];
  let network: FabricNetwork;
  try {
    network = await startFabricNetwork({ runDir, portBase });
  } catch (error) {
    await fs.rm(runDir, { recursive: true, force: true });
    throw error;
  }
  return {
    network,
    ledgerAs(org) {
      const info = network.orgs[org];
      const client = new FabricLedger({
        connectionProfile: info.connectionProfile,
        identity: { dir: info.userIdentityDir },
        channel: network.channel,
        chaincode: network.chaincode,
        attempts: 1,
      });
      clients.push(client);
      return client;
    },
    async stop() {
      await Promise.all(clients.map((c) => c.close().catch(() => {})));
      await network.stop().catch(() => {});
      await fs.rm(runDir, { recursive: true, force: true });
    },
  };
}

/** Every file under `dir` whose bytes contain `needle` (UTF-8). */
export async function filesContaining(files: string[], needle: string): Promise<string[]> {
  const bytes = Buffer.from(needle, 'utf8');
  const hits: string[] = [];
  for (const file of files) {
    const content = await fs.readFile(file).catch(() => Buffer.alloc(0));
    if (content.includes(bytes)) hits.push(file);
  }
  return hits;
}
