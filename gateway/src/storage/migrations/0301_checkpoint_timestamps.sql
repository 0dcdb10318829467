-- An RFC 3161 time-stamp token over each checkpoint's root, made when the checkpoint is signed
-- and stored in the same transaction, so a checkpoint and its trusted time arrive together.
alter table checkpoints add column if not exists tsa_token bytea;
