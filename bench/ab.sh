#!/usr/bin/env bash
# Two builds of tollgate, A and B, on the same request, measured two ways that drift less than
# bench/run.sh's throughput on a shared machine:
#   1. tollgate alone on core 1 (one worker), the upstream and wrk on core 0, PAIRS alternated runs of
#      RUN_SECONDS each: req/s and tollgate's CPU time per request, medians;
#   2. instructions per request under valgrind's callgrind (2,500 requests on one keep-alive
#      connection minus 500, so that start and stop cancel out): repeatable to the instruction.
#
# usage: bench/ab.sh BUILD_DIR_A BUILD_DIR_B [plain|cached]     (a release build dir each, e.g.
#        build/release; default plain: scenario a's request, cached: scenario b's)
#   AB_PAIRS (default 5, 1..20), AB_SECONDS (default 6, 1..30)
set -euo pipefail
[ $# -ge 2 ] || { sed -n 2,12p "$0" >&2; exit 2; }
build_a=$(cd "$1" && pwd)
build_b=$(cd "$2" && pwd)
request=${3:-plain}
pairs=${AB_PAIRS:-5}
seconds=${AB_SECONDS:-6}
[[ "$request" == plain || "$request" == cached ]] || { echo "ab: plain or cached" >&2; exit 2; }
[[ "$pairs" =~ ^[0-9]+$ && "$pairs" -ge 1 && "$pairs" -le 20 ]] || { echo "ab: AB_PAIRS 1..20" >&2; exit 2; }
[[ "$seconds" =~ ^[0-9]+$ && "$seconds" -ge 1 && "$seconds" -le 30 ]] || { echo "ab: AB_SECONDS 1..30" >&2; exit 2; }
for tool in wrk taskset valgrind python3 curl; do
  command -v "$tool" >/dev/null || { echo "ab: needs $tool" >&2; exit 2; }
done

for build in "$build_a" "$build_b"; do
  [ -x "$build/tollgate" ] || { echo "ab: $build has no tollgate" >&2; exit 2; }
done
[ -x "$build_a/tools/echo-server" ] || { echo "ab: $build_a has no tools/echo-server (the upstream)" >&2; exit 2; }
[ "$request" = plain ] || [ -x "$build_a/tools/dev-idp" ] || { echo "ab: $build_a has no tools/dev-idp" >&2; exit 2; }
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 1 100); do curl -fs -o /dev/null "$1" && return 0; sleep 0.1; done; echo "ab: $1 did not answer" >&2; exit 1; }

