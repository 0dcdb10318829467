// Imported first by the process entry points (server.ts) and by nothing else: fabric-contract-api
// logs every decorator at info when the chaincode module loads, and the gateway runs that contract
// in-process (the embedded ledger). Its logger reads this variable once, on import, so it must be
// set before the chaincode is imported. An operator's own setting wins.
// Also first: an uncaught exception ends the process (process-guards.ts), before fabric-contract-api
// installs its handler that would keep it running.
import { exitOnUncaughtException } from './process-guards.ts';

process.env.CORE_CHAINCODE_LOGGING_LEVEL ??= 'WARNING';
exitOnUncaughtException();
