import { createHash, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildRequest, parseResponse, parseToken, testSigner } from './_test-helpers.ts';
import { createTimestampToken } from './checkpoint-token.ts';
import { formatGeneralizedTimeMillis, toDer } from './der.ts';
import { DEFAULT_TSA_POLICY_OID, OID } from './oids.ts';
import { failureInfoBits } from './signer.ts';

describe('genTime', () => {
  it('keeps milliseconds, drops trailing zeros and drops the point for whole seconds', () => {
    expect(formatGeneralizedTimeMillis(new Date('2026-03-04T05:06:07.123Z'))).toBe('20260304050607.123Z');
    expect(formatGeneralizedTimeMillis(new Date('2026-03-04T05:06:07.120Z'))).toBe('20260304050607.12Z');
    expect(formatGeneralizedTimeMillis(new Date('2026-03-04T05:06:07.100Z'))).toBe('20260304050607.1Z');
    expect(formatGeneralizedTimeMillis(new Date('2026-03-04T05:06:07.000Z'))).toBe('20260304050607Z');
    expect(formatGeneralizedTimeMillis(new Date('2026-03-04T05:06:07.005Z'))).toBe('20260304050607.005Z');
  });
});

describe('PKIFailureInfo', () => {
  it('is a minimal named-bit BIT STRING', () => {
    expect(toDer(failureInfoBits('badAlg')).toString('hex')).toBe('03020780');
    expect(toDer(failureInfoBits('badRequest')).toString('hex')).toBe('03020520');
    expect(toDer(failureInfoBits('badDataFormat')).toString('hex')).toBe('03020204');
    expect(toDer(failureInfoBits('unacceptedPolicy')).toString('hex')).toBe('0303000001');
    expect(toDer(failureInfoBits('unacceptedExtension')).toString('hex')).toBe('030407000080');
    expect(toDer(failureInfoBits('systemFailure')).toString('hex')).toBe('03050600000040');
  });
});

