// Builds the evidence package (证据包) of one record: a ZIP that a court, an auditor or a
// journalist checks without asking us anything (issue #24). Layout (checks.ts MEMBERS):
//
//   certificate.pdf                 存证证书, zh with en, PAdES B-T signed
//   bundle.json                     the proof bundle (lianzheng-bundle/1)
//   record.tlog-proof               C2SP tlog-proof: index, inclusion proof, signed checkpoint
//   keys/keys.json, trust.json      the keys as GET /v1/keys and /v1/trust.json published them
//   keys/certificates.pem, root.pem the PKI: root, TSA, receipt, checkpoint, document certificates
//   keys/fingerprints.json          SHA-256 of every certificate, key thumbprints
//   ledger/transaction.json         the ledger's answer for the recording transaction
//   ledger/record.json, checkpoint.json   the record and checkpoint as the ledger holds them
//   ledger/block.pb, processed-transaction.pb, endorsements.json   Fabric only (fabric.ts)
//   anchor/anchor.json              the anchor reference and the operator's anchoring identity
//   timestamps/*.tst                every RFC 3161 token, DER
//   tools/verify_tlog_proof.py      the inclusion and checkpoint checks in Python
//   verification-report.html/.pdf  验证意见书: each check, result, standard, commands (PDF signed)
//   manifest.json (+ .jws, .tst)    SHA-256 and SM3 of every file; signed and time-stamped
import { createHash, X509Certificate } from 'node:crypto';
import {
  type AnchorIdentity,
  keyFingerprints,
  type PublishedKeys,
  parseCheckpoint,
  trustOf,
  verifyCheckpointTimestamp,
} from '@lianzheng/proof';
import { renderPdf } from '../documents/render.ts';
import type { DocumentService } from '../documents/service.ts';
import { verifyPdfSignature } from '../documents/verify.ts';
import { type CertificateInput, certificateSpec } from './certificate.ts';
import { checkPackageContents, MEMBERS } from './checks.ts';
import { FABRIC_MEMBERS, fabricEvidenceFiles } from './fabric.ts';
import { fileDigests, MANIFEST_FORMAT, type Manifest, manifestBytes, signManifest } from './manifest.ts';
import { VERIFY_TLOG_PROOF_PY } from './python-tool.ts';
import { type ReportContext, verificationReportHtml, verificationReportSpec } from './report.ts';
import { checkpointWithCosignatures, formatTlogProof, witnessedNote } from './tlog-proof.ts';
import { writeZip } from './zip.ts';

/**
 * What the certificate shows (certificate.ts) but the checkpoint's time-stamp time, which the
 * package reads from the bundle's token itself, and what the package adds around it.
 */
export interface PackageInput extends Omit<CertificateInput, 'checkpointTime'> {
  /** GET /v1/keys as published now (with operatorRoots and the ledger kind). */
  keys: PublishedKeys & { operatorRoots?: string[]; ledger?: string; anchor?: AnchorIdentity | null };
  /** /.well-known/lianzheng/certs.pem */
  certificatesPem: string;
  /** What the ledger answers for the recording transaction, the record and the checkpoint. */
  ledger?: {
    transaction?: unknown;
    record?: unknown;
    checkpoint?: unknown;
    /** Fabric: qscc's raw GetBlockByTxID and GetTransactionByID answers for the recording transaction. */
    fabric?: { block: Uint8Array; processed: Uint8Array };
  };
  restrictedDetails: boolean;
}

