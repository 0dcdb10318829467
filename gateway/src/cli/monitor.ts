// `lianzheng monitor`: watch a LianZheng log from outside. It follows GET /v1/log/checkpoint,
// checks each new checkpoint's signature (keys read once, at the start) and its consistency with
// the one before (GET /v1/log/proof/consistency, checked here), counts the witnesses' cosignatures,
// and — for a watch list of projects — says when one gets a contract, a payment approval, a
// withdrawal or a rule flag. Alerts go to stdout (one `ALERT <type> <json>` line each) and, with
// --webhook, as a JSON POST. With --state the last checkpoint and what was seen survive a restart.
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  checkWitnessQuorum,
  fromHex,
  parseCheckpoint,
  toBase64,
  verifyCheckpoint,
  verifyConsistency,
} from '@lianzheng/proof';
import { CliError, EXIT, type Out } from './common.ts';

export const MONITOR_HELP = `  lianzheng monitor [--gateway URL] [--watch PROJECT,…] [--webhook URL] [--state FILE] [--interval S] [--once]
      Follow the log: each new checkpoint's signature (keys from /v1/keys at the start), its
      consistency with the previous one (a fork, a rewrite or a shrinking log is an alert) and its
      witness cosignatures; for the watched projects, each new contract, payment approval,
      withdrawal or rule flag. Alerts: one "ALERT <type> <json>" line on stdout each, and a JSON
      POST to --webhook. --state keeps the last checkpoint and what was seen (a restart does not
      alert again, and still checks consistency); the first look only sets the baseline.
      --once: one look, exit 1 if the log's integrity alerted. --interval: seconds (default 30).`;

/** Kinds of record whose arrival on a watched project is an alert. */
const WATCHED_KINDS = new Set(['contract', 'payment_approval', 'withdrawal']);
/** Integrity alerts (exit 1 with --once); the others are news about watched projects. */
const INTEGRITY = new Set([
  'LOG_FORK',
  'LOG_INCONSISTENT',
  'LOG_SHRANK',
  'BAD_CHECKPOINT',
  'BAD_COSIGNATURE',
]);
const MAX_WATCH = 100;
const MAX_PAGES = 100;

interface MonitorState {
  checkpoint?: { size: number; root: string };
  /** Per watched project: record ids and record:flag keys already seen. */
  projects: Record<string, { records: string[]; flags: string[] }>;
}

export interface Alert {
  type: string;
  at: string;
  gateway: string;
  [k: string]: unknown;
}

