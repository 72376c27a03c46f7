#!/usr/bin/env bash
# Memory touched per plain proxied request, nginx against tollgate, at 64 and at 1,000 keep-alive
# connections: each proxy with one worker under valgrind's cache simulation (callgrind), in front
# of the same nginx upstream (`return 200 "ok"`), loaded by wrk `GET /ok`. Counters start after a
# warm-up with every connection open and stop after the measured run; each figure is per request.
#
# Last-level misses count the cache lines a request brings in from beyond a core's own cache
# (simulated: 32 KiB L1, 1 MiB 16-way last level, 64-byte lines). At 64 connections the state the
# busy connections share stays there; at 1,000 each request finds its connection's state cold, so
# the misses per request there measure what the request path touches. `TOP=N` lists the N functions
# of tollgate's with the most misses at 1,000 connections.
#
# usage: bench/cache-misses.sh [BUILD_DIR]    (a release build, default build/release)
set -euo pipefail
build=$(cd "${1:-build/release}" && pwd)
[ -x "$build/tollgate" ] || { echo "cache-misses: $build has no tollgate" >&2; exit 2; }
for tool in nginx valgrind callgrind_control callgrind_annotate python3 curl wrk; do
  command -v "$tool" >/dev/null || { echo "cache-misses: needs $tool" >&2; exit 2; }
done
warmup=${WARMUP_SECONDS:-4}
seconds=${MEASURE_SECONDS:-15}
top=${TOP:-0}
. "$(dirname "$0")/lib/valgrind-peers.sh"
trap cleanup EXIT INT TERM
start_peers

# Per-request counts of NAME's process under CONNECTIONS connections, into $work/NAME-CONNECTIONS.
measure() {
  local name=$1 port=$2 connections=$3 pid
  shift 3
  local out="$work/$name-$connections"
  valgrind --tool=callgrind --cache-sim=yes --I1=32768,8,64 --D1=32768,8,64 --LL=1048576,16,64 \
    --callgrind-out-file="$out.cg" "$@" >"$out.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  wait_http "http://127.0.0.1:$port/ok"
  wrk -t1 -c"$connections" -d"${warmup}s" "http://127.0.0.1:$port/ok" >/dev/null
  callgrind_control -z "$pid" >/dev/null 2>&1
  wrk -t1 -c"$connections" -d"${seconds}s" --timeout 30s "http://127.0.0.1:$port/ok" >"$out.wrk"
  callgrind_control -d "$pid" >/dev/null 2>&1
  kill -TERM "$pid"
  wait "$pid" || true
  callgrind_annotate --threshold=100 --inclusive=no "$(ls "$out".cg.* | tail -1)" >"$out.txt"
}

for connections in 64 1000; do
  measure nginx "$nginx_port" "$connections" nginx -p "$work/" -c "$work/nginx.conf" -e "$work/nginx-error.log"
  measure tollgate "$tollgate_port" "$connections" "$build/tollgate" -c "$work/tollgate.yaml"
done

python3 - "$work" "$top" <<'PY'
import re, sys
work, top = sys.argv[1], int(sys.argv[2])
EVENTS = ["Ir", "Dr", "Dw", "I1mr", "D1mr", "D1mw", "ILmr", "DLmr", "DLmw"]

def rows(path):
    for line in open(path):
        tokens = re.sub(r"\(\s*[\d.]+%\)", " ", line).split()
        if len(tokens) > 9 and all(re.fullmatch(r"[\d,]+|\.", t) for t in tokens[:9]):
            yield [0 if t == "." else int(t.replace(",", "")) for t in tokens[:9]], " ".join(tokens[9:])

def requests(name, connections):
    text = open(f"{work}/{name}-{connections}.wrk").read()
    return int(re.search(r"(\d+) requests in", text).group(1))

print("per plain request, one worker (simulated 32 KiB L1, 1 MiB last level):")
print(f"{'':10}{'conns':>6}{'requests':>10}{'instr':>9}{'L1 miss':>9}{'LL miss':>9}")
for connections in (64, 1000):
    for name in ("nginx", "tollgate"):
        n = requests(name, connections)
        total = next(v for v, f in rows(f"{work}/{name}-{connections}.txt") if f == "PROGRAM TOTALS")
        e = dict(zip(EVENTS, total))
        print(f"{name:10}{connections:>6}{n:>10,}{e['Ir'] / n:>9,.0f}"
              f"{(e['D1mr'] + e['D1mw']) / n:>9.1f}{(e['DLmr'] + e['DLmw'] + e['ILmr']) / n:>9.1f}")
if top:
    n = requests("tollgate", 1000)
    all_rows = list(rows(f"{work}/tollgate-1000.txt"))
    total = next(v for v, f in all_rows if f == "PROGRAM TOTALS")
    # The worker thread's outermost frames were still open at the dump and carry everything.
    functions = [(v, f) for v, f in all_rows if v != total]
    functions.sort(key=lambda r: -(r[0][6] + r[0][7] + r[0][8]))
    print("tollgate at 1,000 connections, last-level misses per request by function:")
    for v, f in functions[:top]:
        name = re.sub(r"\s*\[/[^\]]*\]$", "", f).removeprefix("???:")
        print(f"  {(v[6] + v[7] + v[8]) / n:6.2f}  {name[:140]}")
PY
