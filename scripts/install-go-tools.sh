#!/usr/bin/env bash
# Builds geth and Tessera's POSIX conformance log (the sustained bench's baseline) with `go install`
# from the Go module proxy (and Fabric 2.5 through install-fabric.sh) and caches them outside the
# clone, keyed by their pinned versions, so CI and later runs reuse them.
# Usage: scripts/install-go-tools.sh [fabric|geth|tessera|all]   (prints the folder of each)
set -euo pipefail

GETH_VERSION=v1.14.13
TESSERA_VERSION=v1.0.4
CACHE_ROOT=${LIANZHENG_TOOL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lianzheng}

geth_dir="$CACHE_ROOT/geth-$GETH_VERSION"
tessera_dir="$CACHE_ROOT/tessera-$TESSERA_VERSION"

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

build_tessera() {
  # The log Tessera's own conformance tests run: POST /add, tiles and a checkpoint on the local
  # file system, fsynced; batches of 256 entries or 1 s, a checkpoint every second.
  if [ -x "$tessera_dir/bin/posix" ]; then echo "$tessera_dir"; return; fi
  mkdir -p "$tessera_dir/bin"
  echo "building Tessera $TESSERA_VERSION's POSIX log into $tessera_dir (under a minute, once)" >&2
  GOBIN="$tessera_dir/bin" go install "github.com/transparency-dev/tessera/cmd/conformance/posix@$TESSERA_VERSION" >&2
  echo "$tessera_dir"
}

case "${1:-all}" in
  fabric) build_fabric ;;
  geth) build_geth ;;
  tessera) build_tessera ;;
  all) build_fabric; build_geth ;;
  *) echo "usage: $0 [fabric|geth|tessera|all]" >&2; exit 2 ;;
esac
