// Open-loop load at a fixed arrival rate: request i is due at t0 + i/rate whether or not earlier
// answers have come back, and its latency is measured from when it was due, not from when a
// connection was free to send it — so a server that falls behind shows its queueing delay
// instead of hiding it (coordinated omission). autocannon's rate limit is per connection and per
// second, which is bursty and closed-loop, hence this small raw-socket client.
//
// HTTP/1.1 keep-alive over a pool of plain TCP sockets; the answers the gateway sends always carry
// Content-Length, which is all the parsing this needs.
import net from 'node:net';
import type { LoadRequest, LoadResult } from './closed-loop.ts';
import { Latencies } from './latencies.ts';

const CRLFCRLF = Buffer.from('\r\n\r\n');

interface Conn {
  socket: net.Socket;
  busy: boolean;
  due: number;
  buffer: Buffer;
}

export interface OpenLoopResult extends LoadResult {
  /** The requested arrival rate. */
  rate: number;
  /** Requests due in the run that never got an answer before the grace period ended. */
  unanswered: number;
  /** Largest number of due requests waiting for a free connection. */
  maxBacklog: number;
  /** Answers that arrived on a connection with no request outstanding (should be 0). */
  unexpected: number;
}

function contentLength(head: string): number {
  const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  return m ? Number(m[1]) : 0;
}

export async function openLoop(
  url: string,
  request: LoadRequest,
  options: { rate: number; seconds: number; connections: number; graceMs?: number },
): Promise<OpenLoopResult> {
  const { hostname, port } = new URL(url);
  const headerLines = Object.entries({ host: `${hostname}:${port}`, ...request.headers })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  const build = (): Buffer => {
    const path = typeof request.path === 'function' ? request.path() : request.path;
    const body = request.body?.();
    if (body === undefined)
      return Buffer.from(`${request.method} ${path} HTTP/1.1\r\n${headerLines}\r\n`, 'latin1');
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    return Buffer.concat([
      Buffer.from(
        `${request.method} ${path} HTTP/1.1\r\n${headerLines}content-length: ${bytes.length}\r\n\r\n`,
        'latin1',
      ),
      bytes,
    ]);
  };

  const latencies = new Latencies();
  const status: Record<string, number> = {};
  let errors = 0;
  const idle: Conn[] = [];
  const backlog: number[] = [];
  let maxBacklog = 0;
  let inFlight = 0;
  let unexpected = 0;
  let finished = false;

  const send = (conn: Conn, due: number) => {
    conn.busy = true;
    conn.due = due;
    inFlight++;
    conn.socket.write(build());
  };
  const onAnswer = (conn: Conn, code: number) => {
    const now = performance.now();
    if (!conn.busy) {
      unexpected++;
      return;
    }
    inFlight--;
    status[code] = (status[code] ?? 0) + 1;
    if (code >= 200 && code < 300) latencies.add(now - conn.due);
    conn.busy = false;
    const next = backlog.shift();
    if (next !== undefined) send(conn, next);
    else idle.push(conn);
  };

  const conns: Conn[] = await Promise.all(
    Array.from(
      { length: options.connections },
      () =>
        new Promise<Conn>((resolve, reject) => {
          const socket = net.connect({ host: hostname, port: Number(port), noDelay: true });
          const conn: Conn = { socket, busy: false, due: 0, buffer: Buffer.alloc(0) };
          socket.once('connect', () => resolve(conn));
          socket.once('error', reject);
          socket.on('data', (chunk: Buffer) => {
            conn.buffer = conn.buffer.length === 0 ? chunk : Buffer.concat([conn.buffer, chunk]);
            for (;;) {
              const end = conn.buffer.indexOf(CRLFCRLF);
              if (end < 0) return;
              const head = conn.buffer.toString('latin1', 0, end);
              const total = end + 4 + contentLength(head);
              if (conn.buffer.length < total) return;
              const code = Number(head.slice(9, 12));
              conn.buffer = conn.buffer.subarray(total);
              onAnswer(conn, code);
            }
          });
        }),
    ),
  );
  for (const c of conns) {
    c.socket.removeAllListeners('error');
    c.socket.on('error', () => {
      errors++;
    });
    // A connection the server closed (e.g. its keep-alive timeout): its request, if any, failed.
    c.socket.on('close', () => {
      const at = idle.indexOf(c);
      if (at >= 0) idle.splice(at, 1);
      if (c.busy && !finished) {
        c.busy = false;
        inFlight--;
        errors++;
      }
    });
    idle.push(c);
  }

  const t0 = performance.now();
  const end = t0 + options.seconds * 1000;
  const interval = 1000 / options.rate;
  let issued = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      const until = Math.min(now, end);
      while (t0 + issued * interval <= until) {
        const due = t0 + issued * interval;
        issued++;
        // Oldest idle connection first, so that none sits idle past the server's keep-alive timeout.
        const conn = idle.shift();
        if (conn) send(conn, due);
        else {
          backlog.push(due);
          if (backlog.length > maxBacklog) maxBacklog = backlog.length;
        }
      }
      if (now >= end) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  // Let the last answers arrive; whatever is still missing after the grace period is unanswered.
  const graceEnd = performance.now() + (options.graceMs ?? 10_000);
  while ((inFlight > 0 || backlog.length > 0) && performance.now() < graceEnd)
    await new Promise((r) => setTimeout(r, 5));
  const unanswered = inFlight + backlog.length;
  finished = true;
  for (const c of conns) c.socket.destroy();
  const seconds = options.seconds;
  return {
    seconds,
    ok: latencies.count,
    rps: latencies.count / seconds,
    status,
    errors,
    timeouts: unanswered,
    latency: latencies.summary(),
    generator: 'open-loop',
    rate: options.rate,
    unanswered,
    maxBacklog,
    unexpected,
  };
}
