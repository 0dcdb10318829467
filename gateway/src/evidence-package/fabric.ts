// Fabric's own evidence for the recording transaction (issue #24): the raw block that holds it
// (qscc GetBlockByTxID), the processed transaction (qscc GetTransactionByID) and its endorsements.
// The package carries the raw bytes so that an appraiser can re-read them with Fabric's own tools
// (`configtxlator proto_decode --type common.Block`), and verify-package checks them offline:
//   - the block's header data_hash is SHA-256 over its data entries joined (Fabric 2.5
//     protoutil.BlockDataHash: sha256.Sum256(bytes.Join(b.Data, nil)));
//   - the envelope with the bundle's txId is in the block and is the processed transaction, and
//     the block's transaction filter gives it the processed transaction's validation code;
//   - each endorsement's ECDSA signature over proposal_response_payload ‖ endorser verifies with
//     the endorser certificate's key (what a peer's validation system chaincode checks);
//   - the endorsers' MSP ids are those the bundle names.
// What this does NOT prove: that the endorser certificates chain to the organisations' CAs (the
// channel configuration is not in the package) or that the block is on the channel's chain (its
// previous_hash is not followed) — `lianzheng verify --fabric` against an inspector's own peer does.
import { createHash, verify, X509Certificate } from 'node:crypto';
import fabprotos from 'fabric-protos';
import type { PackageCheck } from './package-check.ts';

export const FABRIC_MEMBERS = {
  block: 'ledger/block.pb',
  processed: 'ledger/processed-transaction.pb',
  endorsements: 'ledger/endorsements.json',
} as const;

// The decoders fabric-protos (protobufjs, static bundle) gives; typed here to the fields we read.
interface Decoder<T> {
  decode(bytes: Uint8Array): T;
}
interface Envelope {
  payload: Uint8Array;
  signature: Uint8Array;
}
interface Block {
  header: { number: unknown; data_hash: Uint8Array } | null;
  data: { data: Uint8Array[] } | null;
  metadata: { metadata: Uint8Array[] } | null;
}
const P = fabprotos as unknown as {
  common: {
    Block: Decoder<Block>;
    Envelope: Decoder<Envelope>;
    Payload: Decoder<{ header: { channel_header: Uint8Array } | null; data: Uint8Array }>;
    ChannelHeader: Decoder<{ tx_id: string; type: number }>;
  };
  protos: {
    ProcessedTransaction: Decoder<{ transactionEnvelope: Envelope | null; validationCode: number }>;
    Transaction: Decoder<{ actions: { payload: Uint8Array }[] }>;
    ChaincodeActionPayload: Decoder<{
      action: {
        proposal_response_payload: Uint8Array;
        endorsements: { endorser: Uint8Array; signature: Uint8Array }[];
      } | null;
    }>;
  };
  msp: { SerializedIdentity: Decoder<{ mspid: string; id_bytes: Uint8Array }> };
};

/** Fabric's TxValidationCode names (peer/transaction.proto) for the codes a transaction can get. */
const VALIDATION_CODES: Record<number, string> = {
  0: 'VALID',
  1: 'NIL_ENVELOPE',
  2: 'BAD_PAYLOAD',
  3: 'BAD_COMMON_HEADER',
  4: 'BAD_CREATOR_SIGNATURE',
  5: 'INVALID_ENDORSER_TRANSACTION',
  6: 'INVALID_CONFIG_TRANSACTION',
  7: 'UNSUPPORTED_TX_PAYLOAD',
  8: 'BAD_PROPOSAL_TXID',
  9: 'DUPLICATE_TXID',
  10: 'ENDORSEMENT_POLICY_FAILURE',
  11: 'MVCC_READ_CONFLICT',
  12: 'PHANTOM_READ_CONFLICT',
  13: 'UNKNOWN_TX_TYPE',
  14: 'TARGET_CHAIN_NOT_FOUND',
  15: 'MARSHAL_TX_ERROR',
  16: 'NIL_TXACTION',
  17: 'EXPIRED_CHAINCODE',
  18: 'CHAINCODE_VERSION_CONFLICT',
  19: 'BAD_HEADER_EXTENSION',
  20: 'BAD_CHANNEL_HEADER',
  21: 'BAD_RESPONSE_PAYLOAD',
  22: 'BAD_RWSET',
  23: 'ILLEGAL_WRITESET',
  24: 'INVALID_WRITESET',
  25: 'INVALID_CHAINCODE',
  254: 'NOT_VALIDATED',
  255: 'INVALID_OTHER_REASON',
};
const codeName = (code: number) => VALIDATION_CODES[code] ?? `CODE_${code}`;

/** common.BlockMetadataIndex.TRANSACTIONS_FILTER: one validation code byte per data entry. */
const TRANSACTIONS_FILTER = 2;

export interface Endorsement {
  mspId: string;
  certificate: string;
  signature: string;
}

export interface EndorsementsFile {
  txId: string;
  block: number;
  validation: string;
  endorsements: Endorsement[];
}

