// The project's facts in pages (issue #26, book.ts). The rules and every query must answer exactly
// as they do with one page: the same workload (refs and supersedes across pages, withdrawals,
// acceptances, several projects, UUIDv7-like ids that arrive in bursts and gaps) is recorded with
// the normal page size and with pages of a few facts (a deep trie), and every answer is compared.
// Then: a batch's page writes do not grow with the project, RECORD_EXISTS finds an id in an old
// page, and a project key of the layout before paging is read and migrated by the next batch.

import { type DocumentKind, sha256, toHex } from '@lianzheng/proof';
import { afterEach, describe, expect, it } from 'vitest';
import { PAGE_MAX, type ProjectBookValue, paging, type RecordFact } from './book.ts';
import type { RecordEntry } from './model.ts';
import { buildEntry, ContractDriver, testRecordId, villageRoadProject } from './testing/index.ts';
import { MemoryLedger, privateKey } from './testing/memory-stub.ts';

const P = 'XC-2025-ROAD-001';
const Q = 'XC-2025-ROAD-002';
const decoder = new TextDecoder();
const encoder = new TextEncoder();

afterEach(() => {
  paging.max = PAGE_MAX;
});

/** A small seeded generator (mulberry32), so every run records the same workload. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A UUIDv7-shaped id: 48 bits of milliseconds, then version, variant and random bits. */
function uuid7(ms: number, rnd: () => number): string {
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(rnd() * 16).toString(16)).join('');
  const t = ms.toString(16).padStart(12, '0');
  return `${t.slice(0, 8)}-${t.slice(8)}-7${hex(3)}-${'89ab'[Math.floor(rnd() * 4)]}${hex(3)}-${hex(12)}`;
}

interface Known {
  id: string;
  kind: DocumentKind;
  live: boolean;
}

/** Batches of records over two projects whose every record is valid when recorded in order. */
function workload(seed: number, records: number): RecordEntry[][] {
  const rnd = random(seed);
  const pick = <T>(xs: T[]): T | undefined => xs[Math.floor(rnd() * xs.length)];
  const known = new Map<string, Known[]>([
    [P, []],
    [Q, []],
  ]);
  const gaps = [0, 1, 3, 40, 900, 20_000, 70_000, 5_000_000];
  let ms = Date.parse('2025-03-01T00:00:00.000Z');
  const batches: RecordEntry[][] = [];
  let n = 0;
  while (n < records) {
    const batch: RecordEntry[] = [];
    const size = 1 + Math.floor(rnd() * 30);
    for (let b = 0; b < size && n < records; b++, n++) {
      ms += pick(gaps)!;
      const id = uuid7(ms, rnd);
      const projectId = rnd() < 0.7 ? P : Q;
      const mine = known.get(projectId)!;
      const live = (kind?: DocumentKind) => mine.filter((k) => k.live && (!kind || k.kind === kind));
      const contracts = mine.filter((k) => k.kind === 'contract');
      const visibility = rnd() < 0.5 ? ('public' as const) : ('restricted' as const);
      const content = `doc-${n % 9}`;
      const amount = String(1 + Math.floor(rnd() * 5_000_000));
      const milestone = pick(['M1', 'M2', 'M3'])!;
      const r = rnd();
      let entry: RecordEntry;
      let kind: DocumentKind;
      let superseded: Known | undefined;
      let withdrawn: Known | undefined;
      if (contracts.length === 0 || r < 0.06) {
        kind = 'contract';
        entry = buildEntry({ id, projectId, kind, visibility, content, details: { amount: '90000000' } });
      } else if (r < 0.12 && live('contract').length > 0) {
        kind = 'contract';
        superseded = pick(live('contract'))!;
        const details = { amount: String(80_000_000 + Math.floor(rnd() * 30_000_000)) };
        entry = buildEntry({ id, projectId, kind, visibility, content, supersedes: superseded.id, details });
      } else if (r < 0.42) {
        kind = 'payment_approval';
        const refs = [pick(contracts)!.id];
        const details = rnd() < 0.5 ? { amount, milestone } : { amount };
        entry = buildEntry({ id, projectId, kind, visibility, content, refs, details });
      } else if (r < 0.5) {
        kind = 'change_order';
        const refs = [pick(contracts)!.id];
        entry = buildEntry({ id, projectId, kind, visibility, content, refs, details: { amount } });
      } else if (r < 0.6) {
        kind = 'acceptance';
        const refs = [pick(contracts)!.id];
        const details = { milestone, result: rnd() < 0.8 ? ('passed' as const) : ('failed' as const) };
        entry = buildEntry({ id, projectId, kind, visibility, content, refs, details });
      } else if (r < 0.67 && mine.some((k) => k.live && k.kind !== 'withdrawal')) {
        kind = 'withdrawal';
        withdrawn = pick(mine.filter((k) => k.live && k.kind !== 'withdrawal'))!;
        const details = { reason: '误传' };
        entry = buildEntry({ id, projectId, kind, visibility, content, refs: [withdrawn.id], details });
      } else if (r < 0.74 && live('payment_approval').length > 0) {
        kind = 'payment_approval';
        superseded = pick(live('payment_approval'))!;
        entry = buildEntry({
          id,
          projectId,
          kind,
          visibility,
          content,
          supersedes: superseded.id,
          details: { amount },
        });
      } else {
        kind = 'notice';
        const refs = rnd() < 0.5 && mine.length > 0 ? [pick(mine)!.id] : undefined;
        entry = buildEntry({
          id,
          projectId,
          kind,
          visibility,
          content,
          ...(refs ? { refs } : {}),
          details: { title: `公告 ${n}` },
        });
      }
      if (superseded) superseded.live = false;
      if (withdrawn) withdrawn.live = false;
      mine.push({ id, kind, live: true });
      batch.push(entry);
    }
    batches.push(batch);
  }
  return batches;
}

