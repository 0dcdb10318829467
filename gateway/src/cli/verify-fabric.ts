import {
  canonicalBytes,
  leafHash,
  type Standing,
  standingOf,
  standingVerdict,
  toHex,
  VERDICT_EXIT_CODES,
  verifyBundle,
} from '@lianzheng/proof';
import { LedgerError } from '../ledger/ledger.ts';
import { FabricLedger } from '../ledger/ledger-fabric.ts';
import { CliError, EXIT, type Out } from './common.ts';

// `lianzheng verify FILE --fabric PROFILE --identity DIR`: an inspector checks a record through
// their own organisation's peer, with no gateway involved. The peer is asked for the records of
// that digest (FindByDigest, narrowed to one project with --project), and for each the transaction
// that recorded it (qscc): valid, in which block, endorsed by whom, and the log size and root it
// left, which must be a checkpoint the contract keeps and cover the record's leaf. With --bundle
// and --keys too, the bundle (receipt, inclusion proof, signed checkpoint) is checked offline and
// its ledger step is answered by the peer instead of the gateway.

interface FabricRecord {
  record: { id: string; projectId: string; kind: string; digests: { sha256: string } };
  index: number;
  txId: string;
  supersededBy?: string;
  withdrawnBy?: string;
  flags?: {
    code: string;
    rule?: string;
    detail?: Record<string, unknown>;
    resolvedBy?: string;
    resolvedAt?: string;
  }[];
}

export interface FabricVerifyOptions {
  sha256: string;
  connectionProfile: string;
  identityDir: string;
  mspId?: string;
  channel: string;
  chaincode: string;
  asLocalhost: boolean;
  project?: string;
  bundle?: unknown;
  keys?: { jwks: unknown; checkpointKeys: string[]; tsaRoots?: string[] };
  json: boolean;
}

type Step = { step: string; status: 'pass' | 'fail'; detail: string };

export async function verifyOnFabric(options: FabricVerifyOptions, out: Out): Promise<number> {
  const ledger = new FabricLedger({
    connectionProfile: options.connectionProfile,
    identity: { dir: options.identityDir, ...(options.mspId ? { mspId: options.mspId } : {}) },
    channel: options.channel,
    chaincode: options.chaincode,
    discovery: { enabled: true, asLocalhost: options.asLocalhost },
    attempts: 1,
  });
  try {
    let found: { records: FabricRecord[] };
    try {
      found = await ledger.evaluate<{ records: FabricRecord[] }>(
        'FindByDigest',
        // fabric-shim wants every declared parameter: '' is "every project" (a scan of all batches).
        [options.sha256, options.project ?? ''],
      );
    } catch (error) {
      if (error instanceof LedgerError && error.code === 'LEDGER_UNAVAILABLE')
        throw new CliError(EXIT.NETWORK, `cannot reach the Fabric peer: ${error.message}`);
      throw error;
    }
    if (found.records.length === 0) {
      out.log(
        `${options.sha256}: not on the ledger${options.project ? ` for project ${options.project}` : ''}`,
      );
      return EXIT.VERIFICATION_FAILED;
    }
    let ok = true;
    const results = [];
    const standings: Standing[] = [];
    for (const stored of found.records) {
      const steps = await checkRecord(ledger, stored, options.sha256);
      if (options.bundle !== undefined && options.keys) {
        const bundle = options.bundle as { record?: { id?: string } };
        if (bundle.record?.id === stored.record.id) {
          const v = await verifyBundle(options.bundle, {
            sha256: options.sha256,
            keys: {
              jwks: options.keys.jwks as never,
              checkpointKeys: options.keys.checkpointKeys,
              tsaRoots: options.keys.tsaRoots ?? [],
            },
            getLedgerTx: async (ref) => {
              const tx = await ledger.getTx(ref.txId);
              return tx
                ? { valid: tx.valid, block: tx.block, size: tx.size ?? -1, root: tx.root ?? '' }
                : { valid: false, block: -1, size: -1, root: '' };
            },
          });
          for (const s of v.steps)
            if (s.status !== 'skipped')
              steps.push({ step: `bundle ${s.step}`, status: s.status, detail: s.detail ?? s.code ?? '' });
        }
      }
      const recordOk = steps.every((s) => s.status === 'pass');
      ok &&= recordOk;
      // What the ledger says of the record's standing: a withdrawal or a newer version (their
      // reasons are in those records; GET /v1/evidence/{id} of the gateway shows them).
      const standing = standingOf({ supersededBy: stored.supersededBy, withdrawnBy: stored.withdrawnBy });
      standings.push(standing);
      const verdict = standingVerdict(recordOk, [standing]);
      results.push({ id: stored.record.id, ok: recordOk, verdict, standing, steps });
      if (!options.json) {
        const where = `(${stored.record.kind}, project ${stored.record.projectId}) on Fabric`;
        out.log(
          verdict === 'withdrawn'
            ? `WITHDRAWN ${stored.record.id} ${where}: genuine, but withdrawn by ${stored.withdrawnBy}`
            : verdict === 'superseded'
              ? `SUPERSEDED BY ${stored.supersededBy}: ${stored.record.id} ${where} is genuine, but a newer version replaces it`
              : `${recordOk ? 'VERIFIED' : 'FAILED'} ${stored.record.id} ${where}`,
        );
        if (standing.state !== 'standing')
          out.log(`  NOTE the record stands on the ledger, the document no longer does`);
        for (const s of steps) out.log(`  ${s.status === 'pass' ? 'PASS' : 'FAIL'} ${s.step}: ${s.detail}`);
        for (const f of stored.flags ?? []) {
          const milestone = typeof f.detail?.milestone === 'string' ? ` milestone ${f.detail.milestone}` : '';
          const resolved = f.resolvedBy ? ` — resolved by ${f.resolvedBy} at ${f.resolvedAt ?? '?'}` : '';
          out.log(`  FLAG ${f.rule ?? f.code}${milestone}${resolved}`);
        }
      }
    }
    const verdict = standingVerdict(ok, standings);
    if (options.json) out.log(JSON.stringify({ sha256: options.sha256, ok, verdict, results }, null, 2));
    return VERDICT_EXIT_CODES[verdict];
  } finally {
    await ledger.close();
  }
}

