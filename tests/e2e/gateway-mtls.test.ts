// HTTPS and partners' client certificates (mTLS), as an operator sets them up with the CLI:
// `lianzheng pki server-cert`, the gateway on TLS_CERT_FILE/TLS_KEY_FILE, `lianzheng clientcert
// create` for a partner, whose system then submits with its certificate and no other credential;
// certificates from another CA, unlisted or revoked ones get 401 problem+json saying why.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { sha256, toHex } from '@lianzheng/proof';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initPki, issueClientCertificate, pkiPaths } from '../../gateway/src/tsa/pki.ts';
import {
  freePort,
  type JsonAnswer,
  lianzheng,
  makeDataDir,
  requestJson,
  root,
  sleep,
  testProject,
  tokensFor,
} from './reliability-support.ts';

let dataDir = '';
let otherPki = '';
let gateway: ChildProcess | undefined;
let output = '';
let base = '';
let ca: Buffer;
const AUTH_CACHE_MS = 300;

/** One request on a fresh connection (no keep-alive), trusting the local root. */
function request(
  method: string,
  url: string,
  options: { cert?: Buffer; key?: Buffer; headers?: Record<string, string>; body?: unknown } = {},
): Promise<JsonAnswer> {
  return requestJson(`${base}${url}`, { method, ca, ...options });
}

const item = (projectId: string) => ({
  sha256: toHex(sha256(randomBytes(32))),
  projectId,
  kind: 'contract',
  visibility: 'restricted',
  amount: '100000',
});

/** POST /v1/evidence with this certificate and key and no other credential. */
async function submitWith(files: { certPath: string; keyPath?: string }, projectId: string) {
  return request('POST', '/v1/evidence', {
    cert: await fs.readFile(files.certPath),
    key: await fs.readFile(files.keyPath!),
    body: item(projectId),
  });
}

