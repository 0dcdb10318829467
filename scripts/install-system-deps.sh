#!/usr/bin/env bash
# What the tests need from outside npm, installed only when missing: Debian's chromium (for the
# verifier page's browser tests; `npx playwright install` cannot download here) and geth (built
# from the Go module proxy at a pinned version, cached outside the clone), Fabric 2.5.16 (built from
# ../shared/third_party's source into the same cache, for the Fabric tests and benchmarks), and
# nginx (Debian's, unpacked into the same cache, for the reverse-proxy tests).
# `install-system-deps.sh bench`: only what `npm run bench` needs, Debian's wrk (the C load
# generator; the bench falls back to autocannon without it, and says so).
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
if [ "${1:-}" = bench ]; then
  command -v wrk >/dev/null 2>&1 || missing+=(wrk)
else
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  # fonts-wqy-microhei: a CJK font, so the pages' Chinese text renders in screenshots and PDFs.
  [ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing+=(fonts-wqy-microhei)
  # poppler-utils (pdfsig, pdftotext) and libnss3-tools (certutil, for pdfsig's trust store):
  # the signed PDFs' tests check them with poppler, as a court's or auditor's reader would.
  command -v pdfsig >/dev/null 2>&1 || missing+=(poppler-utils)
  command -v certutil >/dev/null 2>&1 || missing+=(libnss3-tools)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
[ "${1:-}" = bench ] || bash scripts/install-go-tools.sh geth >/dev/null
# PyJWT with its crypto extra: an outside JOSE implementation (Python) verifies the gateway's
# receipts in tests/integration/receipts-plain-jws.test.ts.
if [ "${1:-}" != bench ] && ! python3 -c 'import jwt, cryptography' >/dev/null 2>&1; then
  echo "installing PyJWT[crypto] from PyPI (receipt checks by another JOSE library)" >&2
  python3 -m pip install -q 'PyJWT[crypto]==2.15.1' >/dev/null
fi
# gmssl (pure-Python SM2/SM3): an outside implementation that cross-checks proof's SM2 signatures
# in both directions in proof/src/lib/sm2.test.ts.
if [ "${1:-}" != bench ] && ! python3 -c 'import gmssl' >/dev/null 2>&1; then
  echo "installing gmssl from PyPI (SM2 cross-checks by another implementation)" >&2
  python3 -m pip install -q 'gmssl==3.2.2' >/dev/null
fi
# Fabric 2.5.16 (peer, orderer, tools, CCaaS builder), built once from the shared source tarball.
bash scripts/install-fabric.sh >/dev/null
# nginx, unpacked (not installed) for the reverse-proxy tests; see scripts/install-nginx.sh.
[ "${1:-}" = bench ] || bash scripts/install-nginx.sh >/dev/null
