// Who may do what: the configuration (admin MSP, writers' MSPs, rule settings) lives in world
// state, so every peer enforces the same list and changing it is itself a ledger transaction.

import { canonicalJson } from '@lianzheng/proof';
import { fail } from './errors.ts';
import type { LedgerContext } from './ledger.ts';
import {
  DEFAULT_ADVANCE_LIMIT_PERCENT,
  isMspId,
  type LedgerConfig,
  parseConfigPatch,
  parseJsonArgument,
  parseWriters,
} from './model.ts';
import { KEY, type StateView } from './state.ts';

export async function readConfig(view: StateView): Promise<LedgerConfig | undefined> {
  return view.get<LedgerConfig>(view.key(KEY.config));
}

export async function requireWriter(view: StateView, ctx: LedgerContext): Promise<LedgerConfig> {
  const config = await readConfig(view);
  if (!config) fail('NOT_INITIALISED', 'InitLedger has not run');
  const msp = ctx.clientIdentity.getMSPID();
  if (!config.writers.includes(msp)) fail('NOT_A_WRITER', `${msp} is not in the writers' list`);
  return config;
}

export async function requireAdmin(view: StateView, ctx: LedgerContext): Promise<LedgerConfig> {
  const config = await readConfig(view);
  if (!config) fail('NOT_INITIALISED', 'InitLedger has not run');
  const msp = ctx.clientIdentity.getMSPID();
  if (msp !== config.adminMsp) fail('NOT_AN_ADMIN', `${msp} is not the admin MSP`);
  return config;
}

/**
 * First configuration. `args` is '', an admin MSP id, or JSON `{adminMsp?, writers?,
 * advanceLimitPercent?}`; the
 * admin defaults to the caller's MSP and the writers to the admin. Repeating the same call is a
 * no-op; a different one is refused (use SetWriters / SetConfig as the admin).
 */
export async function initLedger(
  view: StateView,
  ctx: LedgerContext,
  args: string | undefined,
): Promise<LedgerConfig> {
  const patch =
    args === undefined || args === ''
      ? {}
      : isMspId(args)
        ? { adminMsp: args } // the bare form: InitLedger("Org1MSP")
        : parseConfigPatch(parseJsonArgument(args));
  const adminMsp = patch.adminMsp ?? ctx.clientIdentity.getMSPID();
  const config: LedgerConfig = {
    adminMsp,
    writers: patch.writers ?? [adminMsp],
    advanceLimitPercent: patch.advanceLimitPercent ?? DEFAULT_ADVANCE_LIMIT_PERCENT,
  };
  const existing = await readConfig(view);
  if (existing) {
    if (canonicalJson(existing) === canonicalJson(config)) return existing;
    fail('ALREADY_INITIALISED', 'the ledger is already configured');
  }
  view.set(view.key(KEY.config), config);
  return config;
}

export async function setWriters(
  view: StateView,
  ctx: LedgerContext,
  writersJson: string,
): Promise<LedgerConfig> {
  const config = await requireAdmin(view, ctx);
  const next: LedgerConfig = { ...config, writers: parseWriters(parseJsonArgument(writersJson)) };
  view.set(view.key(KEY.config), next);
  return next;
}

export async function setConfig(
  view: StateView,
  ctx: LedgerContext,
  patchJson: string,
): Promise<LedgerConfig> {
  const config = await requireAdmin(view, ctx);
  const next: LedgerConfig = { ...config, ...parseConfigPatch(parseJsonArgument(patchJson)) };
  view.set(view.key(KEY.config), next);
  return next;
}
