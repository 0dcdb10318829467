#!/usr/bin/env node
// A geth dev node on loopback for local runs: `node scripts/geth-dev.mjs start [--datadir D]
// [--port P] [--period S] [--fund ADDRESS]` runs in the foreground (Ctrl-C stops it); `stop [--datadir D]` stops
// the one started on that data folder from another shell. Tests use network/evm/geth-dev.ts
// directly. The chain persists in the data folder (default ./data/geth-dev).
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { register } from 'tsx/esm/api';

register();
const { fundFromDevAccount, startGethDev } = await import('../network/evm/geth-dev.ts');

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    datadir: { type: 'string' },
    port: { type: 'string' },
    period: { type: 'string' },
    fund: { type: 'string' },
  },
});
const datadir = resolve(values.datadir ?? join('data', 'geth-dev'));
const pidFile = join(datadir, 'geth-dev.pid');

if (positionals[0] === 'start') {
  const node = await startGethDev({
    datadir,
    port: values.port ? Number(values.port) : 8545,
    period: values.period ? Number(values.period) : 1,
  });
  writeFileSync(pidFile, String(process.pid));
  process.stdout.write(
    `geth dev node: ANCHOR_RPC_URL=${node.rpcUrl} ANCHOR_CHAIN_ID=${node.chainId} (dev account ${node.devAccount}, pid ${node.pid})\n`,
  );
  // --fund ADDRESS: 100 ETH from the unlocked dev account, e.g. for the anchorer's key.
  if (values.fund) {
    const tx = await fundFromDevAccount(node, values.fund, 100n * 10n ** 18n);
    process.stdout.write(`funded ${values.fund} with 100 ETH (tx ${tx})\n`);
  }
  const shutdown = async () => {
    await node.stop();
    rmSync(pidFile, { force: true });
    process.exit(0);
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
} else if (positionals[0] === 'stop') {
  let pid;
  try {
    pid = Number(readFileSync(pidFile, 'utf8'));
  } catch {
    process.stdout.write(`no geth dev node running on ${datadir}\n`);
    process.exit(0);
  }
  process.kill(pid, 'SIGTERM');
  process.stdout.write(`stopping geth dev node (runner pid ${pid})\n`);
} else {
  process.stderr.write(
    'usage: node scripts/geth-dev.mjs start|stop [--datadir D] [--port P] [--period S] [--fund ADDRESS]\n',
  );
  process.exit(2);
}
