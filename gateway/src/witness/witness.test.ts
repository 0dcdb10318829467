import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  appendLeavesWithSubtrees,
  deriveNotePublicKey,
  emptyFrontier,
  formatCheckpoint,
  frontierRoot,
  generateConsistencyProof,
  leafHash,
  MemorySubtreeStore,
  noteVerifierKey,
  signCheckpoint,
  verifyCosignatures,
} from '@lianzheng/proof';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addCheckpoint, addCheckpointBody } from './client.ts';
import { newWitnessKeyPem, seedFromPem, startWitnessServer, Witness, type WitnessServer } from './witness.ts';

const ORIGIN = 'witness-test.lianzheng.example/log';
const logSeed = new Uint8Array(32).fill(3);
const logSigner = { name: ORIGIN, privateKey: logSeed };
const logKey = noteVerifierKey(ORIGIN, deriveNotePublicKey(logSeed));

/** A log of `n` leaves named by `tag` (a different tag from some index on = a fork). */
function tree(n: number, forkFrom = Number.POSITIVE_INFINITY) {
  const store = new MemorySubtreeStore();
  let frontier = emptyFrontier();
  for (let i = 0; i < n; i++) {
    const leaf = leafHash(new TextEncoder().encode(i >= forkFrom ? `fork ${i}` : `leaf ${i}`));
    const r = appendLeavesWithSubtrees(frontier, [leaf]);
    store.add(r.subtrees);
    frontier = r.frontier;
  }
  return { store, root: frontierRoot(frontier) };
}

async function checkpoint(n: number, forkFrom?: number) {
  const t = tree(n, forkFrom);
  const note = await signCheckpoint(
    formatCheckpoint({ origin: ORIGIN, size: n, rootHash: t.root }),
    logSigner,
  );
  return { note, store: t.store, root: t.root };
}

async function proof(from: number, to: number) {
  return from === 0 ? [] : generateConsistencyProof(tree(to).store, from, to);
}

const lines: { level: string; msg: string; obj: object }[] = [];
const logger = {
  info: (obj: object, msg: string) => lines.push({ level: 'info', msg, obj }),
  warn: (obj: object, msg: string) => lines.push({ level: 'warn', msg, obj }),
  error: (obj: object, msg: string) => lines.push({ level: 'error', msg, obj }),
};

let dir: string;
let server: WitnessServer;
let seed: Uint8Array;
const NAME = 'notary.example/witness';

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'witness-'));
  seed = seedFromPem(newWitnessKeyPem());
  const witness = new Witness({
    name: NAME,
    seed,
    stateDir: dir,
    logs: [{ origin: ORIGIN, keys: [logKey] }],
    logger,
  });
  server = await startWitnessServer(witness, { port: 0 });
});
afterAll(async () => {
  await server?.close();
  await fs.rm(dir, { recursive: true, force: true });
});

const post = (oldSize: number, p: Uint8Array[], note: string) =>
  addCheckpoint(server.url, { oldSize, proof: p, note }, { timeoutMs: 5000 });

