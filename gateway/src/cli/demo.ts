import { createHash } from 'node:crypto';
import { issueDevToken, loadDevIssuerKey } from '../auth/dev-issuer.ts';
import { SM3_AVAILABLE } from '../intake/sm3.ts';

/**
 * The demo village project and a few of its documents, submitted through the real HTTP API so
 * that a fresh `npm start` has something to show. Every call is idempotent: the project
 * registration is identical each time and each document carries a fixed Idempotency-Key, so a
 * restart replays the same answers instead of adding records.
 */
export const DEMO_ORG = 'demo-village-committee';
/** The project as the ledger keeps it: Chinese names only (English ones are display names). */
export const DEMO_PROJECT = {
  id: 'demo-620102-village-road',
  name: '城关镇五星村村道硬化工程',
  regionCode: '620102',
  ownerOrg: DEMO_ORG,
  budget: '128000000',
  milestones: [
    { id: 'm1-subgrade', name: '路基', dueDate: '2026-06-30' },
    { id: 'm2-surface', name: '路面', dueDate: '2026-09-30' },
  ],
};

/** The display names shown instead of the ids (kept beside the ledger: routes/projects/names.ts). */
export const DEMO_NAMES = {
  nameEn: 'Wuxing village road surfacing',
  ownerOrgName: { zh: '城关镇五星村村民委员会', en: 'Wuxing Village Committee, Chengguan' },
  milestonesEn: { 'm1-subgrade': 'Subgrade', 'm2-surface': 'Road surface' } as Record<string, string>,
};

/** The registration as POST /v1/projects takes it: the ledger's project and its display names. */
export function demoRegistration(): Record<string, unknown> {
  return {
    ...DEMO_PROJECT,
    nameEn: DEMO_NAMES.nameEn,
    ownerOrgName: DEMO_NAMES.ownerOrgName,
    milestones: DEMO_PROJECT.milestones.map((m) => ({ ...m, nameEn: DEMO_NAMES.milestonesEn[m.id] })),
  };
}

type Doc = { key: string; text: string; body: Record<string, unknown>; refs?: string[] };

const DOCS: Doc[] = [
  {
    key: 'approval',
    text: '立项批复',
    body: { kind: 'approval', visibility: 'public', title: '立项批复' },
  },
  {
    key: 'tender',
    text: '招标公告',
    body: { kind: 'tender', visibility: 'public', title: '招标公告' },
  },
  {
    key: 'award',
    text: '中标公示',
    body: { kind: 'award', visibility: 'public', title: '中标公示' },
  },
  {
    key: 'contract',
    text: '施工合同',
    body: {
      kind: 'contract',
      visibility: 'restricted',
      title: '施工合同',
      amount: '120000000',
    },
  },
  {
    key: 'log-1',
    text: '施工日志 1',
    body: { kind: 'construction_log', visibility: 'public', title: '施工日志（第一天）' },
  },
  {
    key: 'acceptance-m1',
    text: '路基验收',
    body: {
      kind: 'acceptance',
      visibility: 'public',
      title: '路基验收',
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
      title: '路基进度款',
      amount: '30000000',
      milestone: 'm1-subgrade',
    },
    refs: ['contract'],
  },
  {
    key: 'notice',
    text: '村务公开',
    body: { kind: 'notice', visibility: 'public', title: '村务公开' },
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
  let registered = await fetch(`${options.gateway}/v1/projects`, {
    method: 'POST',
    headers,
    body: JSON.stringify(demoRegistration()),
  });
  if (registered.status === 409) {
    // A data folder from before the display names: its ledger keeps the demo project with the
    // English words in its Chinese names. The names shown are corrected beside it instead.
    const registration = demoRegistration();
    registered = await fetch(`${options.gateway}/v1/projects/${DEMO_PROJECT.id}`, {
      method: 'PATCH',
      headers,
      body: JSON.stringify({
        name: registration.name,
        nameEn: registration.nameEn,
        ownerOrgName: registration.ownerOrgName,
        milestones: (registration.milestones as { id: string; name: string; nameEn: string }[]).map(
          ({ id, name, nameEn }) => ({ id, name, nameEn }),
        ),
      }),
    });
  }
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
    if (res.status === 409 && answer.code === 'IDEMPOTENCY_CONFLICT') {
      // A data folder seeded before the titles lost their English words: its document stands as
      // it was recorded (the ledger is never edited); find its id so later refs still name it.
      const found = await fetch(`${options.gateway}/v1/verify/${body.sha256 as string}`);
      const records = found.ok
        ? ((await found.json()) as { records?: { id: string; projectId: string }[] }).records
        : [];
      const earlier = records?.find((r) => r.projectId === DEMO_PROJECT.id);
      if (earlier) answer.id = earlier.id;
    }
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
