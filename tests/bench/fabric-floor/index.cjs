// The floor of tests/bench/fabric.bench.ts: the least a chaincode can do with a batch of records on
// the same network — ONE state write of the whole argument, under a key of its own. It reads one
// key first (the configuration, as any contract checking its writers would), so a transaction
// has a read set as well as a write set. Run as a service by fabric-shim's server (bootstrap
// reads this folder's package.json `main` and its `contracts` export), like the real chaincode.
'use strict';

const { Contract } = require('fabric-contract-api');

class FloorContract extends Contract {
  constructor() {
    super('Floor');
  }

  /** Stores `batch` (the batch's JSON) as one value; answers its key and length. */
  async Put(ctx, batch) {
    await ctx.stub.getState('config');
    const key = `batch:${ctx.stub.getTxID()}`;
    await ctx.stub.putState(key, Buffer.from(batch, 'utf8'));
    return JSON.stringify({ key, bytes: Buffer.byteLength(batch, 'utf8') });
  }
}

module.exports.contracts = [FloorContract];
