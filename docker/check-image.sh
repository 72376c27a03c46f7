#!/usr/bin/env bash
# Builds the tollgate image and checks that what it contains runs, on machines without a Docker engine
# or a registry:
#   - the base image is made locally (debootstrap, podman import) when localhost/debian:bookworm is missing;
#   - podman builds docker/Dockerfile with chroot isolation;
#   - the built image's files are mounted and its binaries run with chroot, as the image's user, on
#     127.0.0.1 with ports picked by the kernel: config check, one proxied request, admin /healthz.
#
# usage: docker/check-image.sh [--skip-build]     (as root; compiles everything: minutes)
#   --skip-build   check the image already tagged $TOLLGATE_IMAGE (default tollgate:dev)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR/..

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly repo_root
readonly image=${TOLLGATE_IMAGE:-tollgate:dev}
readonly base_image=localhost/debian:bookworm
readonly cache_dir=${TOLLGATE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tollgate}
readonly debian_mirror=http://deb.debian.org
readonly ready_timeout_s=20
readonly stop_timeout_s=10

image_root=""     # where the image's files are mounted
work_dir=""       # host directory bind-mounted on the image's /tmp
mounts=()         # mounted inside image_root, unmounted in reverse order
pids=()           # processes started here, stopped by PID
started_pid=""
in_image=()       # see image_command

log() { printf 'check-image: %s\n' "$*" >&2; }
fail() {
  log "FAIL: $*"
  exit 1
}