beforeAll(async () => {
  dataDir = await makeDataDir('lz-e2e-mtls-');
  otherPki = await makeDataDir('lz-e2e-other-ca-');
  const init = lianzheng(['pki', 'init'], dataDir);
  expect(init.status, init.out).toBe(0);
  const server = lianzheng(['pki', 'server-cert'], dataDir);
  expect(server.status, server.out).toBe(0);
  const env = Object.fromEntries(
    server.out
      .split('\n')
      .filter((l) => l.startsWith('TLS_'))
      .map((l) => l.split('=') as [string, string]),
  );
  ca = await fs.readFile(pkiPaths(path.join(dataDir, 'pki')).rootCert);
  const port = await freePort();
  base = `https://127.0.0.1:${port}`;
  gateway = spawn(process.execPath, ['--import', 'tsx', 'gateway/src/server.ts'], {
    cwd: root,
    env: {
      ...process.env,
      ...env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      DATABASE_URL: '',
      LOG_LEVEL: 'warn',
      AUTH_CACHE_MS: String(AUTH_CACHE_MS),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  gateway.stdout?.on('data', (d: Buffer) => {
    output = (output + d).slice(-10_000);
  });
  gateway.stderr?.on('data', (d: Buffer) => {
    output = (output + d).slice(-10_000);
  });
  for (let i = 0; i < 600; i++) {
    if (gateway.exitCode !== null) throw new Error(`the gateway exited\n${output}`);
    const ready = await request('GET', '/readyz').catch(() => undefined);
    if (ready?.status === 200) return;
    await sleep(200);
  }
  throw new Error(`the gateway did not become ready over HTTPS\n${output}`);
});

afterAll(async () => {
  if (gateway && gateway.exitCode === null) {
    gateway.kill('SIGTERM');
    await new Promise((r) => gateway!.once('exit', r));
  }
  for (const d of [dataDir, otherPki]) if (d) await fs.rm(d, { recursive: true, force: true });
});

/**
 * A new project of a new organisation, registered by its unit, and a client certificate for the
 * organisation's partner system made with `lianzheng clientcert create` (and its output).
 */
async function partnerWithCertificate(name: string) {
  const project = testProject();
  const tokens = await tokensFor(dataDir, project.ownerOrg);
  const registered = await request('POST', '/v1/projects', {
    headers: { authorization: `Bearer ${tokens.unit}` },
    body: project,
  });
  expect(registered.status, JSON.stringify(registered.body)).toBe(201);
  const created = lianzheng(['clientcert', 'create', '--org', project.ownerOrg, '--name', name], dataDir);
  expect(created.status, created.out).toBe(0);
  const lines = created.out.split('\n');
  return {
    project,
    created,
    certPath: lines.find((l) => l.endsWith('.cert.pem'))!,
    keyPath: lines.find((l) => l.endsWith('.key.pem'))!,
  };
}

describe('HTTPS with partners’ client certificates', () => {
  it('takes a partner’s submissions on its certificate alone, and refuses what it should', async () => {
    const { project, created, certPath, keyPath } = await partnerWithCertificate('finance-platform');
    expect(created.out).toMatch(/^accepted finance-platform for .* as partner until /m);
    const partner = { cert: await fs.readFile(certPath), key: await fs.readFile(keyPath) };

    // The certificate is the whole credential.
    const batch = await request('POST', '/v1/evidence/batch', {
      ...partner,
      body: { items: [item(project.id), item(project.id)] },
    });
    expect(batch.status, JSON.stringify(batch.body)).toBe(202);
    const id = (batch.body.results as { id: string }[])[0]!.id;
    // Restricted fields reach the owning organisation: the partner sees its own amount.
    const own = await request('GET', `/v1/evidence/${id}`, partner);
    expect(own.status, JSON.stringify(own.body)).toBe(200);
    expect(JSON.stringify(own.body)).toContain('100000');

    // No certificate, no credential: the public, refused where credentials are needed.
    const anonymous = await request('POST', '/v1/evidence', { body: item(project.id) });
    expect(anonymous.status).toBe(401);
    expect(anonymous.type).toMatch(/^application\/problem\+json/);
    expect(anonymous.body.reason).toBe('NO_CREDENTIALS');
    expect((await request('GET', '/.well-known/jwks.json')).status).toBe(200);

    // Signed by another CA: the handshake completes, the request says why it is refused.
    await initPki({ dir: otherPki });
    const foreign = await issueClientCertificate(otherPki, {
      name: 'intruder',
      organization: project.ownerOrg,
    });
    const foreignAnswer = await submitWith(foreign, project.id);
    expect(foreignAnswer.status).toBe(401);
    expect(foreignAnswer.body.reason).toBe('BAD_CLIENT_CERTIFICATE');
    expect(foreignAnswer.body.detail).toMatch(/not trusted/);

    // From our own root, but never accepted for anyone: refused too.
    const stray = await issueClientCertificate(path.join(dataDir, 'pki'), {
      name: 'stray',
      organization: project.ownerOrg,
    });
    const strayAnswer = await submitWith(stray, project.id);
    expect(strayAnswer.status).toBe(401);
    expect(strayAnswer.body.detail).toMatch(/unknown, revoked or expired/);

    // A header credential speaks for the request, certificate or not.
    const withBadKey = await request('POST', '/v1/evidence', {
      ...partner,
      headers: { 'x-api-key': `lz_${'A'.repeat(43)}` },
      body: item(project.id),
    });
    expect(withBadKey.status).toBe(401);
    expect(withBadKey.body.reason).toBe('BAD_API_KEY');

    // Revoked: refused once the running gateway's cache has let it go.
    const revoked = lianzheng(['clientcert', 'revoke', '--name', 'finance-platform'], dataDir);
    expect(revoked.status, revoked.out).toBe(0);
    await sleep(AUTH_CACHE_MS + 200);
    const after = await request('POST', '/v1/evidence', { ...partner, body: item(project.id) });
    expect(after.status).toBe(401);
    expect(after.body.reason).toBe('BAD_CLIENT_CERTIFICATE');
    expect(lianzheng(['clientcert', 'revoke', '--name', 'finance-platform'], dataDir).status).toBe(2);
  });

  it('lets a partner use the CLI over HTTPS with its certificate as the only credential', async () => {
    const { project, certPath: cert, keyPath: key } = await partnerWithCertificate('cli-platform');
    const rootCert = pkiPaths(path.join(dataDir, 'pki')).rootCert;
    const digest = toHex(sha256(randomBytes(32)));
    const target = ['--sha256', digest, '--gateway', base];
    const submit = (...extra: string[]) =>
      lianzheng(['submit', ...target, '--project', project.id, '--kind', 'notice', ...extra], dataDir);

    const ok = submit('--cacert', rootCert, '--cert', cert, '--key', key);
    expect(ok.status, ok.out).toBe(0);
    expect(JSON.parse(ok.out.slice(ok.out.indexOf('{')))).toMatchObject({
      sha256: digest,
      status: 'accepted',
    });
    // The gateway's certificate is the local root's: without --cacert the CLI cannot trust it.
    const untrusted = submit('--cert', cert, '--key', key);
    expect(untrusted.status, untrusted.out).toBe(3);
    expect(untrusted.out).toMatch(/cannot reach/);
    // Usage errors a script can tell apart.
    expect(submit('--cacert', rootCert, '--cert', cert).status).toBe(2);
    expect(submit('--cacert', rootCert).out).toMatch(/submit needs --token, --api-key, --cert and --key/);
    const plain = lianzheng(
      [
        'submit',
        '--sha256',
        digest,
        '--gateway',
        base.replace('https:', 'http:'),
        '--project',
        project.id,
        '--kind',
        'notice',
        '--cacert',
        rootCert,
        '--cert',
        cert,
        '--key',
        key,
      ],
      dataDir,
    );
    expect(plain.status).toBe(2);
    expect(plain.out).toMatch(/need an https:\/\/ gateway/);

    // And checks it over the same HTTPS once it is recorded (the public needs no certificate).
    let verified = { status: null as number | null, out: '' };
    for (let i = 0; i < 50 && verified.status !== 0; i++) {
      await sleep(200);
      verified = lianzheng(['verify', ...target, '--cacert', rootCert], dataDir);
    }
    expect(verified.status, verified.out).toBe(0);
    expect(verified.out).toMatch(/PASS/);
  });

  it('refuses to boot on a TLS file it cannot read, naming the variable', () => {
    const child = spawnSync(process.execPath, ['--import', 'tsx', 'gateway/src/server.ts'], {
      cwd: root,
      env: {
        ...process.env,
        DATA_DIR: dataDir,
        DATABASE_URL: '',
        TLS_CERT_FILE: path.join(dataDir, 'missing.cert.pem'),
        TLS_KEY_FILE: path.join(dataDir, 'missing.key.pem'),
      },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(child.status).toBe(2);
    expect(child.stderr).toMatch(/configuration error: TLS_CERT_FILE/);
  });
});