async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url, {
    signal: AbortSignal.timeout(15_000),
    headers: { accept: 'application/json' },
  });
  if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status}`);
  return res.json();
}

async function readState(file: string | undefined): Promise<MonitorState> {
  if (!file) return { projects: {} };
  try {
    const s = JSON.parse(await fs.readFile(file, 'utf8')) as MonitorState;
    return { projects: s.projects ?? {}, ...(s.checkpoint ? { checkpoint: s.checkpoint } : {}) };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { projects: {} };
    throw new CliError(EXIT.USAGE, `cannot read --state ${file}: ${(e as Error).message}`);
  }
}

async function writeState(file: string | undefined, state: MonitorState): Promise<void> {
  if (!file) return;
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.mkdir(path.dirname(path.resolve(file)), { recursive: true });
  await fs.writeFile(tmp, `${JSON.stringify(state)}\n`, { mode: 0o600 });
  await fs.rename(tmp, file);
}

export async function cmdMonitor(
  args: string[],
  env: Record<string, string | undefined>,
  out: Out,
  gatewayUrl: (value: string | undefined, env: Record<string, string | undefined>) => string,
): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      gateway: { type: 'string' },
      watch: { type: 'string' },
      webhook: { type: 'string' },
      state: { type: 'string' },
      interval: { type: 'string', default: '30' },
      once: { type: 'boolean', default: false },
    },
  });
  const gw = gatewayUrl(values.gateway, env);
  const interval = Number(values.interval);
  if (!Number.isFinite(interval) || interval < 1 || interval > 86_400)
    throw new CliError(EXIT.USAGE, '--interval is 1–86400 seconds');
  const watch = (values.watch ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (watch.length > MAX_WATCH) throw new CliError(EXIT.USAGE, `--watch takes at most ${MAX_WATCH} projects`);
  if (values.webhook) {
    const u = URL.canParse(values.webhook) ? new URL(values.webhook) : undefined;
    if (!u || (u.protocol !== 'https:' && u.protocol !== 'http:'))
      throw new CliError(EXIT.USAGE, '--webhook is an http(s) URL');
  }
  let keys: { checkpointKeys: string[]; witnesses?: { vkey: string }[]; witnessQuorum?: number };
  try {
    keys = (await getJson(`${gw}/v1/keys`)) as typeof keys;
  } catch (e) {
    throw new CliError(EXIT.NETWORK, `cannot read the keys: ${(e as Error).message}`);
  }
  const state = await readState(values.state);
  let integrityAlert = false;

  const alert = async (type: string, details: Record<string, unknown>) => {
    const a: Alert = { type, at: new Date().toISOString(), gateway: gw, ...details };
    if (INTEGRITY.has(type)) integrityAlert = true;
    out.log(`ALERT ${type} ${JSON.stringify(details)}`);
    if (!values.webhook) return;
    try {
      const res = await fetch(values.webhook, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(a),
        signal: AbortSignal.timeout(10_000),
        redirect: 'error',
      });
      if (res.status >= 300) out.error(`monitor: the webhook answered ${res.status} to ${type}`);
    } catch (e) {
      out.error(`monitor: the webhook could not be reached for ${type}: ${(e as Error).message}`);
    }
  };

  const lookAtLog = async () => {
    const res = await fetch(`${gw}/v1/log/checkpoint`, { signal: AbortSignal.timeout(15_000) });
    if (res.status === 404) return; // nothing recorded yet
    if (res.status !== 200) throw new Error(`/v1/log/checkpoint: HTTP ${res.status}`);
    const note = await res.text();
    let size: number;
    let root: Uint8Array;
    try {
      ({ size, rootHash: root } = (await verifyCheckpoint(note, keys.checkpointKeys)).checkpoint);
    } catch (e) {
      await alert('BAD_CHECKPOINT', { reason: (e as Error).message, note });
      return;
    }
    const prev = state.checkpoint;
    const rootB64 = toBase64(root);
    if (prev && size === prev.size && rootB64 === prev.root) return;
    if (prev && size < prev.size) {
      await alert('LOG_SHRANK', { before: prev, now: { size, root: rootB64 }, note });
      return;
    }
    if (prev && size === prev.size) {
      await alert('LOG_FORK', { before: prev, now: { size, root: rootB64 }, note });
      return;
    }
    if (prev && prev.size > 0) {
      const proof = (await getJson(`${gw}/v1/log/proof/consistency?from=${prev.size}&to=${size}`)) as {
        path: string[];
      };
      const ok =
        Array.isArray(proof.path) &&
        verifyConsistency(prev.size, size, proof.path.map(fromHex), Buffer.from(prev.root, 'base64'), root);
      if (!ok) {
        await alert('LOG_INCONSISTENT', { before: prev, now: { size, root: rootB64 }, note });
        return;
      }
    }
    let witnessWords = '';
    if (keys.witnesses?.length) {
      const vkeys = keys.witnesses.map((w) => w.vkey);
      const r = checkWitnessQuorum(note, vkeys, Math.min(keys.witnessQuorum ?? vkeys.length, vkeys.length));
      if (r.invalid.length > 0) await alert('BAD_COSIGNATURE', { witnesses: r.invalid, size });
      witnessWords = `; cosigned by ${r.cosignatures.length} of ${r.of} witnesses (quorum ${r.quorum})`;
    }
    out.log(
      `checkpoint ${size} ${parseCheckpoint(note).origin} ${rootB64}${prev ? `, consistent with ${prev.size}` : ' (baseline)'}${witnessWords}`,
    );
    state.checkpoint = { size, root: rootB64 };
  };

  const lookAtProject = async (projectId: string) => {
    const seen = state.projects[projectId];
    const baseline = seen === undefined;
    const records: { id: string; kind: string; flags?: { code: string }[]; acceptedAt?: string }[] = [];
    let after = '0';
    for (let page = 0; page < MAX_PAGES; page++) {
      const body = (await getJson(
        `${gw}/v1/projects/${encodeURIComponent(projectId)}/records?limit=1000&after=${after}`,
      )) as { records: typeof records; next?: string };
      records.push(...body.records);
      if (!body.next) break;
      after = body.next;
    }
    const s = seen ?? { records: [], flags: [] };
    const ids = new Set(s.records);
    const flags = new Set(s.flags);
    for (const r of records) {
      if (!ids.has(r.id)) {
        ids.add(r.id);
        if (!baseline && WATCHED_KINDS.has(r.kind))
          await alert(`PROJECT_${r.kind.toUpperCase()}`, {
            projectId,
            record: r.id,
            kind: r.kind,
            acceptedAt: r.acceptedAt,
          });
      }
      for (const f of r.flags ?? []) {
        const key = `${r.id}:${f.code}`;
        if (flags.has(key)) continue;
        flags.add(key);
        if (!baseline) await alert('PROJECT_FLAG', { projectId, record: r.id, flag: f.code });
      }
    }
    state.projects[projectId] = { records: [...ids], flags: [...flags] };
    if (baseline) out.log(`watching ${projectId}: ${records.length} records so far (baseline)`);
  };

  const look = async () => {
    try {
      await lookAtLog();
      for (const p of watch) await lookAtProject(p);
      await writeState(values.state, state);
    } catch (e) {
      out.error(`monitor: ${(e as Error).message}`);
      if (values.once) throw new CliError(EXIT.NETWORK, (e as Error).message);
    }
  };

  await look();
  if (values.once) return integrityAlert ? EXIT.VERIFICATION_FAILED : EXIT.OK;
  await new Promise<void>((resolve) => {
    let timer: NodeJS.Timeout;
    const tick = () => {
      timer = setTimeout(() => void look().then(tick), interval * 1000);
    };
    tick();
    const stop = () => {
      clearTimeout(timer);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return EXIT.OK;
}
