#!/usr/bin/env bash
# Installs what tollgate needs to build and test, from Debian's packages. Idempotent and quiet when
# everything is already there. Extra package names may be passed as arguments (e.g. wrk nginx).
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git curl ca-certificates openssl
  libboost1.81-dev libboost-url1.81-dev libssl-dev nlohmann-json3-dev libyaml-cpp-dev
  libspdlog-dev libfmt-dev libmimalloc-dev libgtest-dev libgmock-dev libhiredis-dev
  libnghttp2-dev nghttp2-client python3-h2
  "$@"
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