export interface DecodedFabricTx {
  block: Block;
  number: number;
  /** The index of the transaction's envelope among the block's data entries. */
  index: number;
  envelope: Envelope;
  proposalResponsePayload: Uint8Array;
  endorsements: { mspId: string; certificate: string; endorser: Uint8Array; signature: Uint8Array }[];
}

const eq = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

/** Finds the transaction `txId` in a block and decodes its (single) chaincode action's endorsements. */
export function decodeFabricTx(blockBytes: Uint8Array, txId: string): DecodedFabricTx {
  const block = P.common.Block.decode(blockBytes);
  const entries = block.data?.data ?? [];
  const number = Number(String(block.header?.number ?? 0));
  for (let index = 0; index < entries.length; index++) {
    let envelope: Envelope;
    let payload: ReturnType<typeof P.common.Payload.decode>;
    try {
      envelope = P.common.Envelope.decode(entries[index]!);
      payload = P.common.Payload.decode(envelope.payload);
      if (!payload.header) continue;
      if (P.common.ChannelHeader.decode(payload.header.channel_header).tx_id !== txId) continue;
    } catch {
      continue; // another entry that does not decode is not the one sought; the data hash covers it
    }
    const tx = P.protos.Transaction.decode(payload.data);
    const first = tx.actions[0];
    if (!first) throw new Error(`transaction ${txId} has no action`);
    const action = P.protos.ChaincodeActionPayload.decode(first.payload).action;
    if (!action) throw new Error(`transaction ${txId} has no endorsed action`);
    return {
      block,
      number,
      index,
      envelope,
      proposalResponsePayload: action.proposal_response_payload,
      endorsements: action.endorsements.map((e) => {
        const id = P.msp.SerializedIdentity.decode(e.endorser);
        return {
          mspId: id.mspid,
          certificate: Buffer.from(id.id_bytes).toString('utf8'),
          endorser: e.endorser,
          signature: e.signature,
        };
      }),
    };
  }
  throw new Error(`transaction ${txId} is not in block ${number}`);
}

/** The package's ledger/*.pb and endorsements.json for a transaction, from qscc's raw answers. */
export function fabricEvidenceFiles(
  txId: string,
  raw: { block: Uint8Array; processed: Uint8Array },
): Map<string, Buffer> {
  const decoded = decodeFabricTx(raw.block, txId);
  const processed = P.protos.ProcessedTransaction.decode(raw.processed);
  const file: EndorsementsFile = {
    txId,
    block: decoded.number,
    validation: codeName(processed.validationCode),
    endorsements: decoded.endorsements.map((e) => ({
      mspId: e.mspId,
      certificate: e.certificate,
      signature: Buffer.from(e.signature).toString('hex'),
    })),
  };
  return new Map([
    [FABRIC_MEMBERS.block, Buffer.from(raw.block)],
    [FABRIC_MEMBERS.processed, Buffer.from(raw.processed)],
    [FABRIC_MEMBERS.endorsements, Buffer.from(`${JSON.stringify(file, null, 2)}\n`, 'utf8')],
  ]);
}

const STANDARD = 'Hyperledger Fabric 2.5 common.Block / peer.ProcessedTransaction; ECDSA P-256 SHA-256';
const COMMANDS = [
  `configtxlator proto_decode --type common.Block --input ${FABRIC_MEMBERS.block}`,
  `configtxlator proto_decode --type protos.ProcessedTransaction --input ${FABRIC_MEMBERS.processed}`,
];

/**
 * The offline checks of Fabric's evidence (see the top of this file); one PackageCheck each,
 * `fabric.*`. `expected` is what the bundle says: the transaction id, its block and endorsers.
 */
