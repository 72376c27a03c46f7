# shellcheck shell=bash disable=SC2154  # the variables the sourcing script defines (below)
# Shell helpers for scripts that start the project's daemons (and others) on 127.0.0.1, wait until
# they are ready, and stop them again by PID. The sourcing script defines: work_dir, the array pids,
# ready_timeout_s, stop_timeout_s, and fail().

# An integer setting from the environment, bounded so that no run can grow without limit.
bounded_setting() {
  local name=$1 default=$2 min=$3 max=$4 value
  value=${!name:-$default}
  if ! [[ $value =~ ^[0-9]{1,8}$ ]] || ((10#$value < min || 10#$value > max)); then
    fail "$name=$value: expected a whole number from $min to $max"
  fi
  echo $((10#$value))
}

# Starts a daemon (the command and its arguments); its output goes to $work_dir/NAME.log, its PID
# to started_pid and to pids (for stop_started_processes).
start_daemon() {
  local name=$1
  shift
  : >"$work_dir/$name.log"   # exists before the daemon starts, for wait_for_port to read
  "$@" >"$work_dir/$name.log" 2>&1 &
  started_pid=$!
  pids+=("$started_pid")
}

# Prints the port of the first "<what> listening on 127.0.0.1:PORT" line of a log, once it appears.
wait_for_port() {
  local what=$1 log_file=$2 pid=$3 i line
  for ((i = 0; i < ready_timeout_s * 10; i++)); do
    line=$(grep -o "$what listening on 127\.0\.0\.1:[0-9]*" "$log_file" | head -n 1 || true)
    if [ -n "$line" ]; then
      echo "${line##*:}"
      return
    fi
    kill -0 "$pid" 2>/dev/null || fail "$what exited before it was ready: $(cat "$log_file")"
    sleep 0.1
  done
  fail "$what was not ready within ${ready_timeout_s}s: $(cat "$log_file")"
}

# Waits until URL answers HTTP (any status) while PID lives; for daemons that print no port.
wait_for_http() {
  local what=$1 url=$2 pid=$3 log_file=$4 i
  for ((i = 0; i < ready_timeout_s * 10; i++)); do
    curl -s -o /dev/null --max-time 1 "$url" && return
    kill -0 "$pid" 2>/dev/null || fail "$what exited before it was ready: $(cat "$log_file")"
    sleep 0.1
  done
  fail "$what did not answer $url within ${ready_timeout_s}s: $(cat "$log_file")"
}

# The PIDs of a process's children (nginx's workers, say), from /proc; nothing once it is gone.
child_pids() {
  local pid=$1 task
  for task in /proc/"$pid"/task/*/children; do
    [ -r "$task" ] && cat "$task" 2>/dev/null
  done | tr ' ' '\n' | grep -v '^$' || true
}

# Stops one process: SIGTERM, up to stop_timeout_s for it to exit, then SIGKILL for it and for the
# children it had (a master killed that way would leave its workers behind).
stop_process() {
  local pid=$1 children i
  kill -0 "$pid" 2>/dev/null || return 0
  children=$(child_pids "$pid")
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < stop_timeout_s * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  # shellcheck disable=SC2086  # one PID a word
  kill -KILL "$pid" $children 2>/dev/null || true
}

# Stops every process in pids, the last started first (a proxy before its upstream). Meant for an
# EXIT trap: it never fails.
stop_started_processes() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    stop_process "${pids[i]}"
  done
  pids=()
  return 0
}

# Stops one process started with start_daemon before the script ends, and forgets it.
stop_daemon() {
  local pid=$1 kept=() p
  stop_process "$pid"
  for p in "${pids[@]}"; do
    [ "$p" = "$pid" ] || kept+=("$p")
  done
  pids=("${kept[@]}")
}
