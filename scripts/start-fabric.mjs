#!/usr/bin/env node
// `npm run start:fabric`: the gateway on a real Fabric network, in one command. Builds Fabric
// 2.5.16 if no build is cached (scripts/install-fabric.sh), bundles the chaincode, brings up the
// native three-organisation network under ./data/fabric (or FABRIC_RUN_DIR) and deploys the
// chaincode the first time, then starts the gateway as `npm start` does with LEDGER=fabric,
// submitting as the county finance bureau, with the demo project. Ctrl-C stops the gateway and
// every Fabric process this command started; the ledger stays in the run folder for next time
// (`npm run network:down -- --clean` removes it).
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);
register();

const step = (s) => console.error(`lianzheng start:fabric: ${s}`);

step('Fabric 2.5.16 binaries (built once from the shared source, then cached)');
const install = spawnSync('bash', ['scripts/install-fabric.sh'], { stdio: ['ignore', 'pipe', 'inherit'] });
if (install.status !== 0) process.exit(install.status ?? 1);
const fabricHome = install.stdout.toString().trim();

step('bundling the chaincode');
const build = spawnSync(process.execPath, ['chaincode/build.mjs'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

const { startFabricNetwork } = await import('../network/fabric/network.ts');
const runDir = path.resolve(process.env.FABRIC_RUN_DIR ?? path.join('data', 'fabric'));
step(`network in ${runDir}`);
let network;
try {
  network = await startFabricNetwork({ runDir, fabricHome, log: (line) => step(line) });
} catch (error) {
  console.error(`lianzheng start:fabric: the Fabric network did not come up: ${error.message}`);
  process.exit(3);
}

const gateway = spawn(process.execPath, ['scripts/start.mjs'], {
  cwd: root,
  env: { ...process.env, LEDGER: 'fabric', ...network.gatewayEnv('finance') },
  stdio: 'inherit',
});

let stopping = false;
async function stopAll(code) {
  if (stopping) return;
  stopping = true;
  if (gateway.exitCode === null) {
    const exited = new Promise((r) => gateway.once('exit', r));
    gateway.kill('SIGINT');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
    if (gateway.exitCode === null) gateway.kill('SIGKILL');
  }
  step('stopping the Fabric network (its ledger stays in the run folder)');
  await network.stop().catch((e) => console.error(e));
  process.exit(code);
}
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => void stopAll(0));
gateway.on('exit', (code) => {
  if (!stopping) {
    console.error(`lianzheng start:fabric: the gateway exited (${code})`);
    void stopAll(code ?? 1);
  }
});
