// The SSRF guard, block by block: one address inside each special-purpose block is refused and a
// public address next to it is allowed — as an IP literal at registration, and as a DNS answer
// when a delivery connects. Every entry of the tables in address-guard.ts must have a row here.
import type dns from 'node:dns';
import { describe, expect, it } from 'vitest';
import {
  EMBEDDED_IPV4,
  guardedLookup,
  IPV4_SPECIAL,
  IPV6_SPECIAL,
  isSpecialAddress,
  type Resolver,
  specialBlock,
  webhookUrlProblem,
} from './address-guard.ts';

/** Outside 2000::/3 nothing is public: the neighbour of a block there is a public address. */
const PUBLIC_V6 = '2001:4860:4860::8888';

/** block → [addresses inside it (refused), public neighbours (allowed)]. */
const CASES: Record<string, [string[], string[]]> = {
  // IPv4 Special-Purpose Address Registry
  '0.0.0.0/8': [['0.1.2.3'], ['1.0.0.1']],
  '0.0.0.0/32': [['0.0.0.0'], ['1.1.1.1']],
  '10.0.0.0/8': [['10.20.30.40'], ['11.0.0.1', '9.255.255.254']],
  '100.64.0.0/10': [
    ['100.64.0.1', '100.100.100.200'],
    ['100.63.255.254', '100.128.0.1'],
  ],
  '127.0.0.0/8': [
    ['127.0.0.1', '127.255.255.254'],
    ['126.255.255.254', '128.0.0.1'],
  ],
  '169.254.0.0/16': [['169.254.169.254'], ['169.253.255.254', '169.255.0.1']],
  '172.16.0.0/12': [
    ['172.16.0.1', '172.31.255.254'],
    ['172.15.255.254', '172.32.0.1'],
  ],
  '192.0.0.0/24': [['192.0.0.200'], ['192.0.1.1', '191.255.255.254']],
  '192.0.0.0/29': [['192.0.0.1'], ['192.0.1.1']],
  '192.0.0.8/32': [['192.0.0.8'], ['192.0.1.8']],
  '192.0.0.9/32': [['192.0.0.9'], ['192.0.1.9']],
  '192.0.0.10/32': [['192.0.0.10'], ['192.0.1.10']],
  '192.0.0.170/32': [['192.0.0.170'], ['192.0.1.170']],
  '192.0.0.171/32': [['192.0.0.171'], ['192.0.1.171']],
  '192.0.2.0/24': [['192.0.2.1', '192.0.2.255'], ['192.0.3.1']],
  '192.31.196.0/24': [['192.31.196.1'], ['192.31.197.1']],
  '192.52.193.0/24': [['192.52.193.1'], ['192.52.192.1']],
  '192.88.99.0/24': [['192.88.99.1'], ['192.88.98.1', '192.88.100.1']],
  '192.168.0.0/16': [['192.168.1.1'], ['192.169.0.1', '192.167.255.254']],
  '192.175.48.0/24': [['192.175.48.6'], ['192.175.49.1']],
  '198.18.0.0/15': [
    ['198.18.0.1', '198.19.255.254'],
    ['198.17.255.254', '198.20.0.1'],
  ],
  '198.51.100.0/24': [['198.51.100.7'], ['198.51.101.1', '198.51.99.1']],
  '203.0.113.0/24': [['203.0.113.9'], ['203.0.112.1', '203.0.114.1']],
  '224.0.0.0/4': [['224.0.0.1', '239.255.255.250'], ['223.255.255.254']],
  '240.0.0.0/4': [['240.0.0.1', '250.1.2.3'], ['223.255.255.254']],
  '255.255.255.255/32': [['255.255.255.255'], ['223.255.255.254']],
  // IPv6 Special-Purpose Address Registry, and the deprecated or non-unicast blocks outside it
  '::1/128': [['::1', '0:0:0:0:0:0:0:1'], [PUBLIC_V6]],
  '::/128': [['::'], [PUBLIC_V6]],
  '::/96': [['::127.0.0.1', '::7f00:1', '::a9fe:a9fe', '::8.8.8.8'], ['::ffff:8.8.8.8']],
  '::ffff:0:0:0/96': [['::ffff:0:127.0.0.1', '::ffff:0:7f00:1', '::ffff:0:8.8.8.8'], ['::ffff:8.8.8.8']],
  '64:ff9b:1::/48': [['64:ff9b:1::7f00:1', '64:ff9b:1:ffff::8.8.8.8'], ['64:ff9b::8.8.8.8']],
  '100::/64': [['100::1', '100::ffff:ffff:ffff:ffff'], [PUBLIC_V6]],
  '100:0:0:1::/64': [['100:0:0:1::5'], [PUBLIC_V6]],
  '2001::/23': [
    ['2001:1ff::1', '2001:100::1'],
    ['2001:200::1', '2000:ffff::1'],
  ],
  '2001::/32': [['2001:0:4136:e378:8000:63bf:3fff:fdd2'], ['2001:200::1']],
  '2001:1::1/128': [['2001:1::1'], ['2001:200::1']],
  '2001:1::2/128': [['2001:1::2'], ['2001:200::1']],
  '2001:1::3/128': [['2001:1::3'], ['2001:200::1']],
  '2001:2::/48': [['2001:2::1'], ['2001:200::1']],
  '2001:3::/32': [['2001:3::1'], ['2001:200::1']],
  '2001:4:112::/48': [['2001:4:112::1'], ['2001:200::1']],
  '2001:10::/28': [['2001:10::1'], ['2001:200::1']],
  '2001:20::/28': [['2001:20::1'], ['2001:200::1']],
  '2001:30::/28': [['2001:30::1'], ['2001:200::1']],
  '2001:db8::/32': [
    ['2001:db8::1', '2001:db8:ffff::1'],
    ['2001:db7:ffff::1', '2001:db9::1'],
  ],
  '2620:4f:8000::/48': [['2620:4f:8000::42'], ['2620:4f:8001::1', '2620:4f:7fff::1']],
  '3fff::/20': [
    ['3fff::1', '3fff:fff::1'],
    ['3fff:1000::1', '3ffe:ffff::1'],
  ],
  '5f00::/16': [['5f00::1'], [PUBLIC_V6]],
  'fc00::/7': [['fc00::1', 'fd12:3456::1'], [PUBLIC_V6]],
  'fec0::/10': [['fec0::1', 'feff::1'], [PUBLIC_V6]],
  'fe80::/10': [['fe80::1', 'fe80::1%eth0', 'febf::1'], [PUBLIC_V6]],
  'ff00::/8': [['ff02::1', 'ff05::1:3'], [PUBLIC_V6]],
  // IPv6 blocks carrying an IPv4 address: judged by it
  '::ffff:0:0/96': [
    ['::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:169.254.169.254', '::ffff:10.0.0.1', '::ffff:192.0.2.1'],
    ['::ffff:8.8.8.8', '::ffff:808:808'],
  ],
  '64:ff9b::/96': [
    [
      '64:ff9b::127.0.0.1',
      '64:ff9b::7f00:1',
      '64:ff9b::a9fe:a9fe',
      '64:ff9b::10.0.0.1',
      '64:ff9b::c633:6401',
    ],
    ['64:ff9b::8.8.8.8', '64:ff9b::808:808'],
  ],
  '2002::/16': [
    ['2002:7f00:1::1', '2002:a9fe:a9fe::', '2002:a00:1::1', '2002:c000:201::1', '2002::1'],
    ['2002:808:808::1', '2003::1', '2001:ffff::1'],
  ],
};

