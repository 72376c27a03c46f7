#!/usr/bin/env bash
# Installs dependencies, builds, and runs the whole test suite.
#   scripts/test.sh            the dev preset (Debug)
#   scripts/test.sh asan       AddressSanitizer + UndefinedBehaviorSanitizer
#   scripts/test.sh tsan       ThreadSanitizer, on the tests that exercise concurrency
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-dev}"

scripts/install-deps.sh
# The interoperability test runs a second, independent identity provider (npm oidc-provider).
if command -v npm >/dev/null 2>&1 && [ -f tests/interop/package-lock.json ]; then
  (cd tests/interop && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; })
fi

# Cache hits across clones in different folders (CI builds a fresh clone each time).
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)"
ctest --preset "$preset" -j "$(nproc)"
