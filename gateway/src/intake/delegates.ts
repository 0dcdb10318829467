import type pg from 'pg';
import { AppError } from '../errors.ts';

/**
 * Whether an organisation may submit for a project it does not own: a live delegation from the
 * project's owning unit (migration 0401), one that was revoked (and when), or none.
 */
export type Delegation = { state: 'live' } | { state: 'revoked'; revokedAt: string } | { state: 'none' };

const NONE: Delegation = Object.freeze({ state: 'none' });
const LIVE: Delegation = Object.freeze({ state: 'live' });

/**
 * Intake's view of `project_delegates`. Only the owner's own writes (no query) and delegated ones
 * reach it; a live delegation is remembered for `ttlMs` (AUTH_CACHE_MS, as API keys are), and
 * forgotten at once in this process when it is granted or revoked here. Other processes sharing
 * the database (API_WORKERS, GATEWAY_ROLE=api) see a revocation within `ttlMs`. Refusals are not
 * cached: a grant takes effect at the next request.
 */
export class DelegateDirectory {
  private readonly live = new Map<string, number>();
  constructor(
    private readonly db: () => pg.Pool,
    private readonly ttlMs: number,
    private readonly maxEntries = 100_000,
  ) {}

  private static key(projectId: string, org: string): string {
    return `${projectId}\u0000${org}`;
  }

  /** Each project's delegation to `org`; one query at most. */
  async lookup(org: string, projectIds: string[]): Promise<Map<string, Delegation>> {
    const out = new Map<string, Delegation>();
    const ask: string[] = [];
    const now = Date.now();
    for (const id of projectIds) {
      if (out.has(id) || ask.includes(id)) continue;
      const until = this.live.get(DelegateDirectory.key(id, org));
      if (until !== undefined && until > now) out.set(id, LIVE);
      else ask.push(id);
    }
    if (ask.length === 0) return out;
    let rows: { project_id: string; revoked_at: Date | null }[];
    try {
      rows = (
        await this.db().query({
          name: 'intake-delegation',
          text: `select distinct on (project_id) project_id, revoked_at from project_delegates
                  where org = $1 and project_id = any($2::text[]) order by project_id, id desc`,
          values: [org, ask],
        })
      ).rows;
    } catch (e) {
      throw new AppError('SERVICE_UNAVAILABLE', 'the database is not answering', {}, { cause: e });
    }
    for (const id of ask) out.set(id, NONE);
    for (const r of rows) {
      if (r.revoked_at === null) {
        out.set(r.project_id, LIVE);
        if (this.ttlMs > 0) {
          if (this.live.size >= this.maxEntries) this.live.clear();
          this.live.set(DelegateDirectory.key(r.project_id, org), now + this.ttlMs);
        }
      } else out.set(r.project_id, { state: 'revoked', revokedAt: r.revoked_at.toISOString() });
    }
    return out;
  }

  /** Drops what is remembered of a project's delegation to `org` (or of every one). */
  forget(projectId?: string, org?: string): void {
    if (projectId === undefined) this.live.clear();
    else if (org !== undefined) this.live.delete(DelegateDirectory.key(projectId, org));
    else for (const k of this.live.keys()) if (k.startsWith(`${projectId}\u0000`)) this.live.delete(k);
  }
}
