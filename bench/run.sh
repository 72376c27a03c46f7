#!/usr/bin/env bash
# tollgate's benchmark: tollgate, nginx and HAProxy as reverse proxies in front of one upstream, and
# tollgate's token introspection against the dev IdP, measured in one run with the runs alternated
# so that the drift of a shared machine hits every contender alike. Prints one table (req/s, p50,
# p99, IdP calls per request, CPU seconds per 1k requests, peak RSS, same-run ratios to nginx and
# HAProxy) and the targets, met or not; writes everything as JSON and Markdown under
# bench/results/. Everything runs on 127.0.0.1, every step is bounded in time, and every process
# started here is stopped by PID when the script exits, however it exits.
#
# usage: bench/run.sh [SCENARIO...]        scenarios a b c d e f g h j k l r (default: all); see bench/README.md
#   BENCH_DURATION      seconds per wrk run                        (default 10, 1..60)
#   BENCH_RUNS          runs per scenario and contender            (default 3, 1..10)
#   BENCH_CONNECTIONS   wrk connections in scenarios a-d           (default 64, 1..1000)
#   BENCH_WORKERS       worker counts, each a pass of every scenario: 1..64 or auto, the defaults
#                       of each server (tollgate `workers: auto`, nginx `worker_processes auto`,
#                       HAProxy one thread per core)                  (default "1 auto")
#   BENCH_WRK_THREADS   wrk threads                                (default: the pass's workers, ≤ 8)
#   BENCH_TOKENS        distinct tokens in scenario d              (default 10000, 1..1000000)
#   BENCH_REPLICA_TOKENS distinct tokens in scenario r's levels   (default 2000, 1..100000)
#   BENCH_CONTENDERS    contenders to run, e.g. "tollgate haproxy" (default: all)
#   BENCH_BUILD_DIR     where tollgate and dev-idp are             (default build/release, built here)
#   BENCH_BASELINE_BUILD_DIR  another build's tollgate, measured beside this one as contender
#                       "baseline" in a, b and f: a before/after in the same runs (default: none)
#   TOLLGATE_LOG_LEVEL  tollgate's log level                       (default warn)
# nginx_same and haproxy_same are nginx and HAProxy adding the headers tollgate adds
# (X-Forwarded-*, Via, X-Request-Id), so that all three do the same work; haproxy_tcp (a and f) is
# HAProxy relaying bytes in mode tcp, the floor of what any proxy spends per request.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR/..

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly repo_root
readonly results_dir=$repo_root/bench/results
readonly lua_dir=$repo_root/bench/lua
readonly client_py=$repo_root/bench/lib/client.py
readonly python=/usr/bin/python3   # Debian's, standard library only
readonly ready_timeout_s=20
readonly stop_timeout_s=15
readonly large_connections=8       # scenario e: 1 MiB bodies
readonly many_connections=1000     # scenario f
readonly burst_connections=64      # scenarios g and j_cold
readonly paced_delay_ms=10         # scenario h: each connection's pause between requests
readonly h2_connections=16         # scenarios k and l: h2load's connections,
readonly h2_streams=4              # each with this many streams at once (64 in flight, as in a)
replicas=false                     # scenario r: Redis and two replicas sharing a cache in it
grpc=false                         # scenario l: tests/grpc's echo server, on node

work_dir=""
scenarios=()
pids=()          # processes started here, stopped by PID on exit
started_pid=""
idp_port=""
created_policy_rc=false

log() { printf 'bench: %s\n' "$*" >&2; }
fail() {
  log "error: $*"
  exit 1
}

# shellcheck source=scripts/lib/daemons.sh
. "$repo_root/scripts/lib/daemons.sh"

