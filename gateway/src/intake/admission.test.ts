import { describe, expect, it } from 'vitest';
import { AppError } from '../errors.ts';
import { Admission } from './admission.ts';

/** A backlog reader whose answer the test sets, counting its readings. */
function backlogReader(initial: number, delayMs = 0) {
  const reader = {
    value: initial,
    reads: 0,
    fail: false,
    read: async () => {
      reader.reads++;
      if (delayMs > 0) await sleep(delayMs);
      if (reader.fail) throw new Error('the database is not answering');
      return reader.value;
    },
  };
  return reader;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Lets the reading a commit started finish. */
const settle = () => sleep(2);

describe('Admission', () => {
  it('reads the backlog after commits, at most once per pollMs, and never because a request arrived', async () => {
    const reader = backlogReader(10);
    const admission = new Admission(reader.read, { maxBacklog: 100, maxWaitMs: 1000, pollMs: 30 });
    for (let i = 0; i < 5; i++) await admission.admit();
    expect(reader.reads).toBe(0);
    admission.committed(4);
    await settle();
    expect(reader.reads).toBe(1);
    // The reading counts the queue, the 4 included: they are not counted twice.
    expect(admission.backlog).toBe(10);
    admission.committed(3);
    await settle();
    expect(reader.reads).toBe(1);
    expect(admission.backlog).toBe(13);
    await sleep(35);
    reader.value = 20;
    admission.committed(1);
    await settle();
    expect(reader.reads).toBe(2);
    expect(admission.backlog).toBe(20);
  });

  it('lets submissions through at once under the bound, without waiting for a reading in flight', async () => {
    const reader = backlogReader(10, 50);
    const admission = new Admission(reader.read, { maxBacklog: 100, maxWaitMs: 1000, pollMs: 10 });
    admission.committed(1);
    const started = performance.now();
    await admission.admit();
    expect(performance.now() - started).toBeLessThan(20);
  });

  it('holds a submission while the backlog is at the bound and lets it through once a reading falls under it', async () => {
    const reader = backlogReader(100);
    const admission = new Admission(reader.read, { maxBacklog: 100, maxWaitMs: 5000, pollMs: 20 });
    admission.committed(1);
    await settle();
    expect(admission.backlog).toBe(100);
    let admitted = false;
    const held = admission.admit().then(() => {
      admitted = true;
    });
    await sleep(80);
    expect(admitted).toBe(false);
    reader.value = 99;
    await held;
    expect(admitted).toBe(true);
  });

  it('refuses with 503 BACKLOG_FULL and a Retry-After after waiting maxWaitMs', async () => {
    const reader = backlogReader(500);
    const held: string[] = [];
    const admission = new Admission(reader.read, {
      maxBacklog: 100,
      maxWaitMs: 120,
      pollMs: 30,
      onHeld: (outcome) => held.push(outcome),
    });
    admission.committed(1);
    await settle();
    const readsBefore = reader.reads;
    const started = performance.now();
    const error = await admission.admit().then(
      () => undefined,
      (e: unknown) => e,
    );
    const waited = performance.now() - started;
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('BACKLOG_FULL');
    expect((error as AppError).status).toBe(503);
    expect((error as AppError).extensions).toEqual({ retryAfterSeconds: 1 });
    expect((error as AppError).detail).toContain('500 submissions are waiting');
    expect(waited).toBeGreaterThanOrEqual(115);
    expect(waited).toBeLessThan(1000);
    // It kept reading while it waited: about once per pollMs, not once per check.
    expect(reader.reads - readsBefore).toBeGreaterThanOrEqual(2);
    expect(reader.reads - readsBefore).toBeLessThanOrEqual(8);
    expect(held).toEqual(['refused']);
  });

  it("counts this process's own commits between two readings", async () => {
    const reader = backlogReader(0);
    const admission = new Admission(reader.read, { maxBacklog: 100, maxWaitMs: 60, pollMs: 10_000 });
    admission.committed(1);
    await settle();
    expect(admission.backlog).toBe(0);
    admission.committed(60);
    await admission.admit();
    admission.committed(60);
    expect(admission.backlog).toBe(120);
    // No reading is due for 10 s: what was committed since holds the next submission back.
    await expect(admission.admit()).rejects.toMatchObject({ code: 'BACKLOG_FULL' });
    expect(reader.reads).toBe(1);
  });

  it('shares one reading between many waiting submissions', async () => {
    const reader = backlogReader(1000);
    const admission = new Admission(reader.read, { maxBacklog: 100, maxWaitMs: 5000, pollMs: 25 });
    admission.committed(1);
    await settle();
    const held = Array.from({ length: 200 }, () => admission.admit());
    await sleep(100);
    reader.value = 0;
    await Promise.all(held);
    // ~5 polls in ~125 ms, whatever the number of waiters.
    expect(reader.reads).toBeLessThan(20);
  });

  it('never reads nor holds with maxBacklog 0', async () => {
    const reader = backlogReader(1e9);
    const admission = new Admission(reader.read, { maxBacklog: 0, maxWaitMs: 10, pollMs: 1 });
    admission.committed(1000);
    await admission.admit();
    await settle();
    expect(reader.reads).toBe(0);
  });

  it('keeps its last reading when the database does not answer', async () => {
    const reader = backlogReader(5);
    const admission = new Admission(reader.read, { maxBacklog: 100, maxWaitMs: 10, pollMs: 5 });
    admission.committed(1);
    await settle();
    reader.fail = true;
    await sleep(10);
    admission.committed(2);
    await settle();
    expect(reader.reads).toBe(2);
    expect(admission.backlog).toBe(7);
  });
});
