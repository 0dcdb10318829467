// The gateway as the README starts it (`npm start` → scripts/start.mjs) on a free port with a
// fresh DATA_DIR: every document kind submitted for the demo project, each waited for until it is
// recorded, and each bundle checked with proof/'s verifyBundle from this process, through HTTP
// only (keys from /v1/keys, the ledger transaction from /v1/ledger/tx/{txId}).

import { randomBytes } from 'node:crypto';
import { type DocumentKind, type ProofBundle, sha256, toHex, verifyBundle } from '@lianzheng/proof';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_PROJECT } from '../../gateway/src/cli/demo.ts';
import { type ReadmeGateway, startReadmeGateway } from './readme-gateway.ts';

let gateway: ReadmeGateway;
let base = '';
let unitToken = '';

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}${url}`, { headers });
  return {
    status: res.status,
    body: res.headers.get('content-type')?.includes('json') ? await res.json() : await res.text(),
  };
}

const waitFor = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number) =>
  gateway.waitFor(what, probe, timeoutMs);

beforeAll(async () => {
  gateway = await startReadmeGateway();
  base = gateway.base;
  unitToken = await gateway.unitToken();
});

afterAll(async () => {
  await gateway?.stop();
});

describe('the gateway started as the README says', () => {
  it('records every document kind and every bundle verifies from outside', async () => {
    const submitted: { id: string; sha256: string; kind: DocumentKind }[] = [];
    const submit = async (kind: DocumentKind, fields: Record<string, unknown> = {}) => {
      const digest = toHex(sha256(randomBytes(48)));
      const res = await fetch(`${base}/v1/evidence`, {
        method: 'POST',
        headers: { authorization: `Bearer ${unitToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          projectId: DEMO_PROJECT.id,
          kind,
          visibility: 'public',
          sha256: digest,
          ...fields,
        }),
      });
      const body = await res.json();
      expect(res.status, JSON.stringify(body)).toBe(202);
      submitted.push({ id: body.id, sha256: digest, kind });
      return body.id as string;
    };
    await submit('approval', { title: '立项批复' });
    await submit('tender', { title: '招标公告' });
    await submit('award', { title: '中标公示' });
    const contract = await submit('contract', { visibility: 'restricted', amount: '120000000' });
    await submit('construction_log');
    await submit('change_order', { refs: [contract], amount: '6000000', visibility: 'restricted' });
    await submit('acceptance', {
      refs: [contract],
      result: 'passed',
      milestone: DEMO_PROJECT.milestones[0]!.id,
    });
    await submit('payment_approval', {
      refs: [contract],
      amount: '30000000',
      milestone: DEMO_PROJECT.milestones[0]!.id,
      visibility: 'restricted',
    });
    const notice = await submit('notice', { title: '公示' });
    await submit('withdrawal', { refs: [notice], reason: 'published in error' });
    await submit('other');
    // Three at once through the batch route: one signature for the group commit, a group receipt
    // each, and their bundles must verify like the others.
    const batchDigests = [0, 1, 2].map(() => toHex(sha256(randomBytes(48))));
    const batch = await fetch(`${base}/v1/evidence/batch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${unitToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        items: batchDigests.map((d) => ({
          projectId: DEMO_PROJECT.id,
          kind: 'construction_log',
          visibility: 'public',
          sha256: d,
        })),
      }),
    });
    const batchBody = (await batch.json()) as { results: { id: string; receipt: string }[] };
    expect(batch.status, JSON.stringify(batchBody)).toBe(202);
    expect(new Set(batchBody.results.map((r) => r.receipt.split('~')[0])).size).toBe(1);
    batchBody.results.forEach((r, i) => {
      expect(r.receipt).toContain('~');
      submitted.push({ id: r.id, sha256: batchDigests[i]!, kind: 'construction_log' });
    });

    const keys = (await get('/v1/keys')).body as {
      jwks: never;
      checkpointKeys: string[];
      tsaRoots: string[];
      ledger: string;
    };
    expect(keys.ledger).toBe('embedded');
    for (const item of submitted) {
      const evidence = await waitFor(
        `${item.kind} ${item.id} recorded`,
        async () => {
          const res = await get(`/v1/evidence/${item.id}`);
          return res.body.status === 'recorded' ? res.body : undefined;
        },
        60_000,
      );
      expect(evidence.kind).toBe(item.kind);
      const verify = (await get(`/v1/verify/${item.sha256}`)).body as {
        records: { id: string; bundle: ProofBundle; withdrawnBy?: string }[];
      };
      const found = verify.records.find((r) => r.id === item.id);
      expect(found, item.kind).toBeDefined();
      const result = await verifyBundle(found!.bundle, {
        sha256: item.sha256,
        keys: { jwks: keys.jwks, checkpointKeys: keys.checkpointKeys, tsaRoots: keys.tsaRoots },
        getLedgerTx: async (ref) => {
          const tx = await get(`/v1/ledger/tx/${ref.txId}`);
          return tx.status === 200 ? tx.body : { valid: false, block: -1, size: -1, root: '' };
        },
      });
      expect(
        result.steps.filter((s) => s.status === 'fail'),
        item.kind,
      ).toEqual([]);
      expect(result.ok, item.kind).toBe(true);
      expect(result.steps.find((s) => s.step === 'ledger')?.status, item.kind).toBe('pass');
      // The checkpoint's RFC 3161 token, checked against the TSA root the gateway publishes.
      expect(keys.tsaRoots.length).toBeGreaterThan(0);
      expect(result.steps.find((s) => s.step === 'timestamp')?.status, item.kind).toBe('pass');
      expect(found!.bundle.ledger?.note).toBe('embedded single-node ledger');
      if (item.id === notice) expect(found!.withdrawnBy).toBeDefined();
    }

    const trail = (await get(`/v1/projects/${DEMO_PROJECT.id}/records?limit=1000`)).body as {
      records: { id: string }[];
    };
    const ids = new Set(trail.records.map((r) => r.id));
    for (const item of submitted) expect(ids.has(item.id), item.kind).toBe(true);
    const checkpoint = await get('/v1/log/checkpoint');
    expect(checkpoint.status).toBe(200);
    expect(String(checkpoint.body).split('\n')[0]).toBe('lianzheng.local/log');
  });
});
