import dns from 'node:dns';
import net from 'node:net';

/**
 * What a webhook may point at. The gateway POSTs to partner-given URLs from inside the operator's
 * network, so by default it refuses every special-purpose address (SSRF) — loopback, private,
 * link-local, shared, documentation, benchmarking, translation, reserved, multicast … — and plain
 * http. Addresses are judged when a URL is registered or changed (an IP literal) and again when
 * a delivery connects: the address a name resolves to is checked inside the connection's own DNS
 * lookup, so a name that resolves to 10.0.0.1 (or is re-pointed there later: DNS rebinding) is
 * refused before any connection is made. WEBHOOK_ALLOW_PRIVATE=true lifts both, for closed
 * networks and tests.
 */

/** One special-purpose block: where it starts, its prefix length, what it is and who says so. */
export interface SpecialRange {
  prefix: string;
  bits: number;
  name: string;
  rfc: string;
}

const range = (prefix: string, bits: number, name: string, rfc: string): SpecialRange => ({
  prefix,
  bits,
  name,
  rfc,
});

/**
 * The IANA IPv4 Special-Purpose Address Registry (RFC 6890 as updated by RFC 8190), every entry
 * — including the few it marks globally reachable (AS112, AMT, the anycast /32s): none of them is
 * a partner's receiver — and multicast, which lives in a registry of its own.
 */
export const IPV4_SPECIAL: readonly SpecialRange[] = [
  range('0.0.0.0', 8, '"This network"', 'RFC 791 §3.2'),
  range('0.0.0.0', 32, '"This host on this network"', 'RFC 1122 §3.2.1.3'),
  range('10.0.0.0', 8, 'Private-Use', 'RFC 1918'),
  range('100.64.0.0', 10, 'Shared Address Space (CGNAT)', 'RFC 6598'),
  range('127.0.0.0', 8, 'Loopback', 'RFC 1122 §3.2.1.3'),
  range('169.254.0.0', 16, 'Link Local (cloud metadata at 169.254.169.254)', 'RFC 3927'),
  range('172.16.0.0', 12, 'Private-Use', 'RFC 1918'),
  range('192.0.0.0', 24, 'IETF Protocol Assignments', 'RFC 6890 §2.1'),
  range('192.0.0.0', 29, 'IPv4 Service Continuity Prefix (DS-Lite)', 'RFC 7335'),
  range('192.0.0.8', 32, 'IPv4 dummy address', 'RFC 7600'),
  range('192.0.0.9', 32, 'Port Control Protocol Anycast', 'RFC 7723'),
  range('192.0.0.10', 32, 'Traversal Using Relays around NAT Anycast', 'RFC 8155'),
  range('192.0.0.170', 32, 'NAT64/DNS64 Discovery', 'RFC 8880, RFC 7050 §2.2'),
  range('192.0.0.171', 32, 'NAT64/DNS64 Discovery', 'RFC 8880, RFC 7050 §2.2'),
  range('192.0.2.0', 24, 'Documentation (TEST-NET-1)', 'RFC 5737'),
  range('192.31.196.0', 24, 'AS112-v4', 'RFC 7535'),
  range('192.52.193.0', 24, 'AMT', 'RFC 7450'),
  range('192.88.99.0', 24, 'Deprecated (6to4 Relay Anycast)', 'RFC 7526'),
  range('192.168.0.0', 16, 'Private-Use', 'RFC 1918'),
  range('192.175.48.0', 24, 'Direct Delegation AS112 Service', 'RFC 7534'),
  range('198.18.0.0', 15, 'Benchmarking', 'RFC 2544'),
  range('198.51.100.0', 24, 'Documentation (TEST-NET-2)', 'RFC 5737'),
  range('203.0.113.0', 24, 'Documentation (TEST-NET-3)', 'RFC 5737'),
  range('224.0.0.0', 4, 'Multicast', 'RFC 5771'),
  range('240.0.0.0', 4, 'Reserved', 'RFC 1112 §4'),
  range('255.255.255.255', 32, 'Limited Broadcast', 'RFC 8190, RFC 919 §7'),
];

/**
 * The IANA IPv6 Special-Purpose Address Registry (RFC 6890 as updated by RFC 8190), every entry,
 * and the deprecated or non-unicast blocks outside it. Three of them embed an IPv4 address and
 * are judged by it instead (`EMBEDDED_IPV4`): ::ffff:0:0/96, 64:ff9b::/96 and 2002::/16. Beyond
 * the table, everything outside 2000::/3 — the only block IANA allocates as global unicast (RFC
 * 4291 §2.4, the IPv6 Address Space registry) — is refused too.
 */
