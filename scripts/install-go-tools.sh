#!/usr/bin/env bash
# Builds the native Fabric 2.5 binaries and geth with `go install` from the Go module proxy and
# caches them outside the clone, keyed by their pinned versions, so CI and later runs reuse them.
# Usage: scripts/install-go-tools.sh [fabric|geth|all]   (prints the bin folder of each)
set -euo pipefail

FABRIC_COMMIT=f871cf92a026aba7b12e6f06d71ded3e6e659d71   # Fabric v2.5.16
GETH_VERSION=v1.14.13
CACHE_ROOT=${LIANZHENG_TOOL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lianzheng}

fabric_dir="$CACHE_ROOT/fabric-$FABRIC_COMMIT"
geth_dir="$CACHE_ROOT/geth-$GETH_VERSION"

build_fabric() {
  if [ -x "$fabric_dir/bin/peer" ] && [ -x "$fabric_dir/bin/orderer" ] && [ -x "$fabric_dir/bin/configtxgen" ] \
     && [ -x "$fabric_dir/bin/cryptogen" ] && [ -x "$fabric_dir/bin/osnadmin" ] && [ -x "$fabric_dir/bin/ccaas_builder/detect" ]; then
    echo "$fabric_dir"; return
  fi
  mkdir -p "$fabric_dir/bin"
  echo "building Fabric $FABRIC_COMMIT into $fabric_dir (several minutes, once)" >&2
  for cmd in peer orderer configtxgen cryptogen osnadmin; do
    CGO_ENABLED=0 GOBIN="$fabric_dir/bin" GOFLAGS=-mod=mod go install "github.com/hyperledger/fabric/cmd/$cmd@$FABRIC_COMMIT" >&2
  done
  mkdir -p "$fabric_dir/bin/ccaas_builder"
  for cmd in detect build release; do
    CGO_ENABLED=0 GOBIN="$fabric_dir/bin/ccaas_builder" go install "github.com/hyperledger/fabric/ccaas_builder/cmd/$cmd@$FABRIC_COMMIT" >&2
  done
  # sampleconfig/ of the same commit: the reference our own config files are written from.
  local src
  src=$(go mod download -json "github.com/hyperledger/fabric@$FABRIC_COMMIT" | python3 -c 'import json,sys;print(json.load(sys.stdin)["Dir"])')
  rm -rf "$fabric_dir/sampleconfig" && cp -r "$src/sampleconfig" "$fabric_dir/sampleconfig" && chmod -R u+w "$fabric_dir/sampleconfig"
  echo "$fabric_dir"
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
