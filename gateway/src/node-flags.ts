/**
 * Node flags of the gateway's processes: `npm start` runs server.ts with them, API_WORKERS gives
 * them to every worker, and the bench starts the gateway with them, so it measures what runs.
 *
 * A 32 MiB young-generation semi-space (V8's default is 16 MiB): a group commit's rows, a
 * 1,000-item batch's request and answer, and the batcher's records live for a few milliseconds
 * across awaits, and with 16 MiB many of them survive two scavenges and are promoted, to be
 * collected by the far costlier old-generation GC. In an alternating A/B (docs/benchmarks.md) the
 * batch route took 14–23% less CPU per record and the single-POST p99 fell by 6–22 ms, for a few
 * tens of MiB more peak RSS. The space grows to it only under such load.
 */
export const GATEWAY_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=32'];

/** `flags` with the gateway's added, unless the caller already chose a value for one. */
export function withGatewayNodeFlags(flags: readonly string[]): string[] {
  const name = (f: string) => f.split('=')[0];
  const chosen = new Set([...flags, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].map(name));
  return [...GATEWAY_NODE_FLAGS.filter((f) => !chosen.has(name(f))), ...flags];
}
