// Bundles the chaincode for chaincode-as-a-service: `fabric-chaincode-node server --module-path
// chaincode/dist` requires dist/package.json#main and reads its `contracts` export.
//
// CommonJS, because fabric-shim loads the module with require(). fabric-contract-api and
// fabric-shim stay external: the contract must share fabric-shim's copy (its decorators' metadata
// lives in the same `reflect-metadata` registry), so they are dependencies of dist/package.json.
// esbuild applies the legacy decorators (tsconfig `experimentalDecorators`) but emits no
// `design:paramtypes`; the contract declares every parameter with @Param for that reason.

import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');

async function main() {
  const pkg = JSON.parse(await readFile(join(here, 'package.json'), 'utf8'));
  await rm(dist, { recursive: true, force: true });
  await mkdir(dist, { recursive: true });
  const result = await build({
    entryPoints: [join(here, 'src/index.ts')],
    outfile: join(dist, 'index.js'),
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'cjs',
    tsconfig: join(here, '../tsconfig.json'),
    external: ['fabric-contract-api', 'fabric-shim'],
    keepNames: true,
    sourcemap: true,
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
  });
  const manifest = {
    name: 'lianzheng-evidence-chaincode',
    version: pkg.version,
    description: pkg.description,
    private: true,
    type: 'commonjs',
    main: 'index.js',
    engines: { node: '>=24' },
    scripts: { start: 'fabric-chaincode-node server' },
    dependencies: {
      'fabric-contract-api': pkg.dependencies['fabric-contract-api'],
      'fabric-shim': pkg.dependencies['fabric-shim'],
    },
  };
  await writeFile(join(dist, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const bytes = result.metafile.outputs[join('chaincode', 'dist', 'index.js')]?.bytes;
  const size = bytes ?? Object.values(result.metafile.outputs).reduce((n, o) => Math.max(n, o.bytes), 0);
  console.log(`chaincode/dist/index.js ${(size / 1024).toFixed(1)} KiB`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
