import { describe, expect, it } from 'vitest';
import { checkRpcUrl, currentRpcUrl, rpcHost } from './chain-rpc.ts';

describe('the reader’s own node address', () => {
  it('takes https anywhere and plain http on this computer only: what the CSP lets the page reach', () => {
    expect(checkRpcUrl(' https://eth.example.org/v1/key ')).toEqual({
      ok: true,
      url: 'https://eth.example.org/v1/key',
    });
    expect(checkRpcUrl('http://127.0.0.1:8545')).toEqual({ ok: true, url: 'http://127.0.0.1:8545/' });
    expect(checkRpcUrl('http://localhost:8545/#x')).toEqual({ ok: true, url: 'http://localhost:8545/' });
    expect(checkRpcUrl('http://192.168.1.5:8545')).toEqual({ ok: false, problem: 'scheme' });
    expect(checkRpcUrl('http://[::1]:8545')).toEqual({ ok: false, problem: 'scheme' });
    expect(checkRpcUrl('ws://127.0.0.1:8546')).toEqual({ ok: false, problem: 'scheme' });
    expect(checkRpcUrl('javascript:alert(1)')).toEqual({ ok: false, problem: 'scheme' });
    expect(checkRpcUrl('eth.example.org')).toEqual({ ok: false, problem: 'not-url' });
    expect(checkRpcUrl('https://user:secret@eth.example.org')).toEqual({ ok: false, problem: 'credentials' });
    expect(checkRpcUrl(`https://eth.example.org/${'a'.repeat(2048)}`)).toEqual({
      ok: false,
      problem: 'too-long',
    });
    // That these are what the gateway's CSP lets the page reach: tests/page-csp-rpc.test.ts (the
    // page's package may not import the gateway's).
  });

  it('reads ?rpc= from the address, and refuses one the page may not use', () => {
    expect(currentRpcUrl('?rpc=http%3A%2F%2F127.0.0.1%3A8545')).toBe('http://127.0.0.1:8545/');
    expect(currentRpcUrl('?lang=en&rpc=http://10.0.0.1:8545')).toBeUndefined();
    expect(currentRpcUrl('')).toBeUndefined();
    expect(rpcHost('https://eth.example.org:8443/x')).toBe('eth.example.org:8443');
  });
});
