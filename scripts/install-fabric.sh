#!/usr/bin/env bash
# Hyperledger Fabric 2.5.16's native binaries (peer, orderer, configtxgen, cryptogen, osnadmin) and
# the chaincode-as-a-service builder (detect/build/release), cached outside the clone.
# Prints the folder that holds bin/, ccaas_builder/bin/ and config/ (Fabric's sampleconfig).
#
# Tried in this order, the first that works wins:
#   1. FABRIC_BIN: a folder whose peer and orderer report 2.5.16 (and that holds the rest);
#   2. the cache: $LIANZHENG_TOOL_CACHE/fabric-2.5.16-<sha256 of the source tarball, first 16>/;
#   3. a build from FABRIC_SRC_TARBALL (default ../shared/third_party/fabric-2.5.16-src.tar.gz),
#      after its sha256 is checked against SHA256SUMS beside it; offline (vendor/), ~1-2 min;
#   4. Fabric's official release archive (hyperledger-fabric-linux-amd64-2.5.16.tar.gz), for machines
#      with internet, plus the CCaaS builder built from the Go module proxy's sources. Written and
#      documented; not exercised on the machines this project is built on (no internet there).
# When none works it exits 1 with one message naming each way it tried and why that failed.
set -euo pipefail
cd "$(dirname "$0")/.."

