#!/usr/bin/env node
// The native Fabric network (network/fabric) from the command line:
//   up [--run-dir D] [--port-base N]   start it (generate, join, deploy and initialise the first time);
//                                      the processes keep running after this command returns
//   down [--run-dir D] [--clean]       stop its processes (from the pid files); --clean also removes D
//   status [--run-dir D]               which processes run and answer their health check
// The run folder defaults to ./data/fabric. `up` writes D/gateway.env (the finance bureau's User1)
// for `LEDGER=fabric npm start`, and D/network.json describing the network.
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { register } from 'tsx/esm/api';

register();
const { fabricNetworkStatus, readFabricNetwork, startFabricNetwork, stopFabricNetwork } = await import(
  '../network/fabric/network.ts'
);

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    'run-dir': { type: 'string' },
    'port-base': { type: 'string' },
    clean: { type: 'boolean' },
  },
});
const runDir = resolve(values['run-dir'] ?? join('data', 'fabric'));
const say = (line) => process.stdout.write(`${line}\n`);

try {
  if (positionals[0] === 'up') {
    const portBase = values['port-base'] === undefined ? undefined : Number(values['port-base']);
    if (portBase !== undefined && !(Number.isInteger(portBase) && portBase > 1024 && portBase < 65_000)) {
      throw new Error(`--port-base must be a port number (1025-64999), not '${values['port-base']}'`);
    }
    const network = await startFabricNetwork({ runDir, portBase, log: say });
    say(`orderer ${network.ordererEndpoint}`);
    for (const [org, info] of Object.entries(network.orgs)) {
      say(`${org.padEnd(12)} ${info.mspId.padEnd(16)} peer ${info.peerEndpoint} (${info.peerHostAlias})`);
    }
    say(`gateway: LEDGER=fabric with the variables in ${join(runDir, 'gateway.env')}`);
    say(`stop with: npm run network:down${values['run-dir'] ? ` -- --run-dir ${values['run-dir']}` : ''}`);
  } else if (positionals[0] === 'down') {
    await stopFabricNetwork(runDir);
    say(`Fabric network on ${runDir} stopped`);
    if (values.clean) {
      rmSync(runDir, { recursive: true, force: true });
      say(`${runDir} removed`);
    }
  } else if (positionals[0] === 'status') {
    const network = await readFabricNetwork(runDir);
    const nodes = await fabricNetworkStatus(runDir);
    say(`Fabric network on ${runDir} (ports from ${network.portBase}, channel ${network.channel})`);
    for (const node of nodes) {
      const state = node.healthy ? 'healthy' : node.running ? 'running, not healthy' : 'stopped';
      say(`${node.name.padEnd(22)} ${state}${node.pid && node.running ? ` (pid ${node.pid})` : ''}`);
    }
    process.exitCode = nodes.every((n) => n.healthy) ? 0 : 1;
  } else {
    process.stderr.write(
      'usage: node scripts/fabric-network.mjs up [--run-dir D] [--port-base N] | down [--run-dir D] [--clean] | status [--run-dir D]\n',
    );
    process.exitCode = 2;
  }
} catch (error) {
  process.stderr.write(`fabric-network: ${error.message}\n`);
  process.exitCode = 1;
}
