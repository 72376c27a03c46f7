# Shared by the soak scripts: build, start the daemons on 127.0.0.1 with kernel-chosen ports, read
# a process's memory and descriptors, and stop everything started here by PID on exit.
# The sourcing script sets `set -euo pipefail` first.

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
readonly repo_root
readonly build_dir=$repo_root/build/release
readonly soak_dir=$repo_root/tests/soak
readonly ready_timeout_s=20
readonly stop_timeout_s=10
readonly python=/usr/bin/python3

work_dir=""
pids=()          # processes started here, stopped by PID on exit
started_pid=""
soak_name=${soak_name:-soak}

log() { printf '%s: %s\n' "$soak_name" "$*" >&2; }
fail() {
  log "error: $*"
  exit 1
}

# start_daemon, wait_for_port
. "$repo_root/scripts/lib/daemons.sh"

stop_started_processes() {
  local pid i
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || continue
    for ((i = 0; i < stop_timeout_s * 10; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  done
  [ -n "$work_dir" ] && rm -rf "$work_dir"
  return 0
}

# Installs what the soak needs (Debian packages), builds the optimised binaries, makes the work
# directory and arranges the cleanup.
prepare() {
  "$repo_root/scripts/install-deps.sh" wrk jq python3
  cd "$repo_root"
  [ -f "$build_dir/build.ninja" ] || cmake --preset release >/dev/null
  cmake --build --preset release --target tollgate echo-server dev-idp >/dev/null
  work_dir=$(mktemp -d "/tmp/tollgate-$soak_name.XXXXXX")
  trap stop_started_processes EXIT
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
fd_count() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 | wc -l; }

echo_port=""
echo_pid=""
start_echo() {
  start_daemon echo-server "$build_dir/tools/echo-server" --listen 127.0.0.1:0 --threads 1
  echo_pid=$started_pid
  echo_port=$(wait_for_port echo-server "$work_dir/echo-server.log" "$echo_pid")
}

idp_port=""
idp_pid=""
start_idp() {
  start_daemon dev-idp "$build_dir/tools/dev-idp" --listen 127.0.0.1:0 --threads 1
  idp_pid=$started_pid
  idp_port=$(wait_for_port dev-idp "$work_dir/dev-idp.log" "$idp_pid")
}

# The daemon's log level; a soak that makes a log line per request lowers it.
tollgate_log_level=${tollgate_log_level:-info}

# start_tollgate YAML_BODY: writes the listen/admin/log head and YAML_BODY to a file and starts
# tollgate on it. Below level info tollgate does not log the port it bound, so a free port is chosen
# here and polled instead.
tollgate_port=""
tollgate_pid=""
start_tollgate() {
  local address=127.0.0.1:0
  if [ "$tollgate_log_level" != info ]; then
    tollgate_port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    address=127.0.0.1:$tollgate_port
  fi
  cat >"$work_dir/tollgate.yaml" <<EOF
listen:
  - address: $address
admin:
  address: 127.0.0.1:0
log: { level: $tollgate_log_level, access_log: off }
$1
EOF
  start_daemon tollgate "$build_dir/tollgate" -c "$work_dir/tollgate.yaml"
  tollgate_pid=$started_pid
  if [ "$tollgate_log_level" = info ]; then
    tollgate_port=$(wait_for_port tollgate "$work_dir/tollgate.log" "$tollgate_pid")
  else
    wait_until "$ready_timeout_s" curl -s -o /dev/null "http://127.0.0.1:$tollgate_port/" ||
      fail "tollgate was not ready within ${ready_timeout_s}s: $(cat "$work_dir/tollgate.log")"
  fi
}

# Polls until a command succeeds, for at most SECONDS (what it waits for has no event to wait on).
wait_until() {
  local seconds=$1 i
  shift
  for ((i = 0; i < seconds * 10; i++)); do
    "$@" && return 0
    sleep 0.1
  done
  return 1
}
