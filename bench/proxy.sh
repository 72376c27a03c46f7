#!/usr/bin/env bash
# What tollgate costs as a plain reverse proxy: wrk against echo-server's /ok directly and through
# tollgate, the scenarios alternating so that drift on a shared machine hits both alike. Prints median
# req/s, p50/p99 latency and the tollgate/direct throughput ratio; writes the numbers as JSON under
# bench/results/. Everything runs on 127.0.0.1 with kernel-chosen ports and stops by itself.
#
# usage: bench/proxy.sh
#   BENCH_DURATION     seconds per wrk run              (default 10, 1..60)
#   BENCH_CONNECTIONS  concurrent connections           (default 50, 1..1000)
#   BENCH_RUNS         runs per scenario                (default 3, 1..10)
#   TOLLGATE_WORKERS   tollgate's "workers:" value      (default 1; a number or auto)
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly repo_root
readonly build_dir=$repo_root/build/release
readonly results_dir=$repo_root/bench/results
readonly ready_timeout_s=20
readonly stop_timeout_s=10

work_dir=""
pids=()          # processes started here, stopped by PID on exit
started_pid=""
declare -A scenario_url=()    # scenario name → URL wrk loads
declare -A scenario_runs=()   # scenario name → JSON array of wrk reports

log() { printf 'bench: %s\n' "$*" >&2; }
fail() {
  log "error: $*"
  exit 1
}