upstream_port=$(free_port); idp_port=$(free_port); proxy_port=$(free_port); admin_port=$(free_port)
taskset -c 0 "$build_a/tools/echo-server" --listen "127.0.0.1:$upstream_port" >"$work/echo.log" 2>&1 &
pids+=($!)
path=/ok
auth=()
if [ "$request" = cached ]; then
  taskset -c 0 "$build_a/tools/dev-idp" --listen "127.0.0.1:$idp_port" >"$work/idp.log" 2>&1 &
  pids+=($!)
  wait_http "http://127.0.0.1:$idp_port/oauth2/default/.well-known/oauth-authorization-server"
  token=$(curl -fs -u demo-client:demo-secret -d grant_type=client_credentials -d scope=orders:read \
    "http://127.0.0.1:$idp_port/oauth2/default/v1/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  path=/cached/ok
  auth=(-H "Authorization: Bearer $token")
fi
cat >"$work/tollgate.yaml" <<YAML
listen: [ { address: 127.0.0.1:$proxy_port } ]
admin: { address: 127.0.0.1:$admin_port }
workers: 1
log: { level: warn, access_log: off }
upstreams:
  app: { targets: [ http://127.0.0.1:$upstream_port ] }
plugins:
  cached:
    name: openid-connect
    config:
      introspection_endpoint: http://127.0.0.1:$idp_port/oauth2/default/v1/introspect
      client_id: gateway
      client_secret: gateway-secret
      cache_introspection: true
routes:
  - { name: plain, match: { paths: [ / ] }, upstream: app }
  - { name: cached, match: { paths: [ /cached ] }, upstream: app, strip_path: true, plugins: [ cached ] }
YAML

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# One pinned run of build $1: "req/s cpu-us-per-request".
pinned_run() {
  taskset -c 1 "$1/tollgate" -c "$work/tollgate.yaml" >"$work/tollgate.log" 2>&1 &
  local pid=$!
  wait_http "http://127.0.0.1:$admin_port/healthz"
  taskset -c 0 wrk -t1 -c50 -d1s "${auth[@]}" "http://127.0.0.1:$proxy_port$path" >/dev/null   # warm-up
  local before out after
  before=$(cpu_ticks "$pid")
  out=$(taskset -c 0 wrk -t1 -c50 -d"${seconds}s" "${auth[@]}" "http://127.0.0.1:$proxy_port$path")
  after=$(cpu_ticks "$pid")
  kill -TERM "$pid"; wait "$pid" || true
  # A run of errors is not a figure: a proxy answering 502 quickly must not look fast.
  if grep -q -e 'Non-2xx' -e 'Socket errors' <<<"$out"; then echo "ab: failed requests: $out" >&2; exit 1; fi
  local requests rps
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  python3 -c "print($rps, round(($after - $before) * 1e6 / $(getconf CLK_TCK) / $requests, 2))"
}

# Instructions tollgate of build $1 executes for $2 requests on one connection, start and stop included.
instructions() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$1/tollgate" -c "$work/tollgate.yaml" \
    >"$work/callgrind.log" 2>&1 &
  local pid=$!
  wait_http "http://127.0.0.1:$admin_port/healthz"
  python3 - "$proxy_port" "$path" "$2" "${token:-}" <<'PY'
import socket, sys
port, path, count, token = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
head = f"GET {path} HTTP/1.1\r\nHost: bench\r\n" + (f"Authorization: Bearer {token}\r\n" if token else "")
request = (head + "\r\n").encode()
s = socket.create_connection(("127.0.0.1", port), timeout=30)
buffer = b""
for _ in range(count):
    s.sendall(request)
    while True:
        end = buffer.find(b"\r\n\r\n")
        if end >= 0:
            lines = buffer[:end].decode().split("\r\n")
            assert lines[0].startswith("HTTP/1.1 200"), lines[0]
            length = next((int(l.split(":", 1)[1]) for l in lines[1:] if l.lower().startswith("content-length:")), 0)
            if len(buffer) >= end + 4 + length:
                buffer = buffer[end + 4 + length:]
                break
        chunk = s.recv(65536)
        if not chunk:
            sys.exit("ab: the connection closed")
        buffer += chunk
PY
  kill -TERM "$pid"; wait "$pid" || true
  grep -o 'Collected : [0-9]*' "$work/callgrind.log" | awk '{print $3}'
}

echo "ab: $request request; A = $build_a, B = $build_b; $pairs pairs of ${seconds} s, pinned" >&2
results_a=(); results_b=()
for i in $(seq 1 "$pairs"); do
  results_a+=("$(pinned_run "$build_a")")
  results_b+=("$(pinned_run "$build_b")")
  echo "ab: pair $i: A ${results_a[-1]}, B ${results_b[-1]} (req/s, CPU us per request)" >&2
done
per_request() { local small large; small=$(instructions "$1" 500); large=$(instructions "$1" 2500); echo $(((large - small) / 2000)); }
ins_a=$(per_request "$build_a")
ins_b=$(per_request "$build_b")
python3 - "$ins_a" "$ins_b" "${results_a[@]}" -- "${results_b[@]}" <<'PY'
import statistics, sys
ins_a, ins_b = int(sys.argv[1]), int(sys.argv[2])
rest = sys.argv[3:]
split = rest.index("--")
a = [tuple(map(float, r.split())) for r in rest[:split]]
b = [tuple(map(float, r.split())) for r in rest[split + 1:]]
def med(rows, i): return statistics.median(r[i] for r in rows)
def change(x, y): return f"{(y - x) / x * 100:+.1f}%"
print(f"{'':28} {'A':>10} {'B':>10} {'B vs A':>8}")
print(f"{'req/s (median, pinned)':28} {med(a,0):>10,.0f} {med(b,0):>10,.0f} {change(med(a,0), med(b,0)):>8}")
print(f"{'CPU us per request (median)':28} {med(a,1):>10.2f} {med(b,1):>10.2f} {change(med(a,1), med(b,1)):>8}")
print(f"{'instructions per request':28} {ins_a:>10,} {ins_b:>10,} {change(ins_a, ins_b):>8}")
PY
