-- The embedded single-node ledger: EvidenceContract's world state and a hash chain of blocks,
-- one transaction per block.
--
-- Keys are bytea, not text: Fabric's composite keys start with U+0000, which a PostgreSQL text
-- value cannot hold, and bytea compares bytewise, which for UTF-8 is code-point order — the
-- order Fabric's range queries return.
create table world_state (
  key bytea primary key,
  value bytea not null
);

create table ledger_blocks (
  number bigint primary key,
  prev_hash bytea not null,
  data_hash bytea not null,           -- sha256 of the tx's canonical input and write set
  tx_id text not null unique,
  tx_timestamp timestamptz not null,
  fn text not null,                   -- the contract transaction name
  payload bytea not null,             -- canonical JSON: {fn, args, creator, writes, result, events}
  log_size bigint,                    -- for RecordBatch: the log size and root the contract computed
  log_root bytea,
  hash bytea not null                 -- sha256 of the block header (number, prev, data hash, tx id, time)
);
create unique index ledger_blocks_log_size on ledger_blocks (log_size) where log_size is not null;
