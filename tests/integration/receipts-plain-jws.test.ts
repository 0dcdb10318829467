// A single POST /v1/evidence is answered with a plain compact JWS (ES256, `kid` in the JWKS) whose
// payload names its record, even when concurrent requests share its group commit: checked with
// JOSE code other than `jose` and proof/ — node:crypto over the JWS signing input (RFC 7515 §5.2,
// ES256 as r||s per RFC 7518 §3.4) and, where Python has it, PyJWT. Group receipts stay the
// batch route's.

import { spawnSync } from 'node:child_process';
import { createPublicKey, verify } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GatewayTestEnv, hex, startGatewayTestEnv } from './gateway-support.ts';

let env: GatewayTestEnv;
let app: FastifyInstance;
let unit: string;
let admin: string;

type Jwk = { kid: string; kty: string; crv?: string; x?: string; y?: string };

beforeAll(async () => {
  env = await startGatewayTestEnv();
  await env.registerProject('receipt-road', 'org-receipts');
  app = await env.app();
  unit = await env.token('unit', { org: 'org-receipts' });
  admin = await env.token('admin');
});

afterAll(async () => {
  await env?.stop();
});

const groupCommits = async () => {
  const res = await app.inject({
    method: 'GET',
    url: '/metrics',
    headers: { authorization: `Bearer ${admin}` },
  });
  return Number(/intake_group_commit_rows_count (\d+)/.exec(res.body)?.[1]);
};

function post(payload: object, url = '/v1/evidence') {
  return app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${unit}` }, payload });
}

const part = (s: string) => JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));

/** RFC 7515 verification with node:crypto alone: header, key by kid, signature over "h.p". */
function verifyWithNodeCrypto(jws: string, keys: Jwk[]) {
  const segments = jws.split('.');
  expect(segments).toHaveLength(3);
  const [h, p, s] = segments as [string, string, string];
  const header = part(h);
  expect(header.alg).toBe('ES256');
  const jwk = keys.find((k) => k.kid === header.kid);
  expect(jwk, `kid ${header.kid} in the JWKS`).toBeDefined();
  const key = createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
  const signature = Buffer.from(s, 'base64url');
  expect(signature).toHaveLength(64); // r||s, 32 bytes each
  const ok = verify(
    'sha256',
    Buffer.from(`${h}.${p}`, 'ascii'),
    { key, dsaEncoding: 'ieee-p1363' },
    signature,
  );
  return { ok, header, payload: part(p) };
}

const PYJWT = `
import json, sys, jwt
out = []
for item in json.load(sys.stdin):
    header = jwt.get_unverified_header(item["receipt"])
    key = next(k for k in item["keys"] if k.get("kid") == header["kid"])
    claims = jwt.decode(item["receipt"], jwt.PyJWK(key).key, algorithms=["ES256"], options={"verify_aud": False})
    out.append({"alg": header["alg"], "kid": header["kid"], "sub": claims["sub"], "sha256": claims["sha256"]})
print(json.dumps(out))
`;
// scripts/install-system-deps.sh installs PyJWT for `npm test`; elsewhere (a bare vitest run on a
// machine without it) this part is skipped — never in CI, where it must run.
const pyjwt =
  Boolean(process.env.CI) || spawnSync('python3', ['-c', 'import jwt'], { encoding: 'utf8' }).status === 0;

describe('receipts of single submissions', () => {
  let accepted: { id: string; sha256: string; receipt: string }[] = [];
  let keys: Jwk[] = [];

  beforeAll(async () => {
    const before = await groupCommits();
    const responses = await Promise.all(
      Array.from({ length: 8 }, () =>
        post({ sha256: hex(), projectId: 'receipt-road', kind: 'notice', visibility: 'public' }),
      ),
    );
    for (const r of responses) expect(r.statusCode, r.body).toBe(202);
    accepted = responses.map((r) => r.json());
    // The eight were committed together (fewer group commits than requests): the case in which a
    // group receipt used to be answered.
    expect((await groupCommits()) - before).toBeLessThan(8);
    keys = (await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json().keys;
  });

  it('8 concurrent POSTs: each a plain compact JWS, verified by node:crypto, naming its record', () => {
    for (const a of accepted) {
      expect(a.receipt).not.toContain('~');
      const { ok, header, payload } = verifyWithNodeCrypto(a.receipt, keys);
      expect(ok, a.id).toBe(true);
      expect(header.typ).toBe('lianzheng-receipt+jwt');
      expect(payload).toMatchObject({
        sub: a.id,
        sha256: a.sha256,
        projectId: 'receipt-road',
        kind: 'notice',
      });
    }
    // A signature that verifies only with its own payload.
    const [h, , s] = accepted[0]!.receipt.split('.');
    const [, p1] = accepted[1]!.receipt.split('.');
    expect(verifyWithNodeCrypto(`${h}.${p1}.${s}`, keys).ok).toBe(false);
  });

  it.skipIf(!pyjwt)('8 concurrent POSTs: each verified by PyJWT (Python) with the JWKS key', () => {
    const run = spawnSync('python3', ['-c', PYJWT], {
      input: JSON.stringify(accepted.map((a) => ({ receipt: a.receipt, keys }))),
      encoding: 'utf8',
    });
    expect(run.status, run.stderr).toBe(0);
    const claims = JSON.parse(run.stdout) as { alg: string; kid: string; sub: string; sha256: string }[];
    expect(claims).toEqual(
      accepted.map((a) => ({ alg: 'ES256', kid: expect.any(String), sub: a.id, sha256: a.sha256 })),
    );
  });

  it('the batch route keeps its group receipts', async () => {
    const items = Array.from({ length: 3 }, () => ({
      sha256: hex(),
      projectId: 'receipt-road',
      kind: 'notice',
      visibility: 'public',
    }));
    const res = await post({ items }, '/v1/evidence/batch');
    expect(res.statusCode, res.body).toBe(202);
    const receipts = res.json().results.map((r: { receipt: string }) => r.receipt);
    for (const r of receipts) expect(r).toContain('~');
    expect(new Set(receipts.map((r: string) => r.split('~')[0])).size).toBe(1);
  });
});
