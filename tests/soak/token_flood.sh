#!/usr/bin/env bash
# A flood of distinct random tokens through a protected route whose cache holds far fewer: tollgate's
# RSS must plateau once the cache is full, and the IdP must be asked once per distinct token, never
# more. Then two probes of the cache: the most recent tokens (which it should still hold: no IdP
# call) and the oldest ones (evicted long ago: one IdP call each).
#
# usage: tests/soak/token_flood.sh
#   SOAK_TOKENS        distinct tokens in the flood     (default 1000000, 1000..5000000)
#   SOAK_CACHE_SIZE    the route's cache_size           (default 50000, 100..1000000)
#   SOAK_PROBE         tokens per probe, < cache size   (default 10000)
#   SOAK_MAX_SECONDS   time allowed for the flood       (default 900, 10..3600)
#   TOLLGATE_WORKERS   tollgate's "workers:" value      (default 1)
set -euo pipefail
soak_name=token-flood
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tokens=$(bounded_setting SOAK_TOKENS 1000000 1000 5000000)
cache_size=$(bounded_setting SOAK_CACHE_SIZE 50000 100 1000000)
probe=$(bounded_setting SOAK_PROBE 10000 1 1000000)
max_seconds=$(bounded_setting SOAK_MAX_SECONDS 900 10 3600)
workers=$(bounded_setting TOLLGATE_WORKERS 1 1 64)
readonly tokens cache_size probe max_seconds workers
((probe < cache_size && probe <= tokens)) || fail "SOAK_PROBE must be below SOAK_CACHE_SIZE and SOAK_TOKENS"
readonly prefix=flood$RANDOM$RANDOM
tollgate_log_level=warn  # tollgate logs every IdP call at info: a million lines here
readonly sample_every_s=2

idp_calls() { curl -sf "http://127.0.0.1:$idp_port/admin/stats" | jq .introspect_calls; }

# run_wrk COUNT FIRST: COUNT distinct tokens from PREFIX-1-(FIRST+1); prints the script's JSON line.
# wrk is stopped with SIGINT once its thread has had its quota of answers (see token-flood.lua).
run_wrk() {
  local done_file=$work_dir/wrk.done wrk_pid
  rm -f "$done_file"
  wrk -t1 -c64 -d"${max_seconds}s" --timeout 10s -s "$soak_dir/token-flood.lua" \
    "http://127.0.0.1:$tollgate_port/orders" -- "$1" "$prefix" "$2" "$done_file" >"$work_dir/wrk.out" &
  wrk_pid=$!
  pids+=("$wrk_pid")
  while kill -0 "$wrk_pid" 2>/dev/null && [ ! -e "$done_file" ]; do sleep 0.2; done
  kill -INT "$wrk_pid" 2>/dev/null || true
  wait "$wrk_pid" || true
  grep '^{' "$work_dir/wrk.out" | tail -n 1
}

# Samples tollgate's RSS every few seconds into a file, until stopped by PID.
sample_rss() {
  local started=$SECONDS
  while kill -0 "$tollgate_pid" 2>/dev/null; do
    echo "$((SECONDS - started)) $(rss_kib "$tollgate_pid")" >>"$work_dir/rss.txt"
    sleep "$sample_every_s"
  done
}

main() {
  prepare
  start_echo
  start_idp
  # Inactive answers are cached (cache_ttl_neg) as long as active ones here, so only the size bound
  # evicts: what the flood shows is the LRU, not expiry.
  start_tollgate "workers: $workers
upstreams:
  echo: { targets: [ http://127.0.0.1:$echo_port ] }
plugins:
  okta:
    name: openid-connect
    config:
      introspection_endpoint: http://127.0.0.1:$idp_port/oauth2/default/v1/introspect
      client_id: gateway
      client_secret: gateway-secret
      timeout: 5s
      cache_ttl: 1h
      cache_ttl_neg: 1h
      cache_size: $cache_size
routes:
  - { name: orders, match: { paths: [ /orders ] }, upstream: echo, plugins: [ okta ] }"
  log "tollgate (pid $tollgate_pid, $workers worker(s)), cache_size $cache_size; $tokens distinct tokens, at most ${max_seconds}s"

  local rss_start flood calls_flood sent calls_before recent oldest calls_recent calls_oldest
  rss_start=$(rss_kib "$tollgate_pid")
  sample_rss &
  pids+=("$!")
  calls_before=$(idp_calls)
  flood=$(run_wrk "$tokens" 0)
  calls_flood=$(($(idp_calls) - calls_before))
  sent=$(jq .tokens <<<"$flood")
  log "flood: $(jq -c . <<<"$flood")"
  ((sent == tokens)) || log "the time limit stopped the flood after $sent tokens"

  calls_before=$(idp_calls)
  recent=$(run_wrk "$probe" $((sent - probe)))
  calls_recent=$(($(idp_calls) - calls_before))
  calls_before=$(idp_calls)
  oldest=$(run_wrk "$probe" 0)
  calls_oldest=$(($(idp_calls) - calls_before))

  echo "tollgate RSS (KiB) over the run, every ${sample_every_s}s (seconds, KiB); at start: $rss_start"
  awk -v n="$(wc -l <"$work_dir/rss.txt")" 'NR == 1 || NR % int(n / 12 + 1) == 0 { printf "  %5d s  %8d\n", $1, $2 }
    { last = $0 } END { split(last, f, " "); printf "  %5d s  %8d (last)\n", f[1], f[2] }' "$work_dir/rss.txt"
  jq -n --argjson flood "$flood" --argjson recent "$recent" --argjson oldest "$oldest" \
    --argjson cache_size "$cache_size" --argjson calls_flood "$calls_flood" \
    --argjson calls_recent "$calls_recent" --argjson calls_oldest "$calls_oldest" \
    --argjson rss_start "$rss_start" --argjson rss_end "$(rss_kib "$tollgate_pid")" \
    --argjson rss_max "$(awk 'max < $2 { max = $2 } END { print max }' "$work_dir/rss.txt")" '{
      cache_size: $cache_size,
      flood: {distinct_tokens: $flood.tokens, idp_calls: $calls_flood, rps: $flood.rps,
              answers_401: $flood.answers_401, answers_other: $flood.answers_other,
              errors: $flood.errors},
      probe_most_recent: {tokens: $recent.tokens, idp_calls: $calls_recent},
      probe_oldest: {tokens: $oldest.tokens, idp_calls: $calls_oldest},
      tollgate_rss_kib: {start: $rss_start, max: $rss_max, end: $rss_end}
    }'
}

main "$@"
