#!/usr/bin/env bash
# What the tests need from outside npm, installed only when missing: Debian's chromium (for the
# verifier page's browser tests; `npx playwright install` cannot download here) and geth (built
# from the Go module proxy at a pinned version, cached outside the clone).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
  echo "installing Debian's chromium" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
bash scripts/install-go-tools.sh geth >/dev/null