export const IPV6_SPECIAL: readonly SpecialRange[] = [
  range('::1', 128, 'Loopback Address', 'RFC 4291'),
  range('::', 128, 'Unspecified Address', 'RFC 4291'),
  range('::', 96, 'IPv4-compatible Address (deprecated)', 'RFC 4291 §2.5.5.1'),
  range('::ffff:0:0:0', 96, 'IPv4-translated Address (SIIT)', 'RFC 2765 §2.1'),
  range('64:ff9b:1::', 48, 'Local-Use IPv4/IPv6 Translation', 'RFC 8215'),
  range('100::', 64, 'Discard-Only Address Block', 'RFC 6666'),
  range('100:0:0:1::', 64, 'Dummy IPv6 Prefix', 'RFC 9780'),
  range('2001::', 23, 'IETF Protocol Assignments', 'RFC 2928'),
  range('2001::', 32, 'TEREDO', 'RFC 4380, RFC 8190'),
  range('2001:1::1', 128, 'Port Control Protocol Anycast', 'RFC 7723'),
  range('2001:1::2', 128, 'Traversal Using Relays around NAT Anycast', 'RFC 8155'),
  range('2001:1::3', 128, 'DNS-SD Service Registration Protocol Anycast', 'RFC 9665'),
  range('2001:2::', 48, 'Benchmarking', 'RFC 5180'),
  range('2001:3::', 32, 'AMT', 'RFC 7450'),
  range('2001:4:112::', 48, 'AS112-v6', 'RFC 7535'),
  range('2001:10::', 28, 'Deprecated (previously ORCHID)', 'RFC 4843'),
  range('2001:20::', 28, 'ORCHIDv2', 'RFC 7343'),
  range('2001:30::', 28, 'Drone Remote ID Protocol Entity Tags (DETs) Prefix', 'RFC 9374'),
  range('2001:db8::', 32, 'Documentation', 'RFC 3849'),
  range('2620:4f:8000::', 48, 'Direct Delegation AS112 Service', 'RFC 7534'),
  range('3fff::', 20, 'Documentation', 'RFC 9637'),
  range('5f00::', 16, 'Segment Routing (SRv6) SIDs', 'RFC 9602'),
  range('fc00::', 7, 'Unique-Local', 'RFC 4193, RFC 8190'),
  range('fec0::', 10, 'Site-Local (deprecated)', 'RFC 3879'),
  range('fe80::', 10, 'Link-Local Unicast', 'RFC 4291'),
  range('ff00::', 8, 'Multicast', 'RFC 4291 §2.7'),
];

/** IPv6 blocks that carry an IPv4 address, and the bit at which it starts. */
export const EMBEDDED_IPV4: readonly (SpecialRange & { at: number })[] = [
  { ...range('::ffff:0:0', 96, 'IPv4-mapped Address', 'RFC 4291 §2.5.5.2'), at: 96 },
  { ...range('64:ff9b::', 96, 'IPv4-IPv6 Translation (NAT64)', 'RFC 6052'), at: 96 },
  { ...range('2002::', 16, '6to4', 'RFC 3056'), at: 16 },
];

const GLOBAL_UNICAST = range('2000::', 3, 'Global Unicast', 'RFC 4291 §2.4');

/** An IPv4 address's 4 bytes (strict dotted decimal, as net.isIPv4 accepts). */
function ipv4Bytes(address: string): Uint8Array {
  return Uint8Array.from(address.split('.').map(Number));
}

