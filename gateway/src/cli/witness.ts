// `lianzheng witness keygen|serve`: run a C2SP tlog-witness for a LianZheng log (docs/witnesses.md).
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { noteKeyAlgorithm } from '@lianzheng/proof';
import pino from 'pino';
import {
  newWitnessKeyPem,
  seedFromPem,
  startWitnessServer,
  Witness,
  witnessVerifierKey,
} from '../witness/witness.ts';
import { CliError, EXIT, type Out } from './common.ts';

export const WITNESS_HELP = `  lianzheng witness keygen --out KEY.pem [--name NAME]
      Make a witness's Ed25519 key (PKCS#8 PEM, mode 0600; openssl genpkey -algorithm ed25519
      makes the same) and print its verifier key (name+id+base64(0x04 ‖ key)) for the gateway's
      WITNESSES and for verifiers' trust files.
  lianzheng witness serve --key KEY.pem --state DIR --log-origin ORIGIN --log-key VKEY [--log-key VKEY]
                          [--name NAME] [--port N] [--host H]
      Run a witness (C2SP tlog-witness, POST /add-checkpoint): it cosigns (cosignature/v1) each
      checkpoint of the log that a consistency proof shows extends the last one it cosigned, keeps
      that in DIR/witness-state.json (written durably before it answers), and refuses — with an
      error-level log line holding both tree heads — one that does not (a fork or a rewrite).
      --log-key: the log's checkpoint verifier key(s), from GET /v1/keys (checkpoint.verifierKeys).
      --name defaults to lianzheng-witness/<host name>; --port 0 picks a free port (printed).`;

export async function cmdWitness(args: string[], out: Out): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'keygen') return keygen(rest, out);
  if (sub === 'serve') return serve(rest, out);
  throw new CliError(EXIT.USAGE, 'usage: lianzheng witness keygen|serve (lianzheng help)');
}

function defaultName(): string {
  return `lianzheng-witness/${os.hostname().replace(/[\s+]/gu, '-') || 'local'}`;
}

async function keygen(args: string[], out: Out): Promise<number> {
  const { values } = parseArgs({ args, options: { out: { type: 'string' }, name: { type: 'string' } } });
  if (!values.out)
    throw new CliError(EXIT.USAGE, 'usage: lianzheng witness keygen --out KEY.pem [--name NAME]');
  const pem = newWitnessKeyPem();
  // 'wx': never overwrite a key — a witness that loses its key loses its identity.
  await fs.writeFile(values.out, pem, { mode: 0o600, flag: 'wx' }).catch((e: NodeJS.ErrnoException) => {
    throw new CliError(
      EXIT.USAGE,
      `cannot write ${values.out}: ${e.code === 'EEXIST' ? 'it exists' : e.message}`,
    );
  });
  const name = values.name ?? defaultName();
  out.log(witnessVerifierKey(name, seedFromPem(pem)));
  return EXIT.OK;
}

async function serve(args: string[], out: Out): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      key: { type: 'string' },
      state: { type: 'string' },
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      name: { type: 'string' },
      'log-origin': { type: 'string' },
      'log-key': { type: 'string', multiple: true },
    },
  });
  const logKeys = values['log-key'] ?? [];
  if (!values.key || !values.state || !values['log-origin'] || logKeys.length === 0) {
    throw new CliError(
      EXIT.USAGE,
      'usage: lianzheng witness serve --key KEY.pem --state DIR --log-origin ORIGIN --log-key VKEY [--port N]',
    );
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new CliError(EXIT.USAGE, '--port is 0–65535');
  for (const k of logKeys) {
    try {
      noteKeyAlgorithm(k);
    } catch (e) {
      throw new CliError(EXIT.USAGE, `--log-key ${k}: ${(e as Error).message}`);
    }
  }
  let seed: Uint8Array;
  try {
    seed = seedFromPem(await fs.readFile(values.key, 'utf8'));
  } catch (e) {
    throw new CliError(EXIT.USAGE, `--key ${values.key}: ${(e as Error).message}`);
  }
  const logger = pino({ base: { service: 'lianzheng-witness', pid: process.pid } });
  const witness = new Witness({
    name: values.name ?? defaultName(),
    seed,
    stateDir: path.resolve(values.state),
    logs: [{ origin: values['log-origin'], keys: logKeys }],
    logger,
  });
  // Read the state now, so a damaged state file stops the start rather than the first request.
  await witness.latest(values['log-origin']);
  const server = await startWitnessServer(witness, { port, host: values.host });
  out.log(`witness ${witness.name} listening on ${server.url}\n${witness.vkey}`);
  await new Promise<void>((resolve) => {
    const stop = () => void server.close().then(resolve);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return EXIT.OK;
}
