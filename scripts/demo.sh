#!/usr/bin/env bash
# Installs dependencies, builds the release preset, and starts the demo on 127.0.0.1:
# the echo upstream (:9000), the dev IdP (:9100) and tollgate (:8000, admin :8001).
# Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1  # cache hits across clones in different folders
# The library uses a precompiled header; ccache caches such builds only with these settings.
export CCACHE_SLOPPINESS="${CCACHE_SLOPPINESS:-pch_defines,time_macros,include_file_mtime,include_file_ctime}"
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target tollgate echo-server dev-idp

bin=build/release
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

wait_for() {  # wait_for FILE TEXT: until a started process reports it is ready
  for _ in $(seq 1 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "demo: $1 did not report '$2':" >&2; cat "$1" >&2; exit 1
}

logs=$(mktemp -d)
"$bin/tools/echo-server" --listen 127.0.0.1:9000 --name orders-service >"$logs/echo.log" 2>&1 &
pids+=($!)
"$bin/tools/dev-idp" --listen 127.0.0.1:9100 >"$logs/idp.log" 2>&1 &
pids+=($!)
wait_for "$logs/echo.log" "listening on"
wait_for "$logs/idp.log" "listening on"

cat <<'TXT'

tollgate demo is starting: echo upstream :9000, dev IdP :9100, tollgate :8000 (admin :8001).
In another terminal:

  # 1. a token from the IdP (client credentials, like Okta)
  TOKEN=$(curl -s -u demo-client:demo-secret -d grant_type=client_credentials -d scope=orders:read \
          http://127.0.0.1:9100/oauth2/default/v1/token | sed 's/.*"access_token":"\([^"]*\)".*/\1/')

  # 2. the protected route: 200, and the echo shows X-Authenticated-User / -Scope
  curl -s -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/orders

  # 3. no token, or a wrong one: 401
  curl -si http://127.0.0.1:8000/orders | head -1
  curl -si -H "Authorization: Bearer nope" http://127.0.0.1:8000/orders | head -1

  # 4. the cache: repeat step 2 and watch the IdP's count stay put; the uncached route counts every call
  curl -s http://127.0.0.1:9100/admin/stats
  curl -s -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/uncached/orders >/dev/null
  curl -s http://127.0.0.1:9100/admin/stats

  # 5. deactivate the application in the IdP: its tokens are dead for good -> 401 on the next
  #    uncached call (the cached route follows when its entry expires)
  curl -s -X POST http://127.0.0.1:9100/admin/clients/demo-client/deactivate
  curl -si -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/uncached/orders | head -1
  #    ...and cut it off on the cached route now: purge its cached answers -> 401 there too
  curl -s -X POST http://127.0.0.1:8001/cache/purge -H 'Content-Type: application/json' \
       -d '{"client_id": "demo-client"}'
  curl -si -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/orders | head -1

  # 6. watch it: the status page is http://127.0.0.1:8001/ in a browser; the metrics:
  curl -s http://127.0.0.1:8001/metrics | grep -E '^tollgate_(http_requests|oidc_cache_lookups)_total'

tollgate's log follows (Ctrl-C stops everything).

TXT
"$bin/tollgate" -c config/demo.yaml