duration_s=$(bounded_setting BENCH_DURATION 10 1 60)
runs=$(bounded_setting BENCH_RUNS 3 1 10)
connections=$(bounded_setting BENCH_CONNECTIONS 64 1 1000)
[ -z "${BENCH_WRK_THREADS:-}" ] || bounded_setting BENCH_WRK_THREADS 1 1 8 >/dev/null
tokens_count=$(bounded_setting BENCH_TOKENS 10000 1 1000000)
replica_tokens_count=$(bounded_setting BENCH_REPLICA_TOKENS 2000 1 100000)
read -ra worker_counts <<<"${BENCH_WORKERS:-1 auto}"
[ ${#worker_counts[@]} -ge 1 ] || fail "BENCH_WORKERS is empty"
for workers in "${worker_counts[@]}"; do
  [[ $workers =~ ^([1-9]|[1-5][0-9]|6[0-4]|auto)$ ]] || fail "BENCH_WORKERS: $workers: expected 1..64 or auto"
done
workers=""       # the pass's worker count, read by lib/servers.sh
wrk_threads=""   # the pass's wrk threads
tollgate_log_level=${TOLLGATE_LOG_LEVEL:-warn}
[[ $tollgate_log_level =~ ^(trace|debug|info|warn|error|off)$ ]] ||
  fail "TOLLGATE_LOG_LEVEL=$tollgate_log_level: expected trace, debug, info, warn, error or off"
bin_dir=${BENCH_BUILD_DIR:-$repo_root/build/release}
baseline_dir=${BENCH_BASELINE_BUILD_DIR:-}
if [ -n "$baseline_dir" ]; then
  [ -x "$baseline_dir/tollgate" ] || fail "BENCH_BASELINE_BUILD_DIR=$baseline_dir has no tollgate"
  baseline_dir=$(cd "$baseline_dir" && pwd)
fi
readonly duration_s runs connections tokens_count worker_counts tollgate_log_level
readonly bin_dir baseline_dir

readonly all_contenders=(direct idp nginx nginx_same haproxy haproxy_same haproxy_tcp tollgate baseline
  replica_a replicas)
default_contenders=("${all_contenders[@]}")
[ -n "$baseline_dir" ] || default_contenders=("${default_contenders[@]/baseline/}")
read -ra contenders <<<"${BENCH_CONTENDERS:-${default_contenders[*]}}"
for contender in "${contenders[@]}"; do
  [[ " ${all_contenders[*]} " == *" $contender "* ]] ||
    fail "BENCH_CONTENDERS: unknown contender '$contender' (known: ${all_contenders[*]})"
  [ "$contender" != baseline ] || [ -n "$baseline_dir" ] ||
    fail "BENCH_CONTENDERS: baseline needs BENCH_BASELINE_BUILD_DIR"
done

# What each scenario measures: its contenders, in the order of the first run (later runs rotate it).
declare -A scenario_contenders=(
  [a]="direct nginx nginx_same haproxy haproxy_same haproxy_tcp tollgate baseline"
  [b]="nginx tollgate baseline"
  [c]="idp nginx tollgate"
  [d]="tollgate"
  [e_download]="direct nginx haproxy tollgate"
  [e_upload]="direct nginx haproxy tollgate"
  [f]="direct nginx haproxy haproxy_tcp tollgate baseline"
  [g]="nginx tollgate"
  [h]="nginx haproxy tollgate"
  [j]="nginx tollgate"
  [j_cold]="tollgate"
  [k]="nginx haproxy tollgate"
  [l]="direct nginx haproxy tollgate"
  [r]="tollgate replica_a"
  [r_levels]="replicas"
)

# shellcheck source=bench/lib/servers.sh
. "$repo_root/bench/lib/servers.sh"

# --- preparing -----------------------------------------------------------------------------------

# Sets the array `scenarios` from the command line (e stands for both e_download and e_upload), in
# the order a to h whatever the command line's: from the lightest load on a server's memory to the
# heaviest, so that the first run's peak RSS of each scenario is not inflated by a heavier one (h,
# last, offers half of the rate nginx reached in a, so it brings a along).
select_scenarios() {
  local arg name
  local -A chosen=()
  [ $# -gt 0 ] || set -- a b c d e f g h j k l r
  for arg in "$@"; do
    case $arg in
      a | b | c | d | f | g | k | l | e_download | e_upload | j_cold) chosen[$arg]=1 ;;
      e) chosen[e_download]=1 chosen[e_upload]=1 ;;
      h) chosen[h]=1 chosen[a]=1 ;;
      j) chosen[j]=1 chosen[j_cold]=1 ;;
      r) chosen[r]=1 chosen[r_levels]=1 ;;
      *) fail "unknown scenario '$arg' (a b c d e f g h j k l r; -h for help)" ;;
    esac
  done
  scenarios=()
  for name in a b c d e_download e_upload f g h j j_cold k l r r_levels; do
    [ -n "${chosen[$name]:-}" ] && scenarios+=("$name")
  done
  [ -z "${chosen[r]:-}" ] || replicas=true
  [ -z "${chosen[l]:-}" ] || grpc=true
  return 0
}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
}

# Debian starts a freshly installed nginx or HAProxy as a system service (nginx on port 80): not
# wanted here. A policy-rc.d that refuses every start exists while they install, when none is there.
keep_services_down_while_installing() {
  local sudo=$1
  [ -e /usr/sbin/policy-rc.d ] && return
  $sudo sh -c 'printf "#!/bin/sh\nexit 101\n" >/usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d'
  created_policy_rc=true
}

install_missing_tools() {
  local sudo="" tool missing=false
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  for tool in wrk nginx haproxy jq curl; do
    command -v "$tool" >/dev/null || missing=true
  done
  [ -x "$python" ] && [ -f "$nginx_js_module" ] || missing=true
  if $missing; then
    log "installing wrk, nginx (with njs), HAProxy, jq, curl and python3 from Debian"
    keep_services_down_while_installing "$sudo"
  fi
  # The build dependencies too; quiet and quick when everything is there.
  "$repo_root/scripts/install-deps.sh" wrk nginx libnginx-mod-http-js haproxy jq curl python3
  if $created_policy_rc; then
    $sudo rm -f /usr/sbin/policy-rc.d
    created_policy_rc=false
  fi
  # Scenario l's echo server: node (npm with it, as scripts/test.sh gets them) and tests/grpc's
  # packages.
  $grpc || return 0
  if ! command -v npm >/dev/null; then
    "$repo_root/scripts/install-deps.sh" nodejs
    command -v npm >/dev/null || "$repo_root/scripts/install-deps.sh" npm
  fi
  (cd "$repo_root/tests/grpc" && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; }) ||
    fail "npm ci in tests/grpc failed"
}

