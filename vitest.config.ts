import { defineConfig } from 'vitest/config';

// Three suites run by the same `npm test`: unit tests beside the code they test, integration
// tests against real PostgreSQL, and end-to-end tests against real processes (the service as the
// README starts it, Chromium, Fabric, geth). The slower suites run one file at a time because
// they start real servers on a 2-core machine.
// Every project: the fast-check seed policy (tests/fast-check-seed.ts).
const setupFiles = ['tests/fast-check-seed.ts'];
// fabric-contract-api logs every decorator at info when imported (the embedded ledger and the
// audit's replay import the contract); the entry points quiet it the same way.
const env = { CORE_CHAINCODE_LOGGING_LEVEL: 'WARNING' };

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          setupFiles,
          env,
          include: [
            'tests/*.test.ts',
            'proof/**/*.test.ts',
            'chaincode/**/*.test.ts',
            'gateway/**/*.test.ts',
            'verifier-web/**/*.test.ts',
          ],
          exclude: ['**/node_modules/**'],
        },
      },
      {
        test: {
          name: 'integration',
          setupFiles,
          env,
          include: ['tests/integration/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
        },
      },
      {
        test: {
          name: 'e2e',
          setupFiles,
          env,
          include: ['tests/e2e/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 600_000,
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
        },
      },
    ],
  },
});
