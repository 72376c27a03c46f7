#!/usr/bin/env bash
# Installs dependencies, builds, and runs the whole test suite.
#   scripts/test.sh            the dev preset (Debug)
#   scripts/test.sh asan       AddressSanitizer + UndefinedBehaviorSanitizer
#   scripts/test.sh tsan       ThreadSanitizer, on the tests that exercise concurrency
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-dev}"

# Prometheus and promtool for the metrics test, which runs its own server on a free port.
prometheus_was_installed=false
command -v prometheus >/dev/null 2>&1 && prometheus_was_installed=true
scripts/install-deps.sh prometheus
# Where systemd runs, Debian starts the package's service on :9090 at install. Nothing here needs it:
# a service this script brought in is stopped and left disabled.
if ! $prometheus_was_installed && [ -d /run/systemd/system ] &&
  systemctl is-enabled --quiet prometheus 2>/dev/null; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO systemctl disable --now --quiet prometheus
fi
# redis-server for the cluster cache tests, which start their own on a free port; as with
# Prometheus, a service the package starts at install is stopped and left disabled.
redis_was_installed=false
command -v redis-server >/dev/null 2>&1 && redis_was_installed=true
scripts/install-deps.sh redis-server
if ! $redis_was_installed && [ -d /run/systemd/system ] &&
  systemctl is-enabled --quiet redis-server 2>/dev/null; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO systemctl disable --now --quiet redis-server
fi
# The interoperability test runs a second, independent identity provider (npm oidc-provider), and
# fails without it: a machine without npm gets Node.js from its package sources first (a NodeSource
# nodejs carries npm; Debian's own ships it as a separate package).
if ! command -v npm >/dev/null 2>&1; then
  scripts/install-deps.sh nodejs
  command -v npm >/dev/null 2>&1 || scripts/install-deps.sh npm
fi
(cd tests/interop && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; })
# The WebSocket tests run a real echo server and client (npm ws) through the gateway.
(cd tests/websocket && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; })
# The gRPC tests run a real gRPC server and client (npm @grpc/grpc-js) through the gateway.
(cd tests/grpc && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; })
# The status page's test drives a real headless Chromium, Debian's: playwright-core (npm) only
# steers it and never downloads a browser of its own. Without either, that test fails.
scripts/install-deps.sh chromium
(cd tests/browser && { [ -d node_modules ] || PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error; })

# Cache hits across clones in different folders (CI builds a fresh clone each time).
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
# The library uses a precompiled header; ccache caches such builds only with these settings.
export CCACHE_SLOPPINESS="${CCACHE_SLOPPINESS:-pch_defines,time_macros,include_file_mtime,include_file_ctime}"
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)"
ctest --preset "$preset" -j "$(nproc)"