# Benchmarks measure the optimised build of the current sources (a no-op when it is up to date).
build_release() {
  if [ -n "${BENCH_BUILD_DIR:-}" ]; then
    if [ ! -x "$bin_dir/tollgate" ] || [ ! -x "$bin_dir/tools/dev-idp" ]; then
      fail "BENCH_BUILD_DIR=$bin_dir has no tollgate and tools/dev-idp"
    fi
    return
  fi
  local output
  output=$(
    cd "$repo_root"
    [ -f "$bin_dir/build.ninja" ] || cmake --preset release 2>&1
    cmake --build --preset release --target tollgate dev-idp 2>&1
  ) || fail "the release build failed: $(tail -n 40 <<<"$output")"
}

# 1,000 connections through a proxy take 2,000 descriptors in it, and as many in wrk.
raise_open_files_limit() {
  local hard
  hard=$(ulimit -Hn)
  [ "$hard" = unlimited ] && hard=65536
  ulimit -n $((hard < 65536 ? hard : 65536))
  (($(ulimit -n) >= 4 * many_connections)) ||
    fail "the open files limit ($(ulimit -n)) is below $((4 * many_connections))"
}

cleanup() {
  stop_started_processes
  if $created_policy_rc; then rm -f /usr/sbin/policy-rc.d 2>/dev/null || sudo rm -f /usr/sbin/policy-rc.d; fi
  [ -n "$work_dir" ] && rm -rf "$work_dir"
  return 0
}

# --- what a contender is in a scenario -----------------------------------------------------------

one_token=""      # scenarios b and c
paced_connections=1   # scenario h, set by set_paced_connections
one_jwt=""        # scenario j
tokens_file=""    # scenario d
grpc_request=""   # scenario l: one EchoRequest, framed as gRPC frames it

# Sets case_* for one contender in one scenario: the URL wrk loads, its connections, Lua script and
# extra header, the server whose processes are measured, and the least bytes a response can have;
# for h2load (k and l), the protocol it must speak and its extra arguments.
case_spec() {
  local scenario=$1 contender=$2 base path=/ok
  case_connections=$connections
  case_script=$lua_dir/report.lua
  case_header=""
  case_min_bytes=0
  case_protocol=h2
  case_h2load_args=()
  case_server=$contender
  if [ "$contender" = direct ]; then
    case_server=upstream
    [ "$scenario" != l ] || case_server=grpc
  fi
  base=${base_url[$case_server]}
  case $scenario in
    a) ;;
    b | d | r) path=/cached/ok ;;
    c) path=/uncached/ok ;;
    e_download)
      path=/1mib
      case_connections=$large_connections
      case_min_bytes=$large_body_bytes
      ;;
    e_upload)
      path=/upload
      case_connections=$large_connections
      case_script=$lua_dir/upload.lua
      ;;
    f) case_connections=$many_connections ;;
    h)
      case_connections=$paced_connections
      case_script=$lua_dir/paced.lua
      ;;
    # tollgate validates the JWT locally; nginx, which cannot, introspects it with its cache on.
    j) [ "$contender" = nginx ] && path=/cached/ok || path=/jwt/ok ;;
    k)
      base=https://127.0.0.1:${port[${contender}_tls]}
      case_connections=$((h2_connections * h2_streams))
      ;;
    # gRPC unary calls over h2c: to the echo server itself, or to a proxy's plain-text HTTP/2 listener.
    l)
      [ "$contender" = direct ] || base=http://127.0.0.1:${port[${contender}_h2c]}
      path=/tollgate.test.Echo/Unary
      case_connections=$((h2_connections * h2_streams))
      case_protocol=h2c
      case_h2load_args=(-d "$grpc_request" -H 'content-type: application/grpc' -H 'te: trailers')
      ;;
  esac
  case $scenario in
    b | c | r) case_header="Authorization: Bearer $one_token" ;;
    j) case_header="Authorization: Bearer $one_jwt" ;;
    d) case_script=$lua_dir/tokens.lua ;;
  esac
  if [ "$contender" = idp ]; then
    path=/oauth2/default/v1/introspect
    case_script=$lua_dir/introspect.lua
    case_header=""
  fi
  case_url=$base$path
}