function isBookKey(key: string): boolean {
  return key.includes('\u0000project\u0000') || key.includes('\u0000facts\u0000');
}

/** Everything a client can observe, and the digest of every value that is not the book's. */
async function observe(batches: RecordEntry[][], max: number) {
  paging.max = max;
  const driver = new ContractDriver();
  await driver.init();
  await driver.register(villageRoadProject(P));
  await driver.register(villageRoadProject(Q));
  const answers: unknown[] = [];
  const others: string[] = [];
  const ids: string[] = [];
  let day = 0;
  for (const entries of batches) {
    const time = new Date(Date.parse('2025-03-01T00:00:00.000Z') + day++ * 2 * 86_400_000);
    const { tx, ...result } = await driver.record(entries, { time });
    answers.push(tx.result, result);
    for (const [key, value] of tx.writes) if (!isBookKey(key)) others.push(key, toHex(sha256(value)));
    for (const [, key, value] of tx.privateWrites)
      if (!isBookKey(key)) others.push(`private ${key}`, toHex(sha256(value)));
    ids.push(...entries.map((e) => e.record.id));
  }
  for (const p of [P, Q]) {
    answers.push(await driver.query('ProjectTrail', [p]));
    answers.push(await driver.query('GetFlags', [p]));
    answers.push(await driver.query('GetProject', [p]));
  }
  for (const id of ids) answers.push(await driver.query('GetRecord', [id]));
  for (let k = 0; k < 9; k++) {
    const digest = toHex(sha256(encoder.encode(`doc-${k}`)));
    answers.push(await driver.query('FindByDigest', [digest, '']));
    answers.push(await driver.query('FindByDigest', [digest, P]));
  }
  return { answers, others, driver, ids };
}

/** The pages of a project in world state: leaves (fact count) and splits. */
function pagesOf(ledger: MemoryLedger, projectId: string) {
  const leaves: number[] = [];
  let splits = 0;
  const prefix = `\u0000facts\u0000${projectId}\u0000`;
  for (const [key, bytes] of ledger.state) {
    if (!key.startsWith(prefix)) continue;
    const value = JSON.parse(decoder.decode(bytes)) as { f?: Record<string, RecordFact>; split?: number };
    if (value.split !== undefined) splits++;
    else leaves.push(Object.keys(value.f!).length);
  }
  return { leaves, splits };
}

