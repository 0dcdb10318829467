// Witnesses end to end (issue #24): the gateway as `npm start` runs it, and three witnesses as an
// outside institution runs them (`lianzheng witness serve`, each its own process and key). All
// three cosign; one is stopped and the quorum (2) is still met, with nothing delayed; one is
// shown a forked checkpoint by someone holding the log key before the gateway reaches it, then
// refuses the gateway's real checkpoint — both sides say so at error level, and the gateway's
// metrics count it. Ports: the gateway's own free port, witnesses on 29620–29622.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  checkWitnessQuorum,
  formatCheckpoint,
  parseCheckpoint,
  sha256,
  signCheckpoint,
  toHex,
} from '@lianzheng/proof';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueDevToken, loadDevIssuerKey } from '../../gateway/src/auth/dev-issuer.ts';
import { DEMO_PROJECT } from '../../gateway/src/cli/demo.ts';
import { KeyRing } from '../../gateway/src/keys/key-ring.ts';
import { addCheckpoint } from '../../gateway/src/witness/client.ts';
import { type ReadmeGateway, startReadmeGateway } from './readme-gateway.ts';
import { stopWitness as stop, type WitnessProcess, WitnessSet } from './witness-processes.ts';

const PORTS = [29620, 29621, 29622];
const NAMES = ['notary.e2e/w1', 'audit.e2e/w2', 'court.e2e/w3'];

let dir: string;
let gateway: ReadmeGateway;
let witnesses: WitnessSet;
const procs: (WitnessProcess | undefined)[] = [];
let logKeys: string[] = [];
let origin = '';
let admin = '';
let unit = '';

const startWitness = (i: number, stateDir: string) => witnesses.start(i, { origin, keys: logKeys }, stateDir);
const stopWitness = (i: number) => stop(procs[i]);

