// An outside CA's TSAs (issue #23): TSA_KEY_FILE's ECDSA TSA answers SHA-2 imprints and
// TSA_SM2_KEY_FILE's SM2 TSA SM3 ones (GM/T 0033), both certified by CAs made here with the
// openssl command line, not by the gateway's own PKI. Under CRYPTO_SUITE=gm the checkpoints are
// stamped by the outside SM2 TSA, and bundles verify against the roots the operator publishes.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  sha256,
  sm3,
  timestampImprintAlgorithm,
  toHex,
  verifyBundle,
  verifyTimestampToken,
} from '@lianzheng/proof';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../gateway/src/app.ts';
import { issueDevToken, loadDevIssuerKey } from '../../gateway/src/auth/dev-issuer.ts';
import { loadConfig, testConfig } from '../../gateway/src/config.ts';
import { TIMESTAMP_QUERY } from '../../gateway/src/routes/tsa/index.ts';
import { buildRequest, parseResponse } from '../../gateway/src/tsa/_test-helpers.ts';
import { OID } from '../../gateway/src/tsa/oids.ts';
import { demoProject, startTestDatabase, type TestDatabase } from './pipeline-support.ts';

const run = promisify(execFile);
let db: TestDatabase;
let dir: string;

const TSA_EXTENSIONS =
  'extendedKeyUsage=critical,timeStamping\nkeyUsage=critical,digitalSignature,nonRepudiation\nbasicConstraints=critical,CA:FALSE\n';

