#!/usr/bin/env bash
# Builds the generated artefacts the service and tests use. Each part is added by the package that
# owns it; all outputs are git-ignored.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f chaincode/build.mjs ] && node chaincode/build.mjs
[ -f verifier-web/vite.config.ts ] && npx vite build verifier-web --logLevel warn
[ -f network/evm/compile.mjs ] && node network/evm/compile.mjs
exit 0
