// How intake wakes the batcher. In one process (GATEWAY_ROLE=all) intake calls the batcher
// directly; across processes an `api` process NOTIFYs after its group commits and a `sealer`
// LISTENs. Either way the batcher also seals on its interval, so a lost wake-up only delays.
import type { FastifyBaseLogger } from 'fastify';
import type pg from 'pg';

/** The PostgreSQL channel an `api` process notifies after each group commit (payload: rows). */
export const ACCEPTED_CHANNEL = 'lianzheng_accepted';

/** At most one NOTIFY per this many ms: the sealer seals on its interval anyway (500 ms). */
const NOTIFY_EVERY_MS = 100;

/**
 * Wakes sealers in other processes after group commits with NOTIFY. The first commit after a
 * quiet spell is announced at once; commits within the next NOTIFY_EVERY_MS are summed into one
 * (a busy api commits ~100 times a second, and each NOTIFY is a round trip on a pool connection
 * the group commits also need). Best effort: a lost notification only means the sealer finds the
 * rows at its interval.
 */
export function notifier(db: pg.Pool, log: FastifyBaseLogger): (rows: number) => void {
  let pending = 0;
  let scheduled = false;
  let lastSent = 0;
  const send = async () => {
    const rows = pending;
    pending = 0;
    lastSent = Date.now();
    try {
      await db.query('select pg_notify($1, $2)', [ACCEPTED_CHANNEL, String(rows)]);
    } catch (err) {
      log.debug({ err }, 'no NOTIFY after a group commit; the sealer finds the rows at its interval');
    } finally {
      scheduled = false;
      if (pending > 0) schedule();
    }
  };
  const schedule = () => {
    scheduled = true;
    const wait = lastSent + NOTIFY_EVERY_MS - Date.now();
    if (wait <= 0) void send();
    else setTimeout(() => void send(), wait).unref();
  };
  return (rows) => {
    pending += rows;
    if (!scheduled) schedule();
  };
}

/**
 * A sealer's LISTEN on `ACCEPTED_CHANNEL`, on a connection of its own (a pool client held for
 * good), re-established with backoff when it breaks. Until then the batcher seals on its interval.
 */
export function listener(
  db: pg.Pool,
  onAccepted: (rows: number) => void,
  log: FastifyBaseLogger,
): { stop(): Promise<void> } {
  let client: pg.PoolClient | undefined;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;
  let delay = 500;
  const onNotification = (msg: pg.Notification) => {
    if (msg.channel === ACCEPTED_CHANNEL) onAccepted(Number(msg.payload) || 1);
  };
  const drop = (c: pg.PoolClient, err?: Error) => {
    c.off('notification', onNotification);
    c.release(err ?? true);
    if (client === c) client = undefined;
  };
  const connect = async () => {
    if (stopped) return;
    let c: pg.PoolClient | undefined;
    try {
      c = await db.connect();
      const current = c;
      current.on('error', (err: Error) => {
        log.warn({ err }, 'the LISTEN connection broke; sealing on the interval until it is back');
        drop(current, err);
        schedule();
      });
      current.on('notification', onNotification);
      await current.query(`listen ${ACCEPTED_CHANNEL}`);
      if (stopped) return drop(current);
      client = current;
      delay = 500;
    } catch (err) {
      if (c) drop(c, err as Error);
      log.warn({ err }, 'cannot LISTEN for accepted submissions yet; sealing on the interval');
      schedule();
    }
  };
  const schedule = () => {
    if (stopped || retry) return;
    retry = setTimeout(() => {
      retry = undefined;
      void connect();
    }, delay);
    retry.unref();
    delay = Math.min(delay * 2, 10_000);
  };
  void connect();
  return {
    async stop() {
      stopped = true;
      if (retry) clearTimeout(retry);
      const c = client;
      if (!c) return;
      client = undefined;
      await c.query(`unlisten ${ACCEPTED_CHANNEL}`).catch(() => {});
      drop(c);
    },
  };
}
