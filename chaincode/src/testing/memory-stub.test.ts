import { describe, expect, it } from 'vitest';
import { createCompositeKey, MemoryLedger } from './memory-stub.ts';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe('MemoryLedger', () => {
  it('does not let a transaction read its own writes, and commits them after', async () => {
    const ledger = new MemoryLedger();
    const seen = await ledger.invoke(async (ctx) => {
      await ctx.stub.putState('k', bytes('v'));
      return (await ctx.stub.getState('k')).length;
    });
    expect(seen.result).toBe(0);
    expect(text(ledger.state.get('k')!)).toBe('v');
  });

  it('discards the writes of a transaction that throws', async () => {
    const ledger = new MemoryLedger();
    await expect(
      ledger.invoke(async (ctx) => {
        await ctx.stub.putState('k', bytes('v'));
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(ledger.state.size).toBe(0);
  });

  it('encodes composite keys as Fabric does and refuses U+0000 in attributes', () => {
    expect(createCompositeKey('record', ['a', 'b'])).toBe('\u0000record\u0000a\u0000b\u0000');
    expect(() => createCompositeKey('record', ['a\u0000'])).toThrow();
  });

  it('scans a prefix of committed state in bytewise key order', async () => {
    const ledger = new MemoryLedger();
    await ledger.invoke(async (ctx) => {
      for (const attrs of [
        ['p', '2'],
        ['p', '10'],
        ['p', '1'],
        ['q', '1'],
        ['p', '\u{1F600}'],
        ['p', '\uFFFD'],
      ])
        await ctx.stub.putState(ctx.stub.createCompositeKey('t', attrs), bytes(attrs.join('/')));
    });
    const keys = await ledger.query(async (ctx) => {
      const out: string[] = [];
      for await (const kv of ctx.stub.getStateByPartialCompositeKey('t', ['p'])) out.push(text(kv.value));
      return out;
    });
    // UTF-8 order puts U+1F600 after U+FFFD, unlike UTF-16 code-unit order.
    expect(keys).toEqual(['p/1', 'p/10', 'p/2', 'p/\uFFFD', 'p/\u{1F600}']);
  });

  it('keeps the last event of a transaction and the proposal time', async () => {
    const ledger = new MemoryLedger();
    const out = await ledger.invoke(
      async (ctx) => {
        ctx.stub.setEvent('A', bytes('1'));
        ctx.stub.setEvent('B', bytes('2'));
        const ts = ctx.stub.getTxTimestamp();
        return [Number(ts.seconds), ts.nanos];
      },
      { time: '2025-01-02T03:04:05.678Z', txId: 'tx1' },
    );
    expect(out.event?.name).toBe('B');
    expect(out.result).toEqual([Date.parse('2025-01-02T03:04:05Z') / 1000, 678_000_000]);
    expect(ledger.events.map((e) => [e.name, e.txId])).toEqual([['B', 'tx1']]);
  });

  it('presents the caller like Fabric ClientIdentity', async () => {
    const ledger = new MemoryLedger();
    const id = await ledger.query(
      (ctx) =>
        Promise.resolve([
          ctx.clientIdentity.getMSPID(),
          ctx.clientIdentity.getID(),
          ctx.clientIdentity.getAttributeValue('role'),
        ]),
      {
        identity: { mspId: 'Org9MSP', subject: '/CN=alice', issuer: '/CN=ca', attributes: { role: 'unit' } },
      },
    );
    expect(id).toEqual(['Org9MSP', 'x509::/CN=alice::/CN=ca', 'unit']);
  });
});