# One request of the case with curl, before anything is timed: a contender that answers wrongly
# stops the benchmark instead of producing a number.
check_case() {
  local scenario=$1 contender=$2 status size body=$work_dir/check-body head=$work_dir/check-head
  local args=() grpc_status reply
  case_spec "$scenario" "$contender"
  [ -n "$case_header" ] && args+=(-H "$case_header")
  case $case_script in
    */upload.lua)
      args+=(--data-binary "@$work_dir/upstream/www/1mib" -H 'Content-Type: application/octet-stream')
      ;;
    */introspect.lua) args+=(-u "$idp_client_id:$idp_client_secret" -d "token=$one_token") ;;
    */tokens.lua) args+=(-H "Authorization: Bearer $(head -n 1 "$tokens_file")") ;;
  esac
  [ "$scenario" = k ] && args+=(--http2 --cacert "$work_dir/tls/cert.pem")
  [ "$scenario" = l ] && args+=(--http2-prior-knowledge --data-binary "@$grpc_request" -D "$head"
    -H 'content-type: application/grpc' -H 'te: trailers')
  read -r status size < <(curl -sS -o "$body" -w '%{http_code} %{size_download}\n' --max-time 10 \
    "${args[@]}" "$case_url") || fail "$scenario/$contender: $case_url does not answer"
  [ "$status" = 200 ] || fail "$scenario/$contender: $case_url answered $status: $(head -c 300 "$body")"
  ((size >= case_min_bytes)) ||
    fail "$scenario/$contender: $case_url sent $size bytes, expected $case_min_bytes"
  if [ "$contender" = idp ] && ! grep -q '"active":true' "$body"; then
    fail "the dev IdP does not find the benchmark's token active: $(cat "$body")"
  fi
  # h2load sees only the HTTP status, and a failed gRPC call is answered 200 too: the call must end
  # with one grpc-status, 0 (curl writes the trailers with the headers), and the reply carry the
  # request's id "b" (field 1, length 1) right after the 5-byte message prefix.
  if [ "$scenario" = l ]; then
    grpc_status=$(tr -d '\r' <"$head" | sed -n 's/^grpc-status: *//Ip')
    [ "$grpc_status" = 0 ] ||
      fail "$scenario/$contender: the call to $case_url did not end with grpc-status 0: $(cat "$head")"
    reply=$(od -An -tx1 -v "$body" | tr -d ' \n')
    [[ $reply =~ ^00[0-9a-f]{8}0a0162 ]] ||
      fail "$scenario/$contender: the reply from $case_url does not carry the request's id: $reply"
  fi
  return 0
}

# --- measuring -----------------------------------------------------------------------------------

# The PIDs of a server: its main process and its children (nginx's master and workers).
server_pids() {
  local pid=${server_pid[$1]}
  echo "$pid"
  child_pids "$pid"
}

# utime + stime, in clock ticks, summed over the given processes.
cpu_ticks() {
  local total=0 pid line fields
  for pid in "$@"; do
    line=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    read -ra fields <<<"${line##*) }"   # the fields after the command name, from field 3 on
    total=$((total + fields[11] + fields[12]))
  done
  echo "$total"
}

# A field of /proc/PID/status (VmRSS, VmHWM), in KiB, summed over the given processes.
memory_kib() {
  local field=$1 pid
  shift
  for pid in "$@"; do
    cat "/proc/$pid/status" 2>/dev/null || true
  done | awk -v field="$field:" '$1 == field { sum += $2 } END { print sum + 0 }'
}

# Resets the peak RSS (VmHWM) of the processes, so that the next reading is this run's peak.
reset_peak_rss() {
  local pid
  for pid in "$@"; do
    echo 5 >"/proc/$pid/clear_refs" 2>/dev/null || true
  done
}

introspect_calls() {
  curl -sSf --max-time 5 "${base_url[idp]}/admin/stats" | jq -e '.introspect_calls' ||
    fail "cannot read the dev IdP's call count"
}

keys_calls() {
  curl -sSf --max-time 5 "${base_url[idp]}/admin/stats" | jq -e '.keys_calls' ||
    fail "cannot read the dev IdP's JWKS fetch count"
}

# One wrk run of the case set by case_spec; prints wrk-report.lua's JSON. A run with any failed request
# (connect/read/write error, timeout, status of 400 or more) or with responses shorter than expected
# is an error, not a number: a proxy that answers 502 quickly must not look fast.
run_wrk() {
  local output status=0 report threads=$wrk_threads args=()
  ((threads <= case_connections)) || threads=$case_connections
  [ -n "$case_header" ] && args+=(-H "$case_header")
  output=$(BENCH_TOKEN=$one_token BENCH_TOKENS_FILE=$tokens_file BENCH_DELAY_MS=$paced_delay_ms \
    BENCH_BASIC=$(printf '%s:%s' "$idp_client_id" "$idp_client_secret" | base64 -w0) \
    timeout --kill-after=5s $((duration_s + 60))s \
    wrk -t"$threads" -c"$case_connections" -d"${duration_s}s" --timeout 5s -s "$case_script" \
    "${args[@]}" "$case_url" 2>&1) || status=$?
  [ "$status" -eq 0 ] || fail "wrk against $case_url ended with status $status: $output"
  report=$(grep '^{' <<<"$output" | tail -n 1)
  [ -n "$report" ] || fail "wrk printed no report for $case_url: $output"
  jq -e '.requests > 0 and ([.errors[]] | add) == 0' <<<"$report" >/dev/null ||
    fail "failed requests against $case_url: $report"
  jq -e --argjson min "$case_min_bytes" '.bytes / .requests >= $min' <<<"$report" >/dev/null ||
    fail "responses from $case_url are shorter than $case_min_bytes bytes: $report"
  echo "$report"
}

