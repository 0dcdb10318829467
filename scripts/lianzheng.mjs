#!/usr/bin/env node
// The `lianzheng` command: loads the TypeScript CLI through tsx (no build step) and exits with
// its code. See `lianzheng --help` for the commands and exit codes.
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

// tsx finds a tsconfig.json by walking up from the working directory: run from another folder
// it found none (or someone else's), lost `experimentalDecorators`, and the chaincode's
// decorators failed (`target.createContext is not a function`). Always use the repository's.
register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
// `npm start` keeps its state in the checkout's ./data wherever it is started from; so does the
// CLI (dev tokens, API keys, the database), rather than a new ./data in the current folder.
process.env.DATA_DIR ??= fileURLToPath(new URL('../data', import.meta.url));
// An uncaught exception ends the command with exit 1, before the chaincode's fabric-contract-api
// (which `audit` and `serve` load) can install its handler that keeps the process running.
const { exitOnUncaughtException } = await import('../gateway/src/process-guards.ts');
exitOnUncaughtException();
// fabric-contract-api logs every decorator at info when the chaincode module loads; the
// gateway runs that contract in-process, so keep its logger at warnings unless asked otherwise.
process.env.CORE_CHAINCODE_LOGGING_LEVEL ??= 'WARNING';
// `lianzheng verify … | head` closes the pipe early: that is not an error.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});
if (process.argv[2] === 'serve' && process.env.GATEWAY_ROLE !== 'sealer') {
  // As `npm start` does: the page in step with its sources (scripts/page-build.mjs).
  const { ensurePageBuilt } = await import('./page-build.mjs');
  const root = fileURLToPath(new URL('..', import.meta.url));
  await ensurePageBuilt(root);
}
// The command's arguments are ours alone: fabric-common (loaded with the Fabric client) reads
// process.argv through nconf and yargs, which answered `help` and `--help` with its own option
// list and exited. It sees only `node lianzheng` from here on.
const args = process.argv.slice(2);
process.argv.length = 2;
const { run } = await import('../gateway/src/cli/main.ts');
process.exitCode = await run(args);
