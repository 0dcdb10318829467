// A project's rule flags as one reader may see them: read the same way for GET …/flags, its
// spreadsheet (…/flags.csv) and the audit report (…/report.pdf), so the three never disagree.
import type pg from 'pg';
import { FLAG_NOW, type LedgerFlagJson } from '../../read/bundle.ts';
import type { FlagJson } from '../../read/schemas.ts';
import { flagView } from '../../read/views.ts';

/**
 * Every flag of the project in the order of the records that raised them (then the rule's order),
 * with the facts behind each only when `privileged`. Flags are few per record (at most one per
 * rule): one query, not paged.
 */
export async function loadProjectFlags(
  db: Pick<pg.Pool, 'query'>,
  projectId: string,
  privileged: boolean,
): Promise<FlagJson[]> {
  const { rows } = await db.query<{ flag: LedgerFlagJson }>(
    `select ${FLAG_NOW} as flag from record_flags f join submissions s on s.id = f.submission_id
      where f.project_id = $1 order by s.seq, f.ordinal`,
    [projectId],
  );
  return rows.map((r) => flagView(r.flag, privileged));
}
