// The checks of an evidence package's contents, run the same way by the gateway when it writes
// the 验证意见书 (verification-report.html) and by `lianzheng verify-package` offline. Nothing here
// reads the network: the bundle is checked with proof's verifyBundle against the keys in the
// package (pinned by a trust.json when the reader has one), the ledger step against the ledger
// evidence the package carries, the PDF and every RFC 3161 token against the trusted roots.
import { createHash } from 'node:crypto';
import {
  type checkTrust,
  checkTrustWithRotations,
  fromHex,
  type LedgerRef,
  type ProofBundle,
  parseCheckpoint,
  recordLeafHash,
  type StepResult,
  timestampImprintAlgorithm,
  verifyBundle,
  verifyInclusion,
  verifyTimestampToken,
} from '@lianzheng/proof';
import { verifyPdfSignature } from '../documents/verify.ts';
import { checkFabricEvidence, FABRIC_MEMBERS } from './fabric.ts';
import type { PackageCheck } from './package-check.ts';
import { checkpointWithCosignatures, parseTlogProof, witnessedNote } from './tlog-proof.ts';

export type { CheckStatus, PackageCheck } from './package-check.ts';

/** The package's members by path (see build.ts for the layout). */
export const MEMBERS = {
  certificate: 'certificate.pdf',
  bundle: 'bundle.json',
  tlogProof: 'record.tlog-proof',
  witnessedCheckpoint: 'witnessed-checkpoint.txt',
  keys: 'keys/keys.json',
  trust: 'keys/trust.json',
  certificates: 'keys/certificates.pem',
  root: 'keys/root.pem',
  fingerprints: 'keys/fingerprints.json',
  ledgerTx: 'ledger/transaction.json',
  ledgerRecord: 'ledger/record.json',
  ledgerCheckpoint: 'ledger/checkpoint.json',
  anchor: 'anchor/anchor.json',
  checkpointToken: 'timestamps/checkpoint.tst',
  certificateToken: 'timestamps/certificate-signature.tst',
  report: 'verification-report.html',
  reportPdf: 'verification-report.pdf',
  reportToken: 'timestamps/verification-report-signature.tst',
  pythonTool: 'tools/verify_tlog_proof.py',
  manifest: 'manifest.json',
  manifestJws: 'manifest.jws',
  manifestToken: 'manifest.tst',
} as const;

export interface CheckOptions {
  /** PEM roots trusted for the PDF, the tokens and the manifest (from trust.json or the package). */
  roots: string[];
  /** A trust.json the reader pinned; absent: the package's own keys are used as they are. */
  trust?: unknown;
  /** The document itself, when the reader has it: its SHA-256 (and SM3) are compared. */
  document?: Uint8Array;
}

const STEP_TEXT: Record<string, { zh: string; en: string; standard: string }> = {
  digest: {
    zh: '文件摘要一致',
    en: 'The document matches the record',
    standard: 'FIPS 180-4 SHA-256; GB/T 32905-2016 SM3',
  },
  details: {
    zh: '披露事项与承诺一致',
    en: 'Disclosed details match their commitment',
    standard: 'RFC 8785 JSON canonicalisation, SHA-256',
  },
  leaf: { zh: '日志叶子由记录计算', en: 'The log leaf is the record', standard: 'RFC 9162 §2.1.1 leaf hash' },
  inclusion: {
    zh: '记录包含在日志中',
    en: 'The record is included in the log',
    standard: 'RFC 9162 §2.1.3 inclusion proof',
  },
  checkpoint: {
    zh: '日志检查点签名有效',
    en: 'The checkpoint is signed by the log key',
    standard: 'C2SP signed-note, tlog-checkpoint (Ed25519)',
  },
  receipt: {
    zh: '受理回执签名有效',
    en: 'The receipt is signed by the gateway',
    standard: 'RFC 7515 JWS, ES256 (RFC 7518)',
  },
  ledger: {
    zh: '账本交易记录了同一棵树',
    en: 'The ledger transaction recorded the same tree',
    standard: 'Hyperledger Fabric transaction / embedded ledger batch',
  },
  anchor: {
    zh: '公链锚定',
    en: 'Anchored on a public chain',
    standard: 'EVM event log (Anchored), confirmations',
  },
  timestamp: {
    zh: '检查点可信时间戳',
    en: "The checkpoint's trusted time-stamp",
    standard: 'RFC 3161 / RFC 5816 TimeStampToken',
  },
  witnesses: {
    zh: '见证方联署检查点',
    en: 'Witnesses cosigned the checkpoint',
    standard: 'C2SP tlog-cosignature (cosignature/v1)',
  },
};

