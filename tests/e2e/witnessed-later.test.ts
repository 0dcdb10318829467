// Issue #24, a gap left: a witness stopped while a record's checkpoint is made cosigns only later
// checkpoints. The gateway as `npm start` runs it, two witnesses as an outside institution runs
// them (`lianzheng witness serve`, each its own process and key; quorum 2). The second is down
// while record A's checkpoint is made and started again after record B; A's bundle then reaches
// the quorum through a later checkpoint (`witnessed`, with the consistency proof). Its evidence
// package (`lianzheng package`) passes `lianzheng verify-package` (which reads no network); its
// bundle verified offline (`lianzheng verify --bundle --keys`) passes, and with a tampered
// consistency proof is refused. Ports: the gateway's own free port, witnesses on 28620–28621.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseCheckpoint, sha256, toHex } from '@lianzheng/proof';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_PROJECT } from '../../gateway/src/cli/demo.ts';
import { readZip } from '../../gateway/src/evidence-package/zip.ts';
import { type ReadmeGateway, startReadmeGateway } from './readme-gateway.ts';
import { lianzheng, stopWitness as stop, type WitnessProcess, WitnessSet } from './witness-processes.ts';

const PORTS = [28620, 28621];
const NAMES = ['notary.later-e2e/w1', 'audit.later-e2e/w2'];

let dir: string;
let gateway: ReadmeGateway;
let witnesses: WitnessSet;
const procs: (WitnessProcess | undefined)[] = [];
let logKeys: string[] = [];
let origin = '';
let unit = '';

async function startWitness(i: number): Promise<void> {
  procs[i] = await witnesses.start(i, { origin, keys: logKeys }, path.join(dir, `state-${i}`));
}
const stopWitness = (i: number) => stop(procs[i]);

async function submit(): Promise<{ id: string; sha256: string }> {
  const digest = toHex(sha256(randomBytes(32)));
  const res = await fetch(`${gateway.base}/v1/evidence`, {
    method: 'POST',
    headers: { authorization: `Bearer ${unit}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      projectId: DEMO_PROJECT.id,
      kind: 'notice',
      visibility: 'public',
      sha256: digest,
    }),
  });
  const body = await res.json();
  expect(res.status, JSON.stringify(body)).toBe(202);
  return { id: body.id as string, sha256: digest };
}

const entry = async (id: string) => (await fetch(`${gateway.base}/v1/evidence/${id}`)).json();

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lz-e2e-witnessed-later-'));
  witnesses = new WitnessSet(dir, NAMES, PORTS);
  await witnesses.keygen();
  gateway = await startReadmeGateway({
    prefix: 'lz-e2e-witnessed-later-',
    env: {
      WITNESSES: witnesses.gatewayEnv('Later witness'),
      WITNESS_QUORUM: '2',
      WITNESS_INTERVAL_MS: '100',
      // Short, so the witness that comes back is asked again soon (the back-off doubles from it).
      WITNESS_RETRY_MS: '100',
      WITNESS_TIMEOUT_MS: '2000',
    },
  });
  const keys = await (await fetch(`${gateway.base}/v1/keys`)).json();
  logKeys = keys.checkpointKeys;
  origin = logKeys[0]!.split('+')[0]!;
  unit = await gateway.unitToken();
  // Only the first witness runs at first: the second is "down".
  await startWitness(0);
}, 400_000);

afterAll(async () => {
  for (let i = 0; i < 2; i++) await stopWitness(i);
  await gateway?.stop();
  await fs.rm(dir, { recursive: true, force: true });
});

describe('a witness down while a record is made', () => {
  it('the record reaches the quorum through a later checkpoint; its package verifies offline; a tampered proof is refused', async () => {
    const a = await submit();
    const own = await gateway.waitFor(
      'record A with its first cosignature',
      async () => {
        const e = await entry(a.id);
        return (e.bundle?.cosignatures?.length ?? 0) >= 1 ? e : undefined;
      },
      60_000,
    );
    const size = own.bundle.inclusion.size as number;
    expect(own.assurance.witnesses).toMatchObject({ level: 'below-quorum', quorum: 2, of: 2 });
    expect(own.bundle.witnessed).toBeUndefined();
    // Record B makes a newer checkpoint while the second witness is still down.
    const b = await submit();
    await gateway.waitFor(
      'record B recorded after A',
      async () => {
        const e = await entry(b.id);
        return (e.bundle?.inclusion?.size ?? 0) > size ? e : undefined;
      },
      60_000,
    );

    await startWitness(1);
    const later = await gateway.waitFor(
      "record A's witnessed part",
      async () => {
        const e = await entry(a.id);
        return e.bundle?.witnessed ? e : undefined;
      },
      60_000,
    );
    const laterSize = parseCheckpoint(later.bundle.witnessed.checkpoint).size;
    expect(laterSize).toBeGreaterThan(size);
    expect(later.assurance.witnesses).toMatchObject({ level: 'quorum', quorum: 2, of: 2 });
    expect(later.assurance.witnesses.cosigned[1]).toMatchObject({ name: NAMES[1], size: laterSize });

    // The evidence package, fetched with the CLI, then checked by verify-package (no network).
    const zipPath = path.join(dir, 'a.zip');
    const got = await lianzheng(['package', a.id, '--out', zipPath, '--gateway', gateway.base]);
    expect(got.code, got.out).toBe(0);
    const trustPath = path.join(dir, 'trust.json');
    await fs.writeFile(trustPath, await (await fetch(`${gateway.base}/v1/trust.json`)).text());
    const checked = await lianzheng(['verify-package', zipPath, '--trust', trustPath]);
    expect(checked.code, checked.out).toBe(0);
    expect(checked.out).toContain('PACKAGE VERIFIED');
    expect(checked.out).toMatch(/^PASS {2}bundle\.witnesses /m);
    expect(checked.out).toContain(`cosigned at size ${laterSize}, consistent with the record's checkpoint`);
    expect(checked.out).toMatch(/^PASS {2}witnessed-checkpoint /m);

    // The package's bundle and keys, verified offline by `lianzheng verify`, with the quorum
    // required; then with its consistency proof tampered with.
    const files = await readZip(await fs.readFile(zipPath));
    const bundle = JSON.parse(files.get('bundle.json')!.toString('utf8'));
    const bundlePath = path.join(dir, 'bundle.json');
    const keysPath = path.join(dir, 'keys.json');
    await fs.writeFile(bundlePath, JSON.stringify(bundle));
    await fs.writeFile(keysPath, files.get('keys/keys.json')!);
    const offline = (file: string) =>
      lianzheng([
        'verify',
        '--sha256',
        a.sha256,
        '--bundle',
        file,
        '--keys',
        keysPath,
        '--require-witnesses',
      ]);
    const good = await offline(bundlePath);
    expect(good.code, good.out).toBe(0);
    expect(good.out).toContain(`cosigned at size ${laterSize}, consistent with the record's checkpoint`);
    const tampered = structuredClone(bundle);
    const first = tampered.witnessed.consistency[0] as string;
    tampered.witnessed.consistency[0] = `${first[0] === '0' ? '1' : '0'}${first.slice(1)}`;
    const tamperedPath = path.join(dir, 'bundle-tampered.json');
    await fs.writeFile(tamperedPath, JSON.stringify(tampered));
    const bad = await offline(tamperedPath);
    expect(bad.code, bad.out).toBe(1);
    expect(bad.out).toContain('WITNESSED_INCONSISTENT');
  }, 240_000);
});