# Scenarios k and l: one h2load run of the case set by case_spec (k over TLS, ALPN h2; l in plain
# text, h2c by prior knowledge, with the gRPC call's body and headers), h2_connections connections
# with h2_streams streams each; prints the report run_wrk would, the latencies taken from h2load's
# per-request log. Any request not answered 2xx is an error, not a number.
run_h2load() {
  local output status=0 threads=$wrk_threads log=$work_dir/h2load.tsv
  ((threads <= h2_connections)) || threads=$h2_connections
  rm -f "$log"
  output=$(timeout --kill-after=5s $((duration_s + 60))s h2load -t"$threads" -c"$h2_connections" \
    -m"$h2_streams" -D "$duration_s" --log-file="$log" "${case_h2load_args[@]}" "$case_url" 2>&1) ||
    status=$?
  [ "$status" -eq 0 ] || fail "h2load against $case_url ended with status $status: $output"
  grep -q "^Application protocol: $case_protocol\$" <<<"$output" ||
    fail "h2load did not speak $case_protocol with $case_url: $output"
  sort -t$'\t' -k3,3n "$log" | awk -F'\t' -v duration_us=$((duration_s * 1000000)) \
    -v bytes="$(sed -n 's/^traffic: \([0-9]*\) bytes total.*/\1/p' <<<"$output")" '
    { latency[NR] = $3; sum += $3; if ($2 < 200 || $2 >= 300) bad++ }
    END {
      n = NR
      printf "{\"requests\":%d,\"duration_us\":%d,\"bytes\":%d,\"rps\":%.2f,", n, duration_us, bytes, n / (duration_us / 1e6)
      printf "\"latency_us\":{\"mean\":%.1f,\"p50\":%d,\"p90\":%d,\"p99\":%d,\"max\":%d},", sum / n, latency[int(n * 0.5) + 1], latency[int(n * 0.9) + 1], latency[int(n * 0.99) + 1], latency[n]
      printf "\"errors\":{\"connect\":0,\"read\":0,\"write\":0,\"timeout\":0,\"status\":%d}}\n", bad
    }' >"$work_dir/h2load.json"
  jq -e '.requests > 0 and .errors.status == 0' "$work_dir/h2load.json" >/dev/null ||
    fail "failed requests against $case_url: $(cat "$work_dir/h2load.json") $output"
  grep -Eq '^requests: .* 0 failed, 0 errored, 0 timeout$' <<<"$output" ||
    fail "h2load saw failed requests against $case_url: $output"
  cat "$work_dir/h2load.json"
}

# Measures one contender in one scenario once; appends the run to runs.jsonl.
measure_case() {
  local scenario=$1 contender=$2 run=$3 server_processes report peak
  local ticks_before ticks_after calls_before calls_after cpu_s
  case_spec "$scenario" "$contender"
  mapfile -t server_processes < <(server_pids "$case_server")
  calls_before=$(introspect_calls)
  reset_peak_rss "${server_processes[@]}"
  ticks_before=$(cpu_ticks "${server_processes[@]}")
  if [[ $scenario == [kl] ]]; then report=$(run_h2load); else report=$(run_wrk); fi
  ticks_after=$(cpu_ticks "${server_processes[@]}")
  peak=$(memory_kib VmHWM "${server_processes[@]}")
  calls_after=$(introspect_calls)
  cpu_s=$(awk -v ticks=$((ticks_after - ticks_before)) -v hz="$clock_ticks" 'BEGIN { print ticks / hz }')
  jq -c --arg scenario "$scenario" --arg contender "$contender" --argjson run "$run" \
    --arg workers "$workers" --argjson calls $((calls_after - calls_before)) --argjson peak "$peak" \
    --argjson cpu_s "$cpu_s" \
    --argjson connections "$case_connections" \
    '{workers: $workers, scenario: $scenario, contender: $contender, run: $run,
      connections: $connections} + .
     + {idp_calls: $calls, cpu_s: $cpu_s, peak_rss_kib: $peak}' <<<"$report" >>"$work_dir/runs.jsonl"
  log "workers $workers, run $run/$runs $scenario $contender: $(tail -n 1 "$work_dir/runs.jsonl" | jq -r '
    "\(.rps | floor) req/s, p50 \(.latency_us.p50 / 1000) ms, p99 \(.latency_us.p99 / 1000) ms, " +
    "IdP \(.idp_calls / .requests * 100 | round / 100)/req, " +
    "CPU \(.cpu_s / .requests * 1e6 | round / 1000) s/1k, " +
    "peak RSS \(.peak_rss_kib / 1024 * 10 | round / 10) MiB"')"
}

