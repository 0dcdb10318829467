import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import tokens from '../timestamp/fixtures/tokens.json' with { type: 'json' };
import {
  checkpointKeyFingerprint,
  checkTrust,
  jwkThumbprint,
  keyFingerprints,
  TRUST_FORMAT,
  trustOf,
} from './trust.ts';

const ANCHOR = {
  chainId: 'eip155:31337',
  contract: '0x5FbDB2315678afecb367f032d93F642f64180aa3',
  anchorer: '0x70997970c51812dc3a010c7d01b50e0d17dc79c8',
};
const VKEY = 'lianzheng.test/log+1a2b3c4d+AbCdEf0123456789';

async function keys() {
  const { publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'receipt-1', alg: 'ES256', use: 'sig' };
  return { jwks: { keys: [jwk] }, checkpointKeys: [VKEY], tsaRoots: [tokens.lianzheng.root], anchor: ANCHOR };
}

describe('trust files', () => {
  it('thumbprints a JWK as RFC 7638 does (checked against jose)', async () => {
    const k = await keys();
    const jwk = k.jwks.keys[0]!;
    expect(jwkThumbprint(jwk)).toBe(await calculateJwkThumbprint(jwk, 'sha256'));
    const ed = await exportJWK((await generateKeyPair('EdDSA', { extractable: true })).publicKey);
    expect(jwkThumbprint(ed as Record<string, unknown>)).toBe(await calculateJwkThumbprint(ed, 'sha256'));
  });

  it('pins what the gateway publishes, and the same keys pass', async () => {
    const k = await keys();
    const trust = trustOf(k);
    expect(trust).toMatchObject({
      format: TRUST_FORMAT,
      receiptKeys: [{ kid: 'receipt-1', thumbprint: expect.any(String) }],
      checkpointKeys: [VKEY],
      tsaRoots: [expect.stringMatching(/^[0-9a-f]{64}$/)],
      anchor: { ...ANCHOR, contract: ANCHOR.contract.toLowerCase() },
    });
    expect(checkTrust(JSON.parse(JSON.stringify(trust)), k)).toEqual({ ok: true, differences: [] });
    const prints = keyFingerprints(k);
    expect(prints.checkpoint).toEqual([
      { name: 'lianzheng.test/log', sha256: checkpointKeyFingerprint(VKEY) },
    ]);
    expect(prints.tsaRoots[0]?.name).toBe('LianZheng Local Root CA');
  });

  it('names every difference: another receipt key, checkpoint key, TSA root or anchoring identity', async () => {
    const trust = trustOf(await keys());
    const other = await keys();
    const changed = {
      ...other,
      checkpointKeys: ['evil.example/log+00000000+AAAA'],
      tsaRoots: [tokens.openssl.root],
      anchor: { ...ANCHOR, anchorer: '0x0000000000000000000000000000000000000bad' },
    };
    const result = checkTrust(trust, changed);
    expect(result.ok).toBe(false);
    expect(result.differences).toHaveLength(4);
    expect(result.differences.join('\n')).toMatch(/receipt key receipt-1 .* is not pinned/);
    expect(result.differences.join('\n')).toMatch(/checkpoint key evil\.example\/log\+00000000/);
    expect(result.differences.join('\n')).toMatch(/TSA root SHA-256 [0-9a-f]{64} is not pinned/);
    expect(result.differences.join('\n')).toMatch(/anchoring identity .*0bad/);
    // No anchoring published where one is pinned; a rotated-away key is no difference.
    const { anchor: _gone, ...unanchored } = await keys();
    expect(checkTrust(trust, { ...unanchored, jwks: other.jwks }).differences.join('\n')).toContain(
      'no anchoring identity is published',
    );
    expect(checkTrust({ format: 'something' }, other)).toMatchObject({ ok: false });
  });
});
