#!/usr/bin/env bash
# What an idle keep-alive client connection costs tollgate: its RSS before, with N connections open
# that sent nothing yet, and with the same N after one request each (waiting in keep-alive for the
# next), as bytes per connection. Target: at most 8 KiB per idle keep-alive connection.
#
# usage: tests/soak/idle_connections.sh
#   SOAK_CONNECTIONS   connections held open        (default 10000, 1..50000)
#   TOLLGATE_WORKERS   tollgate's "workers:" value   (default 1)
set -euo pipefail
soak_name=idle-connections
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

connections=$(bounded_setting SOAK_CONNECTIONS 10000 1 50000)
workers=$(bounded_setting TOLLGATE_WORKERS 1 1 64)
readonly connections workers

main() {
  prepare
  local needed=$((connections + 1024))
  if (($(ulimit -Hn) < needed)); then
    fail "the hard limit on open files is $(ulimit -Hn); $needed are needed (raise it, e.g. in limits.conf)"
  fi
  ulimit -Sn "$(ulimit -Hn)"   # for the client; tollgate raises its own soft limit itself
  start_echo
  # Timeouts long enough that nothing closes while the connections are counted.
  start_tollgate "workers: $workers
timeouts: { client_idle: 10m, client_header: 10m }
upstreams:
  echo: { targets: [ http://127.0.0.1:$echo_port ] }
routes:
  - { name: all, match: { paths: [ / ] }, upstream: echo }"
  log "tollgate (pid $tollgate_pid, $workers worker(s)) on port $tollgate_port; $connections connections"
  local report
  report=$(timeout 300 "$python" "$soak_dir/clients.py" idle --port "$tollgate_port" \
    --pid "$tollgate_pid" --connections "$connections")
  echo "$report" | jq .
  jq -r '"idle keep-alive connection: \(.bytes_per_connection.idle_after_one_request) bytes each (connected, no request yet: \(.bytes_per_connection.connected_no_request))"' <<<"$report"
  grep -i 'open-file\|accept failed' "$work_dir/tollgate.log" | sort | uniq -c | head -5 >&2 || true
}

main "$@"