# mint_tokens COUNT [jwt]: opaque tokens, or JWT access tokens.
mint_tokens() {
  local count=$1 command=mint
  [ "${2:-}" = jwt ] && command=mint-jwt
  timeout $((30 + count / 200))s \
    "$python" "$client_py" "$command" "${base_url[idp]}" "$token_client_id" "$token_scope" "$count" ||
    fail "minting $count tokens failed"
}

# Scenario d's steady state: tollgate's cache holds every token before anything is timed.
warm_token_cache() {
  [[ " ${contenders[*]} " == *" tollgate "* ]] || return 0
  log "warming tollgate's cache with each of the $tokens_count tokens once"
  timeout $((30 + tokens_count / 200))s \
    "$python" "$client_py" warm "${base_url[tollgate]}/cached/ok" "$tokens_file" ||
    fail "warming the cache failed"
}

# Scenario g: 64 connections, then one request on each, all with one token nobody has seen. For
# tollgate a fresh process each time, so nothing is cached; for nginx a new token is enough.
measure_burst() {
  local contender=$1 run=$2 token url fresh_pid="" fresh_port calls_before calls_after result
  token=$(mint_tokens 1)
  if [ "$contender" = tollgate ]; then
    fresh_port=$(timeout 10s "$python" "$client_py" free-ports 1) || fail "no free port"
    start_tollgate tollgate-fresh "$fresh_port"
    fresh_pid=$started_pid
    url=http://127.0.0.1:$fresh_port/cached/ok
  else
    url=${base_url[$contender]}/cached/ok
  fi
  calls_before=$(introspect_calls)
  result=$(timeout 60s "$python" "$client_py" burst "$url" "$token" "$burst_connections") ||
    fail "the burst against $url failed"
  calls_after=$(introspect_calls)
  [ -n "$fresh_pid" ] && stop_daemon "$fresh_pid"
  jq -e --argjson n "$burst_connections" '.statuses == {"200": $n}' <<<"$result" >/dev/null ||
    fail "not every request of the burst against $url was answered 200: $result"
  jq -c --arg contender "$contender" --argjson run "$run" --argjson calls $((calls_after - calls_before)) \
    --argjson n "$burst_connections" --arg workers "$workers" \
    '{workers: $workers, scenario: "g", contender: $contender, run: $run, requests: $n,
      idp_calls: $calls} + .' \
    <<<"$result" >>"$work_dir/runs.jsonl"
  log "workers $workers, run $run/$runs g $contender: $burst_connections requests," \
    "$((calls_after - calls_before)) IdP call(s), $(jq -r .elapsed_ms <<<"$result") ms"
}

# Scenario j_cold: a fresh tollgate, then 64 connections with one request each carrying a JWT: the
# first requests wait for the JWKS fetched at start, none is refused, and the IdP sees one fetch.
measure_cold_jwt() {
  local run=$1 token fresh_port fresh_pid calls_before calls_after keys_before keys_after result
  token=$(mint_tokens 1 jwt)
  fresh_port=$(timeout 10s "$python" "$client_py" free-ports 1) || fail "no free port"
  keys_before=$(keys_calls)
  calls_before=$(introspect_calls)
  start_tollgate tollgate-fresh "$fresh_port"
  fresh_pid=$started_pid
  result=$(timeout 60s "$python" "$client_py" burst "http://127.0.0.1:$fresh_port/jwt/ok" "$token" \
    "$burst_connections") || fail "the JWT burst against a fresh tollgate failed"
  calls_after=$(introspect_calls)
  keys_after=$(keys_calls)
  stop_daemon "$fresh_pid"
  jq -e --argjson n "$burst_connections" '.statuses == {"200": $n}' <<<"$result" >/dev/null ||
    fail "not every request of the JWT burst was answered 200: $result"
  # Only the jwt instance fetches keys: one JWKS fetch per fresh process, however many requests.
  jq -c --argjson run "$run" --argjson calls $((calls_after - calls_before)) \
    --argjson keys $((keys_after - keys_before)) --argjson n "$burst_connections" \
    --arg workers "$workers" \
    '{workers: $workers, scenario: "j_cold", contender: "tollgate", run: $run, requests: $n,
      idp_calls: $calls, jwks_fetches: $keys} + .' <<<"$result" >>"$work_dir/runs.jsonl"
  log "workers $workers, run $run/$runs j_cold tollgate: $burst_connections requests," \
    "$((keys_after - keys_before)) JWKS fetch(es), $((calls_after - calls_before)) introspection" \
    "call(s), $(jq -r .elapsed_ms <<<"$result") ms"
}

