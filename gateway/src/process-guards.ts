import type pino from 'pino';

let fatalLog: Pick<pino.BaseLogger, 'fatal'> | undefined;
let installed = false;

/**
 * An exception nothing caught leaves the process in a state no code planned for: log it and exit
 * 1, as Node itself would. That is safe here because the gateway is crash-only — a 202 is given
 * after the commit, and a restart resumes the pipeline from PostgreSQL (the supervisor restarts a
 * worker; the operator's service manager the one process). It must be said explicitly: the
 * chaincode's fabric-contract-api, which the embedded ledger and the audit import, installs a
 * winston handler with `exitOnError: false` that logs an uncaught exception and lets the process
 * run on — and when the exception is a module failing to load, run on with nothing to do and
 * exit 0. Installed by the entry points before anything imports the chaincode, so it runs first.
 */
export function exitOnUncaughtException(): void {
  if (installed) return;
  installed = true;
  process.on('uncaughtException', (err, origin) => {
    if (fatalLog) fatalLog.fatal({ err, origin }, 'uncaught exception; exiting');
    else process.stderr.write(`lianzheng: uncaught exception; exiting: ${err?.stack ?? err}\n`);
    process.exit(1);
  });
}

/** From now on, an uncaught exception is logged here (JSON, redacted) rather than on stderr. */
export function logUncaughtExceptionsWith(log: Pick<pino.BaseLogger, 'fatal'>): void {
  fatalLog = log;
}
