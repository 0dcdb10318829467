// What the inspector's workspace tests sign in to see: the demo project in 620102 with a public
// notice and a restricted payment approval without a contract (restricted details and a flag), and
// a project in Qinghai (630102) that an inspector of Gansu must not see. Written through the
// gateway's own API with a token the gateway takes (the dev issuer's, or an outside provider's).
import { randomBytes } from 'node:crypto';
import { sha256, toHex } from '@lianzheng/proof';
import { expect } from 'vitest';
import { DEMO_PROJECT } from '../../gateway/src/cli/demo.ts';

export interface WorkspaceFixture {
  /** The restricted payment's title and amount: only inspectors of its region may see them. */
  secretTitle: string;
  secretAmount: string;
  elsewhere: {
    id: string;
    name: string;
    regionCode: string;
    ownerOrg: string;
    budget: string;
    milestones: { id: string; name: string; dueDate: string }[];
  };
  ids: { notice: string; payment: string; elsewhere?: string };
}

/** POSTs `body` as `token`; the answer must be a success. */
export async function postAs(
  base: string,
  token: string,
  url: string,
  body: object,
): Promise<{ id?: string }> {
  const res = await fetch(`${base}${url}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as { id?: string };
  expect(res.status, JSON.stringify(json)).toBeLessThan(300);
  return json;
}

/**
 * Registers both projects and submits the records as `admin`; `delegate`: an organisation the
 * demo project's owner lets submit for it; `elsewhereRecord`: a restricted payment in Qinghai too.
 */
export async function seedWorkspace(
  base: string,
  admin: string,
  options: { secretAmount: string; delegate?: string; elsewhereRecord?: boolean },
): Promise<WorkspaceFixture> {
  const post = (url: string, body: object) => postAs(base, admin, url, body);
  const digest = () => toHex(sha256(randomBytes(16)));
  const fixture: WorkspaceFixture = {
    secretTitle: `第二期进度款审批-${randomBytes(3).toString('hex')}`,
    secretAmount: options.secretAmount,
    elsewhere: {
      id: `qinghai-road-${randomBytes(3).toString('hex')}`,
      name: '青海省某县乡道改造',
      regionCode: '630102',
      ownerOrg: 'qinghai-town',
      budget: '90000000',
      milestones: [{ id: 'm1', name: '路基', dueDate: '2099-06-30' }],
    },
    ids: { notice: '', payment: '' },
  };
  await post('/v1/projects', DEMO_PROJECT);
  await post('/v1/projects', fixture.elsewhere);
  if (options.delegate) await post(`/v1/projects/${DEMO_PROJECT.id}/delegates`, { org: options.delegate });
  fixture.ids.notice = (
    await post('/v1/evidence', {
      sha256: digest(),
      projectId: DEMO_PROJECT.id,
      kind: 'notice',
      visibility: 'public',
      title: '村务公开：道路硬化工程开工公示',
    })
  ).id!;
  fixture.ids.payment = (
    await post('/v1/evidence', {
      sha256: digest(),
      projectId: DEMO_PROJECT.id,
      kind: 'payment_approval',
      visibility: 'restricted',
      title: fixture.secretTitle,
      amount: fixture.secretAmount,
      milestone: DEMO_PROJECT.milestones[0]!.id,
    })
  ).id!;
  if (options.elsewhereRecord)
    fixture.ids.elsewhere = (
      await post('/v1/evidence', {
        sha256: digest(),
        projectId: fixture.elsewhere.id,
        kind: 'payment_approval',
        visibility: 'restricted',
        title: '青海付款',
        amount: '100',
        milestone: 'm1',
      })
    ).id!;
  return fixture;
}
