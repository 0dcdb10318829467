#!/usr/bin/env bash
# What the tests need from outside npm, installed only when missing: Debian's chromium (for the
# verifier page's browser tests; `npx playwright install` cannot download here) and geth (built
# from the Go module proxy at a pinned version, cached outside the clone).
set -euo pipefail
cd "$(dirname "$0")/.."
# fonts-wqy-microhei: a CJK font, so the pages' Chinese text renders in screenshots and PDFs.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing+=(fonts-wqy-microhei)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
bash scripts/install-go-tools.sh geth >/dev/null
