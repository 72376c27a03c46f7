#!/usr/bin/env bash
# Builds the tollgate images and checks that what they contain runs, on machines without a Docker
# engine or a registry:
#   - the base image is made locally (debootstrap, podman import) when localhost/debian:bookworm is missing;
#   - podman builds both targets of docker/Dockerfile with chroot isolation: the lean image a user
#     deploys (the default target) and the `demo` target with the dev tools compose runs beside it;
#   - the lean image must hold tollgate and no dev tool (nor curl);
#   - the built images' files are mounted and their binaries run with chroot, as the images' user, on
#     127.0.0.1 with ports picked by the kernel: config check; then the compose demo without its
#     network: echo-server and dev-idp from the demo image, tollgate from the lean one on
#     config/demo.yaml with compose's DEMO_* overrides, and the README's walkthrough against them
#     (token, 200 with it, 401 without), both counted in /metrics; admin /readyz and /healthz, and
#     the image's own HEALTHCHECK command, which must fail once tollgate is stopped.
#
# usage: docker/check-image.sh [--skip-build]     (as root; compiles everything: minutes)
#   --skip-build   check the images already tagged $TOLLGATE_IMAGE (default tollgate:dev) and
#                  $TOLLGATE_DEMO_IMAGE (default tollgate-demo-tools:dev)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR/..

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly repo_root
readonly image=${TOLLGATE_IMAGE:-tollgate:dev}
readonly demo_image=${TOLLGATE_DEMO_IMAGE:-tollgate-demo-tools:dev}
readonly base_image=localhost/debian:bookworm
readonly cache_dir=${TOLLGATE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tollgate}
readonly debian_mirror=http://deb.debian.org
readonly ready_timeout_s=20
readonly stop_timeout_s=10

image_root=""     # where the lean image's files are mounted
demo_root=""      # where the demo image's files are mounted
work_dir=""       # host directory bind-mounted on both images' /tmp
mounts=()         # mounted inside the image roots, unmounted in reverse order
pids=()           # processes started here, stopped by PID
started_pid=""
in_image=()       # see image_command
in_demo=()

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

build_images() {
  log "building $image (compiles tollgate in the image: several minutes)"
  # --format docker: the OCI image format has no HEALTHCHECK, podman would drop it.
  (cd "$repo_root" && podman build --pull=never --isolation chroot --format docker \
    --build-arg BASE="$base_image" -f docker/Dockerfile -t "$image" .)
  log "building $demo_image (the build stage is cached: seconds)"
  (cd "$repo_root" && podman build --pull=never --isolation chroot --format docker \
    --build-arg BASE="$base_image" -f docker/Dockerfile --target demo -t "$demo_image" .)
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
  config=$(podman image inspect "$demo_image" --format '{{json .Config}}')
  [ "$(jq -r .User <<<"$config")" = tollgate ] || fail "demo image user is not tollgate: $config"
  log "ok: the demo image runs as tollgate too"
}

cleanup() {
  local i
  stop_started_processes
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount "${mounts[i]}" || log "could not unmount ${mounts[i]}"
  done
  [ -n "$image_root" ] && podman image unmount "$image" >/dev/null
  [ -n "$demo_root" ] && podman image unmount "$demo_image" >/dev/null
  [ -n "$work_dir" ] && rm -rf "$work_dir"
  return 0
}

# What a container runtime would provide: /proc, /dev, and here a writable /tmp shared with this script
# (and between the two images, as compose shares a network).
mount_images() {
  image_root=$(podman image mount "$image")
  demo_root=$(podman image mount "$demo_image")
  work_dir=$(mktemp -d /tmp/tollgate-check-image.XXXXXX)
  chmod 0755 "$work_dir"
  local root
  for root in "$image_root" "$demo_root"; do
    mount -t proc proc "$root/proc" && mounts+=("$root/proc")
    mount --bind /dev "$root/dev" && mounts+=("$root/dev")
    mount --bind "$work_dir" "$root/tmp" && mounts+=("$root/tmp")
  done
}