const blocks = [...IPV4_SPECIAL, ...IPV6_SPECIAL, ...EMBEDDED_IPV4].map((r) => `${r.prefix}/${r.bits}`);

describe('the SSRF guard', () => {
  it('has a case for every block of its tables, and no case for a block it lacks', () => {
    expect(Object.keys(CASES).sort()).toEqual([...blocks].sort());
  });

  describe.each(Object.entries(CASES))('%s', (block, [inside, neighbours]) => {
    const carries = EMBEDDED_IPV4.some((r) => `${r.prefix}/${r.bits}` === block);
    it.each(inside)('refuses %s', (address) => {
      expect(isSpecialAddress(address)).toBe(true);
      // Named by this block (the narrowest that holds it), or by the IPv4 block of what it carries.
      if (carries) expect(specialBlock(address)?.embedded).toBeDefined();
      else expect(specialBlock(address)?.block).toBe(block);
      const literal = address.replace(/%.*$/, '');
      const url = `https://${literal.includes(':') ? `[${literal}]` : literal}/hook`;
      expect(webhookUrlProblem(url, false)).toMatch(/special-purpose address/);
      expect(webhookUrlProblem(url, true)).toBeUndefined();
    });
    it.each(neighbours)('allows %s', (address) => {
      expect(specialBlock(address)).toBeUndefined();
      const url = `https://${address.includes(':') ? `[${address}]` : address}/hook`;
      expect(webhookUrlProblem(url, false)).toBeUndefined();
    });
  });

  it('names the block, its registry entry and RFC, and the IPv4 address a v6 one carries', () => {
    expect(specialBlock('192.0.2.1')).toEqual({
      block: '192.0.2.0/24',
      name: 'Documentation (TEST-NET-1)',
      rfc: 'RFC 5737',
    });
    expect(specialBlock('192.0.0.9')).toMatchObject({ block: '192.0.0.9/32' }); // the narrowest
    expect(specialBlock('64:ff9b::a9fe:a9fe')).toMatchObject({
      block: '169.254.0.0/16',
      embedded: '169.254.169.254',
      name: expect.stringContaining('64:ff9b::/96'),
    });
    expect(specialBlock('2002:7f00:1::')).toMatchObject({ block: '127.0.0.0/8', embedded: '127.0.0.1' });
    expect(webhookUrlProblem('https://[64:ff9b::127.0.0.1]/x', false)).toBe(
      '64:ff9b::7f00:1 is a special-purpose address (127.0.0.0/8, Loopback inside IPv4-IPv6 Translation (NAT64) 64:ff9b::/96, RFC 1122 §3.2.1.3)',
    );
  });

  it('refuses what is outside 2000::/3 and in no table, and what is not an address', () => {
    for (const address of ['1::1', '4000::1', 'e000::1', '8000::', 'not-an-ip', '']) {
      expect(isSpecialAddress(address), address).toBe(true);
    }
    expect(specialBlock('4000::1')).toMatchObject({ block: 'outside 2000::/3' });
  });

  it('sees through the spellings a URL may give an IPv4 address', () => {
    for (const host of [
      '0x7f000001',
      '2130706433',
      '127.1',
      '0177.0.0.1',
      '0x7f.0.0.1',
      '[::ffff:127.0.0.1]',
      '[::ffff:0:127.0.0.1]',
      '[0:0:0:0:0:ffff:7f00:1]',
      '[::127.0.0.1]',
      '[64:ff9b::169.254.169.254]',
      '0xa9fea9fe',
      '3232235777', // 192.168.1.1
    ]) {
      expect(webhookUrlProblem(`https://${host}/hook`, false), host).toMatch(/special-purpose/);
    }
    // A name is judged when it resolves, not here.
    expect(webhookUrlProblem('https://erp.example/hooks', false)).toBeUndefined();
  });
});

