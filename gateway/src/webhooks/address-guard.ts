import dns from 'node:dns';
import net from 'node:net';

/**
 * What a webhook may point at. The gateway POSTs to partner-given URLs from inside the operator's
 * network, so by default it refuses loopback, private, link-local and other special addresses
 * (SSRF) — checked on the address a name resolves to at connection time, not on the name, so a
 * name that resolves to 10.0.0.1 (or is re-pointed there later) is refused too — and plain http.
 * WEBHOOK_ALLOW_PRIVATE=true lifts both, for closed networks and tests.
 */
const blocked = new net.BlockList();
for (const [prefix, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 3],
] as const) {
  blocked.addSubnet(prefix, bits, 'ipv4');
}
for (const [prefix, bits] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  blocked.addSubnet(prefix, bits, 'ipv6');
}

/** Whether an IP address is one a webhook may not reach (IPv4-mapped IPv6 judged as IPv4). */
export function isSpecialAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return blocked.check(mapped[1]!, 'ipv4');
  const family = net.isIP(address);
  if (family === 0) return true;
  return blocked.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** Why `raw` cannot be a webhook URL, or undefined when it can. */
export function webhookUrlProblem(raw: string, allowPrivate: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'not an absolute URL';
  }
  if (url.protocol !== 'https:' && !(allowPrivate && url.protocol === 'http:')) {
    return allowPrivate ? 'the URL must be http or https' : 'the URL must be https';
  }
  if (url.username || url.password) return 'the URL must not carry credentials';
  if (url.hash) return 'the URL must not have a fragment';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!allowPrivate && net.isIP(host) !== 0 && isSpecialAddress(host)) {
    return `${host} is a loopback, private or special address`;
  }
  return undefined;
}

/**
 * A `lookup` for http(s).request that refuses special addresses (unless allowed): the check and
 * the connection use the same resolution, so a name cannot pass the check and then connect
 * elsewhere.
 */
export function guardedLookup(allowPrivate: boolean): net.LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const list = addresses as dns.LookupAddress[];
      const bad = allowPrivate ? undefined : list.find((a) => isSpecialAddress(a.address));
      if (bad || list.length === 0) {
        const refused = new Error(
          bad
            ? `${hostname} resolves to ${bad.address}, a loopback, private or special address`
            : `${hostname} has no address`,
        ) as NodeJS.ErrnoException;
        refused.code = 'EWEBHOOKADDRESS';
        return callback(refused, '', 0);
      }
      if ((options as { all?: boolean }).all)
        return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, list);
      callback(null, list[0]!.address, list[0]!.family);
    });
  };
}
