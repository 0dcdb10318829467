import { createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * Each webhook's signing secret is HMAC-SHA256(the gateway's webhook key, the webhook's id): the
 * database holds no secret (a copy of it signs nothing), every process sharing KEYS_DIR derives
 * the same one, and the partner gets it once, when the webhook is made.
 */
const KEY_FILE = 'webhook-key';

/** The gateway's webhook key under `keysDir`, made on first use (by whichever process is first). */
export async function loadWebhookKey(keysDir: string): Promise<Buffer> {
  const file = path.join(keysDir, KEY_FILE);
  try {
    return await fs.readFile(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  await fs.mkdir(keysDir, { recursive: true, mode: 0o700 });
  try {
    // 'wx': of two processes starting together, one writes and the other reads what it wrote.
    await fs.writeFile(file, randomBytes(32), { flag: 'wx', mode: 0o600 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  return fs.readFile(file);
}

/**
 * The secret of a webhook's `version` (migration 0601): the first is HMAC(key, id), as before
 * rotation existed, and each rotation's is HMAC(key, "<id>#<version>").
 */
export function webhookSecret(key: Buffer, webhookId: string, version = 1): string {
  const input = version === 1 ? webhookId : `${webhookId}#${version}`;
  return `whsec_${createHmac('sha256', key).update(input).digest('base64url')}`;
}

/**
 * The `LianZheng-Signature` header: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`,
 * with one `v1=` per secret (the current one first; the previous one too for a while after a
 * rotation). A receiver recomputes it over the raw body with its secret, accepts the notice if
 * any `v1` matches, and refuses old `t` (replays).
 */
export function signatureHeader(
  secrets: string | readonly string[],
  body: string,
  unixSeconds: number,
): string {
  const signed = `${unixSeconds}.${body}`;
  const macs = (typeof secrets === 'string' ? [secrets] : secrets).map(
    (secret) => `v1=${createHmac('sha256', secret).update(signed).digest('hex')}`,
  );
  return `t=${unixSeconds},${macs.join(',')}`;
}

/** How long a rotated-out secret still signs (beside the new one). */
export const PREVIOUS_SECRET_HOURS = 24;
