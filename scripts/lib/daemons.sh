# Shell helpers for scripts that start the project's daemons on 127.0.0.1 and wait until they are
# ready. The sourcing script defines: work_dir, the array pids, ready_timeout_s, and fail().

# Starts a daemon (the command and its arguments); its output goes to $work_dir/NAME.log, its PID
# to started_pid and to pids (for the caller's cleanup).
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
