// Shared by this folder's tests: build TimeStampReqs and take TimeStampResps apart with forge.
import { generateKeyPairSync } from 'node:crypto';
import forge from 'node-forge';
import {
  type Asn1,
  bool,
  fromBinary,
  fromDer,
  integer,
  integerRaw,
  nullValue,
  octets,
  oid,
  seq,
} from './der.ts';
import { OID } from './oids.ts';
import { type CertificateAuthority, createRootCa, issueCertificate } from './pki.ts';
import { createClockSerial } from './serial.ts';
import { createTimeStampSigner, type TimeStampSignerOptions } from './signer.ts';

export function buildRequest(options: {
  version?: number;
  hashOid?: string;
  imprint?: Uint8Array;
  params?: 'null' | 'absent' | 'int';
  policy?: string;
  nonce?: Uint8Array;
  certReq?: boolean;
  extensions?: boolean;
}): Buffer {
  const params = options.params === 'null' ? nullValue() : options.params === 'int' ? integer(1) : undefined;
  const parts: (Asn1 | undefined)[] = [
    integer(options.version ?? 1),
    seq([
      seq([oid(options.hashOid ?? OID.sha256), params]),
      octets(options.imprint ?? new Uint8Array(32).fill(7)),
    ]),
    options.policy ? oid(options.policy) : undefined,
    options.nonce ? integerRaw(options.nonce) : undefined,
    options.certReq ? bool(true) : undefined,
    options.extensions
      ? forge.asn1.create(forge.asn1.Class.CONTEXT_SPECIFIC, 0, true, [
          seq([oid('1.2.3.4'), octets(new Uint8Array(1))]),
        ])
      : undefined,
  ];
  return fromBinary(forge.asn1.toDer(seq(parts)).getBytes());
}

export interface ParsedResponse {
  status: number;
  failInfo?: Buffer;
  token?: Buffer;
  tstInfo?: {
    version: number;
    policy: string;
    hashOid: string;
    imprint: Buffer;
    serial: bigint;
    genTime: string;
    accuracy: Asn1;
    nonce?: Buffer;
    hasTsaName: boolean;
  };
  certificateCount: number;
}

const v = (a: Asn1) => a.value as Asn1[];
const bytes = (a: Asn1) => fromBinary(a.value as string);

export function parseResponse(der: Uint8Array): ParsedResponse {
  const [statusInfo, token] = v(fromDer(der));
  const si = v(statusInfo!);
  const status = Number(BigInt(`0x${bytes(si[0]!).toString('hex')}`));
  const bit = si.find((x) => x.type === forge.asn1.Type.BITSTRING);
  const out: ParsedResponse = { status, failInfo: bit ? bytes(bit) : undefined, certificateCount: 0 };
  if (!token) return out;
  out.token = fromBinary(forge.asn1.toDer(token).getBytes());
  return { ...out, ...parseToken(out.token) };
}

/** The TSTInfo and the number of certificates of a DER TimeStampToken. */
export function parseToken(der: Uint8Array): Pick<ParsedResponse, 'tstInfo' | 'certificateCount'> {
  const token = fromDer(der);
  const out: Pick<ParsedResponse, 'tstInfo' | 'certificateCount'> = { certificateCount: 0 };
  const signedData = v(v(token)[1]!)[0]!;
  const sd = v(signedData);
  const eContent = bytes(v(v(sd[2]!)[1]!)[0]!);
  const certs = sd.find((x) => x.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC && x.type === 0);
  out.certificateCount = certs ? v(certs).length : 0;
  const tst = v(fromDer(eContent));
  const ints = tst.filter((x, i) => i > 4 && x.type === forge.asn1.Type.INTEGER && x.tagClass === 0);
  out.tstInfo = {
    version: bytes(tst[0]!)[0]!,
    policy: forge.asn1.derToOid(tst[1]!.value as string),
    hashOid: forge.asn1.derToOid(v(v(tst[2]!)[0]!)[0]!.value as string),
    imprint: bytes(v(tst[2]!)[1]!),
    serial: BigInt(`0x${bytes(tst[3]!).toString('hex')}`),
    genTime: tst[4]!.value as string,
    accuracy: tst[5]!,
    nonce: ints[0] ? bytes(ints[0]) : undefined,
    hasTsaName: tst.some((x) => x.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC && x.type === 0),
  };
  return out;
}

let cachedCa: CertificateAuthority | undefined;
export function testCa(): CertificateAuthority {
  cachedCa ??= createRootCa();
  return cachedCa;
}

export function testSigner(overrides: Partial<TimeStampSignerOptions> = {}, keyType: 'ec' | 'rsa' = 'ec') {
  const ca = testCa();
  const pair =
    keyType === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const certificate = issueCertificate(ca, 'tsa', { commonName: 'Test TSA' }, pair.publicKey);
  const signer = createTimeStampSigner({
    privateKey: pair.privateKey,
    certificate,
    nextSerial: createClockSerial(),
    ...overrides,
  });
  return { signer, ca, certificate, privateKey: pair.privateKey };
}
