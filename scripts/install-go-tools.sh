#!/usr/bin/env bash
# Builds geth with `go install` from the Go module proxy (and Fabric 2.5 through install-fabric.sh)
# and caches them outside the clone, keyed by their pinned versions, so CI and later runs reuse them.
# Usage: scripts/install-go-tools.sh [fabric|geth|all]   (prints the bin folder of each)
set -euo pipefail

GETH_VERSION=v1.14.13
CACHE_ROOT=${LIANZHENG_TOOL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lianzheng}

geth_dir="$CACHE_ROOT/geth-$GETH_VERSION"

build_fabric() {
  # The Go module proxy refuses every Fabric 2.x version; scripts/install-fabric.sh builds it from
  # the shared source tarball (or uses FABRIC_BIN, a cached build, or the release archive).
  bash "$(dirname "$0")/install-fabric.sh"
}

build_geth() {
  if [ -x "$geth_dir/bin/geth" ]; then echo "$geth_dir"; return; fi
  mkdir -p "$geth_dir/bin"
  echo "building geth $GETH_VERSION into $geth_dir (a few minutes, once)" >&2
  CGO_ENABLED=1 GOBIN="$geth_dir/bin" go install "github.com/ethereum/go-ethereum/cmd/geth@$GETH_VERSION" >&2
  echo "$geth_dir"
}

case "${1:-all}" in
  fabric) build_fabric ;;
  geth) build_geth ;;
  all) build_fabric; build_geth ;;
  *) echo "usage: $0 [fabric|geth|all]" >&2; exit 2 ;;
esac
