import { describe, expect, it } from 'vitest';
import { PAGE_CSP } from '../gateway/src/routes/pages/plugin.ts';
import { checkRpcUrl } from '../verifier-web/src/chain-rpc.ts';

// The page decides which JSON-RPC addresses it will call (verifier-web), the gateway's CSP which
// the browser lets it reach: the two must agree, or a node the page accepts fails as a CSP error.
// This lives outside both packages because neither may import the other.
describe("the page's node addresses and the gateway's CSP", () => {
  it('connect-src holds exactly what checkRpcUrl accepts: any https origin, loopback over http', () => {
    const connect = PAGE_CSP.split('; ').find((d) => d.startsWith('connect-src '));
    expect(connect).toBe("connect-src 'self' https: http://127.0.0.1:* http://localhost:*");
    expect(checkRpcUrl('https://eth.example.org').ok).toBe(true);
    expect(checkRpcUrl('http://127.0.0.1:8545').ok).toBe(true);
    expect(checkRpcUrl('http://localhost:8545').ok).toBe(true);
    expect(checkRpcUrl('http://192.168.1.5:8545').ok).toBe(false);
  });
});