# An integer setting from the environment, bounded so that no run can grow without limit.
bounded_setting() {
  local name=$1 default=$2 min=$3 max=$4 value
  value=${!name:-$default}
  if ! [[ $value =~ ^[0-9]{1,6}$ ]] || ((10#$value < min || 10#$value > max)); then
    fail "$name=$value: expected a whole number from $min to $max"
  fi
  echo $((10#$value))
}

duration_s=$(bounded_setting BENCH_DURATION 10 1 60)
connections=$(bounded_setting BENCH_CONNECTIONS 50 1 1000)
runs=$(bounded_setting BENCH_RUNS 3 1 10)
workers=${TOLLGATE_WORKERS:-1}
[[ $workers =~ ^([1-9][0-9]?|auto)$ ]] || fail "TOLLGATE_WORKERS=$workers: expected 1..99 or auto"
readonly duration_s connections runs workers
readonly wrk_threads=1

install_missing_tools() {
  local missing=()
  command -v wrk >/dev/null || missing+=(wrk)
  command -v jq >/dev/null || missing+=(jq)
  [ ${#missing[@]} -eq 0 ] && return
  log "installing ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Benchmarks measure the optimised build of the current sources (a no-op when it is up to date).
build_release() {
  cd "$repo_root"
  [ -f "$build_dir/build.ninja" ] || cmake --preset release >/dev/null
  cmake --build --preset release --target tollgate echo-server >/dev/null
}

stop_started_processes() {
  local pid i
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || continue
    for ((i = 0; i < stop_timeout_s * 10; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  done
  [ -n "$work_dir" ] && rm -rf "$work_dir"
  return 0
}

# start_daemon, wait_for_port
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/daemons.sh"

# --- scenarios: each start_<name> brings up what it needs and sets scenario_url[<name>] ----------------
# To add one (nginx, haproxy, tollgate with introspection...), write its start_ function and list it
# in `scenarios` below.

upstream_port=""

start_direct() {
  start_daemon echo-server "$build_dir/tools/echo-server" --listen 127.0.0.1:0 --threads 1
  upstream_port=$(wait_for_port echo-server "$work_dir/echo-server.log" "$started_pid")
  scenario_url[direct]="http://127.0.0.1:$upstream_port/ok"
}

start_tollgate() {
  # Access logging off: this measures proxying, not writing log lines.
  cat >"$work_dir/tollgate.yaml" <<EOF
listen:
  - address: 127.0.0.1:0
admin:
  address: 127.0.0.1:0
workers: $workers
log: { level: info, access_log: off }
upstreams:
  echo:
    targets: [ http://127.0.0.1:$upstream_port ]
    keepalive: $connections
routes:
  - name: everything
    match: { paths: [ / ] }
    upstream: echo
EOF
  start_daemon tollgate "$build_dir/tollgate" -c "$work_dir/tollgate.yaml"
  local port
  port=$(wait_for_port tollgate "$work_dir/tollgate.log" "$started_pid")
  scenario_url[tollgate]="http://127.0.0.1:$port/ok"
}

readonly scenarios=(direct tollgate)   # order matters: tollgate proxies to direct's echo-server

# --- measuring ------------------------------------------------------------------------------------------

# One wrk run; prints its JSON report (bench/wrk-report.lua). A run with any failed request is an
# error, not a number: a proxy that answers 502 quickly must not look fast.
run_wrk() {
  local url=$1 output report
  output=$(wrk -t"$wrk_threads" -c"$connections" -d"${duration_s}s" --timeout 5s \
    -s "$repo_root/bench/wrk-report.lua" "$url")
  report=$(grep '^{' <<<"$output" | tail -n 1)
  [ -n "$report" ] || fail "wrk printed no report for $url: $output"
  if ! jq -e '.requests > 0 and ([.errors[]] | add) == 0' <<<"$report" >/dev/null; then
    fail "failed requests against $url: $report"
  fi
  echo "$report"
}

# Median of a JSON array of numbers (mean of the two middle values for an even count).
readonly jq_median='sort | if length % 2 == 1 then .[length / 2 | floor]
  else (.[length / 2 - 1] + .[length / 2]) / 2 end'

summarise() {
  local name=$1
  jq -c "{
    rps: ([.[].rps] | $jq_median),
    p50_ms: ([.[].latency_us.p50] | $jq_median / 1000),
    p99_ms: ([.[].latency_us.p99] | $jq_median / 1000)
  }" <<<"${scenario_runs[$name]}"
}

main() {
  install_missing_tools
  build_release
  work_dir=$(mktemp -d /tmp/tollgate-bench.XXXXXX)
  trap stop_started_processes EXIT

  local name run report
  for name in "${scenarios[@]}"; do
    "start_$name"
    scenario_runs[$name]='[]'
  done

  log "wrk -t$wrk_threads -c$connections -d${duration_s}s, $runs runs per scenario, tollgate workers: $workers"
  for ((run = 1; run <= runs; run++)); do
    for name in "${scenarios[@]}"; do
      report=$(run_wrk "${scenario_url[$name]}")
      scenario_runs[$name]=$(jq -c --argjson r "$report" '. + [$r]' <<<"${scenario_runs[$name]}")
      log "run $run/$runs $name: $(jq -r '"\(.rps | floor) req/s, p50 \(.latency_us.p50 / 1000) ms, p99 \(.latency_us.p99 / 1000) ms"' <<<"$report")"
    done
  done

  local results='{}'
  for name in "${scenarios[@]}"; do
    results=$(jq -c --arg n "$name" --argjson runs "${scenario_runs[$name]}" --argjson median "$(summarise "$name")" \
      '. + {($n): {median: $median, runs: $runs}}' <<<"$results")
  done

  local commit document file
  commit=$(git -C "$repo_root" rev-parse --short HEAD 2>/dev/null || echo unknown)
  document=$(jq -n --argjson scenarios "$results" \
    --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg commit "$commit" \
    --arg workers "$workers" --argjson cpus "$(nproc)" --arg kernel "$(uname -r)" \
    --argjson duration "$duration_s" --argjson connections "$connections" --argjson runs "$runs" \
    --argjson threads "$wrk_threads" '{
      benchmark: "proxy", date: $date, commit: $commit,
      machine: {cpus: $cpus, kernel: $kernel},
      settings: {wrk_threads: $threads, connections: $connections, duration_s: $duration, runs: $runs,
                 tollgate_workers: $workers, path: "/ok"},
      scenarios: $scenarios,
      tollgate_over_direct_rps: ($scenarios.tollgate.median.rps / $scenarios.direct.median.rps)
    }')

  mkdir -p "$results_dir"
  file=$results_dir/proxy-$(date -u +%Y%m%dT%H%M%SZ).json
  echo "$document" >"$file"

  jq -r '
    (["scenario", "req/s", "p50 ms", "p99 ms"] | @tsv),
    (.scenarios | to_entries[] | [.key, (.value.median.rps | floor), .value.median.p50_ms, .value.median.p99_ms] | @tsv)
  ' <<<"$document" | awk -F'\t' '{ printf "%-10s %10s %8s %8s\n", $1, $2, $3, $4 }'
  jq -r '"tollgate / direct throughput: \(.tollgate_over_direct_rps * 1000 | round / 1000)"' <<<"$document"
  log "results: $file"
}

main "$@"