describe('lianzheng witness (C2SP tlog-witness add-checkpoint)', () => {
  it('cosigns a first checkpoint from size 0, then one extending it, and keeps the state on disk', async () => {
    const c4 = await checkpoint(4);
    const r4 = await post(0, [], c4.note);
    expect(r4.kind).toBe('cosigned');
    const line = (r4 as { body: string }).body;
    expect(verifyCosignatures(c4.note + line, [server.witness.vkey]).cosignatures).toHaveLength(1);
    const c7 = await checkpoint(7);
    const r7 = await post(4, await proof(4, 7), c7.note);
    expect(r7.kind).toBe('cosigned');
    const saved = JSON.parse(await fs.readFile(path.join(dir, 'witness-state.json'), 'utf8'));
    expect(saved.logs[ORIGIN].size).toBe(7);
    // A new witness on the same directory (a restart) remembers size 7.
    const again = new Witness({
      name: NAME,
      seed,
      stateDir: dir,
      logs: [{ origin: ORIGIN, keys: [logKey] }],
      logger,
    });
    expect((await again.latest(ORIGIN))?.size).toBe(7);
  });

  it('answers 409 with its size (text/x.tlog.size) when the old size is not the one it cosigned', async () => {
    const c9 = await checkpoint(9);
    expect(await post(0, [], c9.note)).toEqual({ kind: 'conflict', size: 7 });
    const res = await fetch(`${server.url}/add-checkpoint`, {
      method: 'POST',
      body: addCheckpointBody(3, await proof(3, 9), c9.note),
    });
    expect(res.status).toBe(409);
    expect(res.headers.get('content-type')).toBe('text/x.tlog.size');
    expect(await res.text()).toBe('7\n');
  });

  it('refuses a fork loudly: 422 for a failed consistency proof, 409 for the same size with another root', async () => {
    lines.length = 0;
    const forked = await checkpoint(9, 5); // leaves 5.. differ: does not extend the cosigned 7
    const r = await post(7, await proof(7, 9), forked.note);
    expect(r).toMatchObject({ kind: 'refused', status: 422 });
    expect(lines.some((l) => l.level === 'error' && l.msg.includes('WITNESS REFUSED'))).toBe(true);
    const same = await checkpoint(7, 6);
    expect(await post(7, [], same.note)).toEqual({ kind: 'conflict', size: 7 });
    expect(lines.filter((l) => l.level === 'error')).toHaveLength(2);
    expect((await server.witness.latest(ORIGIN))?.size).toBe(7);
  });

  it('refuses bad signatures (403), unknown logs (404), old > size and malformed bodies (400)', async () => {
    const c8 = await checkpoint(8);
    const bad = await signCheckpoint(formatCheckpoint({ origin: ORIGIN, size: 8, rootHash: c8.root }), {
      name: ORIGIN,
      privateKey: new Uint8Array(32).fill(4),
    });
    expect(await post(7, await proof(7, 8), bad)).toMatchObject({ kind: 'refused', status: 403 });
    const other = await signCheckpoint(
      formatCheckpoint({ origin: 'other.example', size: 8, rootHash: c8.root }),
      {
        name: 'other.example',
        privateKey: logSeed,
      },
    );
    expect(await post(7, [], other)).toMatchObject({ kind: 'refused', status: 404 });
    expect(await post(9, [], c8.note)).toMatchObject({ kind: 'refused', status: 400 });
    for (const body of [
      '',
      'old 07\n\n',
      'old 1\nnot base64!\n\n',
      `old 7\n${'AAAA\n'.repeat(64)}\n${c8.note}`,
    ]) {
      const res = await fetch(`${server.url}/add-checkpoint`, { method: 'POST', body });
      expect(res.status, body.slice(0, 20)).toBe(400);
    }
    expect((await fetch(`${server.url}/add-checkpoint`)).status).toBe(405);
    const big = await fetch(`${server.url}/add-checkpoint`, {
      method: 'POST',
      body: 'x'.repeat(70_000),
    }).catch(() => ({ status: 413 }));
    expect(big.status).toBe(413);
  });

  it('cosigns again at the same size and root (a retry), with an empty proof', async () => {
    const c7 = await checkpoint(7);
    expect((await post(7, [], c7.note)).kind).toBe('cosigned');
  });

  it('serializes concurrent requests: of two from the same old size only one is cosigned', async () => {
    const [a, b] = await Promise.all([
      checkpoint(10).then(async (c) => post(7, await proof(7, 10), c.note)),
      checkpoint(11).then(async (c) => post(7, await proof(7, 11), c.note)),
    ]);
    expect([a.kind, b.kind].sort()).toEqual(['conflict', 'cosigned']);
  });

  it('never answers 5xx or changes its state for random and near-valid bodies (fuzz)', async () => {
    const before = await server.witness.latest(ORIGIN);
    const valid = addCheckpointBody(before!.size, [], (await checkpoint(before!.size)).note);
    const body = fc.oneof(
      fc.string({ maxLength: 400 }),
      fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b).toString('latin1')),
      // One character of a valid body replaced, removed or doubled.
      fc
        .tuple(
          fc.nat(valid.length - 1),
          fc.constantFrom('replace', 'remove', 'double'),
          fc.string({ minLength: 1, maxLength: 1 }),
        )
        .map(([i, op, c]) =>
          op === 'replace'
            ? valid.slice(0, i) + c + valid.slice(i + 1)
            : op === 'remove'
              ? valid.slice(0, i) + valid.slice(i + 1)
              : valid.slice(0, i) + valid[i] + valid.slice(i),
        ),
    );
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const answer = await server.witness.addCheckpoint(b);
        expect(answer.status).toBeLessThan(500);
        if (answer.status === 200)
          expect(answer.body).toMatch(/^\u2014 notary\.example\/witness [A-Za-z0-9+/=]+\n$/);
      }),
      { numRuns: 400 },
    );
    const after = await server.witness.latest(ORIGIN);
    expect(after?.size).toBe(before?.size);
    expect(after?.rootHash).toBe(before?.rootHash);
  });
});
