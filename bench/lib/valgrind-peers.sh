# The peers of the measurements under valgrind (instructions.sh, cache-misses.sh): an nginx upstream
# answering `return 200 "ok"` (started here), and the configurations of nginx (one worker, no
# master) and tollgate (one worker) as plain proxies in front of it. Sourced: sets $work, $pids and
# the helpers below; `trap cleanup EXIT INT TERM`, then start_peers sets $upstream_port,
# $nginx_port and $tollgate_port, writes the configurations and starts the upstream.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 1 300); do curl -fs -o /dev/null "$1" && return 0; sleep 0.1; done; echo "$(basename "$0"): $1 did not answer" >&2; exit 1; }
temp_paths() { for kind in client_body proxy fastcgi uwsgi scgi; do echo "  ${kind}_temp_path $work/$1-$kind;"; done; }
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }

work=$(mktemp -d)
chmod 0755 "$work"   # nginx's worker may run as another user
pids=()

start_peers() {
  ulimit -n 8192
  upstream_port=$(free_port); nginx_port=$(free_port); tollgate_port=$(free_port)
  cat >"$work/upstream.conf" <<CONF
worker_processes 1;
worker_rlimit_nofile 8192;
daemon off;
pid $work/upstream.pid;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
$(temp_paths upstream)
  server { listen 127.0.0.1:$upstream_port; location / { return 200 "ok"; } }
}
CONF
  cat >"$work/nginx.conf" <<CONF
worker_processes 1;
worker_rlimit_nofile 8192;
master_process off;
daemon off;
pid $work/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
$(temp_paths proxy)
  upstream app { server 127.0.0.1:$upstream_port; keepalive 1024; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:$nginx_port;
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
CONF
  cat >"$work/tollgate.yaml" <<CONF
listen: [ { address: 127.0.0.1:$tollgate_port } ]
admin: off
workers: 1
log: { level: warn, access_log: off }
upstreams:
  app: { targets: [ http://127.0.0.1:$upstream_port ], keepalive: 1024 }
routes:
  - { name: plain, match: { paths: [ / ] }, upstream: app }
CONF
  nginx -p "$work/" -c "$work/upstream.conf" -e "$work/upstream-error.log" &
  pids+=($!)
  wait_http "http://127.0.0.1:$upstream_port/ok"
}
