#!/usr/bin/env node
// The `lianzheng` command: loads the TypeScript CLI through tsx (no build step) and exits with
// its code. See `lianzheng --help` for the commands and exit codes.
import { register } from 'tsx/esm/api';

register();
const { run } = await import('../gateway/src/cli/main.ts');
process.exitCode = await run(process.argv.slice(2));