# Scenario r's levels: N fresh tokens asked one after another on one connection, first on replica
# a (each an IdP call, its answer stored in Redis), then on replica b (each a second-level hit:
# Redis GET and open), then on b again (first-level hits). The differences between the three
# passes are what a miss and a second-level hit add to a first-level hit, the client's own cost
# taken out; the IdP calls per distinct token across both replicas should be 1.00.
measure_levels() {
  local run=$1 tokens=$work_dir/replica-tokens calls_before calls_after pass started elapsed
  local -A us=()
  mint_tokens "$replica_tokens_count" >"$tokens"
  calls_before=$(introspect_calls)
  for pass in idp:replica_a second_level:replica_b first_level:replica_b; do
    started=$(date +%s%N)
    timeout $((30 + replica_tokens_count / 100))s "$python" "$client_py" warm \
      "${base_url[${pass#*:}]}/cached/ok" "$tokens" || fail "r: the ${pass%%:*} pass failed"
    elapsed=$(($(date +%s%N) - started))
    us[${pass%%:*}]=$(jq -n "$elapsed / $replica_tokens_count / 1000")
  done
  calls_after=$(introspect_calls)
  jq -nc --arg workers "$workers" --argjson run "$run" --argjson n "$replica_tokens_count" \
    --argjson calls $((calls_after - calls_before)) --argjson idp "${us[idp]}" \
    --argjson second "${us[second_level]}" --argjson first "${us[first_level]}" \
    '{workers: $workers, scenario: "r_levels", contender: "replicas", run: $run, tokens: $n,
      idp_calls: $calls, idp_calls_per_token: ($calls / $n),
      us_per_request: {idp_call: $idp, second_level: $second, first_level: $first},
      added_us: {idp_call: ($idp - $first), second_level: ($second - $first)}}' \
    >>"$work_dir/runs.jsonl"
  log "workers $workers, run $run/$runs r levels: $replica_tokens_count tokens," \
    "$((calls_after - calls_before)) IdP call(s); per request ${us[idp]} us (IdP)," \
    "${us[second_level]} us (second level), ${us[first_level]} us (first level)"
}