const DESCRIPTIONS: Record<string, string> = {
  [MEMBERS.certificate]: '存证证书（PAdES 签名）Evidence certificate, signed PDF',
  [MEMBERS.bundle]: '证明包 Proof bundle (lianzheng-bundle/1)',
  [MEMBERS.tlogProof]: '日志证明 C2SP tlog-proof of the record',
  [MEMBERS.witnessedCheckpoint]:
    "其后联署检查点 A later checkpoint with witnesses' cosignatures, consistent with the record's (bundle.witnessed)",
  [MEMBERS.keys]: '公布的密钥 Published keys (GET /v1/keys)',
  [MEMBERS.trust]: '信任清单 Key fingerprints to pin (GET /v1/trust.json)',
  [MEMBERS.certificates]: '证书 PKI certificates (root, TSA, receipt, checkpoint, document)',
  [MEMBERS.root]: '根证书 The PKI root certificate',
  [MEMBERS.fingerprints]: '指纹 Certificate and key fingerprints',
  [MEMBERS.ledgerTx]: '账本交易 The ledger transaction that recorded the record',
  [MEMBERS.ledgerRecord]: '账本中的记录 The record as the ledger holds it',
  [MEMBERS.ledgerCheckpoint]: '账本中的检查点 The checkpoint as the ledger holds it',
  [FABRIC_MEMBERS.block]: 'Fabric 区块 The raw block holding the transaction (qscc GetBlockByTxID)',
  [FABRIC_MEMBERS.processed]: 'Fabric 交易 The processed transaction (qscc GetTransactionByID)',
  [FABRIC_MEMBERS.endorsements]: 'Fabric 背书 Endorsers, certificates and signatures of the transaction',
  [MEMBERS.anchor]: '公链锚定 The anchor transaction reference',
  [MEMBERS.checkpointToken]: '时间戳 RFC 3161 token over the checkpoint root (DER)',
  [MEMBERS.certificateToken]: "时间戳 RFC 3161 token over the certificate's signature value (DER)",
  [MEMBERS.pythonTool]: '核验脚本 Inclusion and checkpoint check in Python',
  [MEMBERS.report]: '验证意见书 Verification report (HTML)',
  [MEMBERS.reportPdf]: '验证意见书（PAdES 签名）Verification report, signed PDF',
  [MEMBERS.reportToken]: "时间戳 RFC 3161 token over the report PDF's signature value (DER)",
};

const json = (value: unknown) => Buffer.from(`${JSON.stringify(value, null, 2)}\n`, 'utf8');

function fingerprints(input: PackageInput, certificatesPem: string) {
  const certs = [
    ...certificatesPem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g),
  ].map((m) => new X509Certificate(m[0]));
  return {
    certificates: certs.map((c) => ({
      subject: c.subject.replace(/\n/g, ', '),
      issuer: c.issuer.replace(/\n/g, ', '),
      serialNumber: c.serialNumber.toLowerCase(),
      notBefore: new Date(c.validFrom).toISOString(),
      notAfter: new Date(c.validTo).toISOString(),
      sha256: createHash('sha256').update(c.raw).digest('hex'),
    })),
    ...keyFingerprints(input.keys),
  };
}