export function checkFabricEvidence(
  files: Map<string, Buffer>,
  expected: { txId: string; block?: number; endorsers?: string[] },
): PackageCheck[] {
  const checks: PackageCheck[] = [];
  const check = (id: string, zh: string, en: string, problem: { code: string; detail: string } | string) =>
    checks.push({
      id,
      zh,
      en,
      standard: STANDARD,
      ...(typeof problem === 'string'
        ? { status: 'pass' as const, detail: problem }
        : { status: 'fail' as const, code: problem.code, detail: problem.detail }),
      commands: COMMANDS,
    });
  const blockBytes = files.get(FABRIC_MEMBERS.block);
  const processedBytes = files.get(FABRIC_MEMBERS.processed);
  if (!blockBytes || !processedBytes) {
    check('fabric.block', 'Fabric 区块', 'The Fabric block', {
      code: 'FABRIC_EVIDENCE_MISSING',
      detail: `${FABRIC_MEMBERS.block} and ${FABRIC_MEMBERS.processed} go together; one is missing`,
    });
    return checks;
  }
  let tx: DecodedFabricTx;
  try {
    tx = decodeFabricTx(blockBytes, expected.txId);
  } catch (err) {
    check('fabric.block', 'Fabric 区块', 'The Fabric block holds the transaction', {
      code: 'FABRIC_TX_NOT_IN_BLOCK',
      detail: (err as Error).message,
    });
    return checks;
  }

  // The header's data_hash commits to every transaction in the block (protoutil.BlockDataHash).
  const dataHash = createHash('sha256')
    .update(Buffer.concat((tx.block.data?.data ?? []).map((d) => Buffer.from(d))))
    .digest();
  const headerHash = Buffer.from(tx.block.header?.data_hash ?? []);
  check(
    'fabric.block.data-hash',
    'Fabric 区块数据哈希',
    "The block's data hash matches its transactions (header data_hash)",
    dataHash.equals(headerHash)
      ? `block ${tx.number}: data_hash ${headerHash.toString('hex')}`
      : {
          code: 'FABRIC_DATA_HASH_MISMATCH',
          detail: `block ${tx.number}: SHA-256 of its data is ${dataHash.toString('hex')}, the header says ${headerHash.toString('hex')}`,
        },
  );

  // The block holds the transaction, and it is the processed transaction qscc answered.
  let problem: { code: string; detail: string } | undefined;
  try {
    const processed = P.protos.ProcessedTransaction.decode(processedBytes);
    const env = processed.transactionEnvelope;
    const filter = tx.block.metadata?.metadata[TRANSACTIONS_FILTER];
    if (!env || !eq(env.payload, tx.envelope.payload) || !eq(env.signature, tx.envelope.signature))
      problem = {
        code: 'FABRIC_PROCESSED_TX_MISMATCH',
        detail: `${FABRIC_MEMBERS.processed} is not the envelope of ${expected.txId} in block ${tx.number}`,
      };
    else if (!filter || filter[tx.index] !== processed.validationCode)
      problem = {
        code: 'FABRIC_VALIDATION_MISMATCH',
        detail: `the block's transaction filter gives ${filter ? codeName(filter[tx.index] ?? -1) : 'nothing'}, the processed transaction ${codeName(processed.validationCode)}`,
      };
    else if (expected.block !== undefined && expected.block !== tx.number)
      problem = {
        code: 'FABRIC_BLOCK_MISMATCH',
        detail: `the bundle says block ${expected.block}, the block is ${tx.number}`,
      };
    else if (processed.validationCode !== 0)
      problem = {
        code: 'FABRIC_TX_INVALID',
        detail: `the transaction was invalidated: ${codeName(processed.validationCode)}`,
      };
  } catch (err) {
    problem = { code: 'FABRIC_PROCESSED_TX_MALFORMED', detail: (err as Error).message };
  }
  check(
    'fabric.transaction',
    'Fabric 交易在区块中且有效',
    'The block holds the transaction, valid, and it is the processed transaction',
    problem ?? `${expected.txId} is entry ${tx.index} of block ${tx.number}, VALID`,
  );

  // Each endorsement: ECDSA over proposal_response_payload ‖ endorser (serialized identity).
  const bad: string[] = [];
  for (const [i, e] of tx.endorsements.entries()) {
    try {
      const key = new X509Certificate(e.certificate).publicKey;
      const signed = Buffer.concat([Buffer.from(tx.proposalResponsePayload), Buffer.from(e.endorser)]);
      if (!verify('sha256', signed, key, Buffer.from(e.signature)))
        bad.push(`#${i} ${e.mspId}: bad signature`);
    } catch (err) {
      bad.push(`#${i} ${e.mspId}: ${(err as Error).message}`);
    }
  }
  check(
    'fabric.endorsements',
    'Fabric 背书签名',
    "Every endorsement's signature verifies with its endorser's certificate",
    tx.endorsements.length === 0
      ? { code: 'FABRIC_NO_ENDORSEMENTS', detail: 'the transaction carries no endorsement' }
      : bad.length > 0
        ? { code: 'FABRIC_ENDORSEMENT_SIGNATURE', detail: bad.join('; ') }
        : `${tx.endorsements.length} endorsement(s) verified`,
  );

  // Who endorsed: the MSP ids in the block, the bundle and endorsements.json say the same.
  const inBlock = [...new Set(tx.endorsements.map((e) => e.mspId))].sort();
  const named = [...new Set(expected.endorsers ?? [])].sort();
  let listed: string[] | undefined;
  try {
    const file = JSON.parse(
      files.get(FABRIC_MEMBERS.endorsements)?.toString('utf8') ?? 'null',
    ) as EndorsementsFile | null;
    listed = file ? [...new Set(file.endorsements.map((e) => e.mspId))].sort() : undefined;
  } catch {
    listed = ['(unreadable)'];
  }
  const same = (a: string[]) => a.join(',') === inBlock.join(',');
  check(
    'fabric.endorsers',
    'Fabric 背书组织',
    'The endorsing organisations are those the bundle names',
    same(named) && (listed === undefined || same(listed))
      ? inBlock.join(', ')
      : {
          code: 'FABRIC_ENDORSERS_MISMATCH',
          detail: `the block: ${inBlock.join(', ') || 'none'}; the bundle: ${named.join(', ') || 'none'}${listed ? `; ${FABRIC_MEMBERS.endorsements}: ${listed.join(', ')}` : ''}`,
        },
  );
  return checks;
}