describe('the project book in pages', () => {
  it('answers every query and raises every flag as with one page, however small the pages', async () => {
    const batches = workload(26, 400);
    const one = await observe(batches, PAGE_MAX);
    // The workload raises flags of several kinds and links records across batches.
    const flagCodes = new Set(
      (
        one.answers.filter((a) => (a as { flags?: unknown }).flags) as { flags: { code: string }[] }[]
      ).flatMap((a) => a.flags.map((f) => f.code)),
    );
    expect(flagCodes.size).toBeGreaterThanOrEqual(4);
    expect(pagesOf(one.driver.ledger, P)).toEqual({ leaves: [expect.any(Number)], splits: 0 });
    for (const max of [2, 5, 64]) {
      const small = await observe(batches, max);
      expect(small.answers).toEqual(one.answers);
      // Batches, their private values, the log and the checkpoints are written byte for byte alike.
      expect(small.others).toEqual(one.others);
      const pages = pagesOf(small.driver.ledger, P);
      expect(pages.splits).toBeGreaterThan(0);
      expect(Math.max(...pages.leaves)).toBeLessThanOrEqual(max);
      const inP = small.ids.length - pagesOf(small.driver.ledger, Q).leaves.reduce((x, y) => x + y, 0);
      expect(pages.leaves.reduce((x, y) => x + y, 0)).toBe(inP);
    }
  }, 60_000);

  it('writes the same few pages per batch however many records the project holds', async () => {
    paging.max = 16;
    const driver = new ContractDriver();
    await driver.init();
    await driver.register(villageRoadProject(P));
    const pageWrites: number[] = [];
    const keyBytes: number[] = [];
    // Ids 256, 257, …: pages split at the last hex digit, 16 ids each; a batch of 96 fills six
    // (and splits a page above them when it crosses into the next 256 ids).
    for (let b = 0; b < 30; b++) {
      const entries = Array.from({ length: 96 }, (_, i) =>
        buildEntry({
          id: testRecordId(256 + b * 96 + i),
          projectId: P,
          kind: 'notice',
          visibility: 'public',
        }),
      );
      const { tx } = await driver.record(entries);
      pageWrites.push(tx.writes.filter(([k]) => k.includes('\u0000facts\u0000')).length);
      keyBytes.push(tx.writes.find(([k]) => k.includes('\u0000project\u0000'))![1].length);
    }
    // The pattern repeats every 768 ids (8 batches): the same at 1,000 records as at 2,800.
    expect(Math.max(...pageWrites.slice(1))).toBeLessThanOrEqual(7);
    expect(pageWrites.slice(22, 30)).toEqual(pageWrites.slice(6, 14));
    // The project key holds a count, not the facts: it grows by digits only.
    expect(Math.max(...keyBytes) - Math.min(...keyBytes)).toBeLessThanOrEqual(3);
    const project = JSON.parse(
      decoder.decode(driver.ledger.state.get(`\u0000project\u0000${P}\u0000`)!),
    ) as ProjectBookValue;
    expect(project.facts).toBe(30 * 96);
    expect(project.records).toBeUndefined();
    // An id from the first batch, now in an old page, is still known.
    const again = buildEntry({ id: testRecordId(300), projectId: P, kind: 'notice', visibility: 'public' });
    await expect(driver.submitBatch(driver.size, [again])).rejects.toMatchObject({ code: 'RECORD_EXISTS' });
    // A ref and a supersede reach records in the first pages from the newest one.
    const late = buildEntry({
      id: testRecordId(100_000),
      projectId: P,
      kind: 'notice',
      visibility: 'public',
      supersedes: testRecordId(257),
      refs: [testRecordId(258), testRecordId(256 + 29 * 96)],
    });
    await driver.record([late]);
    const old = await driver.query<{ supersededBy?: string }>('GetRecord', [testRecordId(257)]);
    expect(old.supersededBy).toBe(testRecordId(100_000));
    const trail = await driver.query<{ records: { record: { id: string } }[] }>('ProjectTrail', [P]);
    expect(trail.records).toHaveLength(30 * 96 + 1);
    expect(trail.records.at(-1)!.record.id).toBe(testRecordId(100_000));
  }, 60_000);

  it('keeps later, slower ids in coarser pages after a burst', async () => {
    paging.max = 16;
    const driver = new ContractDriver();
    await driver.init();
    await driver.register(villageRoadProject(P));
    const rnd = random(3);
    const start = Date.parse('2025-03-01T00:00:00.000Z');
    // A burst: 64 ids 1 ms apart (they differ from the 16 ms digit on) ...
    const burst = Array.from({ length: 64 }, (_, i) =>
      buildEntry({ id: uuid7(start + i, rnd), projectId: P, kind: 'notice', visibility: 'public' }),
    );
    await driver.record(burst);
    // ... then one id every five minutes for a week, 20 a batch.
    for (let b = 0; b < 100; b++) {
      const entries = Array.from({ length: 20 }, (_, i) =>
        buildEntry({
          id: uuid7(start + 60_000 + (b * 20 + i) * 300_000, rnd),
          projectId: P,
          kind: 'notice',
          visibility: 'public',
        }),
      );
      await driver.record(entries);
    }
    const { leaves } = pagesOf(driver.ledger, P);
    expect(leaves.reduce((x, y) => x + y, 0)).toBe(64 + 2_000);
    // Split at the burst's 16 ms digit for good, every later id would have a page of its own.
    expect(leaves.length).toBeLessThan(1_000);
  });

  it('reads a project key of the layout before paging and migrates it with the next batch', async () => {
    const all = workload(7, 160);
    const first = all[0]!;
    const next = all.slice(-3).flat();
    expect(new Set(next.map((e) => e.record.projectId))).toEqual(new Set([P, Q]));
    const paged = new ContractDriver();
    await paged.init();
    await paged.register(villageRoadProject(P));
    await paged.register(villageRoadProject(Q));
    for (const batch of all.slice(0, -3)) await paged.record(batch);

    // The same state as the contract before issue #26 wrote it: every fact (without `b`) in the
    // project's key with the list of its batches, the rule details in its private value, no pages.
    const old = new MemoryLedger();
    for (const [key, bytes] of paged.ledger.state) {
      if (key.includes('\u0000facts\u0000')) continue;
      old.state.set(key, bytes);
    }
    for (const [key, bytes] of paged.ledger.privateState) {
      if (key.includes('\u0000facts\u0000')) continue;
      old.privateState.set(key, bytes);
    }
    for (const p of [P, Q]) {
      const key = `\u0000project\u0000${p}\u0000`;
      const value = JSON.parse(decoder.decode(paged.ledger.state.get(key)!)) as ProjectBookValue;
      const records: Record<string, RecordFact> = {};
      const details: Record<string, unknown> = {};
      const batches = new Set<number>();
      for (const [k, bytes] of paged.ledger.state) {
        if (!k.startsWith(`\u0000facts\u0000${p}\u0000`)) continue;
        const page = JSON.parse(decoder.decode(bytes)) as { f?: Record<string, RecordFact> };
        for (const [id, { b, ...fact }] of Object.entries(page.f ?? {})) {
          records[id] = fact;
          batches.add(b!);
        }
        const secret = paged.ledger.privateState.get(privateKey('restrictedDetails', k));
        if (secret) Object.assign(details, JSON.parse(decoder.decode(secret)));
      }
      const { facts, ...stored } = value;
      expect(facts).toBe(Object.keys(records).length);
      const legacy = { ...stored, records, batches: [...batches].sort((x, y) => x - y) };
      old.state.set(key, encoder.encode(JSON.stringify(legacy)));
      const pkey = privateKey('restrictedDetails', key);
      const summary = JSON.parse(decoder.decode(paged.ledger.privateState.get(pkey)!)).summary;
      old.privateState.set(pkey, encoder.encode(JSON.stringify({ summary, details })));
    }
    const legacy = new ContractDriver(old);
    legacy.size = paged.size;
    const queries = async (d: ContractDriver) => [
      ...(await Promise.all(
        [P, Q].flatMap((p) =>
          ['ProjectTrail', 'GetFlags', 'GetProject'].map((q) => d.query(q as 'GetFlags', [p])),
        ),
      )),
      await d.query('GetRecord', [first[0]!.record.id]),
    ];
    expect(await queries(legacy)).toEqual(await queries(paged));

    // The next batch (refs and supersedes of earlier records) gives the same answer and leaves
    // the same world state, public and private, as on the paged ledger.
    const time = '2025-09-30T00:00:00.000Z';
    const txId = 'ab'.repeat(32);
    const a = await paged.record(next, { time, txId });
    const b = await legacy.record(next, { time, txId });
    expect(b.tx.result).toEqual(a.tx.result);
    expect(b.flags).toEqual(a.flags);
    const dump = (m: Map<string, Uint8Array>) => new Map([...m].map(([k, v]) => [k, decoder.decode(v)]));
    expect(dump(old.state)).toEqual(dump(paged.ledger.state));
    expect(dump(old.privateState)).toEqual(dump(paged.ledger.privateState));
    expect(await queries(legacy)).toEqual(await queries(paged));
  });
});
