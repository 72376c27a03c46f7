#!/usr/bin/env bash
# Slowloris against tollgate: N attackers each send a request head one byte per second and never
# finish it (one that tollgate closes is replaced at once), while wrk sends normal requests. Reports
# the normal clients' throughput, latency and failures without and during the attack, and what
# tollgate's client_header timeout (10 s, the default) does to the attackers.
#
# usage: tests/soak/slowloris.sh
#   SOAK_ATTACKERS     slowloris connections           (default 1000, 1..10000)
#   SOAK_DURATION      seconds of attack               (default 30, 10..300)
#   TOLLGATE_WORKERS   tollgate's "workers:" value      (default 1)
set -euo pipefail
soak_name=slowloris
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

attackers=$(bounded_setting SOAK_ATTACKERS 1000 1 10000)
duration_s=$(bounded_setting SOAK_DURATION 30 10 300)
workers=$(bounded_setting TOLLGATE_WORKERS 1 1 64)
readonly attackers duration_s workers
readonly normal_connections=50

# One wrk run of normal requests; prints bench/lua/report.lua's JSON line.
normal_traffic() {
  local seconds=$1 output
  output=$(wrk -t1 -c"$normal_connections" -d"${seconds}s" --timeout 5s \
    -s "$repo_root/bench/lua/report.lua" "http://127.0.0.1:$tollgate_port/ok")
  grep '^{' <<<"$output" | tail -n 1
}

summary() {
  jq -r '"\(.requests) requests, \(.rps | floor) req/s, p50 \(.latency_us.p50 / 1000) ms, p99 \(.latency_us.p99 / 1000) ms, max \(.latency_us.max / 1000) ms, errors \(.errors)"'
}

main() {
  prepare
  ulimit -Sn "$(ulimit -Hn)"
  start_echo
  start_tollgate "workers: $workers
upstreams:
  echo: { targets: [ http://127.0.0.1:$echo_port ], keepalive: $normal_connections }
routes:
  - { name: all, match: { paths: [ / ] }, upstream: echo }"
  log "tollgate (pid $tollgate_pid, $workers worker(s)) on port $tollgate_port"

  local baseline attack_report under_attack attack_pid fds_during
  baseline=$(normal_traffic 10)
  log "without attack (10 s): $(summary <<<"$baseline")"

  "$python" "$soak_dir/clients.py" slowloris --port "$tollgate_port" --connections "$attackers" \
    --duration "$duration_s" >"$work_dir/slowloris.json" &
  attack_pid=$!
  pids+=("$attack_pid")
  sleep 2  # the attackers' first bytes are spread over one second
  under_attack=$(normal_traffic $((duration_s - 4)))
  fds_during=$(fd_count "$tollgate_pid")
  wait "$attack_pid"
  attack_report=$(cat "$work_dir/slowloris.json")
  log "during the attack ($((duration_s - 4)) s, $attackers attackers): $(summary <<<"$under_attack")"
  log "tollgate near the end of the attack: $fds_during descriptors, $(rss_kib "$tollgate_pid") KiB"
  jq -n --argjson baseline "$baseline" --argjson under_attack "$under_attack" \
    --argjson attackers "$attack_report" --argjson fds "$fds_during" \
    '{normal_without_attack: $baseline, normal_during_attack: $under_attack,
      attackers: $attackers, tollgate_fds_during_attack: $fds}'
}

main "$@"
