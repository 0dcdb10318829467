// Serial numbers for time-stamp tokens: unique per TSA and increasing in issue order.
import type pg from 'pg';

export type NextSerial = () => bigint | Promise<bigint>;

/**
 * Without a database: milliseconds since the epoch times 2^20, plus a counter. Unique and increasing
 * across restarts as long as the clock does not step back and fewer than ~a million tokens are
 * issued in one millisecond; if the clock steps back it keeps counting from the last value.
 */
export function createClockSerial(now: () => number = Date.now): NextSerial {
  let last = 0n;
  return () => {
    const candidate = BigInt(now()) << 20n;
    last = candidate > last ? candidate : last + 1n;
    return last;
  };
}

/**
 * From PostgreSQL (migration 0300_tsa_serial.sql): the sequence advances by BLOCK per nextval, and
 * this process hands out the numbers of its block one by one, so a token costs no round trip most
 * of the time. Blocks of several gateways interleave, but each serial is issued once; a restart
 * skips the rest of its block, which leaves gaps, never repeats.
 */
export const PG_SERIAL_BLOCK = 1024n;

export function createPgSerial(pool: Pick<pg.Pool, 'query'>): NextSerial {
  let next = 0n;
  let end = 0n;
  let refill: Promise<void> | undefined;
  const take = async (): Promise<bigint> => {
    while (next >= end) {
      refill ??= pool
        .query<{ v: string }>(`select nextval('tsa_serial')::text as v`)
        .then((r) => {
          const start = BigInt(r.rows[0]!.v);
          next = start;
          end = start + PG_SERIAL_BLOCK;
        })
        .finally(() => {
          refill = undefined;
        });
      await refill;
    }
    const serial = next;
    next += 1n;
    return serial;
  };
  return take;
}
