#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz preset: clang 14, ASan + UBSan) and runs each one in turn.
#   scripts/fuzz.sh                 every target for 60 s
#   scripts/fuzz.sh 300             every target for 300 s
#   scripts/fuzz.sh 30 path token   only fuzz_path and fuzz_token
# Each target starts from its committed seeds (tests/fuzz/corpus/<name>) plus whatever earlier runs
# in this build tree found (build/fuzz/corpus/<name>); new inputs go there, never into the repo.
# Prints per target the executions, executions per second and final coverage, and exits non-zero
# when any target crashed, leaked, timed out, ran out of memory or tripped a sanitizer; the input
# that did it is kept under build/fuzz/artifacts/<name>/ and its path printed.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
[[ "$seconds" =~ ^[0-9]+$ ]] && [ "$seconds" -gt 0 ] || { echo "usage: $0 [seconds] [target...]" >&2; exit 2; }
[ $# -gt 0 ] && shift
targets=(config path token introspection request_head response_head jose)
[ $# -gt 0 ] && targets=("$@")

scripts/install-deps.sh clang-14 libclang-rt-14-dev llvm-14

# ccache across clones (CI builds a fresh one each time), and through the precompiled header.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
export CCACHE_SLOPPINESS="pch_defines,time_macros,include_file_mtime,include_file_ctime"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)"

build=build/fuzz
export ASAN_SYMBOLIZER_PATH=/usr/bin/llvm-symbolizer-14
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:symbolize=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

# Longest input per target: what tollgate itself accepts there (an Authorization header of 8 KiB
# plus the rest of a head, a 16 KiB request head, a response head and the start of its body, a
# 64 KiB introspection answer).
max_len_of() {
  case "$1" in
    token) echo 16384 ;;
    request_head) echo 20480 ;;
    response_head) echo 20480 ;;
    introspection) echo 65536 ;;
    jose) echo 16384 ;;
    *) echo 8192 ;;
  esac
}

# The value after `key:` on libFuzzer's last progress line ("#123 DONE cov: 456 ft: 789 ...").
progress_value() {
  grep -E '^#[0-9]+.*cov: ' "$1" | tail -1 | sed -nE "s/.* $2: ([0-9]+).*/\1/p"
}

stat_value() {
  sed -nE "s/^stat::$2: *([0-9]+)/\1/p" "$1" | tail -1
}

failed=0
summary=()
for name in "${targets[@]}"; do
  binary="$build/tests/fuzz/fuzz_$name"
  [ -x "$binary" ] || { echo "no fuzz target named $name" >&2; exit 2; }
  corpus="$build/corpus/$name"
  artifacts="$build/artifacts/$name/"
  log="$build/logs/$name.log"
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  cp tests/fuzz/corpus/"$name"/* "$corpus"/
  options=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048
           -max_len="$(max_len_of "$name")" -print_final_stats=1
           -artifact_prefix="$artifacts")
  [ -f "tests/fuzz/$name.dict" ] && options+=(-dict="tests/fuzz/$name.dict")

  echo "fuzz_$name: ${seconds}s" >&2
  status=0
  started="$build/logs/$name.started"
  touch "$started"  # inputs kept after it are this run's
  "$binary" "${options[@]}" "$corpus" >"$log" 2>&1 || status=$?

  execs=$(stat_value "$log" number_of_executed_units)
  rate=$(stat_value "$log" average_exec_per_sec)
  cov=$(progress_value "$log" cov)
  ft=$(progress_value "$log" ft)
  result=ok
  if [ "$status" -ne 0 ] || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$log"; then
    result=FAILED
    failed=1
    echo "fuzz_$name FAILED (exit $status); log: $log" >&2
    grep -E 'ERROR:|runtime error:|check failed|SUMMARY' "$log" | head -20 >&2 || true
    find "$artifacts" -type f -newer "$started" | while read -r input; do
      echo "  input kept: $input (reproduce: $binary $input)" >&2
    done
  fi
  summary+=("$(printf '%-22s %12s %10s %8s %8s  %s' "fuzz_$name" "${execs:--}" "${rate:--}" \
    "${cov:--}" "${ft:--}" "$result")")
done

printf '\n%-22s %12s %10s %8s %8s  %s\n' target execs exec/s cov ft result
printf '%s\n' "${summary[@]}"
failures=$(printf '%s\n' "${summary[@]}" | grep -c ' FAILED$' || true)
echo "fuzz: $((${#summary[@]} - failures)) passed, $failures failed"
exit "$failed"
