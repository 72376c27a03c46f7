#!/usr/bin/env bash
# The cluster cache's scenario (issue 15): two tollgate replicas sharing one introspection cache in
# a redis-server, against one process with its first level alone. Everything on 127.0.0.1, every
# step bounded in time, every process stopped by PID on exit.
#
#   bench/cluster.sh            (release build in build/release; redis-server and wrk installed)
#
# It prints:
#   1. cached throughput of one process (first-level hits, one token) and of the two replicas
#      together (each warmed, first-level hits), and their ratio: the target is within 5%;
#   2. the cost of a second-level hit: the first request of each of N tokens on replica b after
#      replica a fetched them (Redis GET + open), against a first-level hit on b;
#   3. IdP calls per distinct token across the replicas: N tokens, each asked on a then on b
#      (target 1.00).
#   BENCH_DURATION  seconds per wrk run  (default 10, 1..60)
#   BENCH_TOKENS    N above              (default 2000, 1..100000)
#   BENCH_BUILD_DIR (default build/release)
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly repo_root
readonly client_py=$repo_root/bench/lib/client.py
readonly lua_dir=$repo_root/bench/lua
readonly python=/usr/bin/python3
readonly ready_timeout_s=20
readonly stop_timeout_s=15
readonly cluster_key="q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA="

work_dir=""
pids=()
started_pid=""

log() { printf 'bench/cluster: %s\n' "$*" >&2; }
fail() {
  log "error: $*"
  exit 1
}

# shellcheck source=scripts/lib/daemons.sh
. "$repo_root/scripts/lib/daemons.sh"

duration_s=$(bounded_setting BENCH_DURATION 10 1 60)
tokens_count=$(bounded_setting BENCH_TOKENS 2000 1 100000)
bin_dir=${BENCH_BUILD_DIR:-$repo_root/build/release}

cleanup() {
  stop_started_processes
  [ -n "$work_dir" ] && rm -rf "$work_dir"
}
trap cleanup EXIT

for tool in redis-server wrk jq curl; do
  command -v "$tool" >/dev/null || fail "$tool is needed (apt-get install redis-server wrk jq curl)"
done
[ -x "$bin_dir/tollgate" ] || fail "no tollgate in $bin_dir: cmake --preset release && cmake --build --preset release"
work_dir=$(mktemp -d /tmp/tollgate-cluster-bench.XXXXXX)

read -r redis_port port_single port_a port_b admin_single admin_a admin_b < <(
  timeout 10s "$python" "$client_py" free-ports 7 | tr '\n' ' ')

start_daemon redis redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no
for ((i = 0; i < ready_timeout_s * 10; i++)); do
  grep -q "Ready to accept connections" "$work_dir/redis.log" && break
  sleep 0.1
done
grep -q "Ready to accept connections" "$work_dir/redis.log" || fail "redis-server did not start"

start_daemon dev-idp "$bin_dir/tools/dev-idp" --listen 127.0.0.1:0 --threads 1
idp_pid=$started_pid
idp_port=$(wait_for_port dev-idp "$work_dir/dev-idp.log" "$idp_pid")
idp_url=http://127.0.0.1:$idp_port
start_daemon echo "$bin_dir/tools/echo-server" --listen 127.0.0.1:0
echo_port=$(wait_for_port echo-server "$work_dir/echo.log" "$started_pid")

