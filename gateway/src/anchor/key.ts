import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Wallet } from 'ethers';
import { AnchorError } from './errors.ts';

const KEY_RE = /^0x[0-9a-fA-F]{64}$/;

/** The anchorer's signing key from its file (0x-prefixed hex, one line). */
export async function loadAnchorKey(keyFile: string): Promise<Wallet> {
  let text: string;
  try {
    text = (await readFile(keyFile, 'utf8')).trim();
  } catch {
    throw new AnchorError('BAD_KEY_FILE', `cannot read ${keyFile}`, 'ANCHOR_KEY_FILE');
  }
  if (!KEY_RE.test(text))
    throw new AnchorError('BAD_KEY_FILE', `${keyFile} is not a 0x hex private key`, 'ANCHOR_KEY_FILE');
  return new Wallet(text);
}

/**
 * Writes a fresh key file (mode 0600, never overwriting one; its folder made 0700 if missing, as
 * `data/` on a fresh clone) and returns its address.
 */
export async function createAnchorKeyFile(keyFile: string): Promise<string> {
  await mkdir(dirname(keyFile), { recursive: true, mode: 0o700 });
  const wallet = new Wallet(`0x${randomBytes(32).toString('hex')}`);
  await writeFile(keyFile, `${wallet.privateKey}\n`, { mode: 0o600, flag: 'wx' });
  return wallet.address;
}
