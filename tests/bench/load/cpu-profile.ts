// Where a V8 CPU profile's time went (a `.cpuprofile` from `node --cpu-prof`), by self and by
// inclusive time per function, for the profiling aids (profile-gateway.ts, seal-cpu.ts).

export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SummaryOptions {
  /** How many functions to list by self time (twice as many by inclusive time). */
  top?: number;
  /** Count only samples taken in this window (the profile's monotonic microseconds). */
  fromMicros?: number;
  toMicros?: number;
}

/** Self and inclusive time by function over every sample of `profiles` (idle excluded). */
export function summariseCpuProfiles(profiles: CpuProfile[], options: SummaryOptions = {}): string {
  const { top = 40, fromMicros = -Infinity, toMicros = Infinity } = options;
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  for (const profile of profiles) {
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const key = (id: number) => {
      const f = byId.get(id)!.callFrame;
      const url = f.url
        .replace(/^.*\/node_modules\//, '~/')
        .replace(/^(?:file:\/\/)?.*?\/(gateway|proof|chaincode|tests)\//, '$1/');
      return `${f.functionName || '(anonymous)'} ${url}:${f.lineNumber + 1}`;
    };
    let t = profile.startTime;
    for (let i = 0; i < profile.samples.length; i++) {
      const d = profile.timeDeltas[i] ?? 0;
      t += d;
      if (t < fromMicros || t > toMicros) continue;
      const id = profile.samples[i]!;
      if (byId.get(id)!.callFrame.functionName === '(idle)') continue;
      total += d;
      self.set(key(id), (self.get(key(id)) ?? 0) + d);
      const seen = new Set<string>();
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
        const k = key(cur);
        if (seen.has(k)) continue;
        seen.add(k);
        inclusive.set(k, (inclusive.get(k) ?? 0) + d);
      }
    }
  }
  const list = (m: Map<string, number>, n: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(
        ([k, v]) =>
          `${(v / 1000).toFixed(0).padStart(7)} ms ${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`,
      )
      .join('\n');
  return `busy ${(total / 1000).toFixed(0)} ms\n--- self\n${list(self, top)}\n--- inclusive\n${list(inclusive, top * 2)}`;
}