/** The package, as ZIP bytes. */
export async function buildEvidencePackage(input: PackageInput, documents: DocumentService): Promise<Buffer> {
  const { bundle } = input;
  const roots = documents.rootsPem;
  const files = new Map<string, Buffer>();

  let checkpointTime: string | undefined;
  if (bundle.timestamp && bundle.inclusion) {
    const token = Buffer.from(bundle.timestamp.token, 'base64');
    files.set(MEMBERS.checkpointToken, token);
    // verifyCheckpointTimestamp: the token says its imprint (the root, or SM3 of it under gm).
    const stamp = await verifyCheckpointTimestamp(
      bundle.timestamp.token,
      parseCheckpoint(bundle.inclusion.checkpoint).rootHash,
      roots,
    );
    if (stamp.status === 'pass') checkpointTime = stamp.genTime;
  }

  const pdf = await documents.sign(
    await renderPdf(
      certificateSpec({
        bundle,
        status: input.status,
        standing: input.standing,
        flags: input.flags,
        assurance: input.assurance,
        ...(input.projectName ? { projectName: input.projectName } : {}),
        ...(input.names ? { names: input.names } : {}),
        ...(checkpointTime ? { checkpointTime } : {}),
        generatedAt: input.generatedAt,
        ...(input.gatewayOrigin ? { gatewayOrigin: input.gatewayOrigin } : {}),
      }),
      documents.font,
    ),
    {
      reason: `LianZheng evidence certificate for record ${bundle.record.id}`,
      signingTime: input.generatedAt,
    },
  );
  files.set(MEMBERS.certificate, pdf);
  const pdfCheck = await verifyPdfSignature(pdf, roots);
  if (pdfCheck.timestampToken) files.set(MEMBERS.certificateToken, pdfCheck.timestampToken);

  files.set(MEMBERS.bundle, json(bundle));
  if (bundle.inclusion) {
    // The checkpoint with the witnesses' cosignatures after the log's own lines (#24).
    const inclusion = { ...bundle.inclusion, checkpoint: checkpointWithCosignatures(bundle) };
    files.set(MEMBERS.tlogProof, Buffer.from(formatTlogProof(inclusion), 'utf8'));
  }
  if (bundle.witnessed) {
    // The later checkpoint witnesses cosigned, as a signed note with their lines (#24).
    const note = witnessedNote(bundle.witnessed);
    files.set(MEMBERS.witnessedCheckpoint, Buffer.from(note, 'utf8'));
  }
  files.set(MEMBERS.keys, json(input.keys));
  files.set(MEMBERS.trust, json(trustOf(input.keys)));
  files.set(MEMBERS.certificates, Buffer.from(input.certificatesPem, 'utf8'));
  files.set(MEMBERS.root, Buffer.from(roots.join(''), 'utf8'));
  files.set(MEMBERS.fingerprints, json(fingerprints(input, input.certificatesPem)));
  if (input.ledger?.transaction) files.set(MEMBERS.ledgerTx, json(input.ledger.transaction));
  if (input.ledger?.record) files.set(MEMBERS.ledgerRecord, json(input.ledger.record));
  if (input.ledger?.checkpoint) files.set(MEMBERS.ledgerCheckpoint, json(input.ledger.checkpoint));
  if (input.ledger?.fabric && bundle.ledger)
    for (const [name, data] of fabricEvidenceFiles(bundle.ledger.txId, input.ledger.fabric))
      files.set(name, data);
  if (bundle.anchor)
    files.set(MEMBERS.anchor, json({ anchor: bundle.anchor, identity: input.keys.anchor ?? null }));
  files.set(MEMBERS.pythonTool, Buffer.from(VERIFY_TLOG_PROOF_PY, 'utf8'));

  // The report states what the same checks as verify-package found, against the package's root.
  const checks = await checkPackageContents(files, { roots });
  const reportContext: ReportContext = {
    recordId: bundle.record.id,
    projectId: bundle.record.projectId,
    generatedAt: input.generatedAt,
    restrictedDetails: input.restrictedDetails,
    ...(input.gatewayOrigin ? { gatewayOrigin: input.gatewayOrigin } : {}),
  };
  files.set(MEMBERS.report, Buffer.from(verificationReportHtml(checks, reportContext), 'utf8'));

  // The same opinion as a signed PDF, with its signature's token as a file like the certificate's.
  const reportPdf = await documents.sign(
    await renderPdf(verificationReportSpec(checks, reportContext), documents.font),
    {
      reason: `LianZheng verification report for record ${bundle.record.id}`,
      signingTime: input.generatedAt,
    },
  );
  files.set(MEMBERS.reportPdf, reportPdf);
  const reportCheck = await verifyPdfSignature(reportPdf, roots);
  if (reportCheck.timestampToken) files.set(MEMBERS.reportToken, reportCheck.timestampToken);

  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    recordId: bundle.record.id,
    projectId: bundle.record.projectId,
    generatedAt: input.generatedAt.toISOString(),
    restrictedDetails: input.restrictedDetails,
    ...(input.gatewayOrigin ? { gateway: input.gatewayOrigin } : {}),
    files: [...files].map(([path, data]) => ({
      path,
      ...fileDigests(data),
      description: DESCRIPTIONS[path] ?? path,
    })),
  };
  const manifestJson = manifestBytes(manifest);
  const signer = documents.signer;
  const jws = signManifest(manifestJson, signer.privateKey, [signer.certificate, ...signer.chain]);
  const manifestToken = await signer.tsa.timestamp(createHash('sha256').update(manifestJson).digest(), {
    hashAlgorithm: 'sha256',
    certReq: true,
  });

  return writeZip(
    [
      { name: MEMBERS.manifest, data: manifestJson },
      { name: MEMBERS.manifestJws, data: Buffer.from(`${jws}\n`, 'utf8') },
      { name: MEMBERS.manifestToken, data: Buffer.from(manifestToken) },
      ...[...files].map(([name, data]) => ({ name, data })),
    ],
    input.generatedAt,
  );
}
