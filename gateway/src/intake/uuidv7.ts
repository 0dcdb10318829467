import { randomFillSync } from 'node:crypto';

/**
 * Time-ordered UUIDv7 (RFC 9562 §5.7) that is monotonic within this process: ids made in the
 * same millisecond use the 12-bit `rand_a` field as a counter (method 1 of §6.2), and a counter
 * overflow borrows the next millisecond. `ms` is the timestamp written into the id, so a record's
 * acceptedAt can be exactly the time its id carries.
 */
const pool = Buffer.allocUnsafe(4096);
let poolOffset = pool.length;
let lastMs = -1;
let counter = 0;

function randomBytes(n: number): Buffer {
  if (poolOffset + n > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const out = pool.subarray(poolOffset, poolOffset + n);
  poolOffset += n;
  return out;
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function uuidv7(now: number = Date.now()): { id: string; ms: number } {
  let ms = now;
  if (ms <= lastMs) {
    ms = lastMs;
    counter++;
    if (counter > 0xfff) {
      ms = lastMs + 1;
      counter = randomBytes(1)[0]! & 0x7f;
    }
  } else {
    // Start low in the counter space so a busy millisecond rarely overflows.
    counter = randomBytes(1)[0]! & 0x7f;
  }
  lastMs = ms;
  const b = new Uint8Array(16);
  // 48-bit big-endian milliseconds.
  b[0] = Math.floor(ms / 2 ** 40) & 0xff;
  b[1] = Math.floor(ms / 2 ** 32) & 0xff;
  b[2] = (ms >>> 24) & 0xff;
  b[3] = (ms >>> 16) & 0xff;
  b[4] = (ms >>> 8) & 0xff;
  b[5] = ms & 0xff;
  b[6] = 0x70 | ((counter >>> 8) & 0x0f);
  b[7] = counter & 0xff;
  const r = randomBytes(8);
  b[8] = 0x80 | (r[0]! & 0x3f);
  for (let i = 1; i < 8; i++) b[8 + i] = r[i]!;
  let s = '';
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) s += '-';
    s += HEX[b[i]!];
  }
  return { id: s, ms };
}

/** The millisecond timestamp of a UUIDv7. */
export function uuidv7Time(id: string): number {
  return Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