describe('the guarded lookup', () => {
  const answering =
    (...addresses: string[]): Resolver =>
    (_host, _options, callback) =>
      callback(
        null,
        addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
      );
  const lookup = (
    resolver: Resolver,
    all: boolean,
    allowPrivate = false,
  ): Promise<{ err: NodeJS.ErrnoException | null; result: unknown }> =>
    new Promise((resolve) =>
      guardedLookup(allowPrivate, resolver)(
        'hooks.partner.example',
        { all } as dns.LookupOptions,
        (err, a, f) => resolve({ err, result: all ? a : [a, f] }),
      ),
    );

  it.each([
    ['127.0.0.1'],
    ['64:ff9b::7f00:1'],
    ['64:ff9b::a9fe:a9fe'],
    ['2002:a9fe:a9fe::1'],
    ['::ffff:0:7f00:1'],
    ['fec0::1'],
    ['192.0.2.10'],
  ])('refuses a name with a DNS answer of %s, even beside a public one', async (bad) => {
    const { err } = await lookup(answering('93.184.215.14', bad), true);
    expect(err).toMatchObject({
      code: 'EWEBHOOKADDRESS',
      message: expect.stringContaining(`hooks.partner.example resolves to ${bad}, a special-purpose address`),
    });
  });

  it('passes public answers on, all of them or the first', async () => {
    const resolver = answering('93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c');
    expect((await lookup(resolver, true)).result).toEqual([
      { address: '93.184.215.14', family: 4 },
      { address: '2606:2800:21f:cb07:6820:80da:af6b:8b2c', family: 6 },
    ]);
    expect((await lookup(resolver, false)).result).toEqual(['93.184.215.14', 4]);
  });

  it('lets WEBHOOK_ALLOW_PRIVATE reach loopback and private answers, and refuses no answer', async () => {
    expect((await lookup(answering('127.0.0.1'), false, true)).result).toEqual(['127.0.0.1', 4]);
    expect((await lookup(answering(), true)).err?.message).toMatch(/has no address/);
  });
});
