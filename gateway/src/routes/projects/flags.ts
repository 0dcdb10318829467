// A project's rule flags as one reader may see them: read the same way for GET …/flags, its
// spreadsheet (…/flags.csv) and the audit report (…/report.pdf), so the three never disagree.
import { projectFlags } from '../../intake/submission-store.ts';
import type { FlagJson } from '../../read/schemas.ts';
import { flagView } from '../../read/views.ts';
import type { Queryable } from '../../storage/queryable.ts';

/**
 * Every flag of the project in the order of the records that raised them (then the rule's order),
 * with the facts behind each only when `privileged`. Flags are few per record (at most one per
 * rule): one query, not paged.
 */
export async function loadProjectFlags(
  db: Queryable,
  projectId: string,
  privileged: boolean,
): Promise<FlagJson[]> {
  return (await projectFlags(db, projectId)).map((flag) => flagView(flag, privileged));
}
