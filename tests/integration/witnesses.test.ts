// Witnesses (issue #24): the gateway sends each new checkpoint to three real witnesses (HTTP
// servers speaking C2SP tlog-witness, in this process), stores their cosignatures and serves them
// on /v1/log/checkpoint, in bundles and in the assurance; a stopped witness delays nothing and the
// quorum (2) is still met; a witness that was shown a forked checkpoint refuses and the gateway
// reports it (metrics, witness_state). Real PostgreSQL, real pipeline (embedded ledger).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import {
  checkWitnessQuorum,
  cosignerVerifierKey,
  deriveCosignerPublicKey,
  formatCheckpoint,
  type ProofBundle,
  sha256,
  signCheckpoint,
  toHex,
  verifyBundle,
  verifyCheckpoint,
} from '@lianzheng/proof';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../gateway/src/app.ts';
import { issueDevToken, loadDevIssuerKey } from '../../gateway/src/auth/dev-issuer.ts';
import { run } from '../../gateway/src/cli/main.ts';
import { testConfig } from '../../gateway/src/config.ts';
import { MEMBERS } from '../../gateway/src/evidence-package/checks.ts';
import { verifyEvidencePackage } from '../../gateway/src/evidence-package/verify.ts';
import { readZip } from '../../gateway/src/evidence-package/zip.ts';
import { KeyRing } from '../../gateway/src/keys/key-ring.ts';
import { addCheckpoint } from '../../gateway/src/witness/client.ts';
import { parseWitnessConfig } from '../../gateway/src/witness/config.ts';
import {
  newWitnessKeyPem,
  seedFromPem,
  startWitnessServer,
  Witness,
  type WitnessServer,
} from '../../gateway/src/witness/witness.ts';
import { demoProject, startTestDatabase, type TestDatabase } from './pipeline-support.ts';

let db: TestDatabase;
let app: FastifyInstance;
let keys: KeyRing;
let owner: Record<string, string>;
let admin: Record<string, string>;
const project = demoProject();
const servers: WitnessServer[] = [];
const errors: string[][] = [[], [], []];
const NAMES = ['notary.test/w1', 'audit.test/w2', 'court.test/w3'];

async function submit(): Promise<{ id: string; sha256: string }> {
  const digest = toHex(sha256(randomBytes(32)));
  const res = await app.inject({
    method: 'POST',
    url: '/v1/evidence',
    headers: owner,
    payload: { projectId: project.id, visibility: 'public', kind: 'notice', sha256: digest },
  });
  expect(res.statusCode, res.body).toBe(202);
  return { id: res.json().id, sha256: digest };
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function recorded(id: string) {
  return until(`record ${id}`, async () => {
    const res = await app.inject({ method: 'GET', url: `/v1/evidence/${id}` });
    const body = res.json();
    return body.status === 'accepted' ? undefined : body;
  });
}

const vkeys = () => servers.map((s) => s.witness.vkey);
let first: { id: string; sha256: string };

beforeAll(async () => {
  db = await startTestDatabase();
  const base = testConfig({ dataDir: db.dir, sealIntervalMs: 20, rateLimitPublicPerMin: 1_000_000 });
  keys = await KeyRing.load(base.keysDir, { logOrigin: base.logOrigin, suite: base.cryptoSuite });
  for (let i = 0; i < 3; i++) {
    const witness = new Witness({
      name: NAMES[i]!,
      seed: seedFromPem(newWitnessKeyPem()),
      stateDir: path.join(db.dir, `witness-${i}`),
      logs: [{ origin: base.logOrigin, keys: keys.checkpointKeys() }],
      logger: { info: () => {}, warn: () => {}, error: (_o, msg) => errors[i]!.push(msg) },
    });
    servers.push(await startWitnessServer(witness, { port: 0 }));
  }
  const witnesses = parseWitnessConfig({
    WITNESSES: JSON.stringify(
      servers.map((s, i) => ({
        name: `Witness ${i + 1}`,
        nameZh: `见证方${i + 1}`,
        url: s.url,
        vkey: s.witness.vkey,
      })),
    ),
    WITNESS_QUORUM: '2',
    WITNESS_TIMEOUT_MS: '1000',
    WITNESS_INTERVAL_MS: '50',
    WITNESS_RETRY_MS: '100',
  });
  app = buildApp({ config: { ...base, witnesses }, db: db.pool, keyRing: keys });
  await app.ready();
  const key = await loadDevIssuerKey(base.keysDir);
  owner = {
    authorization: `Bearer ${await issueDevToken(key, { role: 'unit', org: project.ownerOrg, audience: base.oidc.audience })}`,
  };
  admin = {
    authorization: `Bearer ${await issueDevToken(key, { role: 'admin', audience: base.oidc.audience })}`,
  };
  const res = await app.inject({ method: 'POST', url: '/v1/projects', headers: owner, payload: project });
  expect(res.statusCode, res.body).toBe(201);
});

afterAll(async () => {
  await app?.close();
  for (const s of servers) await s.close().catch(() => {});
  await db?.stop();
});

async function cosignedCheckpoint(minLines: number): Promise<string> {
  return until(`a checkpoint with ${minLines} cosignatures`, async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/log/checkpoint' });
    if (res.statusCode !== 200) return undefined;
    const r = checkWitnessQuorum(res.body, vkeys(), 0);
    return r.cosignatures.length >= minLines ? res.body : undefined;
  });
}

