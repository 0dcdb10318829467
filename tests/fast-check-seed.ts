// Property tests draw new cases on every local run, to keep exploring; in CI (CI=true) they
// replay one fixed seed, so that a CI result can be reproduced and does not depend on the draw.
// FC_SEED=<n> replays any seed a failure printed. `npm run bench -- fuzz` explores the routes
// with many more cases and a fresh seed.
import fc from 'fast-check';

const CI_SEED = 20_261_121;

const seed = process.env.FC_SEED ? Number(process.env.FC_SEED) : process.env.CI ? CI_SEED : undefined;
if (seed !== undefined && Number.isSafeInteger(seed))
  fc.configureGlobal({ ...fc.readConfigureGlobal(), seed });
