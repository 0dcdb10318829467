// The database a test file shares between its tests: started (with the keys of its data folder)
// before the first and stopped after the last, so each file need not write the two hooks again.
import { afterAll, beforeAll } from 'vitest';
import type { KeyRing } from '../../gateway/src/keys/key-ring.ts';
import { loadKeys, startTestDatabase, type TestDatabase } from './pipeline-support.ts';

/** Registers the hooks; `onStarted` hands the database and its keys to the file's variables. */
export function useTestDatabase(onStarted: (started: { db: TestDatabase; keys: KeyRing }) => void): void {
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    db = await startTestDatabase();
    onStarted({ db, keys: await loadKeys(db.dir) });
  });
  afterAll(async () => {
    await db?.stop();
  });
}
