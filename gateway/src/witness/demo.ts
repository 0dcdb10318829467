// `npm start`'s local demo witness, so witnessing is visible without an outside institution: a
// witness in the start script's process on a free loopback port, its key and state under
// DATA_DIR/witness, trusting this gateway's checkpoint keys. The gateway is then started with
// WITNESSES naming it (quorum 1). Not for production: a witness run by the operator itself
// proves nothing about the operator (docs/witnesses.md).
import fs from 'node:fs/promises';
import path from 'node:path';
import type { CryptoSuite } from '../config.ts';
import { KeyRing } from '../keys/key-ring.ts';
import { newWitnessKeyPem, seedFromPem, startWitnessServer, Witness } from './witness.ts';

export const DEMO_WITNESS_NAME = 'demo-witness.lianzheng.local/w1';

export interface DemoWitness {
  url: string;
  vkey: string;
  /** The variables the gateway needs to ask it. */
  env: { WITNESSES: string; WITNESS_QUORUM: string };
  close(): Promise<void>;
}

export async function startDemoWitness(options: {
  dataDir: string;
  keysDir: string;
  logOrigin: string;
  suite: CryptoSuite;
  log: (line: string) => void;
}): Promise<DemoWitness> {
  const dir = path.join(options.dataDir, 'witness');
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const keyFile = path.join(dir, 'key.pem');
  let pem: string;
  try {
    pem = await fs.readFile(keyFile, 'utf8');
  } catch {
    pem = newWitnessKeyPem();
    await fs.writeFile(keyFile, pem, { mode: 0o600, flag: 'wx' });
  }
  // The same keys the gateway loads (made here first on a fresh DATA_DIR; the gateway finds them).
  const ring = await KeyRing.load(options.keysDir, { logOrigin: options.logOrigin, suite: options.suite });
  const say = (level: string) => (obj: object, msg: string) =>
    options.log(
      `lianzheng demo witness: ${level === 'info' ? '' : `${level}: `}${msg} ${JSON.stringify(obj)}`,
    );
  const witness = new Witness({
    name: DEMO_WITNESS_NAME,
    seed: seedFromPem(pem),
    stateDir: dir,
    logs: [{ origin: options.logOrigin, keys: ring.checkpointKeys() }],
    logger: { info: () => {}, warn: say('warn'), error: say('ERROR') },
  });
  await witness.latest(options.logOrigin);
  const server = await startWitnessServer(witness, { port: 0, host: '127.0.0.1' });
  return {
    url: server.url,
    vkey: witness.vkey,
    env: {
      WITNESSES: JSON.stringify([
        {
          name: 'Local demo witness (not independent)',
          nameZh: '本地演示见证方（非独立）',
          url: server.url,
          vkey: witness.vkey,
        },
      ]),
      WITNESS_QUORUM: '1',
    },
    close: () => server.close(),
  };
}
