// `lianzheng apikey create | list | revoke` against real PostgreSQL (DATABASE_URL), and what the
// gateway's verifier then makes of the key.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyVerifier } from '../../gateway/src/auth/api-keys.ts';
import { run } from '../../gateway/src/cli/main.ts';
import { type GatewayTestEnv, startGatewayTestEnv } from './gateway-support.ts';

let env: GatewayTestEnv;

beforeAll(async () => {
  env = await startGatewayTestEnv();
});

afterAll(async () => {
  await env?.stop();
});

async function cli(args: string[]) {
  const lines: string[] = [];
  const errors: string[] = [];
  const code = await run(
    args,
    { DATABASE_URL: env.url, DATA_DIR: env.dataDir, LOG_LEVEL: 'silent' },
    { log: (s) => lines.push(s), error: (s) => errors.push(s) },
  );
  return { code, out: lines.join('\n'), err: errors.join('\n') };
}

describe('lianzheng apikey', () => {
  it('creates a key that works, lists it without the key, and revokes it', async () => {
    const created = await cli(['apikey', 'create', '--org', 'finance-platform', '--label', 'ERP']);
    expect(created.code, created.err).toBe(0);
    const { id, key } = JSON.parse(created.out) as { id: string; key: string };
    const verifier = new ApiKeyVerifier(() => env.pool, 0);
    expect(await verifier.verify(key)).toMatchObject({ role: 'partner', org: 'finance-platform' });

    const listed = await cli(['apikey', 'list', '--org', 'finance-platform']);
    expect(listed.code).toBe(0);
    expect(listed.out).not.toContain(key);
    expect(JSON.parse(listed.out)).toEqual([
      expect.objectContaining({
        id,
        org: 'finance-platform',
        role: 'partner',
        label: 'ERP',
        revokedAt: null,
      }),
    ]);
    expect(JSON.parse((await cli(['apikey', 'list', '--org', 'nobody'])).out)).toEqual([]);

    const revoked = await cli(['apikey', 'revoke', '--id', id]);
    expect(revoked.code, revoked.err).toBe(0);
    expect(await verifier.verify(key)).toBeUndefined();
    expect(JSON.parse((await cli(['apikey', 'list'])).out)[0].revokedAt).not.toBeNull();

    const again = await cli(['apikey', 'revoke', '--id', id]);
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/no unrevoked API key/);
    expect((await cli(['apikey', 'revoke', '--id', 'nope'])).code).toBe(2);
  });
});
