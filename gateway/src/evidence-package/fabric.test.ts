import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import fabprotos from 'fabric-protos';
import forge from 'node-forge';
import { describe, expect, it } from 'vitest';
import { checkFabricEvidence, FABRIC_MEMBERS, fabricEvidenceFiles } from './fabric.ts';

// The Fabric evidence checks on a block built here with fabric-protos' own encoders and an
// endorsement signed with a fresh P-256 key, the way a peer signs (ECDSA SHA-256 over
// proposal_response_payload ‖ serialized endorser). The same checks run on a real network's block
// in tests/e2e/gateway-fabric.test.ts.

type Encoder = { encode(message: object): { finish(): Uint8Array } };
const P = fabprotos as unknown as {
  common: Record<'Block' | 'Envelope' | 'Payload' | 'Header' | 'ChannelHeader', Encoder>;
  protos: Record<'ProcessedTransaction' | 'Transaction' | 'ChaincodeActionPayload', Encoder>;
  msp: Record<'SerializedIdentity', Encoder>;
};
const enc = (type: Encoder, message: object) => Buffer.from(type.encode(message).finish());

function selfSignedCertificate(): {
  pem: string;
  privateKey: ReturnType<typeof generateKeyPairSync>['privateKey'];
} {
  // forge cannot sign with EC keys: the certificate is only a carrier of the public key here, so
  // a P-256 key is wrapped in a certificate Node parses (built by hand would be longer).
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const rsa = forge.pki.rsa.generateKeyPair(1024);
  const cert = forge.pki.createCertificate();
  cert.publicKey = rsa.publicKey;
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date('2026-01-01');
  cert.validity.notAfter = new Date('2027-01-01');
  cert.setSubject([{ name: 'commonName', value: 'peer0.finance' }]);
  cert.setIssuer([{ name: 'commonName', value: 'peer0.finance' }]);
  cert.sign(rsa.privateKey, forge.md.sha256.create());
  // Swap the RSA subjectPublicKeyInfo for the EC one (the signature no longer verifies, which
  // nothing here checks: the endorsement check uses only the certificate's key).
  const asn1 = forge.pki.certificateToAsn1(cert);
  const tbs = asn1.value[0] as forge.asn1.Asn1;
  (tbs.value as forge.asn1.Asn1[])[6] = forge.asn1.fromDer(forge.util.createBuffer(spki.toString('binary')));
  const der = forge.asn1.toDer(asn1).getBytes();
  const pem = `-----BEGIN CERTIFICATE-----\n${Buffer.from(der, 'binary')
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE-----\n`;
  return { pem, privateKey };
}

const TX = 'ab'.repeat(32);

function fabricTx() {
  const peer = selfSignedCertificate();
  const endorser = enc(P.msp.SerializedIdentity, { mspid: 'FinanceMSP', id_bytes: Buffer.from(peer.pem) });
  const prp = Buffer.from('proposal response payload');
  const signature = sign('sha256', Buffer.concat([prp, endorser]), peer.privateKey);
  const action = enc(P.protos.ChaincodeActionPayload, {
    chaincode_proposal_payload: Buffer.alloc(0),
    action: { proposal_response_payload: prp, endorsements: [{ endorser, signature }] },
  });
  const payload = enc(P.common.Payload, {
    header: { channel_header: enc(P.common.ChannelHeader, { type: 3, tx_id: TX, channel_id: 'lianzheng' }) },
    data: enc(P.protos.Transaction, { actions: [{ header: Buffer.alloc(0), payload: action }] }),
  });
  const envelope = { payload, signature: Buffer.from('creator signature') };
  const other = enc(P.common.Envelope, { payload: Buffer.from('another'), signature: Buffer.alloc(0) });
  const data = [other, enc(P.common.Envelope, envelope)];
  const block = (dataHash = createHash('sha256').update(Buffer.concat(data)).digest()) =>
    enc(P.common.Block, {
      header: { number: 7, previous_hash: Buffer.alloc(32), data_hash: dataHash },
      data: { data },
      metadata: { metadata: [Buffer.alloc(0), Buffer.alloc(0), Buffer.from([0, 0])] },
    });
  const processed = enc(P.protos.ProcessedTransaction, { transactionEnvelope: envelope, validationCode: 0 });
  return { block, processed, signature };
}

const failed = (checks: ReturnType<typeof checkFabricEvidence>) =>
  checks.filter((c) => c.status === 'fail').map((c) => `${c.id}:${c.code}`);

describe('the Fabric evidence checks (block, processed transaction, endorsements)', () => {
  const tx = fabricTx();
  const files = fabricEvidenceFiles(TX, { block: tx.block(), processed: tx.processed });

  it('passes an intact block and lists the endorsement in endorsements.json', () => {
    const checks = checkFabricEvidence(files, { txId: TX, block: 7, endorsers: ['FinanceMSP'] });
    expect(checks.map((c) => [c.id, c.status])).toEqual([
      ['fabric.block.data-hash', 'pass'],
      ['fabric.transaction', 'pass'],
      ['fabric.endorsements', 'pass'],
      ['fabric.endorsers', 'pass'],
    ]);
    const listed = JSON.parse(files.get(FABRIC_MEMBERS.endorsements)!.toString('utf8'));
    expect(listed).toMatchObject({ txId: TX, block: 7, validation: 'VALID' });
    expect(listed.endorsements[0]).toMatchObject({
      mspId: 'FinanceMSP',
      signature: tx.signature.toString('hex'),
    });
  });

  it('refuses a changed data hash, a changed signature byte, other endorsers and a missing tx', () => {
    const badHash = new Map(files).set(FABRIC_MEMBERS.block, tx.block(Buffer.alloc(32, 1)));
    expect(failed(checkFabricEvidence(badHash, { txId: TX, endorsers: ['FinanceMSP'] }))).toEqual([
      'fabric.block.data-hash:FABRIC_DATA_HASH_MISMATCH',
    ]);

    const block = tx.block();
    const at = block.indexOf(tx.signature);
    expect(at).toBeGreaterThan(0);
    block[at + 10]! ^= 0x01;
    const badSig = new Map(files).set(FABRIC_MEMBERS.block, block);
    expect(failed(checkFabricEvidence(badSig, { txId: TX, endorsers: ['FinanceMSP'] }))).toEqual([
      // The signature sits in the block's data: its hash and the envelope change with it.
      'fabric.block.data-hash:FABRIC_DATA_HASH_MISMATCH',
      'fabric.transaction:FABRIC_PROCESSED_TX_MISMATCH',
      'fabric.endorsements:FABRIC_ENDORSEMENT_SIGNATURE',
    ]);

    expect(
      failed(checkFabricEvidence(files, { txId: TX, endorsers: ['FinanceMSP', 'InspectionMSP'] })),
    ).toEqual(['fabric.endorsers:FABRIC_ENDORSERS_MISMATCH']);
    expect(failed(checkFabricEvidence(files, { txId: 'cd'.repeat(32), endorsers: ['FinanceMSP'] }))).toEqual([
      'fabric.block:FABRIC_TX_NOT_IN_BLOCK',
    ]);
    expect(failed(checkFabricEvidence(files, { txId: TX, block: 8, endorsers: ['FinanceMSP'] }))).toEqual([
      'fabric.transaction:FABRIC_BLOCK_MISMATCH',
    ]);
  });
});