# write_config NAME PORT ADMIN_PORT CLUSTER(on|off)
write_config() {
  local name=$1 listen=$2 admin=$3 cluster=$4 extra=""
  if [ "$cluster" = on ]; then
    extra="      cluster_cache_strategy: redis
      cluster_cache_key: $cluster_key
      cluster_cache_redis: { host: 127.0.0.1, port: $redis_port }"
  fi
  cat >"$work_dir/$name.yaml" <<YAML
listen: [ { address: 127.0.0.1:$listen } ]
admin: { address: 127.0.0.1:$admin }
workers: 1
log: { level: warn, access_log: off }
upstreams: { echo: { targets: [ http://127.0.0.1:$echo_port ] } }
plugins:
  okta:
    name: openid-connect
    config:
      introspection_endpoint: $idp_url/oauth2/default/v1/introspect
      client_id: gateway
      client_secret: gateway-secret
      cache_ttl: 3600s
$extra
routes:
  - { name: cached, match: { paths: [ /cached ] }, upstream: echo, plugins: [ okta ] }
YAML
}

start_gateway() {
  local name=$1 listen=$2 admin=$3 cluster=$4
  write_config "$name" "$listen" "$admin" "$cluster"
  start_daemon "$name" "$bin_dir/tollgate" -c "$work_dir/$name.yaml"
  wait_for_http "$name" "http://127.0.0.1:$admin/readyz" "$started_pid" "$work_dir/$name.log"
}

start_gateway single "$port_single" "$admin_single" off
start_gateway a "$port_a" "$admin_a" on
start_gateway b "$port_b" "$admin_b" on

idp_calls() {
  curl -sSf --max-time 5 "$idp_url/admin/stats" | jq -e '.introspect_calls' ||
    fail "cannot read the dev IdP's call count"
}

# wrk_rps URL: requests per second of one wrk run with the one token, first-level hits.
wrk_rps() {
  local url=$1 output
  output=$(timeout --kill-after=5s $((duration_s + 30))s \
    wrk -t1 -c50 -d"${duration_s}s" --timeout 5s -s "$lua_dir/report.lua" \
    -H "Authorization: Bearer $token" "$url" 2>&1) || fail "wrk against $url failed: $output"
  grep '^{' <<<"$output" | tail -n 1 | jq -e '.rps' ||
    fail "wrk printed no report for $url: $output"
}

token=$("$python" "$client_py" mint "$idp_url" demo-client "orders:read" 1 | head -n 1)
for port in "$port_single" "$port_a" "$port_b"; do
  curl -sSf --max-time 5 -o /dev/null -H "Authorization: Bearer $token" \
    "http://127.0.0.1:$port/cached/ok" || fail "the warm-up request on $port failed"
done

log "1. cached throughput (${duration_s}s each)"
single_rps=$(wrk_rps "http://127.0.0.1:$port_single/cached/ok")
a_rps=$(wrk_rps "http://127.0.0.1:$port_a/cached/ok")
ratio=$(jq -n --argjson a "$a_rps" --argjson s "$single_rps" '$a / $s')
printf 'single process, first-level hits: %.0f req/s\n' "$single_rps"
printf 'replica with the cluster cache on, first-level hits: %.0f req/s (%.3f of single; target >= 0.95)\n' \
  "$a_rps" "$ratio"

log "2. second-level hits: $tokens_count tokens fetched on a, then first asked on b"
"$python" "$client_py" mint "$idp_url" demo-client "orders:read" "$tokens_count" >"$work_dir/tokens"
calls_before=$(idp_calls)
start_ns=$(date +%s%N)
timeout $((30 + tokens_count / 100))s "$python" "$client_py" warm \
  "http://127.0.0.1:$port_a/cached/ok" "$work_dir/tokens" || fail "warming a failed"
a_ns=$(($(date +%s%N) - start_ns))
start_ns=$(date +%s%N)
timeout $((30 + tokens_count / 100))s "$python" "$client_py" warm \
  "http://127.0.0.1:$port_b/cached/ok" "$work_dir/tokens" || fail "asking b failed"
b_ns=$(($(date +%s%N) - start_ns))
start_ns=$(date +%s%N)
timeout $((30 + tokens_count / 100))s "$python" "$client_py" warm \
  "http://127.0.0.1:$port_b/cached/ok" "$work_dir/tokens" || fail "asking b again failed"
b_hit_ns=$(($(date +%s%N) - start_ns))
calls=$(($(idp_calls) - calls_before))
printf 'per request, sequential: IdP call on a %.1f us, second-level hit on b %.1f us, first-level hit on b %.1f us\n' \
  "$(jq -n "$a_ns / $tokens_count / 1000")" "$(jq -n "$b_ns / $tokens_count / 1000")" \
  "$(jq -n "$b_hit_ns / $tokens_count / 1000")"

log "3. IdP calls per distinct token across the two replicas"
printf 'IdP calls per distinct token: %.2f (target 1.00)\n' "$(jq -n "$calls / $tokens_count")"