/** A CA and a TSA certificate from it, made by the openssl CLI; SM2 ones sign with SM3 and the ID. */
async function outsidePki(name: string, kind: 'ecdsa' | 'sm2') {
  const sh = (args: string[]) => run('openssl', args, { cwd: dir });
  const curve = kind === 'sm2' ? 'SM2' : 'P-256';
  const sign = kind === 'sm2' ? ['-sm3', '-sigopt', 'distid:1234567812345678'] : ['-sha256'];
  const verifyId = kind === 'sm2' ? ['-vfyopt', 'distid:1234567812345678'] : [];
  const key = (file: string) =>
    sh(['genpkey', '-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${curve}`, '-out', file]);
  await key(`${name}-ca.key`);
  await sh([
    'req',
    '-x509',
    '-new',
    '-key',
    `${name}-ca.key`,
    ...sign,
    '-subj',
    `/O=Outside/CN=Outside ${name} CA`,
    '-days',
    '30',
    '-out',
    `${name}-ca.pem`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign',
  ]);
  await key(`${name}-tsa.key`);
  await sh([
    'req',
    '-new',
    '-key',
    `${name}-tsa.key`,
    ...sign,
    '-subj',
    `/O=Outside/CN=Outside ${name} TSA`,
    '-out',
    `${name}.csr`,
  ]);
  await fs.writeFile(path.join(dir, `${name}.cnf`), TSA_EXTENSIONS);
  await sh([
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${name}-ca.pem`,
    '-CAkey',
    `${name}-ca.key`,
    ...sign,
    ...verifyId,
    '-days',
    '20',
    '-extfile',
    `${name}.cnf`,
    '-out',
    `${name}-tsa.pem`,
  ]);
  return {
    key: path.join(dir, `${name}-tsa.key`),
    cert: path.join(dir, `${name}-tsa.pem`),
    ca: path.join(dir, `${name}-ca.pem`),
  };
}

beforeAll(async () => {
  db = await startTestDatabase();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lz-outside-tsa-'));
});
afterAll(async () => {
  await db?.stop();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

describe('an outside ECDSA TSA and an outside SM2 TSA', () => {
  it('answer SHA-2 and SM3 imprints; under gm the checkpoints carry the outside SM2 token', async () => {
    const ecdsa = await outsidePki('ecdsa', 'ecdsa');
    const sm2 = await outsidePki('sm2', 'sm2');
    const env = {
      DATA_DIR: db.dir,
      LOG_LEVEL: 'silent',
      CRYPTO_SUITE: 'gm',
      TSA_KEY_FILE: ecdsa.key,
      TSA_CERT_FILE: ecdsa.cert,
      TSA_SM2_KEY_FILE: sm2.key,
      TSA_SM2_CERT_FILE: sm2.cert,
      TSA_ROOT_FILES: `${ecdsa.ca},${sm2.ca}`,
    };
    const parsed = loadConfig(env);
    expect(parsed.tsa.sm2).toEqual({ keyFile: sm2.key, certFile: sm2.cert, chainFiles: [] });
    const config = testConfig({ dataDir: db.dir, sealIntervalMs: 20, cryptoSuite: 'gm', tsa: parsed.tsa });
    const app = buildApp({ config, db: db.pool });
    try {
      await app.ready();
      const keys = (await app.inject({ method: 'GET', url: '/v1/keys' })).json();
      expect(keys.tsaRoots).toEqual([await fs.readFile(ecdsa.ca, 'utf8'), await fs.readFile(sm2.ca, 'utf8')]);
      const published = (await app.inject({ method: 'GET', url: '/.well-known/lianzheng/certs.pem' })).body;
      expect(published).toContain((await fs.readFile(sm2.cert, 'utf8')).trim());

      // POST /tsa: SHA-256 → the outside ECDSA TSA, SM3 → the outside SM2 TSA; each verifies only
      // against its own CA.
      for (const [hashOid, imprint, algorithm, ca, otherCa] of [
        [OID.sha256, sha256(new Uint8Array([1, 2, 3])), 'sha256', ecdsa.ca, sm2.ca],
        [OID.sm3, sm3(new Uint8Array([1, 2, 3])), 'sm3', sm2.ca, ecdsa.ca],
      ] as const) {
        const res = await app.inject({
          method: 'POST',
          url: '/tsa',
          headers: { 'content-type': TIMESTAMP_QUERY },
          payload: buildRequest({ hashOid, imprint, certReq: true }),
        });
        const reply = parseResponse(res.rawPayload);
        expect(reply.status).toBe(0);
        const own = await verifyTimestampToken(reply.token!, imprint, [await fs.readFile(ca, 'utf8')], {
          hashAlgorithm: algorithm,
        });
        expect(own.status, own.detail).toBe('pass');
        const other = await verifyTimestampToken(
          reply.token!,
          imprint,
          [await fs.readFile(otherCa, 'utf8')],
          {
            hashAlgorithm: algorithm,
          },
        );
        expect(other.status).toBe('fail');
      }

      // A record: its checkpoint's time-stamp is the outside SM2 TSA's, over SM3 of the root.
      const key = await loadDevIssuerKey(config.keysDir);
      const token = await issueDevToken(key, {
        role: 'unit',
        org: 'village-committee',
        audience: config.oidc.audience,
      });
      const headers = { authorization: `Bearer ${token}` };
      const project = demoProject();
      expect(
        (await app.inject({ method: 'POST', url: '/v1/projects', headers, payload: project })).statusCode,
      ).toBe(201);
      const digest = toHex(sha256(new TextEncoder().encode('outside tsa notice')));
      const accepted = await app.inject({
        method: 'POST',
        url: '/v1/evidence',
        headers,
        payload: { projectId: project.id, kind: 'notice', visibility: 'public', sha256: digest },
      });
      expect(accepted.statusCode, accepted.body).toBe(202);
      let bundle: { timestamp?: { token: string } } | undefined;
      for (let i = 0; i < 200 && !bundle; i++) {
        const body = (
          await app.inject({ method: 'GET', url: `/v1/evidence/${accepted.json().id}`, headers })
        ).json();
        if (body.status === 'recorded') bundle = body.bundle;
        else await new Promise((r) => setTimeout(r, 25));
      }
      expect(bundle?.timestamp).toBeDefined();
      expect(timestampImprintAlgorithm(Buffer.from(bundle!.timestamp!.token, 'base64'))).toBe('sm3');
      const result = await verifyBundle(bundle as never, {
        sha256: digest,
        keys: { jwks: keys.jwks, checkpointKeys: keys.checkpointKeys, tsaRoots: keys.tsaRoots },
      });
      expect(result.steps.find((s) => s.step === 'timestamp')).toMatchObject({ status: 'pass' });
      expect(result.ok).toBe(true);
    } finally {
      await app.close();
    }
  });

  it('refuses settings that cannot work: gm with an outside TSA but no SM2 one, an SM2 one alone, one under intl', () => {
    const base = { DATA_DIR: db.dir, TSA_KEY_FILE: 'k.pem', TSA_CERT_FILE: 'c.pem' };
    expect(() => loadConfig({ ...base, CRYPTO_SUITE: 'gm' })).toThrow(/TSA_SM2_KEY_FILE/);
    expect(() => loadConfig({ DATA_DIR: db.dir, TSA_SM2_KEY_FILE: 'k', TSA_SM2_CERT_FILE: 'c' })).toThrow(
      /TSA_SM2_KEY_FILE: an outside SM2 TSA goes beside/,
    );
    expect(() =>
      loadConfig({ ...base, CRYPTO_SUITE: 'intl', TSA_SM2_KEY_FILE: 'k', TSA_SM2_CERT_FILE: 'c' }),
    ).toThrow(/not used under CRYPTO_SUITE=intl/);
    expect(() => loadConfig({ ...base, TSA_SM2_KEY_FILE: 'k' })).toThrow(/go together/);
    expect(loadConfig({ ...base, CRYPTO_SUITE: 'dual' }).tsa.sm2).toBeUndefined();
  });
});