function witnessKeys(
  trust: unknown,
  keys: { witnesses?: { vkey: string }[]; witnessQuorum?: number },
): { witnesses?: string[]; witnessQuorum?: number } {
  const pinned = (trust as { witnesses?: unknown; witnessQuorum?: unknown } | undefined) ?? {};
  const list =
    Array.isArray(pinned.witnesses) && pinned.witnesses.every((w) => typeof w === 'string')
      ? (pinned.witnesses as string[])
      : (keys.witnesses ?? []).map((w) => w.vkey);
  if (list.length === 0) return {};
  const q = list === pinned.witnesses ? pinned.witnessQuorum : keys.witnessQuorum;
  return {
    witnesses: list,
    ...(Number.isSafeInteger(q) && (q as number) >= 1 && (q as number) <= list.length
      ? { witnessQuorum: q as number }
      : {}),
  };
}

function fromStep(step: StepResult, commands: string[]): PackageCheck {
  // A step added to verifyBundle later is reported under its own name rather than failing the
  // whole package (an undefined label made every package a 500).
  const t = STEP_TEXT[step.step] ?? { zh: step.step, en: step.step, standard: '' };
  return {
    id: `bundle.${step.step}`,
    ...t,
    status: step.status,
    ...(step.code ? { code: step.code } : {}),
    ...(step.detail ? { detail: step.detail } : {}),
    commands,
  };
}

const json = <T>(files: Map<string, Buffer>, name: string): T | undefined => {
  const data = files.get(name);
  if (!data) return undefined;
  return JSON.parse(data.toString('utf8')) as T;
};

