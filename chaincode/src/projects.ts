// RegisterProject (立项): a project must exist before records can name it; its plan (milestones
// with due dates) and budget feed the rules.

import { canonicalJson } from '@lianzheng/proof';
import { requireWriter } from './access.ts';
import { type ProjectBookValue, storedProjectOf } from './book.ts';
import { submitterOf, txTime } from './context.ts';
import { fail } from './errors.ts';
import type { LedgerContext } from './ledger.ts';
import { parseJsonArgument, parseProject, type StoredProject } from './model.ts';
import { KEY, type StateView } from './state.ts';

/** Idempotent for an identical payload; `PROJECT_EXISTS` for a different one under the same id. */
export async function registerProject(
  view: StateView,
  ctx: LedgerContext,
  projectJson: string,
): Promise<StoredProject> {
  await requireWriter(view, ctx);
  const project = parseProject(parseJsonArgument(projectJson));
  const key = view.key(KEY.project, project.id);
  // The key also holds the project's rule state once records name it (book.ts).
  const existing = await view.get<ProjectBookValue>(key);
  if (existing) {
    if (canonicalJson(existing.project) === canonicalJson(project)) return storedProjectOf(existing);
    fail('PROJECT_EXISTS', `${project.id} is registered with a different payload`);
  }
  const stored: StoredProject = {
    project,
    registeredAt: txTime(ctx),
    txId: ctx.stub.getTxID(),
    by: submitterOf(ctx),
  };
  view.set(key, stored);
  return stored;
}
