// Settings the page reads once at start. The gateway is always the page's own origin (the reader's
// own chain node, the one other address it may call, is chain-rpc.ts's); the timeout can be lowered by a test through `window.lianzhengConfig`
// set before the page's script runs (Playwright's addInitScript), never through the address bar.

export interface PageConfig {
  /** How long one request to the gateway may take before the page says it is slow or down. */
  timeoutMs: number;
  /** Files up to this size are hashed with one WebCrypto call (faster); larger ones are streamed. */
  oneShotMaxBytes: number;
}

export const DEFAULT_CONFIG: PageConfig = {
  timeoutMs: 15_000,
  // 128 MiB read whole costs as much memory for a moment, but is hashed in about a second rather
  // than several; beyond it memory must stay flat.
  oneShotMaxBytes: 128 * 1024 * 1024,
};

export function readConfig(): PageConfig {
  const override = (globalThis as { lianzhengConfig?: Partial<PageConfig> }).lianzhengConfig ?? {};
  const pick = (v: unknown, fallback: number) =>
    typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : fallback;
  return {
    timeoutMs: pick(override.timeoutMs, DEFAULT_CONFIG.timeoutMs),
    oneShotMaxBytes: pick(override.oneShotMaxBytes, DEFAULT_CONFIG.oneShotMaxBytes),
  };
}
