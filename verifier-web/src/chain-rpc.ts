// The reader's own EVM JSON-RPC endpoint: the page reads the anchor from it directly (proof's
// readAnchorFromChain over `fetch`) instead of through the operator's read-only proxy. It comes from
// `?rpc=` in the address or the "advanced" settings on a result, and is remembered for this browser
// session only (sessionStorage): a node address can say who the reader is, so it is not kept
// longer than the tab and never sent to the gateway.
//
// Only addresses the page's CSP lets it reach are accepted (gateway/src/routes/pages/plugin.ts:
// `connect-src 'self' https: http://127.0.0.1:* http://localhost:*`): any https node, or a node on
// this computer over plain http. A plain-http node elsewhere would be refused by the browser with
// a CSP error the reader cannot see, so it is refused here with a sentence instead.

import { type JsonRpcCall, JsonRpcError } from '@lianzheng/proof';

const STORAGE_KEY = 'lianzheng.rpc';
/** An endpoint address longer than this is no endpoint anyone types or shares. */
const MAX_URL_LENGTH = 2048;

export type RpcUrlProblem = 'too-long' | 'not-url' | 'scheme' | 'credentials';

/** The endpoint as the page will call it, or why it cannot. */
export function checkRpcUrl(
  input: string,
): { ok: true; url: string } | { ok: false; problem: RpcUrlProblem } {
  const text = input.trim();
  if (text.length > MAX_URL_LENGTH) return { ok: false, problem: 'too-long' };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, problem: 'not-url' };
  }
  // Credentials in the address would be sent along to the node and kept in the tab's storage.
  if (url.username || url.password) return { ok: false, problem: 'credentials' };
  const local = url.hostname === '127.0.0.1' || url.hostname === 'localhost';
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && local))
    return { ok: false, problem: 'scheme' };
  url.hash = '';
  return { ok: true, url: url.href };
}

function session(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

/**
 * The endpoint to read the chain from: `?rpc=` in the address first (remembered for the session),
 * else the one remembered earlier in this session; undefined if none (or none valid).
 */
export function currentRpcUrl(search: string = globalThis.location?.search ?? ''): string | undefined {
  const fromAddress = new URLSearchParams(search).get('rpc');
  if (fromAddress !== null && fromAddress !== '') {
    const checked = checkRpcUrl(fromAddress);
    if (!checked.ok) return undefined;
    session()?.setItem(STORAGE_KEY, checked.url);
    return checked.url;
  }
  const kept = session()?.getItem(STORAGE_KEY);
  if (!kept) return undefined;
  const checked = checkRpcUrl(kept);
  return checked.ok ? checked.url : undefined;
}

/** The `?rpc=` value of the address, if one was given (valid or not), to say why it is not used. */
export function rpcFromAddress(search: string = globalThis.location?.search ?? ''): string | undefined {
  const v = new URLSearchParams(search).get('rpc');
  return v === null || v === '' ? undefined : v;
}

/**
 * Remembers (or, with undefined, forgets) the endpoint for this session, and takes `?rpc=` out of
 * the address so that it does not override the reader's new choice on a reload.
 */
export function setRpcUrl(url: string | undefined): void {
  const s = session();
  if (url === undefined) s?.removeItem(STORAGE_KEY);
  else s?.setItem(STORAGE_KEY, url);
  try {
    const here = new URL(location.href);
    if (here.searchParams.has('rpc')) {
      here.searchParams.delete('rpc');
      history.replaceState(null, '', `${here.pathname}${here.search}`);
    }
  } catch {
    // A page that may not change its address keeps it; the choice is remembered all the same.
  }
}

/** The endpoint's host, as the page names it to the reader. */
export function rpcHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/** JSON-RPC 2.0 over HTTP POST with `fetch`, in the shape readAnchorFromChain takes. */
export function jsonRpcOverFetch(url: string, timeoutMs: number, doFetch: typeof fetch = fetch): JsonRpcCall {
  let nextId = 1;
  return async (method, params) => {
    const res = await doFetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params }),
      signal: AbortSignal.timeout(timeoutMs),
      // Nothing of the reader's goes to the node: no cookies, no referrer.
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const body = (await res.json()) as { result?: unknown; error?: { code?: number; message?: string } };
    if (typeof body !== 'object' || body === null) throw new Error('not a JSON-RPC answer');
    if (body.error) throw new JsonRpcError(body.error.code, String(body.error.message ?? ''));
    return body.result;
  };
}