describe('witnesses', () => {
  it('every witness cosigns the checkpoint; /v1/log/checkpoint, /v1/keys, bundles and the assurance say so', async () => {
    first = await submit();
    const { id, sha256: digest } = first;
    const entry = await recorded(id);
    const note = await cosignedCheckpoint(3);
    // The log's own signature still verifies with its keys; the witness lines are extra.
    expect((await verifyCheckpoint(note, keys.checkpointKeys())).checkpoint.size).toBeGreaterThan(0);
    expect(checkWitnessQuorum(note, vkeys(), 2)).toMatchObject({ met: true, invalid: [] });
    expect(entry.bundle.inclusion).toBeDefined();

    const published = (await app.inject({ method: 'GET', url: '/v1/keys' })).json();
    expect(published.witnesses.map((w: { vkey: string }) => w.vkey)).toEqual(vkeys());
    expect(published.witnesses[0]).toMatchObject({
      name: 'Witness 1',
      nameZh: '见证方1',
      displayNameZh: '见证方1',
    });
    expect(published.witnessQuorum).toBe(2);
    const trust = (await app.inject({ method: 'GET', url: '/v1/trust.json' })).json();
    expect(trust).toMatchObject({ witnesses: vkeys(), witnessQuorum: 2 });
    const again = (await app.inject({ method: 'GET', url: `/v1/evidence/${id}` })).json();
    const bundle = again.bundle as ProofBundle;
    expect(bundle.cosignatures).toHaveLength(3);
    const r = await verifyBundle(bundle, {
      sha256: digest,
      keys: {
        jwks: published.jwks,
        checkpointKeys: published.checkpointKeys,
        witnesses: vkeys(),
        witnessQuorum: 2,
      },
    });
    expect(r.steps.find((s) => s.step === 'witnesses')).toMatchObject({ status: 'pass' });
    expect(again.assurance.witnesses).toMatchObject({ level: 'quorum', quorum: 2, of: 3 });
    expect(again.assurance.witnesses.cosigned.map((c: { displayNameZh: string }) => c.displayNameZh)).toEqual(
      ['见证方1', '见证方2', '见证方3'],
    );
  });

  it('a stopped witness delays nothing: the next record is recorded and cosigned by the other two', async () => {
    await servers[2]!.close();
    const started = Date.now();
    const { id } = await submit();
    await recorded(id);
    expect(Date.now() - started).toBeLessThan(5000);
    const entry = (await app.inject({ method: 'GET', url: `/v1/evidence/${id}` })).json();
    await until('two cosignatures on the new record', async () => {
      const e = (await app.inject({ method: 'GET', url: `/v1/evidence/${id}` })).json();
      return (e.bundle.cosignatures?.length ?? 0) >= 2 ? e : undefined;
    });
    expect(entry.status).not.toBe('accepted');
    const fresh = (await app.inject({ method: 'GET', url: `/v1/evidence/${id}` })).json();
    expect(fresh.assurance.witnesses).toMatchObject({ level: 'quorum', quorum: 2, of: 3 });
    expect(fresh.assurance.witnesses.cosigned).toHaveLength(2);
    const metrics = await until('a failure in /metrics', async () => {
      const text = (await app.inject({ method: 'GET', url: '/metrics', headers: admin })).body;
      return /witness_failures_total\{witness="court.test\/w3",reason="(unreachable|timeout)"\} [1-9]/.test(
        text,
      )
        ? text
        : undefined;
    });
    expect(metrics).toMatch(
      /witness_round_trip_seconds_count\{witness="notary.test\/w1",outcome="cosigned"\} [1-9]/,
    );
  });

  it('a witness shown a forked checkpoint refuses the real one, and the gateway reports it', async () => {
    // A fresh witness, first fed (by an attacker holding the log key) a checkpoint of another
    // history: it cosigns that, having seen nothing before.
    const origin = app.config.logOrigin;
    const forkWitness = new Witness({
      name: 'fork.test/w4',
      seed: seedFromPem(newWitnessKeyPem()),
      stateDir: path.join(db.dir, 'witness-fork'),
      logs: [{ origin, keys: keys.checkpointKeys() }],
      logger: { info: () => {}, warn: () => {}, error: (_o, msg) => errors[0]!.push(`fork: ${msg}`) },
    });
    const server = await startWitnessServer(forkWitness, { port: 0 });
    try {
      let forked = formatCheckpoint({ origin, size: 1, rootHash: sha256(randomBytes(8)) });
      for (const signer of keys.checkpointSigners()) forked = await signCheckpoint(forked, signer);
      expect(
        (await addCheckpoint(server.url, { oldSize: 0, proof: [], note: forked }, { timeoutMs: 2000 })).kind,
      ).toBe('cosigned');
      // A second gateway app on the same database, with only this witness configured.
      const witnesses = parseWitnessConfig({
        WITNESSES: JSON.stringify([{ name: 'Fork', url: server.url, vkey: forkWitness.vkey }]),
        WITNESS_INTERVAL_MS: '50',
        WITNESS_RETRY_MS: '100',
      });
      const other = buildApp({
        config: { ...app.config, witnesses, role: 'all' },
        db: db.pool,
        keyRing: keys,
      });
      await other.ready();
      try {
        const text = await until('a refusal in /metrics', async () => {
          const t = (await other.inject({ method: 'GET', url: '/metrics', headers: admin })).body;
          return /witness_failures_total\{witness="fork.test\/w4",reason="refused-422"\} [1-9]/.test(t)
            ? t
            : undefined;
        });
        expect(text).toContain('witness_cosigned_size{witness="fork.test/w4"} 1');
        const { rows } = await db.pool.query(
          'select size, last_error, refusals from witness_state where vkey = $1',
          [forkWitness.vkey],
        );
        expect(Number(rows[0].refusals)).toBeGreaterThan(0);
        expect(rows[0].last_error).toMatch(/^422/);
        expect(errors[0]!.some((m) => m.startsWith('fork: WITNESS REFUSED'))).toBe(true);
        // The witness kept the fork it saw; nothing of ours was cosigned by it.
        expect((await forkWitness.latest(origin))?.size).toBe(1);
      } finally {
        await other.close();
      }
    } finally {
      await server.close();
    }
  });

  it('lianzheng verify counts the cosignatures of the witnesses the keys, or a trust file, name', async () => {
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const cli = async (...args: string[]) => {
      const lines: string[] = [];
      const out = { log: (l: string) => lines.push(l), error: (l: string) => lines.push(l) };
      const code = await run(
        ['verify', '--sha256', first.sha256, '--gateway', address, ...args],
        { LOG_LEVEL: 'silent' },
        out,
      );
      return { code, text: lines.join('\n') };
    };
    const plain = await cli();
    expect(plain.code, plain.text).toBe(0);
    expect(plain.text).toContain(
      'witnesses: cosignatures counted for 3 witness keys (as the keys name them), quorum 2',
    );
    expect(plain.text).toMatch(/3 of 3 witnesses cosigned \(quorum 2\): Witness 1 at /);
    // A trust file pinning one other witness key only, with quorum 1: nothing it trusts cosigned.
    const trust = (await app.inject({ method: 'GET', url: '/v1/trust.json' })).json();
    const file = path.join(db.dir, 'trust-other-witness.json');
    const other = new Witness({
      name: 'other.test/w9',
      seed: seedFromPem(newWitnessKeyPem()),
      stateDir: path.join(db.dir, 'witness-other'),
      logs: [],
      logger: { info: () => {}, warn: () => {}, error: () => {} },
    });
    await fs.writeFile(file, JSON.stringify({ ...trust, witnesses: [other.vkey], witnessQuorum: 1 }));
    const pinned = await cli('--trust', file);
    expect(pinned.code, pinned.text).toBe(0);
    expect(pinned.text).toContain('0 of 1 witnesses cosigned (quorum 1)');
    const required = await cli('--trust', file, '--require-witnesses');
    expect(required.code, required.text).toBe(1);
    expect(required.text).toContain('WITNESS_QUORUM_NOT_MET');
  });

  it('lianzheng monitor: a baseline, then alerts for a watched project (stdout and webhook) and for an inconsistent log', async () => {
    const address = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const received: { type: string; projectId?: string }[] = [];
    const hook = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => {
        body += d;
      });
      req.on('end', () => {
        received.push(JSON.parse(body));
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const webhook = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/alerts`;
    const state = path.join(db.dir, 'monitor-state.json');
    const monitor = async () => {
      const lines: string[] = [];
      const out = { log: (l: string) => lines.push(l), error: (l: string) => lines.push(l) };
      const args = ['monitor', '--once', '--gateway', address, '--watch', project.id, '--state', state];
      const code = await run([...args, '--webhook', webhook], { LOG_LEVEL: 'silent' }, out);
      return { code, text: lines.join('\n') };
    };
    try {
      const first = await monitor();
      expect(first.code, first.text).toBe(0);
      expect(first.text).toMatch(
        /checkpoint \d+ .* \(baseline\); cosigned by \d of 3 witnesses \(quorum 2\)/,
      );
      expect(first.text).toContain(`watching ${project.id}:`);
      expect(first.text).not.toContain('ALERT');
      // A payment approval without a contract: an alert for the payment and one for its flag.
      const res = await app.inject({
        method: 'POST',
        url: '/v1/evidence',
        headers: owner,
        payload: {
          projectId: project.id,
          kind: 'payment_approval',
          amount: '5000000',
          visibility: 'public',
          sha256: toHex(sha256(randomBytes(32))),
        },
      });
      expect(res.statusCode, res.body).toBe(202);
      await recorded(res.json().id);
      const second = await monitor();
      expect(second.code, second.text).toBe(0);
      expect(second.text).toMatch(/checkpoint \d+ .*, consistent with \d+/);
      expect(second.text).toContain('ALERT PROJECT_PAYMENT_APPROVAL');
      expect(second.text).toContain('ALERT PROJECT_FLAG');
      expect(received.map((a) => a.type).sort()).toEqual(['PROJECT_FLAG', 'PROJECT_PAYMENT_APPROVAL']);
      // Nothing new: no alert again.
      expect((await monitor()).text).not.toContain('ALERT');
      // A monitor that had seen another root at a smaller size: the log does not extend it.
      const saved = JSON.parse(await fs.readFile(state, 'utf8'));
      saved.checkpoint = {
        size: saved.checkpoint.size - 1,
        root: Buffer.from(randomBytes(32)).toString('base64'),
      };
      await fs.writeFile(state, JSON.stringify(saved));
      const forked = await monitor();
      expect(forked.code, forked.text).toBe(1);
      expect(forked.text).toContain('ALERT LOG_INCONSISTENT');
      expect(received.at(-1)?.type).toBe('LOG_INCONSISTENT');
    } finally {
      await new Promise((r) => hook.close(r));
    }
  });

  it("the evidence package's tlog-proof carries the cosignatures, and verify-package checks them", async () => {
    const res = await app.inject({ method: 'GET', url: `/v1/evidence/${first.id}/package` });
    expect(res.statusCode, res.body.slice(0, 300)).toBe(200);
    const files = await readZip(res.rawPayload);
    const tlog = files.get(MEMBERS.tlogProof)!.toString('utf8');
    expect(checkWitnessQuorum(tlog.slice(tlog.indexOf('\n\n') + 2), vkeys(), 3).met).toBe(true);
    const result = await verifyEvidencePackage(res.rawPayload);
    expect(result.checks.find((c) => c.id === 'bundle.witnesses')).toMatchObject({ status: 'pass' });
    expect(result.checks.find((c) => c.id === 'tlog-proof')?.status).toBe('pass');
    // A reader whose trust.json pins other witnesses counts those: none of them cosigned.
    const trust = (await app.inject({ method: 'GET', url: '/v1/trust.json' })).json();
    const stranger = cosignerVerifierKey(
      'stranger.test/w',
      deriveCosignerPublicKey(new Uint8Array(32).fill(9)),
    );
    const pinned = await verifyEvidencePackage(res.rawPayload, {
      trust: { ...trust, witnesses: [stranger], witnessQuorum: 1 },
    });
    expect(pinned.checks.find((c) => c.id === 'bundle.witnesses')).toMatchObject({
      status: 'skipped',
      code: 'WITNESS_QUORUM_NOT_MET',
    });
  });

  it('keeps the witness state durably: a restarted witness answers 409 with the size it cosigned', async () => {
    const state = JSON.parse(await fs.readFile(path.join(db.dir, 'witness-0', 'witness-state.json'), 'utf8'));
    const size = state.logs[app.config.logOrigin].size as number;
    expect(size).toBeGreaterThan(1);
    const restarted = new Witness({
      name: NAMES[0]!,
      seed: seedFromPem(newWitnessKeyPem()),
      stateDir: path.join(db.dir, 'witness-0'),
      logs: [{ origin: app.config.logOrigin, keys: keys.checkpointKeys() }],
      logger: { info: () => {}, warn: () => {}, error: () => {} },
    });
    const note = (await app.inject({ method: 'GET', url: '/v1/log/checkpoint' })).body;
    const answer = await restarted.addCheckpoint(`old 0\n\n${note}`);
    expect(answer).toEqual({ status: 409, contentType: 'text/x.tlog.size', body: `${size}\n` });
  });
});