# Prints the command prefix that runs a program inside the image at ROOT as its user, with a
# container-like environment plus the VAR=value arguments, one word a line. Used as an array (not a
# function) so that a backgrounded daemon's $! is the daemon itself: env and chroot exec what they run.
image_command() {
  local root=$1 uid gid
  shift
  uid=$(awk -F: '$1 == "tollgate" { print $3 }' "$root/etc/passwd")
  gid=$(awk -F: '$1 == "tollgate" { print $4 }' "$root/etc/passwd")
  if [ -z "$uid" ] || [ -z "$gid" ]; then
    fail "no user tollgate in the image at $root"
  fi
  printf '%s\n' env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/nonexistent "$@" \
    "$(command -v chroot)" --userspec="$uid:$gid" "$root"
}

# start_daemon, wait_for_port, stop_started_processes
# shellcheck source=scripts/lib/daemons.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/daemons.sh"

expect_http() {
  local description=$1 url=$2 want_status=$3 want_body=$4 status
  shift 4
  status=$(curl -sS -o "$work_dir/body" -w '%{http_code}' --max-time 5 "$@" "$url") ||
    fail "$description: curl failed"
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

# Fails unless every shared library PROGRAM loads is in the image (run with the prefix given after it).
expect_libraries_present() {
  local program=$1 libraries
  shift
  libraries=$("$@" ldd "/usr/local/bin/$program") || fail "ldd $program failed"
  if grep -q 'not found' <<<"$libraries"; then
    fail "$program misses shared libraries: $(grep 'not found' <<<"$libraries")"
  fi
}

# The image a user deploys holds tollgate and nothing of the demo.
check_lean_contents() {
  local program dir
  [ -x "$image_root/usr/local/bin/tollgate" ] || fail "no tollgate in $image"
  [ "$(ls "$image_root/usr/local/bin")" = tollgate ] ||
    fail "$image's /usr/local/bin holds more than tollgate: $(ls "$image_root/usr/local/bin")"
  for program in echo-server dev-idp curl wget; do
    for dir in usr/local/bin usr/bin bin; do
      [ -e "$image_root/$dir/$program" ] && fail "$image holds /$dir/$program"
    done
  done
  log "ok: $image holds tollgate alone (no echo-server, dev-idp, curl, wget)"
}

# The image's own HEALTHCHECK command ("CMD", ...), pointed at PORT instead of 8001, inside the image.
run_image_health_check() {
  local port=$1 test_command=()
  mapfile -t test_command < <(podman image inspect "$image" --format '{{json .HealthCheck.Test}}' |
    jq -r '.[]')
  [ "${test_command[0]}" = CMD ] || fail "health check is not in exec form: ${test_command[*]}"
  local probe=("${test_command[@]:1}")
  probe=("${probe[@]//tcp\/127.0.0.1\/8001/tcp/127.0.0.1/$port}")
  [ "${probe[*]}" != "${test_command[*]:1}" ] || fail "the health check does not probe 127.0.0.1:8001"
  "${in_image[@]}" "${probe[@]}"
}

check_image_runs() {
  mount_images
  mapfile -t in_image < <(image_command "$image_root")
  mapfile -t in_demo < <(image_command "$demo_root")

  check_lean_contents
  expect_libraries_present tollgate "${in_image[@]}"
  expect_libraries_present echo-server "${in_demo[@]}"
  expect_libraries_present dev-idp "${in_demo[@]}"
  log "ok: every shared library of tollgate, echo-server and dev-idp is in its image"

  "${in_image[@]}" tollgate -t -c /etc/tollgate/tollgate.yaml || fail "tollgate -t rejects the image's own config"
  log "ok: tollgate -t -c /etc/tollgate/tollgate.yaml"

  # compose.yaml's demo on one host: the same processes, files and variables, loopback addresses.
  start_daemon echo-server "${in_demo[@]}" echo-server --listen 127.0.0.1:0 --name orders-service
  local echo_pid=$started_pid echo_port
  echo_port=$(wait_for_port echo-server "$work_dir/echo-server.log" "$echo_pid")
  start_daemon dev-idp "${in_demo[@]}" dev-idp --listen 127.0.0.1:0
  local idp_pid=$started_pid idp_port
  idp_port=$(wait_for_port dev-idp "$work_dir/dev-idp.log" "$idp_pid")

  install -m 0644 "$repo_root/config/demo.yaml" "$work_dir/demo.yaml"
  local tollgate_command
  mapfile -t tollgate_command < <(image_command "$image_root" DEMO_LISTEN=127.0.0.1:0 \
    DEMO_ADMIN_LISTEN=127.0.0.1:0 DEMO_UPSTREAM="http://127.0.0.1:$echo_port" \
    DEMO_ISSUER="http://127.0.0.1:$idp_port/oauth2/default")
  start_daemon tollgate "${tollgate_command[@]}" tollgate -c /tmp/demo.yaml
  local tollgate_pid=$started_pid proxy_port admin_port
  proxy_port=$(wait_for_port tollgate "$work_dir/tollgate.log" "$tollgate_pid")
  admin_port=$(wait_for_port admin "$work_dir/tollgate.log" "$tollgate_pid")

  # Ready once both openid-connect instances have discovered the IdP's endpoints (in the background).
  local i
  for ((i = 0; i < ready_timeout_s * 10; i++)); do
    curl -fs -o /dev/null --max-time 1 "http://127.0.0.1:$admin_port/readyz" && break
    sleep 0.1
  done
  expect_http "GET admin /readyz" "http://127.0.0.1:$admin_port/readyz" 200 '"status":"ready"'

  # The README's walkthrough.
  local token
  token=$(curl -sS --max-time 5 -u demo-client:demo-secret -d grant_type=client_credentials \
    -d scope=orders:read "http://127.0.0.1:$idp_port/oauth2/default/v1/token" | jq -r .access_token)
  if [ -z "$token" ] || [ "$token" = null ]; then fail "no token from dev-idp"; fi
  log "ok: a token from dev-idp (demo image)"
  expect_http "GET /orders with the token" "http://127.0.0.1:$proxy_port/orders" 200 \
    '"x-authenticated-user":"demo-client"' -H "Authorization: Bearer $token"
  expect_http "GET /orders without a token" "http://127.0.0.1:$proxy_port/orders" 401 Unauthorized
  expect_http "GET admin /healthz" "http://127.0.0.1:$admin_port/healthz" 200 '"status":"ok"'
  # What compose's Prometheus scrapes: the two requests above, counted.
  expect_http "GET admin /metrics" "http://127.0.0.1:$admin_port/metrics" 200 \
    'tollgate_http_requests_total{route="orders",code="200"} 1\(\.0\)\?$'
  grep -q 'tollgate_http_requests_total{route="orders",code="401"} 1\(\.0\)\?$' "$work_dir/body" ||
    fail "/metrics did not count the 401: $(cat "$work_dir/body")"

  run_image_health_check "$admin_port" || fail "the image's HEALTHCHECK fails against a healthy tollgate"
  log "ok: the image's HEALTHCHECK command passes inside the image"

  stop_and_expect_clean_exit tollgate "$tollgate_pid"
  run_image_health_check "$admin_port" 2>/dev/null &&
    fail "the image's HEALTHCHECK passes with tollgate stopped"
  log "ok: ... and fails once tollgate is gone"
  stop_and_expect_clean_exit dev-idp "$idp_pid"
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
    build_images
  fi
  podman image exists "$image" || fail "no image $image"
  podman image exists "$demo_image" || fail "no image $demo_image"
  check_image_config
  trap cleanup EXIT
  check_image_runs
  log "PASS: $image, $demo_image"
}

main "$@"
