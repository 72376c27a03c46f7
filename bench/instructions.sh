#!/usr/bin/env bash
# Instructions per plain proxied request, nginx against tollgate, under valgrind's callgrind: each
# proxy with one worker in front of the same nginx upstream (`return 200 "ok"`), one keep-alive
# connection from Python's http.client sending `GET /ok`, 3,000 requests minus 1,000 (start and stop
# cancel out). Then tollgate's count split by part (Beast's field container, its parsers, the
# allocator, Asio, libc, tollgate's own code). Repeatable to within about 2%; the user time of the
# two under load follows these counts (bench/README.md, "From one worker to the defaults").
#
# usage: bench/instructions.sh [BUILD_DIR]    (a release build, default build/release)
set -euo pipefail
build=$(cd "${1:-build/release}" && pwd)
[ -x "$build/tollgate" ] || { echo "instructions: $build has no tollgate" >&2; exit 2; }
for tool in nginx valgrind callgrind_annotate python3 curl; do
  command -v "$tool" >/dev/null || { echo "instructions: needs $tool" >&2; exit 2; }
done
. "$(dirname "$0")/lib/valgrind-peers.sh"
trap cleanup EXIT INT TERM
start_peers

# Total instructions of NAME's process after COUNT requests on one connection.
count() {
  local name=$1 port=$2 requests=$3 pid
  shift 3
  timeout 300 valgrind --tool=callgrind --callgrind-out-file="$work/$name-$requests.out" "$@" \
    >"$work/$name-$requests.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  wait_http "http://127.0.0.1:$port/ok"
  timeout 120 python3 - "$port" "$requests" <<'PY'
import http.client, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
for _ in range(n):
    c.request("GET", "/ok")
    r = c.getresponse()
    r.read()
    assert r.status == 200, r.status
PY
  kill -TERM "$pid"
  wait "$pid" || true
  callgrind_annotate --threshold=100 "$work/$name-$requests.out" >"$work/$name-$requests.txt"
}

for n in 1000 3000; do
  count nginx "$nginx_port" "$n" nginx -p "$work/" -c "$work/nginx.conf" -e "$work/nginx-error.log"
  count tollgate "$tollgate_port" "$n" "$build/tollgate" -c "$work/tollgate.yaml"
done

python3 - "$work" <<'PY'
import re, sys
work = sys.argv[1]

def functions(path):
    costs = {}
    for line in open(path):
        m = re.match(r"\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(\S.*)$", line)
        if not m or m.group(2).startswith(("PROGRAM TOTALS", "Ir ")):
            continue
        costs[m.group(2)] = costs.get(m.group(2), 0) + int(m.group(1).replace(",", ""))
    return costs

def per_request(name):
    a, b = functions(f"{work}/{name}-1000.txt"), functions(f"{work}/{name}-3000.txt")
    return {k: (b.get(k, 0) - a.get(k, 0)) / 2000 for k in set(a) | set(b)}

nginx, tollgate = per_request("nginx"), per_request("tollgate")
print(f"instructions per plain request: nginx {sum(nginx.values()):,.0f}, "
      f"tollgate {sum(tollgate.values()):,.0f}")
parts = [
    ("Beast's field container (nodes, tree, names, walks of it)",
     r"basic_fields|iless|rbtree|bstree|string_to_field|http::to_string|iequals|strip_hop_by_hop"
     r"|append_fields|append_head|ConnectionTokens|insert_unlisted|set_unlisted|has_duplicate"
     r"|token_list|validate_list|TraceContext::apply"),
    ("Beast's parsers", r"basic_parser|parse_field|parse_token_to_eol|detail::.*parse"),
    ("the allocator", r"mimalloc|operator new|operator delete"),
    ("Asio", r"boost::asio"),
    ("libc", r"libc\.so"),
]
sums = {label: 0.0 for label, _ in parts}
own = 0.0
for function, cost in tollgate.items():
    # The name without its arguments (which name Beast's types in tollgate's own functions too),
    # and the object it is in.
    name = function.split("(")[0] + " " + function[function.rfind("["):]
    for label, pattern in parts:
        if re.search(pattern, name):
            sums[label] += cost
            break
    else:
        own += cost
print("tollgate by part:")
for label, _ in parts:
    print(f"  {sums[label]:8,.0f}  {label}")
print(f"  {own:8,.0f}  tollgate's own code and the rest")
PY
