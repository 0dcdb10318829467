// The demo seeding (`npm start`): a fresh gateway gets the demo project with Chinese names on the
// ledger and English ones as display names; a data folder seeded before the display names (its
// ledger holds "城关镇五星村村道硬化工程 (Wuxing village road surfacing)" and English words in
// titles) is renamed beside the ledger and its documents are found again, not refused or repeated.

import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_NAMES, DEMO_ORG, DEMO_PROJECT, demoDigest, seedDemo } from '../../gateway/src/cli/demo.ts';
import type { Config } from '../../gateway/src/config.ts';
import { SM3_AVAILABLE } from '../../gateway/src/intake/sm3.ts';
import { type GatewayFixture, startGatewayFixture } from './gateway-fixture.ts';
import type { TestDatabase } from './pipeline-support.ts';

let db: TestDatabase;
let app: FastifyInstance;
let config: Config;
let fixture: GatewayFixture;
let base = '';

beforeAll(async () => {
  fixture = await startGatewayFixture();
  ({ db, app, config } = fixture);
  base = await app.listen({ port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  await app?.close();
  await db?.stop();
});

describe('seeding the demo project', () => {
  it('renames an older data folder’s project beside its ledger and finds its documents again', async () => {
    // What an older `npm start` registered and submitted.
    const token = await fixture.token({
      role: 'unit',
      org: DEMO_ORG,
      subject: 'demo-seed', // the seed's own subject: Idempotency-Keys are kept per caller
    });
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const old = {
      ...DEMO_PROJECT,
      name: '城关镇五星村村道硬化工程 (Wuxing village road surfacing)',
      milestones: [
        { id: 'm1-subgrade', name: '路基 subgrade', dueDate: '2026-06-30' },
        { id: 'm2-surface', name: '路面 surface', dueDate: '2026-09-30' },
      ],
    };
    const reg = await fetch(`${base}/v1/projects`, { method: 'POST', headers, body: JSON.stringify(old) });
    expect(reg.status).toBe(201);
    const approval = await fetch(`${base}/v1/evidence`, {
      method: 'POST',
      headers: { ...headers, 'idempotency-key': 'demo-seed-approval' },
      body: JSON.stringify({
        kind: 'approval',
        visibility: 'public',
        title: '立项批复 approval reply',
        projectId: DEMO_PROJECT.id,
        sha256: demoDigest('立项批复'),
        ...(SM3_AVAILABLE ? { sm3: demoDigest('立项批复', 'sm3') } : {}),
      }),
    });
    expect(approval.status).toBe(202);
    const oldId = ((await approval.json()) as { id: string }).id;

    const seeded = await seedDemo({ gateway: base, keysDir: config.keysDir, audience: config.oidc.audience });
    expect(seeded.messages).toEqual([]);
    expect(seeded.project).toBe('registered');
    expect(seeded.documents.every((d) => d.id !== '')).toBe(true);
    expect(seeded.documents.find((d) => d.key === 'approval')?.id).toBe(oldId);

    const project = (await (await fetch(`${base}/v1/projects/${DEMO_PROJECT.id}`)).json()) as {
      project: {
        name: string;
        registeredName?: string;
        nameEn?: string;
        milestones: { name: string; nameEn?: string }[];
      };
      organisations: Record<string, { zh: string }>;
    };
    expect(project.project.name).toBe('城关镇五星村村道硬化工程');
    expect(project.project.registeredName).toBe(old.name);
    expect(project.project.nameEn).toBe(DEMO_NAMES.nameEn);
    expect(project.project.milestones.map((m) => [m.name, m.nameEn])).toEqual([
      ['路基', 'Subgrade'],
      ['路面', 'Road surface'],
    ]);
    expect(project.organisations[DEMO_ORG]?.zh).toBe(DEMO_NAMES.ownerOrgName.zh);

    // A second start repeats nothing.
    const again = await seedDemo({ gateway: base, keysDir: config.keysDir, audience: config.oidc.audience });
    expect(again.messages).toEqual([]);
    expect(again.documents.map((d) => d.id)).toEqual(seeded.documents.map((d) => d.id));
  });
});
