-- On Fabric a batch's transaction is endorsed by a majority of the channel's organisations; the
-- bundle names them (MSP ids, sorted), so a reader sees which government bodies vouched for it.
-- Null on the embedded ledger, which has one organisation and no endorsements.
alter table ledger_batches add column endorsers text[];
