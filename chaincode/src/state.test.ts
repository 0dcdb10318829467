import { canonicalBytes } from '@lianzheng/proof';
import { describe, expect, it } from 'vitest';
import { EncodedValue, StateView } from './state.ts';
import { MemoryLedger, MemoryStub } from './testing/memory-stub.ts';

// RecordBatch hands its batch value to the view already encoded (EncodedValue, batch.ts): it is
// written as those bytes, and read back within the transaction as the value they encode.
describe('EncodedValue', () => {
  it('is written as its bytes and read back decoded', async () => {
    const stub = new MemoryStub(new MemoryLedger(), 'tx', new Date('2025-01-01T00:00:00.000Z'));
    const view = new StateView(stub);
    const value = { b: [1, 'two'], a: { c: '第' } };
    view.set('k', new EncodedValue(canonicalBytes(value)));
    expect(await view.get('k')).toEqual(value);
    await view.flush();
    expect(stub.writes).toEqual([['k', canonicalBytes(value)]]);
  });
});
