-- RFC 3161 serial numbers (gateway/src/tsa/serial.ts, createPgSerial). Each nextval reserves a
-- block of 1024 serials for one process, so the sequence advances by the block size. A token's
-- serial must be unique for the TSA forever: never reset this sequence, never lower it.
create sequence if not exists tsa_serial as bigint start with 1024 increment by 1024 minvalue 1024;
