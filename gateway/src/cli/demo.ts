import { createHash } from 'node:crypto';
import { issueDevToken, loadDevIssuerKey } from '../auth/dev-issuer.ts';
import { SM3_AVAILABLE } from '../notary/sm3.ts';

/**
 * The demo village project and a few of its documents, submitted through the real HTTP API so
 * that a fresh `npm start` has something to show. Every call is idempotent: the project
 * registration is identical each time and each document carries a fixed Idempotency-Key, so a
 * restart replays the same answers instead of adding records.
 */
export const DEMO_ORG = 'demo-village-committee';
export const DEMO_PROJECT = {
  id: 'demo-620102-village-road',
  name: '城关镇五星村村道硬化工程 (Wuxing village road surfacing)',
  regionCode: '620102',
  ownerOrg: DEMO_ORG,
  budget: '128000000',
  milestones: [
    { id: 'm1-subgrade', name: '路基 subgrade', dueDate: '2026-06-30' },
    { id: 'm2-surface', name: '路面 surface', dueDate: '2026-09-30' },
  ],
};

type Doc = { key: string; text: string; body: Record<string, unknown>; refs?: string[] };

const DOCS: Doc[] = [
  {
    key: 'approval',
    text: '立项批复',
    body: { kind: 'approval', visibility: 'public', title: '立项批复 approval reply' },
  },
  {
    key: 'tender',
    text: '招标公告',
    body: { kind: 'tender', visibility: 'public', title: '招标公告 tender notice' },
  },
  {
    key: 'award',
    text: '中标公示',
    body: { kind: 'award', visibility: 'public', title: '中标公示 award notice' },
  },
  {
    key: 'contract',
    text: '施工合同',
    body: {
      kind: 'contract',
      visibility: 'restricted',
      title: '施工合同 construction contract',
      amount: '120000000',
    },
  },
  {
    key: 'log-1',
    text: '施工日志 1',
    body: { kind: 'construction_log', visibility: 'public', title: '施工日志 day 1' },
  },
  {
    key: 'acceptance-m1',
    text: '路基验收',
    body: {
      kind: 'acceptance',
      visibility: 'public',
      title: '路基验收 subgrade acceptance',
      milestone: 'm1-subgrade',
      result: 'passed',
    },
    refs: ['contract'],
  },
  {
    key: 'payment-m1',
    text: '付款审批 1',
    body: {
      kind: 'payment_approval',
      visibility: 'restricted',
      title: '进度款 progress payment',
      amount: '30000000',
      milestone: 'm1-subgrade',
    },
    refs: ['contract'],
  },
  {
    key: 'notice',
    text: '村务公开',
    body: { kind: 'notice', visibility: 'public', title: '村务公开 public notice' },
  },
];

export interface SeedResult {
  project: 'registered' | 'unavailable';
  documents: { key: string; id: string; sha256: string; status: number }[];
  messages: string[];
}

export function demoDigest(text: string, algorithm: 'sha256' | 'sm3' = 'sha256'): string {
  return createHash(algorithm).update(`LianZheng demo document: ${text}\n`).digest('hex');
}

export async function seedDemo(options: {
  gateway: string;
  keysDir: string;
  audience?: string;
}): Promise<SeedResult> {
  const key = await loadDevIssuerKey(options.keysDir);
  const token = await issueDevToken(key, {
    role: 'unit',
    org: DEMO_ORG,
    subject: 'demo-seed',
    audience: options.audience ?? 'lianzheng',
    ttl: 600,
  });
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const result: SeedResult = { project: 'registered', documents: [], messages: [] };
  const registered = await fetch(`${options.gateway}/v1/projects`, {
    method: 'POST',
    headers,
    body: JSON.stringify(DEMO_PROJECT),
  });
  if (registered.status === 404) {
    result.project = 'unavailable';
    result.messages.push(
      'POST /v1/projects is not available in this gateway yet: the demo project was not registered',
    );
    return result;
  }
  if (!registered.ok) {
    result.project = 'unavailable';
    result.messages.push(
      `registering the demo project failed: ${registered.status} ${await registered.text()}`,
    );
    return result;
  }
  const ids = new Map<string, string>();
  for (const doc of DOCS) {
    const body: Record<string, unknown> = {
      ...doc.body,
      projectId: DEMO_PROJECT.id,
      sha256: demoDigest(doc.text),
      // As a unit's system would send it, where its crypto has SM3 (the certificate shows it).
      ...(SM3_AVAILABLE ? { sm3: demoDigest(doc.text, 'sm3') } : {}),
    };
    if (doc.refs) body.refs = doc.refs.map((r) => ids.get(r)).filter((r): r is string => r !== undefined);
    const res = await fetch(`${options.gateway}/v1/evidence`, {
      method: 'POST',
      headers: { ...headers, 'idempotency-key': `demo-seed-${doc.key}` },
      body: JSON.stringify(body),
    });
    const answer = (await res.json()) as { id?: string; code?: string };
    if (answer.id) ids.set(doc.key, answer.id);
    else result.messages.push(`demo document ${doc.key}: ${res.status} ${answer.code ?? ''}`);
    result.documents.push({
      key: doc.key,
      id: answer.id ?? '',
      sha256: body.sha256 as string,
      status: res.status,
    });
  }
  return result;
}
