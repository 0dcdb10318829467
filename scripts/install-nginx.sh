#!/usr/bin/env bash
# Prints the path of an nginx binary for the reverse-proxy tests (a real nginx terminating TLS in
# front of the gateway): one on PATH, or Debian's, unpacked from its .deb into a cache outside the
# clone keyed by the package version. Unpacked rather than installed: installing nginx would run
# its maintainer scripts, which start a system nginx on port 80; the tests run their own.
set -euo pipefail
CACHE_ROOT=${LIANZHENG_TOOL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lianzheng}

if command -v nginx >/dev/null 2>&1; then command -v nginx; exit 0; fi
version=$(apt-cache policy nginx 2>/dev/null | awk '/Candidate:/ {print $2}')
if [ -z "$version" ] || [ "$version" = "(none)" ]; then
  # No package index (yet): an earlier unpacked one will do.
  cached=$(ls -d "$CACHE_ROOT"/nginx-*/nginx 2>/dev/null | tail -1 || true)
  if [ -n "$cached" ]; then echo "$cached"; exit 0; fi
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >&2
  version=$(apt-cache policy nginx | awk '/Candidate:/ {print $2}')
fi
dir="$CACHE_ROOT/nginx-${version//[:~+]/_}"
if [ ! -x "$dir/nginx" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  echo "unpacking Debian's nginx $version into $dir (once)" >&2
  # apt-get download writes into the current folder as the unprivileged _apt user.
  chmod 1777 "$work"
  (cd "$work" && apt-get download -qq "nginx=$version" >&2)
  dpkg-deb -x "$work"/nginx_*.deb "$work/x"
  mkdir -p "$dir"
  cp "$work/x/usr/sbin/nginx" "$dir/nginx"
fi
"$dir/nginx" -v >&2
echo "$dir/nginx"