/** An IPv6 address's 16 bytes (any textual form net.isIPv6 accepts; a zone id is ignored). */
function ipv6Bytes(address: string): Uint8Array {
  let text = address.replace(/%.*$/, '');
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = ipv4Bytes(dotted[1]!);
    text = `${text.slice(0, dotted.index)}${((a! << 8) | b!).toString(16)}:${((c! << 8) | d!).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const groups = (s: string) => (s === '' ? [] : s.split(':').map((g) => Number.parseInt(g, 16)));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return bytes;
}

/** Whether the first `bits` bits of `a` and `b` agree. */
function samePrefix(a: Uint8Array, b: Uint8Array, bits: number): boolean {
  const whole = bits >> 3;
  for (let i = 0; i < whole; i++) if (a[i] !== b[i]) return false;
  const rest = bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (a[whole]! & mask) === (b[whole]! & mask);
}

const compiled = <R extends SpecialRange>(table: readonly R[], parse: (s: string) => Uint8Array) =>
  table.map((r) => ({ ...r, bytes: parse(r.prefix) }));
const V4 = compiled(IPV4_SPECIAL, ipv4Bytes);
const V6 = compiled(IPV6_SPECIAL, ipv6Bytes);
const V6_EMBEDDING = compiled(EMBEDDED_IPV4, ipv6Bytes);
const GLOBAL = ipv6Bytes(GLOBAL_UNICAST.prefix);

/** Why `address` (an IP address) may not be reached: the block it is in, or undefined. */
export interface Refusal {
  /** `prefix/bits` of the block. */
  block: string;
  name: string;
  rfc: string;
  /** For an IPv4 address carried in an IPv6 one: the IPv4 address, judged on its own. */
  embedded?: string;
}

const refusal = (r: SpecialRange, embedded?: string): Refusal => ({
  block: `${r.prefix}/${r.bits}`,
  name: r.name,
  rfc: r.rfc,
  ...(embedded === undefined ? {} : { embedded }),
});

/**
 * The special-purpose block `address` falls in (the narrowest, for the message), or undefined
 * for an address a webhook may reach. An IPv4 address carried in an IPv6 one (mapped, NAT64,
 * 6to4) is decoded and judged as IPv4: ::ffff:127.0.0.1, 64:ff9b::a9fe:a9fe and 2002:7f00:1::
 * are loopback and link-local. Anything that is not an IP address is refused.
 */
export function specialBlock(address: string): Refusal | undefined {
  const family = net.isIP(address.replace(/%.*$/, ''));
  if (family === 4) {
    const bytes = ipv4Bytes(address);
    let hit: (typeof V4)[number] | undefined;
    for (const r of V4) if (samePrefix(bytes, r.bytes, r.bits) && (!hit || r.bits > hit.bits)) hit = r;
    return hit && refusal(hit);
  }
  if (family !== 6) return { block: address, name: 'not an IP address', rfc: '' };
  const bytes = ipv6Bytes(address);
  for (const r of V6_EMBEDDING) {
    if (!samePrefix(bytes, r.bytes, r.bits)) continue;
    const at = r.at >> 3;
    const v4 = Array.from(bytes.subarray(at, at + 4)).join('.');
    const inner = specialBlock(v4);
    return inner && { ...inner, name: `${inner.name} inside ${r.name} ${r.prefix}/${r.bits}`, embedded: v4 };
  }
  let hit: (typeof V6)[number] | undefined;
  for (const r of V6) if (samePrefix(bytes, r.bytes, r.bits) && (!hit || r.bits > hit.bits)) hit = r;
  if (hit) return refusal(hit);
  if (!samePrefix(bytes, GLOBAL, GLOBAL_UNICAST.bits)) {
    return { block: 'outside 2000::/3', name: 'not global unicast', rfc: 'RFC 4291 §2.4' };
  }
  return undefined;
}

/** Whether an IP address is one a webhook may not reach (see specialBlock). */
export function isSpecialAddress(address: string): boolean {
  return specialBlock(address) !== undefined;
}

/** "a special-purpose address (10.0.0.0/8, Private-Use, RFC 1918)": what `r` says, in words. */
export function describeRefusal(r: Refusal): string {
  return `a special-purpose address (${r.block}, ${r.name}${r.rfc ? `, ${r.rfc}` : ''})`;
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
  // The WHATWG parser has already normalised the host: 0x7f.1 and 2130706433 are 127.0.0.1,
  // [::ffff:127.0.0.1] is [::ffff:7f00:1].
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!allowPrivate && net.isIP(host) !== 0) {
    const refused = specialBlock(host);
    if (refused) return `${host} is ${describeRefusal(refused)}`;
  }
  return undefined;
}

/** How a name is turned into addresses: dns.lookup (getaddrinfo: /etc/hosts, then DNS), all of them. */
export type Resolver = (
  hostname: string,
  options: dns.LookupAllOptions,
  callback: (err: NodeJS.ErrnoException | null, addresses: dns.LookupAddress[]) => void,
) => void;
const systemResolver: Resolver = (hostname, options, callback) => dns.lookup(hostname, options, callback);

/**
 * A `lookup` for http(s).request that refuses special addresses (unless allowed): the check and
 * the connection use the same resolution — every address the name resolves to is checked, and
 * one bad answer refuses the name — so a name cannot pass the check and then connect elsewhere.
 * (An IP-literal URL is not looked up: postSigned checks it with webhookUrlProblem.)
 */
export function guardedLookup(allowPrivate: boolean, resolve: Resolver = systemResolver): net.LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (err, list) => {
      if (err) return callback(err, '', 0);
      let problem: string | undefined = list.length === 0 ? `${hostname} has no address` : undefined;
      for (const a of allowPrivate ? [] : list) {
        const refused = specialBlock(a.address);
        if (refused) {
          problem = `${hostname} resolves to ${a.address}, ${describeRefusal(refused)}`;
          break;
        }
      }
      if (problem) {
        const error = new Error(problem) as NodeJS.ErrnoException;
        error.code = 'EWEBHOOKADDRESS';
        return callback(error, '', 0);
      }
      if ((options as { all?: boolean }).all)
        return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, list);
      callback(null, list[0]!.address, list[0]!.family);
    });
  };
}
