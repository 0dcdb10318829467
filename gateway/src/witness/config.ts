// WITNESSES / WITNESS_QUORUM / WITNESS_TIMEOUT_MS / WITNESS_RETRY_MS: the outside witnesses the
// gateway asks to cosign its checkpoints (docs/witnesses.md). Validated once at boot.
import { parseCosignerKey } from '@lianzheng/proof';
import { ConfigError } from '../config-error.ts';

export interface WitnessEntry {
  /** Display name (e.g. "Xicheng Notary Office"); the C2SP key name is in `vkey`. */
  name: string;
  nameZh?: string;
  /** The witness's submission prefix; `/add-checkpoint` is appended. */
  url: string;
  /** `name+id+base64(0x04 ‖ Ed25519 key)`. */
  vkey: string;
  /** The C2SP key name, read from `vkey`. */
  keyName: string;
}

export interface WitnessConfig {
  witnesses: WitnessEntry[];
  /** How many must cosign for the assurance to say the quorum was met. */
  quorum: number;
  /** Per add-checkpoint request: a witness that is slower delays nothing, it is retried later. */
  timeoutMs: number;
  /** How often the gateway looks for a checkpoint a witness has not cosigned yet. */
  intervalMs: number;
  /** After a failure, a witness is left alone this long (doubling, up to 60 s). */
  retryMs: number;
}

type Env = Record<string, string | undefined>;
const MAX_WITNESSES = 20;

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, 'must be a whole number');
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}`);
  return n;
}

function text(value: unknown, what: string, max: number): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > max) {
    throw new ConfigError('WITNESSES', `${what} is a non-empty string of at most ${max} characters`);
  }
  return value;
}

/** Null when WITNESSES is unset or `[]` (no witnesses). */
export function parseWitnessConfig(env: Env): WitnessConfig | null {
  const raw = env.WITNESSES?.trim();
  if (!raw) return null;
  let list: unknown;
  try {
    list = JSON.parse(raw);
  } catch {
    throw new ConfigError('WITNESSES', 'must be a JSON list of {name, nameZh?, url, vkey}');
  }
  if (!Array.isArray(list) || list.length > MAX_WITNESSES) {
    throw new ConfigError('WITNESSES', `must be a JSON list of at most ${MAX_WITNESSES} witnesses`);
  }
  if (list.length === 0) return null;
  const witnesses = list.map((w, i): WitnessEntry => {
    if (typeof w !== 'object' || w === null)
      throw new ConfigError('WITNESSES', `entry ${i} is not an object`);
    const e = w as Record<string, unknown>;
    const url = text(e.url, `entry ${i}: url`, 2048);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ConfigError('WITNESSES', `entry ${i}: url is not a URL`);
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
      throw new ConfigError('WITNESSES', `entry ${i}: url must be http(s)`);
    }
    const vkey = text(e.vkey, `entry ${i}: vkey`, 1024);
    let keyName: string;
    try {
      keyName = parseCosignerKey(vkey).name;
    } catch (err) {
      throw new ConfigError('WITNESSES', `entry ${i}: vkey: ${(err as Error).message}`);
    }
    return {
      name: text(e.name, `entry ${i}: name`, 200),
      ...(e.nameZh === undefined ? {} : { nameZh: text(e.nameZh, `entry ${i}: nameZh`, 200) }),
      url: url.replace(/\/+$/, ''),
      vkey,
      keyName,
    };
  });
  if (new Set(witnesses.map((w) => w.vkey)).size !== witnesses.length) {
    throw new ConfigError('WITNESSES', 'a witness is listed twice');
  }
  // Default: a simple majority.
  const quorum = integer(env, 'WITNESS_QUORUM', Math.floor(witnesses.length / 2) + 1, 1, witnesses.length);
  return {
    witnesses,
    quorum,
    timeoutMs: integer(env, 'WITNESS_TIMEOUT_MS', 3000, 100, 60_000),
    intervalMs: integer(env, 'WITNESS_INTERVAL_MS', 1000, 50, 3_600_000),
    retryMs: integer(env, 'WITNESS_RETRY_MS', 2000, 50, 3_600_000),
  };
}