async function checkRecord(ledger: FabricLedger, stored: FabricRecord, sha256: string): Promise<Step[]> {
  const steps: Step[] = [];
  const digestOk = stored.record.digests.sha256 === sha256;
  steps.push({
    step: 'digest',
    status: digestOk ? 'pass' : 'fail',
    detail: digestOk
      ? 'the file is the one the record names'
      : `the record names ${stored.record.digests.sha256}`,
  });
  const leaf = toHex(leafHash(canonicalBytes(stored.record)));
  const tx = await ledger.getTx(stored.txId);
  if (!tx) {
    steps.push({
      step: 'transaction',
      status: 'fail',
      detail: `transaction ${stored.txId} not found on this peer`,
    });
    return steps;
  }
  steps.push({
    step: 'transaction',
    status: tx.valid && tx.fn === 'RecordBatch' ? 'pass' : 'fail',
    detail: `${tx.fn} ${tx.txId} in block ${tx.block}, ${tx.validation}, endorsed by ${tx.endorsers.join(', ') || 'nobody'}`,
  });
  const covers = tx.size !== undefined && stored.index < tx.size;
  steps.push({
    step: 'log',
    status: covers ? 'pass' : 'fail',
    detail: covers
      ? `leaf ${stored.index} (${leaf}) is in the log of size ${tx.size}`
      : `the transaction's log size ${tx.size ?? '?'} does not cover leaf ${stored.index}`,
  });
  if (tx.size !== undefined) {
    const checkpoint = await ledger.getCheckpoint(tx.size);
    const same = checkpoint?.root === tx.root;
    steps.push({
      step: 'checkpoint',
      status: same ? 'pass' : 'fail',
      detail: same
        ? `the contract keeps root ${tx.root} at size ${tx.size}`
        : `the contract's root at size ${tx.size} is ${checkpoint?.root ?? 'missing'}, the transaction's ${tx.root}`,
    });
  }
  return steps;
}
