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

/**
 * A process that seals (GATEWAY_ROLE `all` or `sealer`) gets a 128 MiB semi-space: a sealing step
 * keeps its 10,000 records (rows, parsed records, RecordBatch's argument and the contract's
 * parse of it) alive for ~0.5 s, so with 32 MiB the scavenges promote most of it and the old
 * generation needs about two Mark-Compacts per step. In alternating A/Bs of the sealer process
 * (docs/benchmarks.md, issue #26) its CPU per record fell by a median 15% (64 MiB: 5%) and GC
 * from ~28% to ~20% of its profile, and single POSTs in the one-process gateway did not suffer.
 * `api` processes keep 32: without the sealer's garbage, 128 made single POSTs' GC far dearer
 * (V8's helper threads ~11 → ~45 µs per POST) though it helped 1,000-item batches. The price:
 * ~140 MiB more peak RSS in the sealing process (~450 → ~600 MiB while recording a backlog).
 */
export const SEALING_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=128'];

/**
 * The gateway's flags for a process of `role` (GATEWAY_ROLE; unset means `all`). `supervisor`:
 * the API_WORKERS supervisor, which only forks (cluster.ts gives each worker its role's flags).
 */
export function gatewayNodeFlags(role: string | undefined): readonly string[] {
  if (role === 'supervisor') return [];
  return role === 'api' ? GATEWAY_NODE_FLAGS : SEALING_NODE_FLAGS;
}

/**
 * `flags` with the gateway's for a process of `role` added, unless the caller already chose a
 * value for one (on the command line or in NODE_OPTIONS).
 */
export function withGatewayNodeFlags(
  flags: readonly string[],
  role: string | undefined = process.env.GATEWAY_ROLE,
): string[] {
  const name = (f: string) => f.split('=')[0];
  const chosen = new Set([...flags, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].map(name));
  return [...gatewayNodeFlags(role).filter((f) => !chosen.has(name(f))), ...flags];
}
