// The gateway behind a real nginx that terminates TLS, as most deployments run it: nginx asks for
// the client's certificate, passes it on in X-Client-Cert and the client's address in
// X-Forwarded-For; the gateway trusts both from TRUSTED_PROXIES only. Real TLS handshakes, real
// nginx (Debian's, unpacked by scripts/install-nginx.sh), the gateway as its own process on the
// embedded PostgreSQL. Test clients bind to different loopback addresses (127.0.0.2, …) so that
// nginx sees different clients.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { sha256, toHex } from '@lianzheng/proof';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initPki, issueClientCertificate, pkiPaths } from '../../gateway/src/tsa/pki.ts';
import {
  freePort,
  type GatewayProcess,
  gatewayProcess,
  type JsonAnswer,
  lianzheng,
  makeDataDir,
  registerProject,
  requestJson,
  root,
  sleep,
  testProject,
  tokensFor,
} from './reliability-support.ts';

let dataDir = '';
let gateway: GatewayProcess;
let nginx: ChildProcess | undefined;
let nginxLog = '';
let proxyBase = '';
let ca: Buffer;
const project = testProject();
const partner: { cert?: Buffer; key?: Buffer } = {};
const foreign: { cert?: Buffer; key?: Buffer } = {};

/** A request through nginx over TLS, from loopback address `from`, with a client certificate or not. */
function viaProxy(
  method: string,
  url: string,
  options: { from?: string; cert?: Buffer; key?: Buffer; body?: unknown } = {},
): Promise<JsonAnswer> {
  const { from, ...rest } = options;
  return requestJson(`${proxyBase}${url}`, { method, ca, localAddress: from ?? '127.0.0.2', ...rest });
}

/** A request straight to the gateway (plain HTTP), from loopback address `from`. */
function direct(url: string, from: string, headers: Record<string, string>): Promise<JsonAnswer> {
  return requestJson(`${gateway.base}${url}`, { localAddress: from, headers });
}

const item = () => ({
  sha256: toHex(sha256(randomBytes(32))),
  projectId: project.id,
  kind: 'notice',
  visibility: 'public',
});

beforeAll(async () => {
  const { stdout } = await promisify(execFile)('bash', [path.join(root, 'scripts', 'install-nginx.sh')], {
    timeout: 300_000,
  });
  const nginxBin = stdout.trim().split('\n').pop()!;
  dataDir = await makeDataDir('lz-e2e-nginx-');
  const pkiDir = path.join(dataDir, 'pki');
  await initPki({ dir: pkiDir });
  const paths = pkiPaths(pkiDir);
  ca = await fs.readFile(paths.rootCert);
  const server = lianzheng(['pki', 'server-cert'], dataDir);
  expect(server.status, server.out).toBe(0);

  gateway = gatewayProcess({
    dataDir,
    port: await freePort(),
    env: {
      TRUSTED_PROXIES: '127.0.0.1',
      TLS_CLIENT_CERT_HEADER: 'X-Client-Cert',
      RATE_LIMIT_PUBLIC_PER_MIN: '5',
      AUTH_CACHE_MS: '0',
    },
  });
  await gateway.start();
  const tokens = await tokensFor(dataDir, project.ownerOrg);
  await registerProject(gateway.base, tokens.unit, project);
  const created = lianzheng(['clientcert', 'create', '--org', project.ownerOrg, '--name', 'erp'], dataDir);
  expect(created.status, created.out).toBe(0);
  const lines = created.out.split('\n');
  partner.cert = await fs.readFile(lines.find((l) => l.endsWith('.cert.pem'))!);
  partner.key = await fs.readFile(lines.find((l) => l.endsWith('.key.pem'))!);
  const otherPki = path.join(dataDir, 'other-pki');
  await initPki({ dir: otherPki, organization: 'Someone Else' });
  const other = await issueClientCertificate(otherPki, { name: 'erp', organization: project.ownerOrg });
  foreign.cert = await fs.readFile(other.certPath);
  foreign.key = await fs.readFile(other.keyPath!);

  // nginx asks for a certificate without judging its chain (optional_no_ca), so that the
  // gateway's own check is what refuses a foreign one; the handshake still proves the key.
  const port = await freePort();
  proxyBase = `https://127.0.0.1:${port}`;
  const prefix = path.join(dataDir, 'nginx');
  await fs.mkdir(prefix, { recursive: true });
  const conf = `
daemon off;
master_process off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${paths.serverCert};
    ssl_certificate_key ${paths.serverKey};
    ssl_client_certificate ${paths.rootCert};
    ssl_verify_client optional_no_ca;
    location / {
      proxy_pass ${gateway.base};
      proxy_set_header X-Client-Cert $ssl_client_escaped_cert;
      proxy_set_header X-Forwarded-For $remote_addr;
    }
  }
}
`;
  await fs.writeFile(path.join(prefix, 'nginx.conf'), conf);
  nginx = spawn(
    nginxBin,
    ['-p', prefix, '-c', path.join(prefix, 'nginx.conf'), '-e', path.join(prefix, 'error.log')],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  nginx.stdout?.on('data', (d: Buffer) => {
    nginxLog += d;
  });
  nginx.stderr?.on('data', (d: Buffer) => {
    nginxLog += d;
  });
  for (let i = 0; i < 100; i++) {
    if (nginx.exitCode !== null) throw new Error(`nginx exited (${nginx.exitCode}): ${nginxLog}`);
    const ready = await viaProxy('GET', '/healthz', { from: '127.0.0.9' }).catch(() => undefined);
    if (ready?.status === 200) return;
    await sleep(100);
  }
  throw new Error(`nginx did not answer: ${nginxLog}`);
}, 600_000);

afterAll(async () => {
  if (nginx && nginx.exitCode === null) {
    nginx.kill('SIGQUIT');
    await new Promise((r) => nginx!.once('exit', r));
  }
  await gateway?.stop();
  if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
});

describe('behind nginx terminating TLS', () => {
  it("takes a partner's submission on the certificate nginx passed on, and refuses a foreign one", async () => {
    const accepted = await viaProxy('POST', '/v1/evidence', { ...partner, body: item() });
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
    const foreignAnswer = await viaProxy('POST', '/v1/evidence', { ...foreign, body: item() });
    expect(foreignAnswer.status).toBe(401);
    expect(foreignAnswer.body.reason).toBe('BAD_CLIENT_CERTIFICATE');
    expect(foreignAnswer.body.detail).toMatch(/not issued by the client CA/);
    // No certificate: the anonymous public, refused where credentials are needed.
    const anonymous = await viaProxy('POST', '/v1/evidence', { body: item() });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.reason).toBe('NO_CREDENTIALS');
  });

  it('refuses the certificate header from a peer that is not the proxy', async () => {
    const header = encodeURIComponent(partner.cert!.toString());
    const answer = await direct('/v1/webhooks', '127.0.0.5', { 'x-client-cert': header });
    expect(answer.status).toBe(401);
    expect(answer.body.detail).toMatch(/not in TRUSTED_PROXIES/);
  });

  it('counts the public rate limit per client behind nginx, not one budget for all', async () => {
    // RATE_LIMIT_PUBLIC_PER_MIN=5: one villager's sixth request waits, another's does not.
    for (let i = 0; i < 5; i++)
      expect((await viaProxy('GET', '/.well-known/jwks.json', { from: '127.0.0.3' })).status).toBe(200);
    expect((await viaProxy('GET', '/.well-known/jwks.json', { from: '127.0.0.3' })).status).toBe(429);
    expect((await viaProxy('GET', '/.well-known/jwks.json', { from: '127.0.0.4' })).status).toBe(200);
  });
});
