import type pino from 'pino';

/**
 * An exception nothing caught leaves the process in a state no code planned for: log it and exit
 * 1, as Node itself would. That is safe here because the gateway is crash-only — a 202 is given
 * after the commit, and a restart resumes the pipeline from PostgreSQL (the supervisor restarts a
 * worker; the operator's service manager the one process). It must be said explicitly: the
 * chaincode's fabric-contract-api, which the embedded ledger imports, installs a winston handler
 * with `exitOnError: false` that logs an uncaught exception and lets the process run on.
 */
export function exitOnUncaughtException(log: () => Pick<pino.BaseLogger, 'fatal'> | undefined): void {
  process.on('uncaughtException', (err, origin) => {
    const logger = log();
    if (logger) logger.fatal({ err, origin }, 'uncaught exception; exiting');
    else process.stderr.write(`lianzheng: uncaught exception; exiting: ${err.stack ?? err}\n`);
    process.exit(1);
  });
}
