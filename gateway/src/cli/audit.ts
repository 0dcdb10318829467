import fs from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { JSONWebKeySet } from '@lianzheng/proof';
import { type AuditReport, auditDatabase } from '../audit/audit.ts';
import { fabricLedgerSource } from '../audit/ledger-source-fabric.ts';
import { ConfigError, loadConfig } from '../config.ts';
import { KeyRing } from '../keys/key-ring.ts';
import { createLedger } from '../ledger/index.ts';
import type { FabricLedger } from '../ledger/ledger-fabric.ts';
import { createPool, embeddedPostgresDir } from '../storage/db-plugin.ts';
import { startEmbeddedPostgres } from '../storage/embedded-postgres.ts';

/** `lianzheng audit` exit codes: 0 clean, 1 differences found, 2 usage/config, 3 database unreachable. */
export const AUDIT_EXIT = { CLEAN: 0, DIFFERENCES: 1, USAGE: 2, UNREACHABLE: 3 } as const;

export const AUDIT_HELP = `  lianzheng audit [--replay] [--json] [--skip-receipt-signatures] [--max-differences N] [--database-url URL]
      Reconcile PostgreSQL with the ledger: every record (digest, leaf hash, leaf order), every
      checkpoint (root recomputed from the leaves, signature), the ledger's records, checkpoints
      and blocks; --replay also re-runs every block through the contract (data hashes, world state).
      With LEDGER=fabric (and the FABRIC_* settings) the ledger is read through the gateway's own
      organisation's peer: the contract's log batch by batch and each batch's transaction (qscc).
      Prints each difference with its code. Exit 0 clean, 1 differences, 3 no database.`;

type Out = { log(s: string): void; error(s: string): void };

/** Keys for the signature checks, only if the data folder has them (never generate new ones). */
export async function loadAuditKeys(keysDir: string, logOrigin: string) {
  try {
    await fs.access(path.join(keysDir, 'checkpoint-key.json'));
    await fs.access(path.join(keysDir, 'receipt-keys.json'));
  } catch {
    return undefined;
  }
  const ring = await KeyRing.load(keysDir, { logOrigin });
  return { checkpointKeys: ring.checkpointKeys(), jwks: ring.jwks() as unknown as JSONWebKeySet };
}

export function formatAuditReport(report: AuditReport): string {
  const lines: string[] = [];
  const c = report.counts;
  lines.push(
    `audited ${c.submissions} submissions (${c.recorded} recorded), ${c.leaves} leaves, ${c.batches} batches, ` +
      `${c.checkpoints} checkpoints, ${c.ledgerRecords} ledger records, ${c.blocks} blocks`,
  );
  if (report.inFlight) lines.push(`in flight: batch ${report.inFlight.fromSize}..${report.inFlight.toSize}`);
  for (const s of report.skipped) lines.push(`not checked: ${s}`);
  for (const d of report.differences) lines.push(`${d.code}\t${d.subject}\t${d.detail}`);
  if (report.omitted > 0) lines.push(`… and ${report.omitted} more differences`);
  lines.push(report.ok ? 'clean' : `${report.differences.length + report.omitted} differences`);
  return lines.join('\n');
}

export async function cmdAudit(
  args: string[],
  env: Record<string, string | undefined>,
  out: Out,
): Promise<number> {
  let values: {
    replay?: boolean;
    json?: boolean;
    'skip-receipt-signatures'?: boolean;
    'max-differences'?: string;
    'database-url'?: string;
  };
  try {
    ({ values } = parseArgs({
      args,
      options: {
        replay: { type: 'boolean' },
        json: { type: 'boolean' },
        'skip-receipt-signatures': { type: 'boolean' },
        'max-differences': { type: 'string' },
        'database-url': { type: 'string' },
      },
    }));
  } catch (e) {
    out.error(`lianzheng audit: ${(e as Error).message}`);
    return AUDIT_EXIT.USAGE;
  }
  const max = values['max-differences'] === undefined ? 1000 : Number(values['max-differences']);
  if (!Number.isSafeInteger(max) || max < 1) {
    out.error('lianzheng audit: --max-differences must be a positive integer');
    return AUDIT_EXIT.USAGE;
  }
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig({
      ...env,
      ...(values['database-url'] ? { DATABASE_URL: values['database-url'] } : {}),
    });
  } catch (e) {
    if (e instanceof ConfigError) {
      out.error(`lianzheng audit: configuration error: ${e.message}`);
      return AUDIT_EXIT.USAGE;
    }
    throw e;
  }
  let stop: (() => Promise<void>) | undefined;
  let url = config.databaseUrl;
  let pool: ReturnType<typeof createPool> | undefined;
  try {
    if (!url) {
      // The gateway's own PostgreSQL: adopted if it is running, started (and stopped) otherwise.
      const server = await startEmbeddedPostgres({ dir: embeddedPostgresDir(config) });
      url = server.url;
      if (!server.adopted) stop = () => server.stop();
    }
    pool = createPool(url, config);
    await pool.query('select 1');
  } catch (e) {
    out.error(`lianzheng audit: cannot reach the database: ${(e as Error).message}`);
    await pool?.end().catch(() => {});
    await stop?.().catch(() => {});
    return AUDIT_EXIT.UNREACHABLE;
  }
  // LEDGER=fabric: the ledger is the channel, read through our own organisation's peer.
  const fabric = config.ledger === 'fabric' ? (createLedger(config, pool) as FabricLedger) : undefined;
  try {
    const keys = await loadAuditKeys(config.keysDir, config.logOrigin);
    const report = await auditDatabase(pool, {
      checkpointKeys: keys?.checkpointKeys,
      jwks: values['skip-receipt-signatures'] ? undefined : keys?.jwks,
      maxDifferences: max,
      replay: values.replay === true,
      ...(fabric ? { ledger: fabricLedgerSource(fabric) } : {}),
    });
    out.log(values.json ? JSON.stringify(report, null, 2) : formatAuditReport(report));
    return report.ok ? AUDIT_EXIT.CLEAN : AUDIT_EXIT.DIFFERENCES;
  } finally {
    await fabric?.close().catch(() => {});
    await pool.end().catch(() => {});
    await stop?.().catch(() => {});
  }
}
