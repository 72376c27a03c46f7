#!/usr/bin/env bash
# gRPC unary calls through tollgate against the same calls made directly, with h2load
# (Debian's nghttp2-client). The upstream is tests/grpc's @grpc/grpc-js echo server; tollgate's
# route to it has no plugin, so the figures are the proxy's own cost (h2c both sides).
#   bench/grpc.sh
#   BENCH_DURATION      seconds per h2load run                 (default 10, 1..60)
#   BENCH_RUNS          runs per contender, alternated         (default 3, 1..10)
#   BENCH_CONNECTIONS   h2load connections (-c)                (default 8, 1..1000)
#   BENCH_STREAMS       concurrent streams per connection (-m) (default 16, 1..1000)
#   BENCH_BUILD_DIR     where tollgate is                      (default build/release, built here)
# Everything runs on 127.0.0.1 on ports chosen at run time; every process started here is stopped
# by PID on the way out.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

bounded() {  # NAME DEFAULT MIN MAX
  local value=${!1:-$2}
  if ! [[ $value =~ ^[0-9]+$ ]] || ((value < $3 || value > $4)); then
    echo "bench/grpc.sh: $1 must be a number from $3 to $4" >&2
    exit 2
  fi
  echo "$value"
}
duration_s=$(bounded BENCH_DURATION 10 1 60)
runs=$(bounded BENCH_RUNS 3 1 10)
connections=$(bounded BENCH_CONNECTIONS 8 1 1000)
streams=$(bounded BENCH_STREAMS 16 1 1000)

command -v h2load >/dev/null || apt-get install -y nghttp2-client >/dev/null
command -v node >/dev/null || { echo "bench/grpc.sh: needs node (scripts/test.sh installs it)" >&2; exit 1; }
(cd tests/grpc && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; })
build_dir=${BENCH_BUILD_DIR:-build/release}
if [ -z "${BENCH_BUILD_DIR:-}" ]; then
  cmake --preset release >/dev/null
  cmake --build --preset release --target tollgate >/dev/null
fi

work_dir=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work_dir"
}
trap cleanup EXIT INT TERM

wait_for_line() {  # FILE REGEX: prints the first capture of the first matching line (10 s bound)
  for _ in $(seq 100); do
    local line
    line=$(grep -m1 -oP "$2" "$1" 2>/dev/null || true)
    [ -n "$line" ] && { echo "$line"; return; }
    sleep 0.1
  done
  echo "bench/grpc.sh: no line like '$2' in $1" >&2
  exit 1
}

node tests/grpc/grpc-peer.mjs server >"$work_dir/upstream.log" 2>&1 &
pids+=($!)
upstream_port=$(wait_for_line "$work_dir/upstream.log" 'listening on 127\.0\.0\.1:\K\d+')
cat >"$work_dir/tollgate.yaml" <<YAML
listen:
  - { address: 127.0.0.1:0, http2: true }
admin: off
log: { level: info, format: text, access_log: off }
upstreams:
  echo: { targets: [ http://127.0.0.1:$upstream_port ], protocol: grpc }
routes:
  - { name: echo, match: { paths: [ /tollgate.test.Echo/ ] }, upstream: echo }
YAML
"$build_dir/tollgate" -c "$work_dir/tollgate.yaml" >"$work_dir/tollgate.log" 2>&1 &
pids+=($!)
tollgate_port=$(wait_for_line "$work_dir/tollgate.log" 'listening on 127\.0\.0\.1:\K\d+')

# EchoRequest{id: "b", text: "hello"} in gRPC's framing: no compression, a 4-byte length.
printf '\x00\x00\x00\x00\x0a\x0a\x01b\x12\x05hello' >"$work_dir/unary.bin"

run() {  # PORT: one h2load run; prints "requests/s mean max failed" (latencies per request)
  local out
  out=$(h2load -D "$duration_s" -c "$connections" -m "$streams" -d "$work_dir/unary.bin" \
    -H 'content-type: application/grpc' -H 'te: trailers' \
    "http://127.0.0.1:$1/tollgate.test.Echo/Unary" 2>&1)
  local rps failed mean max
  rps=$(grep -oP 'finished in [^,]+, \K[0-9.]+(?= req/s)' <<<"$out")
  failed=$(grep -oP 'requests: .* \K[0-9]+(?= failed)' <<<"$out")
  # h2load's request latency line: min, max, mean, sd, +/- sd.
  mean=$(grep -oP '^time for request:\s+\S+\s+\S+\s+\K\S+' <<<"$out")
  max=$(grep -oP '^time for request:\s+\S+\s+\K\S+' <<<"$out")
  echo "$rps $mean $max $failed"
}

printf '%-9s %-4s %12s %12s %12s %7s\n' contender run 'req/s' 'mean' 'max' failed
for ((r = 1; r <= runs; r++)); do
  order=(direct tollgate)
  ((r % 2 == 0)) && order=(tollgate direct)
  for contender in "${order[@]}"; do
    port=$upstream_port
    [ "$contender" = tollgate ] && port=$tollgate_port
    read -r rps mean max failed <<<"$(run "$port")"
    printf '%-9s %-4s %12s %12s %12s %7s\n' "$contender" "$r" "$rps" "$mean" "$max" "$failed"
  done
done