async function submit(): Promise<string> {
  const res = await fetch(`${gateway.base}/v1/evidence`, {
    method: 'POST',
    headers: { authorization: `Bearer ${unit}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      projectId: DEMO_PROJECT.id,
      kind: 'notice',
      visibility: 'public',
      sha256: toHex(sha256(randomBytes(32))),
    }),
  });
  const body = await res.json();
  expect(res.status, JSON.stringify(body)).toBe(202);
  return body.id as string;
}

/** The record once its checkpoint carries at least `n` cosignatures. */
async function cosignedRecord(id: string, n: number) {
  return gateway.waitFor(
    `record ${id} with ${n} cosignatures`,
    async () => {
      const e = await (await fetch(`${gateway.base}/v1/evidence/${id}`)).json();
      return (e.bundle?.cosignatures?.length ?? 0) >= n ? e : undefined;
    },
    60_000,
  );
}

const metrics = async () =>
  (await fetch(`${gateway.base}/metrics`, { headers: { authorization: `Bearer ${admin}` } })).text();

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lz-e2e-witnesses-'));
  witnesses = new WitnessSet(dir, NAMES, PORTS);
  await witnesses.keygen();
  gateway = await startReadmeGateway({
    prefix: 'lz-e2e-witnessed-',
    env: {
      WITNESSES: witnesses.gatewayEnv('E2E witness'),
      WITNESS_QUORUM: '2',
      WITNESS_INTERVAL_MS: '100',
      WITNESS_RETRY_MS: '200',
      WITNESS_TIMEOUT_MS: '2000',
    },
  });
  const keys = await (await fetch(`${gateway.base}/v1/keys`)).json();
  logKeys = keys.checkpointKeys;
  // The checkpoint key is named after the log's origin (signed-note key name = origin line).
  origin = logKeys[0]!.split('+')[0]!;
  const issuer = await loadDevIssuerKey(path.join(gateway.dataDir, 'keys'));
  admin = await issueDevToken(issuer, { role: 'admin', audience: 'lianzheng' });
  unit = await gateway.unitToken();
  for (let i = 0; i < 3; i++) procs[i] = await startWitness(i, path.join(dir, `state-${i}`));
}, 400_000);

afterAll(async () => {
  for (let i = 0; i < 3; i++) await stopWitness(i);
  await gateway?.stop();
  await fs.rm(dir, { recursive: true, force: true });
});

describe('three witness processes', () => {
  it('all three cosign; the checkpoint on /v1/log/checkpoint carries their lines', async () => {
    const id = await submit();
    const entry = await cosignedRecord(id, 3);
    expect(entry.assurance.witnesses).toMatchObject({ level: 'quorum', quorum: 2, of: 3 });
    const note = await (await fetch(`${gateway.base}/v1/log/checkpoint`)).text();
    expect(checkWitnessQuorum(note, witnesses.vkeys, 2).met).toBe(true);
  }, 120_000);

  it('one stopped: the next record is recorded at once and the quorum is still met', async () => {
    await stopWitness(2);
    const started = Date.now();
    const id = await submit();
    const entry = await cosignedRecord(id, 2);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(entry.assurance.witnesses.level).toBe('quorum');
    expect(entry.assurance.witnesses.cosigned.map((c: { name: string }) => c.name)).toEqual(
      NAMES.slice(0, 2),
    );
    const text = await gateway.waitFor(
      'the stopped witness counted in /metrics',
      async () => {
        const t = await metrics();
        return /witness_failures_total\{witness="court.e2e\/w3",reason="unreachable"\} [1-9]/.test(t)
          ? t
          : undefined;
      },
      30_000,
    );
    // Round-trip times of the witnesses that answered (for the docs' figures).
    const sum = Number(
      /witness_round_trip_seconds_sum\{witness="notary.e2e\/w1",outcome="cosigned"\} ([0-9.e-]+)/.exec(
        text,
      )?.[1],
    );
    const count = Number(
      /witness_round_trip_seconds_count\{witness="notary.e2e\/w1",outcome="cosigned"\} (\d+)/.exec(text)?.[1],
    );
    expect(count).toBeGreaterThan(0);
    console.log(
      `witness round trip (w1, cosigned): ${((sum / count) * 1000).toFixed(1)} ms mean over ${count}`,
    );
  }, 120_000);

  it('one shown a fork refuses the real checkpoint: the witness and the gateway both say so', async () => {
    // The third witness comes back with a fresh state, and someone holding the log key shows it a
    // checkpoint of another history first.
    const ring = await KeyRing.load(path.join(gateway.dataDir, 'keys'), { logOrigin: origin });
    procs[2] = await startWitness(2, path.join(dir, 'state-2-fresh'));
    const latest = parseCheckpoint(await (await fetch(`${gateway.base}/v1/log/checkpoint`)).text());
    let fork = formatCheckpoint({ origin, size: latest.size, rootHash: sha256(randomBytes(8)) });
    for (const signer of ring.checkpointSigners()) fork = await signCheckpoint(fork, signer);
    const shown = await addCheckpoint(
      procs[2]!.url,
      { oldSize: 0, proof: [], note: fork },
      { timeoutMs: 5000 },
    );
    expect(shown.kind).toBe('cosigned');
    // The gateway, asking it again with its real (different-root) checkpoint, is refused.
    const id = await submit();
    const entry = await cosignedRecord(id, 2);
    expect(entry.assurance.witnesses.level).toBe('quorum');
    await gateway.waitFor(
      'the refusal in /metrics',
      async () => {
        const t = await metrics();
        return /witness_failures_total\{witness="court.e2e\/w3",reason="refused-(409|422)"\} [1-9]/.test(t)
          ? t
          : undefined;
      },
      30_000,
    );
    expect(gateway.output()).toContain('WITNESS REFUSED the checkpoint');
    // The witness's own log: an error-level (pino 50) line with both tree heads.
    const refusal = procs[2]!
      .output()
      .split('\n')
      .filter((l) => l.includes('WITNESS REFUSED'))
      .map((l) => JSON.parse(l));
    expect(refusal.length).toBeGreaterThan(0);
    expect(refusal[0]).toMatchObject({ level: 50, origin, cosigned: { size: latest.size } });
    // It never cosigned the real history after the fork.
    const lines = (await (await fetch(`${gateway.base}/v1/evidence/${id}`)).json()).bundle
      .cosignatures as string[];
    expect(lines.some((l) => l.startsWith(`— ${NAMES[2]} `))).toBe(false);
  }, 120_000);
});