/** Run every content check. Never throws for bad content: a broken member is a failed check. */
export async function checkPackageContents(
  files: Map<string, Buffer>,
  options: CheckOptions,
): Promise<PackageCheck[]> {
  const checks: PackageCheck[] = [];
  const add = (c: PackageCheck) => checks.push(c);
  const failed = (id: string, zh: string, en: string, standard: string, code: string, detail: string) =>
    add({ id, zh, en, standard, status: 'fail', code, detail, commands: [] });

  // Keys: the package's own, compared with the reader's pinned trust.json when there is one.
  let keys: Parameters<typeof checkTrust>[1] & { tsaRoots?: string[] };
  try {
    keys = json(files, MEMBERS.keys) ?? { jwks: { keys: [] }, checkpointKeys: [] };
  } catch (err) {
    failed('keys', '密钥', 'Keys', 'lianzheng-trust/1', 'BAD_KEYS', (err as Error).message);
    return checks;
  }
  if (options.trust !== undefined) {
    // Keys rotated in since the reader's file was saved pass through the package's published
    // rotation statements (keys.json `rotations`), each signed by the key before it.
    const pinned = await checkTrustWithRotations(options.trust, keys);
    add({
      id: 'keys.trust',
      zh: '密钥与信任清单一致',
      en: 'The keys are the ones the reader pinned (trust.json)',
      standard: 'lianzheng-trust/1 (RFC 7638 thumbprints, SHA-256 fingerprints)',
      status: pinned.ok ? 'pass' : 'fail',
      ...(pinned.ok
        ? pinned.followed
          ? { detail: `reached by following ${pinned.followed} signed key rotation(s) from a pinned key` }
          : {}
        : { code: 'KEYS_NOT_PINNED', detail: pinned.differences.join('; ') }),
      commands: ['lianzheng verify-package package.zip --trust trust.json'],
    });
  } else {
    add({
      id: 'keys.trust',
      zh: '未提供信任清单：使用包内密钥',
      en: "No trust.json given: the package's own keys were used",
      standard: 'lianzheng-trust/1',
      status: 'warn',
      code: 'KEYS_UNPINNED',
      detail:
        'fetch GET /v1/trust.json from the operator through a channel you trust (or take it from the court file) and pass --trust',
      commands: ['lianzheng verify-package package.zip --trust trust.json'],
    });
  }

  // The proof bundle, checked offline.
  let bundle: ProofBundle | undefined;
  try {
    bundle = json<ProofBundle>(files, MEMBERS.bundle);
  } catch (err) {
    failed('bundle', '证明包', 'Proof bundle', 'lianzheng-bundle/1', 'BAD_BUNDLE', (err as Error).message);
  }
  const ledgerTx = (() => {
    try {
      return json<{ valid: boolean; block: number; size?: number; root?: string; txId: string }>(
        files,
        MEMBERS.ledgerTx,
      );
    } catch {
      return undefined;
    }
  })();
  if (bundle) {
    const result = await verifyBundle(bundle, {
      keys: {
        jwks: keys.jwks as never,
        checkpointKeys: keys.checkpointKeys,
        tsaRoots: options.roots,
        ...(keys.anchor ? { anchor: keys.anchor as never } : {}),
        // Witness cosignatures (#24), counted against the witnesses the reader's trust.json pins
        // when it pins some (the reader's choice), else those keys.json names.
        ...witnessKeys(options.trust, keys),
      },
      ...(options.document ? { bytes: options.document } : {}),
      ...(options.document ? { sm3: createHash('sm3').update(options.document).digest('hex') } : {}),
      // The ledger's answer as the gateway had it when the package was made (ledger/transaction.json).
      ...(ledgerTx
        ? {
            getLedgerTx: async (ref: LedgerRef) => {
              if (ref.txId !== ledgerTx.txId) return { valid: false, block: -1, size: -1, root: '' };
              return {
                valid: ledgerTx.valid,
                block: ledgerTx.block,
                size: ledgerTx.size ?? -1,
                root: ledgerTx.root ?? '',
              };
            },
          }
        : {}),
    });
    const root = bundle.inclusion ? parseCheckpointSafe(bundle.inclusion.checkpoint) : undefined;
    const commandsFor: Record<string, string[]> = {
      digest: [
        `sha256sum YOUR-DOCUMENT   # expect ${bundle.record?.digests?.sha256 ?? '?'}`,
        ...(bundle.record?.digests?.sm3
          ? [`openssl dgst -sm3 YOUR-DOCUMENT   # expect ${bundle.record.digests.sm3}`]
          : []),
        'lianzheng verify-package package.zip --file YOUR-DOCUMENT',
      ],
      leaf: [`python3 ${MEMBERS.pythonTool} ${MEMBERS.tlogProof} ${MEMBERS.bundle}`],
      inclusion: [`python3 ${MEMBERS.pythonTool} ${MEMBERS.tlogProof} ${MEMBERS.bundle}`],
      checkpoint: [`python3 ${MEMBERS.pythonTool} ${MEMBERS.tlogProof} ${MEMBERS.bundle} ${MEMBERS.keys}`],
      receipt: [
        "python3 -c \"import json,jwt; b=json.load(open('bundle.json')); r=b['receipt'].split('~')[0]; kid=jwt.get_unverified_header(r).get('kid'); k=[k for k in json.load(open('keys/keys.json'))['jwks']['keys'] if k.get('kid')==kid][0]; print(jwt.decode(r, jwt.PyJWK(k).key, algorithms=['ES256'], options={'verify_aud': False}))\"",
      ],
      ledger: [`cat ${MEMBERS.ledgerTx}   # txId, block, size and root as the ledger answered`],
      anchor: ['lianzheng verify RECORD-ID --rpc YOUR-ETHEREUM-NODE   # reads the anchor from the chain'],
      // OpenSSL verifies the ECDSA token over the root; of an SM3 (GM/T 0033) token over SM3 of
      // the root it only parses (docs/gm-crypto.md: its PKCS#7 path has no SM2 Z value).
      timestamp:
        bundle.timestamp && timestampImprintAlgorithm(Buffer.from(bundle.timestamp.token, 'base64')) === 'sm3'
          ? [
              `openssl ts -reply -in ${MEMBERS.checkpointToken} -token_in -text   # SM3 imprint: SM3 of the root`,
            ]
          : [
              `openssl ts -verify -digest ${root ? Buffer.from(root.rootHash).toString('hex') : 'ROOT-HEX'} -in ${MEMBERS.checkpointToken} -token_in -CAfile ${MEMBERS.root}`,
            ],
      details: [],
    };
    for (const step of result.steps) {
      // verify-package reads no chain: an anchor is reported, not confirmed (see commands).
      if (step.step === 'anchor' && step.status === 'skipped' && bundle.anchor) {
        add({
          ...fromStep(step, commandsFor.anchor!),
          status: 'warn',
          detail: 'anchored (bundle.anchor); confirm on the chain with the command',
        });
        continue;
      }
      // Witnesses counted through a later checkpoint (bundle.witnessed): the check says so.
      if (step.step === 'witnesses' && bundle.witnessed !== undefined) {
        add({
          ...fromStep(step, [`cat ${MEMBERS.witnessedCheckpoint}`]),
          zh: '见证方联署检查点（含其后经一致性证明与本记录检查点相连的检查点）',
          en: "Witnesses cosigned the checkpoint, or a later one consistent with the record's",
          standard: 'C2SP tlog-cosignature (cosignature/v1); RFC 9162 §2.1.4 consistency proof',
        });
        continue;
      }
      add(fromStep(step, commandsFor[step.step] ?? []));
    }

    // On Fabric: the raw block and processed transaction hold the recording transaction and its
    // endorsement signatures (fabric.ts); checked when the package carries them.
    if (files.has(FABRIC_MEMBERS.block) || files.has(FABRIC_MEMBERS.processed)) {
      checks.push(
        ...checkFabricEvidence(files, {
          txId: bundle.ledger?.txId ?? '',
          ...(bundle.ledger ? { block: bundle.ledger.block } : {}),
          ...(bundle.ledger?.endorsers ? { endorsers: bundle.ledger.endorsers } : {}),
        }),
      );
    }

    // The tlog-proof says what the bundle says, and proves inclusion on its own.
    const text = files.get(MEMBERS.tlogProof)?.toString('utf8');
    const tlogCheck: PackageCheck = {
      id: 'tlog-proof',
      zh: 'C2SP 日志证明文件',
      en: 'The C2SP tlog-proof file',
      standard: 'C2SP tlog-proof v1; RFC 9162 inclusion',
      status: 'pass',
      commands: [`python3 ${MEMBERS.pythonTool} ${MEMBERS.tlogProof} ${MEMBERS.bundle}`],
    };
    try {
      if (!bundle.inclusion) {
        Object.assign(tlogCheck, {
          status: 'skipped',
          code: 'NOT_RECORDED',
          detail: 'the record is not in the log yet',
        });
      } else {
        if (text === undefined) throw new Error('missing');
        const proof = parseTlogProof(text);
        const cp = parseCheckpoint(proof.checkpoint);
        if (proof.checkpoint !== checkpointWithCosignatures(bundle))
          throw new Error("its checkpoint is not the bundle's");
        if (proof.index !== bundle.inclusion.index) throw new Error("its index is not the bundle's");
        const ok = verifyInclusion(
          recordLeafHash(bundle.record),
          proof.index,
          cp.size,
          proof.path.map((h) => fromHex(h)),
          cp.rootHash,
        );
        if (!ok) throw new Error('the inclusion proof does not lead to the checkpoint root');
        tlogCheck.detail = `leaf ${proof.index} of ${cp.size}, ${cp.origin}`;
      }
    } catch (err) {
      Object.assign(tlogCheck, {
        status: 'fail',
        code: 'TLOG_PROOF_INVALID',
        detail: (err as Error).message,
      });
    }
    add(tlogCheck);

    // The later cosigned checkpoint as a file (C2SP signed note with the witnesses' lines), for
    // note tools; the same as bundle.witnessed, whose consistency proof the witnesses step checked.
    if (bundle.witnessed !== undefined) {
      const file = files.get(MEMBERS.witnessedCheckpoint)?.toString('utf8');
      const same = file !== undefined && file === witnessedNote(bundle.witnessed);
      add({
        id: 'witnessed-checkpoint',
        zh: '其后联署检查点文件与证明包一致',
        en: `${MEMBERS.witnessedCheckpoint} is the bundle's witnessed checkpoint`,
        standard: 'C2SP signed-note, tlog-cosignature',
        status: same ? 'pass' : 'fail',
        ...(same
          ? {}
          : {
              code: 'WITNESSED_FILE_MISMATCH',
              detail: `${MEMBERS.witnessedCheckpoint} differs from bundle.witnessed (or is missing)`,
            }),
        commands: [`cat ${MEMBERS.witnessedCheckpoint}`],
      });
    }

    // The checkpoint token as a file: the same token the bundle carries, for openssl ts.
    const tokenFile = files.get(MEMBERS.checkpointToken);
    if (bundle.timestamp) {
      const same = tokenFile?.equals(Buffer.from(bundle.timestamp.token, 'base64'));
      add({
        id: 'timestamps.checkpoint-file',
        zh: '检查点时间戳文件与证明包一致',
        en: "timestamps/checkpoint.tst is the bundle's token",
        standard: 'RFC 3161 (DER)',
        status: same ? 'pass' : 'fail',
        ...(same
          ? {}
          : {
              code: 'TOKEN_MISMATCH',
              detail: `${MEMBERS.checkpointToken} differs from bundle.timestamp.token`,
            }),
        commands: [`openssl ts -reply -in ${MEMBERS.checkpointToken} -token_in -text`],
      });
    }
  }

  // The signed PDFs' PAdES signatures, and their time-stamp tokens as files. The certificate is
  // required; the report PDF is checked when present (the gateway writes it after these checks).
  const pdfs = [
    {
      id: 'certificate',
      file: MEMBERS.certificate,
      token: MEMBERS.certificateToken,
      zh: '存证证书',
      en: 'The certificate PDF',
      required: true,
    },
    {
      id: 'report',
      file: MEMBERS.reportPdf,
      token: MEMBERS.reportToken,
      zh: '验证意见书',
      en: 'The verification report PDF',
      required: false,
    },
  ];
  for (const d of pdfs) {
    const pdf = files.get(d.file);
    if (!pdf) {
      if (d.required)
        failed(
          `${d.id}.signature`,
          `${d.zh}签名`,
          `${d.en}'s signature`,
          'ETSI EN 319 142-1 PAdES B-T',
          'MISSING',
          `${d.file} is missing`,
        );
      continue;
    }
    const sig = await verifyPdfSignature(pdf, options.roots);
    add({
      id: `${d.id}.signature`,
      zh: `${d.zh}电子签名（含时间戳）`,
      en: `${d.en} is signed and time-stamped (PAdES B-T)`,
      standard: 'ETSI EN 319 142-1 PAdES baseline B-T; RFC 5652 CMS; RFC 3161',
      status: sig.ok ? 'pass' : 'fail',
      ...(sig.ok
        ? { detail: `signed by ${sig.signer}, time-stamped ${sig.timestamp}` }
        : { code: sig.code, detail: sig.detail }),
      commands: [
        `mkdir -p nss && certutil -N -d sql:nss --empty-password && certutil -A -d sql:nss -n lianzheng-root -t CT,C,C -i ${MEMBERS.root}; pdfsig -nssdir sql:nss ${d.file}`,
        ...(sig.signatureValueSha256
          ? [
              `openssl ts -verify -digest ${sig.signatureValueSha256} -in ${d.token} -token_in -CAfile ${MEMBERS.root}`,
            ]
          : []),
      ],
    });
    if (sig.timestampToken) {
      const same = files.get(d.token)?.equals(sig.timestampToken);
      add({
        id: `timestamps.${d.id}-file`,
        zh: `${d.zh}签名时间戳文件与文件内一致`,
        en: `${d.token} is the token inside ${d.file}`,
        standard: 'RFC 3161 (DER)',
        status: same ? 'pass' : 'fail',
        ...(same ? {} : { code: 'TOKEN_MISMATCH', detail: `${d.token} differs from the PDF's token` }),
        commands: [`openssl ts -reply -in ${d.token} -token_in -text`],
      });
    }
  }
  return checks;
}

function parseCheckpointSafe(note: string) {
  try {
    return parseCheckpoint(note);
  } catch {
    return undefined;
  }
}

/** An RFC 3161 token over `imprint`, checked against the roots (for manifest.tst). */
export async function checkToken(token: Uint8Array, imprint: Uint8Array, roots: string[]) {
  return verifyTimestampToken(token, imprint, roots);
}
