import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { trustOf } from '@lianzheng/proof';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT, gatewayUrl, run } from './main.ts';

let dir: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lz-cli-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { log: (s: string) => out.push(s), error: (s: string) => err.push(s) } };
}

describe('lianzheng CLI', () => {
  it('prints help with the exit codes', async () => {
    const c = capture();
    expect(await run(['--help'], {}, c.io)).toBe(EXIT.OK);
    expect(c.out.join('')).toContain('Exit codes');
    expect(await run([], {}, capture().io)).toBe(EXIT.USAGE);
    expect(await run(['frobnicate'], {}, capture().io)).toBe(EXIT.USAGE);
  });

  it('project delegate and trail --csv refuse to run without a credential, before any request', async () => {
    // No gateway listens at this address: a usage error must come before any connection.
    const env = { DATA_DIR: dir, LIANZHENG_GATEWAY: 'http://127.0.0.1:9' };
    const delegate = capture();
    expect(await run(['project', 'delegates', '--project', 'village-road'], env, delegate.io)).toBe(
      EXIT.USAGE,
    );
    expect(delegate.err.join('\n')).toContain('project delegates needs --token, --api-key');
    const csv = capture();
    expect(await run(['project', 'trail', 'village-road', '--csv'], env, csv.io)).toBe(EXIT.USAGE);
    expect(csv.err.join('\n')).toContain('project trail --csv needs --token');
  });

  it('token prints a dev JWT with the asked claims', async () => {
    const c = capture();
    expect(await run(['token', '--role', 'inspector', '--region', '620102'], { DATA_DIR: dir }, c.io)).toBe(
      EXIT.OK,
    );
    const claims = decodeJwt(c.out[0]!);
    expect(claims).toMatchObject({
      role: 'inspector',
      region: '620102',
      iss: 'urn:lianzheng:dev-issuer',
      aud: 'lianzheng',
    });
  });

  it('usage errors exit 2', async () => {
    for (const argv of [
      ['token', '--role', 'king'],
      ['token', '--role', 'inspector'],
      ['token', '--role', 'unit'],
      ['submit', '--sha256', 'abc', '--project', 'p', '--kind', 'notice', '--org', 'o'],
      ['submit', '--sha256', 'a'.repeat(64)],
      ['verify', '--sha256', 'a'.repeat(64), '--bundle', 'b.json'],
      ['apikey', 'delete'],
      ['token', '--bogus'],
    ]) {
      expect(await run(argv, { DATA_DIR: dir }, capture().io)).toBe(EXIT.USAGE);
    }
    expect(
      await run(['token', '--role', 'unit', '--org', 'o'], { DATA_DIR: dir, PORT: 'x' }, capture().io),
    ).toBe(EXIT.USAGE);
  });

  it('finds the gateway: --gateway, else LIANZHENG_GATEWAY, else localhost:$PORT, else 8080', () => {
    expect(gatewayUrl('https://gw.example/', { LIANZHENG_GATEWAY: 'http://x', PORT: '1' })).toBe(
      'https://gw.example',
    );
    expect(gatewayUrl(undefined, { LIANZHENG_GATEWAY: 'http://lz:9/', PORT: '1' })).toBe('http://lz:9');
    expect(gatewayUrl(undefined, { PORT: '18080' })).toBe('http://localhost:18080');
    expect(gatewayUrl(undefined, { PORT: '' })).toBe('http://localhost:8080');
    expect(gatewayUrl(undefined, {})).toBe('http://localhost:8080');
    expect(() => gatewayUrl(undefined, { PORT: 'eighty' })).toThrow(/PORT must be a port number/);
  });

  it('project delegate: usage errors exit 2 before any request', async () => {
    for (const argv of [
      ['project'],
      ['project', 'grant'],
      ['project', 'delegate', '--org', 'p'],
      ['project', 'delegate', '--project', 'x'],
      ['project', 'delegates', '--project', 'x'],
      [
        'project',
        'delegate',
        '--project',
        'x',
        '--org',
        'p',
        '--as',
        'o',
        '--gateway',
        'http://127.0.0.1:1',
        '--nope',
      ],
    ]) {
      expect(await run(argv, { DATA_DIR: dir }, capture().io), argv.join(' ')).toBe(EXIT.USAGE);
    }
  });

  it('network failures exit 3', async () => {
    const argv = ['verify', '--sha256', 'a'.repeat(64), '--gateway', 'http://127.0.0.1:1'];
    expect(await run(argv, { DATA_DIR: dir }, capture().io)).toBe(EXIT.NETWORK);
  });

  it('verify offline fails (exit 1) on a bundle that does not match', async () => {
    const bundle = path.join(dir, 'b.json');
    const keys = path.join(dir, 'k.json');
    await fs.writeFile(bundle, JSON.stringify({ version: 'lianzheng-bundle/1', record: {}, receipt: 'x' }));
    await fs.writeFile(keys, JSON.stringify({ jwks: { keys: [] }, checkpointKeys: [] }));
    const c = capture();
    const argv = ['verify', '--sha256', 'a'.repeat(64), '--bundle', bundle, '--keys', keys];
    expect(await run(argv, { DATA_DIR: dir }, c.io)).toBe(EXIT.VERIFICATION_FAILED);
    expect(c.out.join('\n')).toContain('FAIL');
  });

  it('verify --trust: keys other than the pinned ones exit 7, loudly, before any check', async () => {
    const bundle = path.join(dir, 'b2.json');
    const keys = path.join(dir, 'k2.json');
    const trust = path.join(dir, 'trust.json');
    await fs.writeFile(bundle, JSON.stringify({ version: 'lianzheng-bundle/1', record: {}, receipt: 'x' }));
    const published = {
      jwks: {
        keys: [{ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo', kid: 'k1' }],
      },
      checkpointKeys: ['lianzheng.test/log+0a0b0c0d+AAAA'],
    };
    await fs.writeFile(keys, JSON.stringify(published));
    await fs.writeFile(trust, JSON.stringify(trustOf(published)));
    const argv = ['verify', '--sha256', 'a'.repeat(64), '--bundle', bundle, '--keys', keys, '--trust', trust];
    // The pinned keys: the check runs (and fails on this empty bundle, exit 1).
    const pinned = capture();
    expect(await run(argv, { DATA_DIR: dir }, pinned.io)).toBe(EXIT.VERIFICATION_FAILED);
    expect(pinned.out.join('\n')).toContain('every published key is one it names');
    // Another checkpoint key: TRUST MISMATCH, each difference named, exit 7.
    await fs.writeFile(
      keys,
      JSON.stringify({ ...published, checkpointKeys: ['evil.example/log+01020304+BBBB'] }),
    );
    const c = capture();
    expect(await run(argv, { DATA_DIR: dir }, c.io)).toBe(EXIT.TRUST_MISMATCH);
    expect(c.err.join('\n')).toMatch(/^TRUST MISMATCH/);
    expect(c.err.join('\n')).toContain('checkpoint key evil.example/log+01020304');
    expect(c.out.join('\n')).not.toMatch(/PASS|FAIL/);
    // A file that is not a trust file at all.
    await fs.writeFile(trust, '{}');
    expect(await run(argv, { DATA_DIR: dir }, capture().io)).toBe(EXIT.TRUST_MISMATCH);
  });

  it('keys rotate without a gateway rotates the files', async () => {
    const c = capture();
    expect(await run(['keys', 'rotate'], { DATA_DIR: dir }, c.io)).toBe(EXIT.OK);
    const out = JSON.parse(c.out.join(''));
    expect(out.keys).toHaveLength(2);
    expect(out.keys[0]).toMatchObject({ kid: out.kid, current: true });
  });
});
