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
 * A process that seals (GATEWAY_ROLE `all` or `sealer`) gets a 64 MiB semi-space and an old
 * generation that is not collected below 512 MiB. A sealing step keeps its 10,000 records (rows,
 * parsed records, RecordBatch's argument and the contract's parse of it) alive for ~0.5 s, so
 * much of what it allocates is promoted. V8 sets the old generation's limit at about what
 * survived the last Mark-Compact plus the young generation's size, and starts marking as soon as
 * the old generation is within one young generation of that limit: with the live heap at
 * ~100 MiB, every ~30–50 MiB promoted started a full collection — about 3 a second under
 * 1,000-item batches (`--trace-gc`, `--trace-incremental-marking`: "Start (task)" at 108 of a
 * 260 MiB limit). `--initial-old-space-size` is also the floor V8 keeps that limit at, so with
 * 512 the old generation is collected about every 1.2 s, when Buffers' external memory asks
 * (docs/benchmarks.md, issue #26). In alternating A/Bs the one-process gateway's CPU per record
 * on the batch route fell 115–120 → 83–90 µs end to end (V8's helper threads 36 → 18), single
 * POSTs with sealing 280–295 → 240–265 µs, the sealer alone 69 → 58 µs. With the floor the
 * semi-space hardly matters (32, 64 and 128 MiB within noise); 64 keeps the sealer's peak RSS
 * where 128 without the floor had it (~600 MiB while recording a backlog; the one-process
 * gateway under 1,000-item batches ~700). `api` processes keep 32 and no floor: without the
 * sealer's garbage the floor made single POSTs dearer (190–203 → 220–235 µs, +160 MiB).
 */
export const SEALING_NODE_FLAGS: readonly string[] = [
  '--max-semi-space-size=64',
  '--initial-old-space-size=512',
];

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
