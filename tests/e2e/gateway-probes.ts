// What the anchoring end-to-end tests ask a running gateway (tests/e2e/readme-gateway.ts): a
// notice submitted through the API, a record's status, /readyz, and the anchoring series of
// /metrics scraped as Prometheus would. Shared by gateway-anchored and anchor-outage. Not a test
// file itself.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { type ProofBundle, sha256, toHex } from '@lianzheng/proof';
import { issueDevToken, loadDevIssuerKey } from '../../gateway/src/auth/dev-issuer.ts';
import { DEMO_PROJECT } from '../../gateway/src/cli/demo.ts';
import type { ReadmeGateway } from './readme-gateway.ts';

export interface Submitted {
  id: string;
  digest: string;
  /** The HTTP status of the POST (202 when accepted; `id` is empty otherwise). */
  status: number;
}

/** POSTs a public notice of a fresh random document to the demo project as its owner. */
export async function submitNotice(gateway: ReadmeGateway, title: string): Promise<Submitted> {
  const token = await gateway.unitToken();
  const digest = toHex(sha256(randomBytes(64)));
  const res = await fetch(`${gateway.base}/v1/evidence`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      projectId: DEMO_PROJECT.id,
      kind: 'notice',
      visibility: 'public',
      sha256: digest,
      title,
    }),
  });
  const body = (await res.json().catch(() => ({}))) as { id?: string };
  return { id: body.id ?? '', digest, status: res.status };
}

/** The record as GET /v1/verify/{digest} shows it to the public: its status and bundle. */
export async function recordOf(
  base: string,
  digest: string,
  id: string,
): Promise<{ id: string; status: string; bundle: ProofBundle } | undefined> {
  const res = await fetch(`${base}/v1/verify/${digest}`);
  const body = (await res.json()) as { records?: { id: string; status: string; bundle: ProofBundle }[] };
  return body.records?.find((r) => r.id === id);
}

export async function statusOf(base: string, digest: string, id: string): Promise<string | undefined> {
  return (await recordOf(base, digest, id))?.status;
}

/**
 * The gateway's `lianzheng_anchor_*` series (labels summed), scraped as Prometheus does (an
 * admin bearer token).
 */
export async function anchorMetrics(gateway: ReadmeGateway): Promise<Record<string, number>> {
  const token = await issueDevToken(await loadDevIssuerKey(path.join(gateway.dataDir, 'keys')), {
    role: 'admin',
    subject: 'prometheus',
    audience: 'lianzheng',
  });
  const res = await fetch(`${gateway.base}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  const values: Record<string, number> = {};
  for (const line of (await res.text()).split('\n')) {
    const m = /^(lianzheng_anchor_[a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m) values[m[1]!] = (values[m[1]!] ?? 0) + Number(m[3]);
  }
  return values;
}

export interface Readyz {
  status: number;
  body: { ready: boolean; degraded?: string[]; checks: { anchor?: { ok: boolean; reason?: string } } };
}

export async function readyz(base: string): Promise<Readyz> {
  const res = await fetch(`${base}/readyz`);
  return { status: res.status, body: (await res.json()) as Readyz['body'] };
}