install_missing_tools() {
  local missing=() tool
  for tool in podman debootstrap curl jq; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  [ ${#missing[@]} -eq 0 ] && return
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The same apt sources as the official debian:bookworm-slim image, so the runtime stage gets the
# security updates (debootstrap alone configures only "bookworm main").
write_apt_sources() {
  local rootfs=$1
  rm -f "$rootfs/etc/apt/sources.list"
  cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $debian_mirror/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $debian_mirror/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
}

ensure_base_image() {
  if podman image exists "$base_image"; then
    return
  fi
  local rootfs=$cache_dir/rootfs-bookworm
  if [ ! -d "$rootfs" ]; then
    log "making a minimal Debian bookworm root in $rootfs (about a minute)"
    mkdir -p "$cache_dir"
    rm -rf "$rootfs.partial"
    debootstrap --variant=minbase bookworm "$rootfs.partial" "$debian_mirror/debian" >"$cache_dir/debootstrap.log"
    write_apt_sources "$rootfs.partial"
    rm -rf "$rootfs.partial"/var/cache/apt/archives/*.deb "$rootfs.partial"/var/lib/apt/lists/*
    mv "$rootfs.partial" "$rootfs"
  fi
  log "importing $rootfs as $base_image"
  tar -C "$rootfs" -c . | podman import --quiet - "$base_image" >/dev/null
}

build_image() {
  log "building $image (compiles tollgate in the image: several minutes)"
  # --format docker: the OCI image format has no HEALTHCHECK, podman would drop it.
  (cd "$repo_root" && podman build --pull=never --isolation chroot --format docker \
    --build-arg BASE="$base_image" -f docker/Dockerfile -t "$image" .)
}

check_image_config() {
  local config
  config=$(podman image inspect "$image" --format '{{json .Config}}')
  [ "$(jq -r .User <<<"$config")" = tollgate ] || fail "image user is not tollgate: $config"
  [ "$(jq -c .Entrypoint <<<"$config")" = '["tollgate"]' ] || fail "entrypoint: $config"
  [ "$(jq -c .Cmd <<<"$config")" = '["-c","/etc/tollgate/tollgate.yaml"]' ] || fail "cmd: $config"
  jq -e '.ExposedPorts | has("8000/tcp") and has("8001/tcp")' <<<"$config" >/dev/null ||
    fail "exposed ports: $config"
  podman image inspect "$image" --format '{{json .HealthCheck}}' | grep -q '/healthz' ||
    fail "the image has no HEALTHCHECK on /healthz"
  log "ok: user tollgate, entrypoint, cmd, ports 8000 8001, health check"
}

cleanup() {
  local i
  stop_started_processes
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount "${mounts[i]}" || log "could not unmount ${mounts[i]}"
  done
  [ -n "$image_root" ] && podman image unmount "$image" >/dev/null
  [ -n "$work_dir" ] && rm -rf "$work_dir"
  return 0
}

# What a container runtime would provide: /proc, /dev, and here a writable /tmp shared with this script.
mount_image() {
  image_root=$(podman image mount "$image")
  work_dir=$(mktemp -d /tmp/tollgate-check-image.XXXXXX)
  chmod 0755 "$work_dir"
  mount -t proc proc "$image_root/proc" && mounts+=("$image_root/proc")
  mount --bind /dev "$image_root/dev" && mounts+=("$image_root/dev")
  mount --bind "$work_dir" "$image_root/tmp" && mounts+=("$image_root/tmp")
}

# The command prefix that runs a program inside the image as its user, with a container-like
# environment. A plain array (not a function) so that a backgrounded daemon's $! is the daemon itself:
# env and chroot exec what they run.
image_command() {
  local uid gid
  uid=$(awk -F: '$1 == "tollgate" { print $3 }' "$image_root/etc/passwd")
  gid=$(awk -F: '$1 == "tollgate" { print $4 }' "$image_root/etc/passwd")
  if [ -z "$uid" ] || [ -z "$gid" ]; then
    fail "no user tollgate in the image"
  fi
  in_image=(env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/nonexistent
    "$(command -v chroot)" --userspec="$uid:$gid" "$image_root")
}

# start_daemon, wait_for_port, stop_started_processes
# shellcheck source=scripts/lib/daemons.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/daemons.sh"

# Starts a daemon inside the image; its output goes to $work_dir/NAME.log, its PID to started_pid.
start_in_image() {
  local name=$1
  shift
  start_daemon "$name" "${in_image[@]}" "$@"
}

expect_http() {
  local description=$1 url=$2 want_status=$3 want_body=$4 status
  status=$(curl -sS -o "$work_dir/body" -w '%{http_code}' --max-time 5 "$url") || fail "$description: curl failed"
  [ "$status" = "$want_status" ] || fail "$description: HTTP $status, expected $want_status: $(cat "$work_dir/body")"
  grep -q -- "$want_body" "$work_dir/body" || fail "$description: body lacks '$want_body': $(cat "$work_dir/body")"
  log "ok: $description → $status"
}

stop_and_expect_clean_exit() {
  local name=$1 pid=$2 status=0 i
  kill -TERM "$pid"
  for ((i = 0; i < stop_timeout_s * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && fail "$name did not stop within ${stop_timeout_s}s of SIGTERM"
  wait "$pid" || status=$?
  [ "$status" -eq 0 ] || fail "$name exited with $status on SIGTERM: $(cat "$work_dir/$name.log")"
  log "ok: $name stopped cleanly on SIGTERM"
}

check_image_runs() {
  mount_image

  image_command
  local binary libraries
  for binary in tollgate echo-server dev-idp; do
    libraries=$("${in_image[@]}" ldd "/usr/local/bin/$binary") || fail "ldd $binary failed"
    if grep -q 'not found' <<<"$libraries"; then
      fail "$binary misses shared libraries: $(grep 'not found' <<<"$libraries")"
    fi
  done
  log "ok: every shared library of tollgate, echo-server and dev-idp is in the image"

  "${in_image[@]}" tollgate -t -c /etc/tollgate/tollgate.yaml || fail "tollgate -t rejects the image's own config"
  log "ok: tollgate -t -c /etc/tollgate/tollgate.yaml"

  start_in_image echo-server echo-server --listen 127.0.0.1:0
  local echo_pid=$started_pid echo_port
  echo_port=$(wait_for_port echo-server "$work_dir/echo-server.log" "$echo_pid")

  cat >"$work_dir/tollgate.yaml" <<EOF
listen:
  - address: 127.0.0.1:0
admin:
  address: 127.0.0.1:0
workers: 1
upstreams:
  echo:
    targets: [ http://127.0.0.1:$echo_port ]
routes:
  - name: everything
    match: { paths: [ / ] }
    upstream: echo
EOF
  chmod 0644 "$work_dir/tollgate.yaml"
  start_in_image tollgate tollgate -c /tmp/tollgate.yaml
  local tollgate_pid=$started_pid proxy_port admin_port
  proxy_port=$(wait_for_port tollgate "$work_dir/tollgate.log" "$tollgate_pid")
  admin_port=$(wait_for_port admin "$work_dir/tollgate.log" "$tollgate_pid")

  expect_http "GET /ok through tollgate" "http://127.0.0.1:$proxy_port/ok" 200 ok
  expect_http "GET admin /healthz" "http://127.0.0.1:$admin_port/healthz" 200 '"status":"ok"'
  # The image's HEALTHCHECK command, with the port this run uses.
  "${in_image[@]}" curl -fsS -o /dev/null "http://127.0.0.1:$admin_port/healthz" || fail "curl inside the image failed"
  log "ok: the health check's curl works inside the image"

  stop_and_expect_clean_exit tollgate "$tollgate_pid"
  stop_and_expect_clean_exit echo-server "$echo_pid"
}

main() {
  local skip_build=false
  case "${1:-}" in
    --skip-build) skip_build=true ;;
    "") ;;
    *) fail "usage: $0 [--skip-build]" ;;
  esac
  [ "$(id -u)" -eq 0 ] || fail "run as root (podman image mount, chroot)"

  install_missing_tools
  if ! $skip_build; then
    ensure_base_image
    build_image
  fi
  podman image exists "$image" || fail "no image $image"
  check_image_config
  trap cleanup EXIT
  check_image_runs
  log "PASS: $image"
}

main "$@"