# The contenders of a scenario that BENCH_CONTENDERS keeps, rotated by the run number so that no
# contender always runs first (right after another scenario) or last.
contenders_of() {
  local scenario=$1 run=$2 list=() kept=() c i
  read -ra list <<<"${scenario_contenders[$scenario]}"
  for c in "${list[@]}"; do
    [[ " ${contenders[*]} " == *" $c "* ]] && kept+=("$c")
  done
  for ((i = 0; i < ${#kept[@]}; i++)); do
    echo "${kept[(i + run - 1) % ${#kept[@]}]}"
  done
}

# --- reporting -----------------------------------------------------------------------------------

# Scenario h's connections: enough that each, pausing paced_delay_ms between requests, offers half
# of the rate nginx reached in this pass's runs of a (the same offered load for every contender).
set_paced_connections() {
  local rate
  rate=$(jq -s --arg w "$workers" \
    '[ .[] | select(.workers == $w and .scenario == "a" and .contender == "nginx") | .rps ]
     | sort | if length == 0 then 0 else .[length / 2 | floor] end' "$work_dir/runs.jsonl")
  paced_connections=$(awk -v rate="$rate" -v delay="$paced_delay_ms" -v most="$many_connections" \
    'BEGIN { c = int(rate / 2 * delay / 1000 + 0.5); if (c < 1) c = 1; if (c > most) c = most; print c }')
  log "h: $paced_connections connections pausing ${paced_delay_ms} ms, about half of nginx's $rate req/s in a"
}

# The pass of one worker count: the proxies started with it, every scenario measured, the proxies
# stopped. Appends to runs.jsonl; prints the pass's idle RSS as JSON.
run_pass() {
  local scenario contender run list name processes idle_json='{}'
  if [ -n "${BENCH_WRK_THREADS:-}" ]; then
    wrk_threads=$BENCH_WRK_THREADS
  elif [ "$workers" = auto ]; then
    wrk_threads=$(($(nproc) < 8 ? $(nproc) : 8))
  else
    wrk_threads=$((workers < 8 ? workers : 8))
  fi
  log "starting nginx, HAProxy (each plain and doing tollgate's work) and tollgate; workers: $workers"
  start_proxies
  # Before any load: what each server holds once started (one request served, for readiness).
  for name in tollgate nginx haproxy upstream idp; do
    mapfile -t processes < <(server_pids "$name")
    idle_json=$(jq -c --arg n "$name" --argjson kib "$(memory_kib VmRSS "${processes[@]}")" \
      '. + {($n): $kib}' <<<"$idle_json")
  done

  for scenario in "${scenarios[@]}"; do
    [[ $scenario == [gh] || $scenario == j_cold || $scenario == r_levels ]] && continue
    mapfile -t list < <(contenders_of "$scenario" 1)
    for contender in "${list[@]}"; do check_case "$scenario" "$contender"; done
  done

  log "workers $workers: wrk -t$wrk_threads -d${duration_s}s, $runs run(s)," \
    "connections: a-d $connections, e $large_connections, f $many_connections"
  for ((run = 1; run <= runs; run++)); do
    for scenario in "${scenarios[@]}"; do
      # Filled just before d's first run, so that a-c run with an empty cache.
      [ "$scenario" = d ] && [ "$run" -eq 1 ] && warm_token_cache
      [ "$scenario" = h ] && set_paced_connections
      mapfile -t list < <(contenders_of "$scenario" "$run")
      for contender in "${list[@]}"; do
        if [ "$scenario" = g ]; then
          measure_burst "$contender" "$run"
        elif [ "$scenario" = j_cold ]; then
          measure_cold_jwt "$run"
        elif [ "$scenario" = r_levels ]; then
          measure_levels "$run"
        else
          measure_case "$scenario" "$contender" "$run"
        fi
      done
    done
  done
  stop_proxies
  jq -c --arg w "$workers" --argjson threads "$wrk_threads" --argjson idle "$idle_json" \
    '{workers: $w, wrk_threads: $threads, idle_rss_kib: $idle}' <<<'null' >>"$work_dir/passes.jsonl"
}

write_results() {
  local scenarios_json=$1 stamp document file
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  document=$(jq -s -f "$repo_root/bench/lib/summary.jq" \
    --argjson scenarios "$scenarios_json" \
    --argjson passes "$(jq -sc . "$work_dir/passes.jsonl")" \
    --argjson settings "$(jq -n --argjson duration "$duration_s" --argjson runs "$runs" \
      --argjson connections "$connections" --argjson tokens "$tokens_count" \
      --arg log_level "$tollgate_log_level" --argjson paced_delay_ms "$paced_delay_ms" \
      --argjson large "$large_connections" --argjson many "$many_connections" \
      --argjson burst "$burst_connections" --argjson replica_tokens "$replica_tokens_count" \
      --arg h2 "$h2_connections connections × $h2_streams streams" \
      '{duration_s: $duration, runs: $runs, tokens: $tokens, tollgate_log_level: $log_level,
        paced_delay_ms: $paced_delay_ms,
        connections: {a: $connections, b: $connections, c: $connections, d: $connections,
                      e_download: $large, e_upload: $large, f: $many, g: $burst,
                      j: $connections, j_cold: $burst, k: $h2, l: $h2, r: $connections,
                      r_levels: $replica_tokens}}')" \
    --argjson machine "$(jq -n --argjson cpus "$(nproc)" --arg kernel "$(uname -r)" \
      --arg model "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" \
      --argjson memory_kib "$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)" \
      '{cpus: $cpus, cpu_model: $model, memory_kib: $memory_kib, kernel: $kernel}')" \
    --argjson versions "$(jq -n --arg nginx "$(nginx -v 2>&1)" --arg haproxy "$(haproxy -v | head -n 1)" \
      --arg wrk "$(wrk -v 2>&1 | head -n 1)" '{nginx: $nginx, haproxy: $haproxy, wrk: $wrk}')" \
    --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    --arg commit "$(git -C "$repo_root" describe --always --dirty 2>/dev/null || echo unknown)" \
    --arg command "$command_line" \
    "$work_dir/runs.jsonl")
  mkdir -p "$results_dir"
  file=$results_dir/bench-$stamp
  echo "$document" >"$file.json"
  jq -r -f "$repo_root/bench/lib/table.jq" --arg format markdown <<<"$document" >"$file.md"
  jq -r -f "$repo_root/bench/lib/table.jq" --arg format text <<<"$document"
  log "results: $file.json and $file.md"
}

main() {
  case "${1:-}" in -h | --help) usage; exit 0 ;; esac
  select_scenarios "$@"
  command_line="bench/run.sh${*:+ $*}"
  install_missing_tools
  build_release
  raise_open_files_limit
  clock_ticks=$(getconf CLK_TCK)

  trap cleanup EXIT
  trap 'exit 130' INT TERM
  work_dir=$(mktemp -d /tmp/tollgate-bench.XXXXXX)
  : >"$work_dir/runs.jsonl"
  : >"$work_dir/passes.jsonl"

  log "starting the upstream and the dev IdP"
  start_backends
  one_token=$(mint_tokens 1)
  [[ " ${scenarios[*]} " == *" j "* ]] && one_jwt=$(mint_tokens 1 jwt)
  if [[ " ${scenarios[*]} " == *" d "* ]]; then
    tokens_file=$work_dir/tokens
    log "minting $tokens_count tokens for scenario d"
    mint_tokens "$tokens_count" >"$tokens_file"
  fi
  if $grpc; then
    # EchoRequest{id: "b", text: "hello"} as gRPC frames a message: not compressed, a 4-byte length.
    grpc_request=$work_dir/grpc-unary.bin
    printf '\x00\x00\x00\x00\x0a\x0a\x01b\x12\x05hello' >"$grpc_request"
  fi

  for workers in "${worker_counts[@]}"; do
    run_pass
  done

  write_results "$(printf '%s\n' "${scenarios[@]}" | jq -R . | jq -sc .)"
}

main "$@"