describe('TimeStampSigner.respond', () => {
  it('grants a SHA-256 request: TSTInfo fields, nonce echoed, certificate only on certReq', async () => {
    const now = new Date('2026-05-06T07:08:09.250Z');
    const { signer } = testSigner({ now: () => now, accuracyMillis: 1500 });
    const nonce = Buffer.from('00ff0102030405060708', 'hex'); // a leading 00 must survive
    const res = await signer.respond(buildRequest({ imprint, nonce, certReq: true }));
    expect(res.status).toBe('granted');
    const p = parseResponse(res.der);
    expect(p.status).toBe(0);
    expect(p.tstInfo).toMatchObject({
      version: 1,
      policy: DEFAULT_TSA_POLICY_OID,
      hashOid: OID.sha256,
      genTime: '20260506070809.25Z',
      hasTsaName: true,
    });
    expect(p.tstInfo!.imprint.equals(imprint)).toBe(true);
    expect(p.tstInfo!.nonce!.equals(nonce)).toBe(true);
    expect(p.certificateCount).toBe(1);
    // accuracy: seconds 1, millis [0] 500
    expect(toDer(p.tstInfo!.accuracy).toString('hex')).toBe('3007020101800201f4');

    const noCert = parseResponse((await signer.respond(buildRequest({ imprint }))).der);
    expect(noCert.certificateCount).toBe(0);
    expect(noCert.tstInfo!.nonce).toBeUndefined();
  });

  it('accepts SHA-384 and SHA-512 imprints, and NULL hash parameters', async () => {
    const { signer } = testSigner();
    for (const [alg, hashOid] of [
      ['sha384', OID.sha384],
      ['sha512', OID.sha512],
    ] as const) {
      const d = createHash(alg).update('x').digest();
      const p = parseResponse(
        (await signer.respond(buildRequest({ hashOid, imprint: d, params: 'null' }))).der,
      );
      expect(p.status).toBe(0);
      expect(p.tstInfo!.hashOid).toBe(hashOid);
    }
  });

  it('issues unique, increasing serial numbers', async () => {
    const { signer } = testSigner();
    const serials: bigint[] = [];
    for (let i = 0; i < 50; i++) {
      serials.push(parseResponse((await signer.respond(buildRequest({ imprint }))).der).tstInfo!.serial);
    }
    for (let i = 1; i < serials.length; i++) expect(serials[i]! > serials[i - 1]!).toBe(true);
  });

  it('answers an accepted reqPolicy under that policy and rejects others', async () => {
    const { signer } = testSigner({ acceptedPolicies: ['1.3.6.1.4.1.55555.3161.2'] });
    const ok = parseResponse(
      (await signer.respond(buildRequest({ imprint, policy: '1.3.6.1.4.1.55555.3161.2' }))).der,
    );
    expect(ok.tstInfo!.policy).toBe('1.3.6.1.4.1.55555.3161.2');
    const res = await signer.respond(buildRequest({ imprint, policy: '1.2.3.4' }));
    expect(res).toMatchObject({ status: 'rejection', failure: 'unacceptedPolicy' });
  });

  it.each([
    ['garbage', Buffer.from('not a request'), 'badDataFormat', '03020204'],
    ['empty', Buffer.alloc(0), 'badDataFormat', '03020204'],
    ['SHA-1 imprint', buildRequest({ hashOid: OID.sha1, imprint: new Uint8Array(20) }), 'badAlg', '03020780'],
    ['unknown algorithm', buildRequest({ hashOid: '1.2.3.4.5' }), 'badAlg', '03020780'],
    ['non-NULL parameters', buildRequest({ params: 'int' }), 'badAlg', '03020780'],
    ['short imprint', buildRequest({ imprint: new Uint8Array(31) }), 'badDataFormat', '03020204'],
    ['SHA-512 OID, 32-byte imprint', buildRequest({ hashOid: OID.sha512 }), 'badDataFormat', '03020204'],
    ['version 2', buildRequest({ version: 2 }), 'badDataFormat', '03020204'],
    ['extensions', buildRequest({ extensions: true }), 'unacceptedExtension', '030407000080'],
    ['trailing bytes', Buffer.concat([buildRequest({}), Buffer.from([0])]), 'badDataFormat', '03020204'],
  ])('rejects %s with status 2', async (_name, der, failure, bitsHex) => {
    const { signer } = testSigner();
    const res = await signer.respond(der);
    expect(res).toMatchObject({ status: 'rejection', failure });
    const p = parseResponse(res.der);
    expect(p.status).toBe(2);
    expect(p.token).toBeUndefined();
    expect(Buffer.from([0x03, p.failInfo!.length, ...p.failInfo!]).toString('hex')).toBe(bitsHex);
  });

  it('answers systemFailure, not an exception, when the serial source breaks', async () => {
    const { signer } = testSigner({
      nextSerial: () => {
        throw new Error('db down');
      },
    });
    const res = await signer.respond(buildRequest({ imprint }));
    expect(res).toMatchObject({ status: 'rejection', failure: 'systemFailure' });
    expect(parseResponse(res.der).status).toBe(2);
  });
});

describe('createTimestampToken', () => {
  it('makes a token over a 32-byte root with the certificate, signed by the TSA key', async () => {
    const { signer, certificate } = testSigner();
    const root = createHash('sha256').update('root').digest();
    const token = await createTimestampToken(signer, root);
    const p = parseToken(token);
    expect(p.tstInfo!.imprint.equals(root)).toBe(true);
    expect(p.certificateCount).toBe(1);
    expect(new X509Certificate(certificate).keyUsage).toEqual([OID.ekuTimeStamping]);
    await expect(createTimestampToken(signer, new Uint8Array(31))).rejects.toThrow(RangeError);
  });

  it('signs with RSA keys too', async () => {
    const { signer } = testSigner({}, 'rsa');
    const res = await signer.respond(buildRequest({ imprint }));
    expect(res.status).toBe('granted');
  });
});

const imprint = createHash('sha256').update('hello').digest();
