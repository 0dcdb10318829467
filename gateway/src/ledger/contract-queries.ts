import type { LedgerCheckpoint, LedgerFlag, LedgerJson, LedgerProject } from './ledger.ts';

/** Runs one of the contract's query transactions; NOT_FOUND comes back as undefined. */
export type ContractQuery = <T>(fn: string, args: string[]) => Promise<T | undefined>;

/**
 * The `Ledger` reads that are the contract's query transactions, unwrapped the same way for every
 * ledger: each ledger says only how it runs a query (in-process over PostgreSQL, or evaluated on a
 * Fabric peer).
 */
export function contractQueries(query: ContractQuery) {
  return {
    getRecord: (id: string) => query<LedgerJson>('GetRecord', [id]),
    projectTrail: async (projectId: string) =>
      (await query<{ records: LedgerJson[] }>('ProjectTrail', [projectId]))?.records ?? [],
    getFlags: async (projectId: string) =>
      (await query<{ flags: LedgerFlag[] }>('GetFlags', [projectId]))?.flags ?? [],
    getProject: async (id: string) => {
      const stored = await query<{ project?: LedgerProject } & LedgerProject>('GetProject', [id]);
      return stored ? ((stored.project ?? stored) as LedgerProject) : undefined;
    },
    getCheckpoint: (size?: number) =>
      query<LedgerCheckpoint>('GetCheckpoint', size === undefined ? [''] : [String(size)]),
  };
}