FABRIC_VERSION=2.5.16
FABRIC_COMMIT=f871cf92a026aba7b12e6f06d71ded3e6e659d71
CACHE_ROOT=${LIANZHENG_TOOL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lianzheng}
TARBALL=${FABRIC_SRC_TARBALL:-../shared/third_party/fabric-$FABRIC_VERSION-src.tar.gz}
RELEASE_URL=${FABRIC_RELEASE_URL:-https://github.com/hyperledger/fabric/releases/download/v$FABRIC_VERSION/hyperledger-fabric-linux-amd64-$FABRIC_VERSION.tar.gz}
TOOLS=(peer orderer configtxgen cryptogen osnadmin)
tried=()

log() { echo "install-fabric: $*" >&2; }

# A folder is complete when every tool and the three builder commands are there and peer says 2.5.16.
complete() {
  local dir=$1 t
  for t in "${TOOLS[@]}"; do [ -x "$dir/bin/$t" ] || return 1; done
  for t in detect build release; do [ -x "$dir/ccaas_builder/bin/$t" ] || return 1; done
  [ -f "$dir/config/core.yaml" ] || return 1
  "$dir/bin/peer" version 2>/dev/null | grep -q "Version: v\?$FABRIC_VERSION" || return 1
}

# 1. binaries on FABRIC_BIN (a bin folder; the builder and config may sit beside it).
if [ -n "${FABRIC_BIN:-}" ]; then
  root=$(cd "$FABRIC_BIN/.." 2>/dev/null && pwd || true)
  if [ -n "$root" ] && complete "$root"; then echo "$root"; exit 0; fi
  tried+=("FABRIC_BIN=$FABRIC_BIN: not a complete Fabric $FABRIC_VERSION (needs bin/{${TOOLS[*]}}, ccaas_builder/bin/{detect,build,release}, config/core.yaml; peer version $FABRIC_VERSION)")
fi

# 2. the cache, keyed by version and the tarball's sha256 (so a different source never hides behind it).
expected_sha=""
if [ -f "$(dirname "$TARBALL")/SHA256SUMS" ]; then
  expected_sha=$(awk -v f="$(basename "$TARBALL")" '$2==f || $2=="*"f {print $1}' "$(dirname "$TARBALL")/SHA256SUMS")
fi
key=${expected_sha:0:16}
cache_dir="$CACHE_ROOT/fabric-$FABRIC_VERSION-${key:-release}"
if complete "$cache_dir"; then echo "$cache_dir"; exit 0; fi
if [ -z "$key" ]; then
  # No checksum list: a previous build of any source of this version is still a 2.5.16 build.
  for d in "$CACHE_ROOT"/fabric-$FABRIC_VERSION-*; do
    if [ -d "$d" ] && complete "$d"; then echo "$d"; exit 0; fi
  done
fi

build_ccaas() { # $1 = source tree, $2 = target folder; the builder's 3 small deps come from the Go proxy
  mkdir -p "$2/ccaas_builder/bin"
  (cd "$1/ccaas_builder" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -o "$2/ccaas_builder/bin" ./cmd/...) >&2
}

# 3. a build from the source tarball, checked first.
if [ ! -f "$TARBALL" ]; then
  tried+=("source tarball $TARBALL: not found (set FABRIC_SRC_TARBALL)")
elif [ -z "$expected_sha" ]; then
  tried+=("source tarball $TARBALL: no SHA256SUMS entry beside it to check it against")
elif ! command -v go >/dev/null 2>&1; then
  tried+=("source tarball $TARBALL: no Go toolchain on PATH to build it")
else
  actual_sha=$(sha256sum "$TARBALL" | cut -d' ' -f1)
  if [ "$actual_sha" != "$expected_sha" ]; then
    tried+=("source tarball $TARBALL: sha256 $actual_sha, SHA256SUMS says $expected_sha")
  else
    work=$(mktemp -d "${TMPDIR:-/tmp}/fabric-build.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    staging="$cache_dir.partial.$$"
    rm -rf "$staging"; mkdir -p "$staging/bin"
    log "building Fabric $FABRIC_VERSION from $TARBALL into $cache_dir (1-3 minutes, once)"
    if tar -xzf "$TARBALL" -C "$work" \
       && src=$(find "$work" -maxdepth 1 -mindepth 1 -type d | head -1) \
       && (cd "$src" && GOFLAGS=-mod=vendor GOPROXY=off CGO_ENABLED=0 \
             go build -trimpath -ldflags "-X github.com/hyperledger/fabric/common/metadata.Version=$FABRIC_VERSION -X github.com/hyperledger/fabric/common/metadata.CommitSHA=${FABRIC_COMMIT:0:7}" \
             -o "$staging/bin" $(printf './cmd/%s ' "${TOOLS[@]}")) >&2 \
       && build_ccaas "$src" "$staging" \
       && cp -r "$src/sampleconfig" "$staging/config"; then
      rm -rf "$cache_dir"; mkdir -p "$CACHE_ROOT"; mv "$staging" "$cache_dir"
      if complete "$cache_dir"; then echo "$cache_dir"; exit 0; fi
      tried+=("build from $TARBALL: finished but $cache_dir is incomplete")
    else
      rm -rf "$staging"
      tried+=("build from $TARBALL: go build failed (its output is above)")
    fi
  fi
fi

# 4. the official release archive (needs internet; the builder is then built from the Go proxy).
if command -v curl >/dev/null 2>&1; then
  rel="$CACHE_ROOT/fabric-$FABRIC_VERSION-release"
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/fabric-release.XXXXXX")
  if curl -fsSL --max-time 120 -o "$tmp/fabric.tgz" "$RELEASE_URL" 2>"$tmp/err" \
     && mkdir -p "$rel" && tar -xzf "$tmp/fabric.tgz" -C "$rel" \
     && mkdir -p "$rel/ccaas_builder/bin" \
     && GOFLAGS=-mod=mod CGO_ENABLED=0 GOBIN="$rel/ccaas_builder/bin" \
          bash -c 'for c in detect build release; do go install "github.com/hyperledger/fabric/ccaas_builder/cmd/$c@'"$FABRIC_COMMIT"'" || exit 1; done' >&2 \
     && complete "$rel"; then
    rm -rf "$tmp"; echo "$rel"; exit 0
  fi
  tried+=("release download $RELEASE_URL: $(head -c 300 "$tmp/err" 2>/dev/null | tr '\n' ' ')")
  rm -rf "$tmp"
else
  tried+=("release download: no curl")
fi

{
  echo "install-fabric: no Fabric $FABRIC_VERSION could be found or built. Tried:"
  for t in "${tried[@]}"; do echo "  - $t"; done
} >&2
exit 1
