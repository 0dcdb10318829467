// CPU and memory of other processes, read from /proc (Linux): the gateway's CPU (in cores: 1.0 =
// one core busy for the whole window), its RSS sampled every 100 ms (peak and last), and the CPU
// of PostgreSQL's backends (the postmaster's children), so a run shows where the machine's two
// cores went.

import fs from 'node:fs';
import os from 'node:os';

const TICKS = 100; // USER_HZ; 100 on every Linux this runs on
const PAGE = 4096;

/** Reaped children's CPU (cutime + cstime) of this process, in ticks. */
function reapedChildrenTicks(): number {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[13]) + Number(fields[14]);
}

function cpuTicks(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime + stime
  } catch {
    return 0;
  }
}

export function rssBytes(pid: number): number {
  try {
    const statm = fs.readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ');
    return Number(statm[1]) * PAGE;
  } catch {
    return 0;
  }
}

export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
}

export interface ProcWindow {
  seconds: number;
  /** Gateway CPU in cores (user + system) over the window. */
  cpuCores: number;
  /** PostgreSQL backends' CPU in cores over the window (0 when unknown). */
  pgCpuCores: number;
  /**
   * This process's CPU in cores, plus that of its children that ended in the window (wrk runs as
   * one, for the length of a run): the load generator's.
   */
  selfCpuCores: number;
  rssStartBytes: number;
  rssPeakBytes: number;
  rssEndBytes: number;
  /** RSS samples (bytes) every 100 ms, for soak runs. */
  samples: number[];
}

/** Starts watching `pids` (gateway processes) and, if given, the PostgreSQL postmaster's children. */
export function watch(pids: number[], postmaster?: number): { stop(): ProcWindow } {
  const pgPids = (): number[] => (postmaster ? [postmaster, ...childrenOf(postmaster)] : []);
  const sumTicks = (list: number[]) => list.reduce((a, p) => a + cpuTicks(p), 0);
  const sumRss = () => pids.reduce((a, p) => a + rssBytes(p), 0);
  const t0 = performance.now();
  const cpu0 = sumTicks(pids);
  // Backends come and go; count ticks per pid so a new one is not counted from boot.
  const pgStart = new Map<number, number>();
  for (const p of pgPids()) pgStart.set(p, cpuTicks(p));
  const self0 = process.cpuUsage();
  const reaped0 = reapedChildrenTicks();
  const rssStart = sumRss();
  const samples: number[] = [rssStart];
  let peak = rssStart;
  const timer = setInterval(() => {
    const rss = sumRss();
    samples.push(rss);
    if (rss > peak) peak = rss;
  }, 100);
  timer.unref();
  return {
    stop(): ProcWindow {
      clearInterval(timer);
      const seconds = (performance.now() - t0) / 1000;
      const rssEnd = sumRss();
      if (rssEnd > peak) peak = rssEnd;
      let pgTicks = 0;
      for (const p of pgPids()) pgTicks += cpuTicks(p) - (pgStart.get(p) ?? 0);
      const self = process.cpuUsage(self0);
      return {
        seconds,
        cpuCores: (sumTicks(pids) - cpu0) / TICKS / seconds,
        pgCpuCores: pgTicks / TICKS / seconds,
        selfCpuCores: ((self.user + self.system) / 1e6 + (reapedChildrenTicks() - reaped0) / TICKS) / seconds,
        rssStartBytes: rssStart,
        rssPeakBytes: peak,
        rssEndBytes: rssEnd,
        samples,
      };
    },
  };
}

/** The 1-minute load average and the core count, for the log line at the start of a run. */
export function loadLine(): string {
  const [one, five] = os.loadavg();
  return `load average ${one!.toFixed(2)} (1 min), ${five!.toFixed(2)} (5 min) on ${os.cpus().length} cores`;
}
