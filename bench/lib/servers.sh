# shellcheck shell=bash disable=SC2034,SC2154  # variables shared with run.sh, which sources this
# The servers of bench/run.sh: their configuration files and how each one starts. Sourced by run.sh,
# which defines work_dir, repo_root, bin_dir, baseline_dir, workers, tollgate_log_level, tokens_count,
# log and fail, and sources scripts/lib/daemons.sh. Every server listens on 127.0.0.1 only.
#
# After start_backends and start_proxies: server_pid[NAME] and base_url[NAME] for upstream, idp,
# nginx, nginx_same, haproxy, haproxy_same, haproxy_tcp and tollgate, with scenario r (the global `replicas`
# true) redis, replica_a and replica_b: two tollgates sharing the cached instance's answers in that
# redis-server, with scenario l (the global `grpc` true) grpc: tests/grpc's echo server, and with
# baseline_dir set baseline: that build's tollgate with the same configuration. The
# *_same proxies add the headers tollgate adds, so that they do the same work; start_proxies runs
# once per worker count (the global `workers`), stop_proxies ends them.

declare -A server_pid=()
declare -A base_url=()

readonly idp_client_id=gateway            # the dev IdP's introspection client (its default clients)
readonly idp_client_secret=gateway-secret
readonly token_client_id=demo-client      # whose tokens the benchmark sends
readonly token_scope=orders:read          # and the scope every protected route requires
readonly large_body_bytes=$((1024 * 1024))
# The replicas' key for the values they seal in Redis (32 bytes, base64); a benchmark's own.
readonly cluster_cache_key=q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=
readonly nginx_js_module=/usr/lib/nginx/modules/ngx_http_js_module.so   # libnginx-mod-http-js

# Ports for the servers that cannot report one they chose themselves (nginx and haproxy, and
# tollgate, whose log line is not written at the warn level). The kernel picks them, free at this
# moment; the servers bind them a moment later.
declare -A port=()
allocate_ports() {
  local names=(upstream nginx nginx_same haproxy haproxy_same haproxy_tcp tollgate baseline replica_a
    replica_b redis nginx_tls haproxy_tls tollgate_tls nginx_h2c haproxy_h2c tollgate_h2c)
  local free i
  mapfile -t free < <("$python" "$client_py" free-ports ${#names[@]})
  [ ${#free[@]} -eq ${#names[@]} ] || fail "could not find ${#names[@]} free ports"
  for i in "${!names[@]}"; do
    port[${names[i]}]=${free[i]}
  done
}

# Scenario k's certificate: self-signed for 127.0.0.1, an ECDSA P-256 key (what a site would
# deploy today), one file each for nginx and tollgate and both in one for HAProxy.
write_tls_files() {
  local dir=$work_dir/tls
  mkdir -p "$dir"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null ||
    fail "openssl could not make the benchmark's certificate"
  cat "$dir/cert.pem" "$dir/key.pem" >"$dir/combined.pem"
  chmod -R a+rX "$dir"
}

# nginx's paths, so that nothing is read or written outside the work directory.
nginx_common_directives() {
  local dir=$1
  cat <<EOF
pid $dir/nginx.pid;
events { worker_connections 4096; }
EOF
}

nginx_temp_paths() {
  local dir=$1
  cat <<EOF
  client_body_temp_path $dir/tmp/client_body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
EOF
}

# The upstream every proxy forwards to: nginx with one worker answering "ok", a 1 MiB file, and an
# upload endpoint that reads the whole body before it answers (as a real upload endpoint would; a
# bare `return 200` answers before the body has arrived). Keep-alive without a request limit and no
# access log, so that it is never the bottleneck.
write_upstream_config() {
  local dir=$work_dir/upstream
  mkdir -p "$dir/tmp" "$dir/www"
  head -c "$large_body_bytes" /dev/zero | tr '\0' 'x' >"$dir/www/1mib"
  chmod -R a+rX "$dir"
  cat >"$dir/nginx.conf" <<EOF
worker_processes 1;
$(nginx_common_directives "$dir")
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  sendfile on;
  tcp_nopush on;
$(nginx_temp_paths "$dir")
  upstream itself {
    server 127.0.0.1:${port[upstream]};
    keepalive 16;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${port[upstream]} backlog=4096;
    location / {
      default_type text/plain;
      return 200 "ok";
    }
    location = /1mib {
      root $dir/www;
      default_type application/octet-stream;
    }
    location = /upload {
      client_max_body_size 2m;
      client_body_buffer_size 2m;
      proxy_pass http://itself/ok;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
EOF
}

# For nginx_same, the headers tollgate adds on every plain route, added by nginx too:
# X-Forwarded-For/-Proto/-Host, Via and a new trace context (traceparent: the request id as the
# trace id, half of it as the span id) towards the upstream, Via and X-Request-Id both ways.
# (A location's proxy_set_header replaces the server's, so Connection is repeated.)
nginx_peer_header_directives() {
  local same=$1
  [ "$same" = on ] || return 0
  cat <<EOF
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_set_header X-Forwarded-Host \$http_host;
      proxy_set_header X-Request-Id \$request_id;
      proxy_set_header traceparent "00-\$request_id-\$span_id-01";
      proxy_set_header Via "1.1 nginx";
      add_header Via "1.1 nginx" always;
      add_header X-Request-Id \$request_id always;
EOF
}

# The same for haproxy_same (its unique id is the request id; the trace context from rand).
haproxy_peer_header_directives() {
  local same=$1
  [ "$same" = on ] || return 0
  cat <<EOF
  unique-id-format %{+X}o\ %ci%cp%fi%fp%Ts%rt%pid
  unique-id-header X-Request-Id
  option forwardfor
  http-request set-header X-Forwarded-Proto http
  http-request set-header X-Forwarded-Host %[req.hdr(host)]
  http-request add-header Via "1.1 haproxy"
  http-request set-header traceparent 00-%[rand,hex,lower]%[rand,hex,lower]-%[rand,hex,lower]-01
  http-response set-header Via "1.1 haproxy"
  http-response set-header X-Request-Id %[unique-id]
EOF
}

# A route that only a token checked by LOCATION (a njs check) passes; the token's subject goes to
# the upstream as X-Authenticated-User.
nginx_protected_directives() {
  local check_location=$1
  cat <<EOF
      if (\$bearer_token = "") { return 401; }
      auth_request $check_location;
      auth_request_set \$subject \$sent_http_x_subject;
      proxy_set_header Connection "";
      proxy_set_header X-Authenticated-User \$subject;
      proxy_pass http://app;
EOF
}

# What nginx sends the IdP to introspect a token: the RFC 7662 call, client_secret_basic.
nginx_introspection_directives() {
  local basic
  basic=$(printf '%s:%s' "$idp_client_id" "$idp_client_secret" | base64 -w0)
  cat <<EOF
      internal;
      proxy_pass http://idp/oauth2/default/v1/introspect;
      proxy_method POST;
      proxy_pass_request_headers off;
      proxy_pass_request_body off;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Content-Type application/x-www-form-urlencoded;
      proxy_set_header Authorization "Basic $basic";
      proxy_set_body "token=\$bearer_token&token_type_hint=access_token";
EOF
}

# nginx as the peer: a plain keep-alive reverse proxy (defaults, no access log, HTTP/1.1 and a
# keep-alive pool to the upstream), streaming the 1 MiB bodies; and for the protected routes NGINX's
# introspection recipe, auth_request + njs (lib/nginx-introspection.js), with and without
# proxy_cache. NAME is nginx or nginx_same; SAME (on|off) adds tollgate's headers on the plain routes.
# Scenario k: nginx (not nginx_same) also listens with TLS and HTTP/2 (nginx 1.22's spelling of
# `http2 on`), the same server block behind it.
nginx_tls_directives() {
  local name=$1
  [ "$name" = nginx ] || return 0
  cat <<EOF
    listen 127.0.0.1:${port[nginx_tls]} ssl http2 backlog=4096;
    ssl_certificate $work_dir/tls/cert.pem;
    ssl_certificate_key $work_dir/tls/key.pem;
EOF
}

# Scenario l: nginx (not nginx_same) also proxies gRPC on a plain-text HTTP/2 listener (h2c by prior
# knowledge), through a keep-alive pool as on its other routes (without one, grpc_pass opens a
# connection to the echo server per call).
nginx_grpc_blocks() {
  [ "$1" = nginx ] && $grpc || return 0
  cat <<EOF
  upstream grpc_echo {
    server 127.0.0.1:${port[grpc]};
    keepalive 1024;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${port[nginx_h2c]} http2 backlog=4096;
    location / {
      grpc_pass grpc://grpc_echo;
    }
  }
EOF
}

write_nginx_config() {
  local name=$1 same=$2 dir=$work_dir/$1
  mkdir -p "$dir/tmp" "$dir/cache"
  cp "$repo_root/bench/lib/nginx-introspection.js" "$dir/introspection.js"
  chmod -R a+rX "$dir"
  cat >"$dir/nginx.conf" <<EOF
load_module $nginx_js_module;
worker_processes $workers;
$(nginx_common_directives "$dir")
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
$(nginx_temp_paths "$dir")
  js_import introspection from $dir/introspection.js;
  proxy_cache_path $dir/cache levels=1:2 keys_zone=introspection:16m inactive=1h use_temp_path=off;

  upstream app {
    server 127.0.0.1:${port[upstream]};
    keepalive 1024;
    keepalive_requests 1000000;
  }
  upstream idp {
    server 127.0.0.1:$idp_port;
    keepalive 1024;
    keepalive_requests 1000000;
  }

  map \$request_id \$span_id {
    "~^(?<half>[0-9a-f]{16})" \$half;
  }

  map \$http_authorization \$bearer_token {
    default "";
    "~^Bearer (?<token>[A-Za-z0-9._~-]+)\$" \$token;
  }

  server {
    listen 127.0.0.1:${port[$name]} backlog=4096;
$(nginx_tls_directives "$name")
    client_max_body_size 2m;
    proxy_http_version 1.1;
    proxy_set_header Connection "";

    location / {
$(nginx_peer_header_directives "$same")
      proxy_pass http://app;
    }
    location = /1mib {
$(nginx_peer_header_directives "$same")
      proxy_pass http://app;
      proxy_buffering off;
    }
    location = /upload {
$(nginx_peer_header_directives "$same")
      proxy_pass http://app;
      proxy_request_buffering off;
    }

    location /cached/ {
$(nginx_protected_directives /_check_cached)
    }
    location /uncached/ {
$(nginx_protected_directives /_check)
    }
    location = /_check_cached {
      internal;
      set \$introspection_location /_introspect_cached;
      set \$required_scope $token_scope;
      js_content introspection.check;
    }
    location = /_check {
      internal;
      set \$introspection_location /_introspect;
      set \$required_scope $token_scope;
      js_content introspection.check;
    }
    location = /_introspect_cached {
$(nginx_introspection_directives)
      proxy_cache introspection;
      proxy_cache_methods GET HEAD POST;
      proxy_cache_key \$bearer_token;
      proxy_cache_valid 200 1h;
      proxy_cache_lock on;
      proxy_ignore_headers Cache-Control Expires Set-Cookie;
    }
    location = /_introspect {
$(nginx_introspection_directives)
    }
  }
$(nginx_grpc_blocks "$name")
}
EOF
}

# HAProxy as the peer: HTTP mode, keep-alive both ways, idle server connections reused by any
# request (http-reuse always, as the other proxies' pools do), no logging. NAME is haproxy,
# haproxy_same or haproxy_tcp (below); SAME (on|off) adds tollgate's headers. Without nbthread, one thread per core.
# Scenario k: HAProxy (not haproxy_same) also binds with TLS, ALPN h2 first.
haproxy_tls_bind() {
  [ "$1" = haproxy ] || return 0
  echo "  bind 127.0.0.1:${port[haproxy_tls]} ssl crt $work_dir/tls/combined.pem alpn h2,http/1.1"
}

# Scenario l: HAProxy (not haproxy_same) also proxies gRPC, HTTP/2 in plain text on both sides.
haproxy_grpc_sections() {
  [ "$1" = haproxy ] && $grpc || return 0
  cat <<EOF

frontend grpc
  bind 127.0.0.1:${port[haproxy_h2c]} proto h2
  default_backend grpc_echo

backend grpc_echo
  server echo 127.0.0.1:${port[grpc]} proto h2
EOF
}

# haproxy_tcp relays bytes (mode tcp): one upstream connection per client connection, nothing
# parsed, nothing added. No HTTP proxy can spend less per request, so it is the floor the HTTP
# proxies' figures are read against (bench/README.md, "From one worker to the defaults").
haproxy_defaults() {
  if [ "$1" = haproxy_tcp ]; then
    printf '  mode tcp\n  timeout server 75s\n'
  else
    printf '  mode http\n  option http-keep-alive\n  http-reuse always\n  timeout server 60s\n'
    printf '  timeout http-keep-alive 75s\n'
  fi
}

write_haproxy_config() {
  local name=$1 same=$2 dir=$work_dir/$1 threads=""
  mkdir -p "$dir"
  [ "$workers" = auto ] || threads="nbthread $workers"
  cat >"$dir/haproxy.cfg" <<EOF
global
  $threads
  maxconn 4096

defaults
$(haproxy_defaults "$name")
  timeout connect 3s
  timeout client 75s

frontend bench
  bind 127.0.0.1:${port[$name]}
$(haproxy_tls_bind "$name")
$(haproxy_peer_header_directives "$same")
  default_backend app

backend app
  server app 127.0.0.1:${port[upstream]}
$(haproxy_grpc_sections "$name")
EOF
}

# One openid-connect plugin instance checking tokens with the dev IdP; with `redis` as third
# argument, its answers are shared with the other replicas through the benchmark's redis-server.
tollgate_plugin() {
  local name=$1 cache=$2 cluster=${3:-} cache_size
  cache_size=$((tokens_count + 1000 > 100000 ? tokens_count + 1000 : 100000))
  cat <<EOF
  $name:
    name: openid-connect
    config:
      issuer: http://127.0.0.1:$idp_port/oauth2/default
      introspection_endpoint: http://127.0.0.1:$idp_port/oauth2/default/v1/introspect
      auth_methods: [ introspection ]
      client_id: $idp_client_id
      client_secret: $idp_client_secret
      cache_introspection: $cache
      cache_ttl: 3600s
      cache_size: $cache_size
      scopes_required: [ "$token_scope" ]
      upstream_headers_claims: [ sub ]
      upstream_headers_names: [ X-Authenticated-User ]
EOF
  [ "$cluster" = redis ] || return 0
  cat <<EOF
      cluster_cache_strategy: redis
      cluster_cache_key: $cluster_cache_key
      cluster_cache_redis: { host: 127.0.0.1, port: ${port[redis]} }
EOF
}

# One openid-connect plugin instance validating the dev IdP's JWT access tokens locally, with the
# keys of its JWKS (scenario j): no IdP call per request.
tollgate_jwt_plugin() {
  cat <<EOF
  jwt:
    name: openid-connect
    config:
      issuer: http://127.0.0.1:$idp_port/oauth2/default
      auth_methods: [ bearer ]
      scopes_claim: [ scp ]
      scopes_required: [ "$token_scope" ]
      upstream_headers_claims: [ sub ]
      upstream_headers_names: [ X-Authenticated-User ]
EOF
}

# tollgate: a plain route, and protected routes checking tokens with the dev IdP: the
# introspection cache on (/cached) and off (/uncached, the seed's mode), and JWTs validated
# locally (/jwt). Access log off, like the peers'. A third argument `redis` makes it a replica
# sharing /cached's answers in Redis.
write_tollgate_config() {
  local file=$1 listen_port=$2 cluster=${3:-} tls_listener="" grpc_listener="" grpc_upstream=""
  local grpc_route=""
  if [ "$file" = "$work_dir/tollgate.yaml" ]; then
    # Scenario k: the measured tollgate also listens with TLS and HTTP/2.
    tls_listener="  - address: 127.0.0.1:${port[tollgate_tls]}
    tls: { certificate: $work_dir/tls/cert.pem, key: $work_dir/tls/key.pem }
    http2: true"
    # Scenario l: and with HTTP/2 in plain text (h2c by prior knowledge), the echo service's calls
    # routed to the gRPC echo server without a plugin.
    if $grpc; then
      grpc_listener="  - address: 127.0.0.1:${port[tollgate_h2c]}
    http2: true"
      grpc_upstream="  grpc_echo:
    targets: [ http://127.0.0.1:${port[grpc]} ]
    protocol: grpc"
      grpc_route="  - name: grpc
    match: { paths: [ /tollgate.test.Echo/ ] }
    upstream: grpc_echo"
    fi
  fi
  cat >"$file" <<EOF
listen:
  - address: 127.0.0.1:$listen_port
$tls_listener
$grpc_listener
admin: off
workers: $workers
log: { level: $tollgate_log_level, access_log: off }
upstreams:
  app:
    targets: [ http://127.0.0.1:${port[upstream]} ]
    keepalive: 1024
$grpc_upstream
plugins:
$(tollgate_plugin cached true "$cluster")
$(tollgate_plugin uncached false)
$(tollgate_jwt_plugin)
routes:
  - name: plain
    match: { paths: [ / ] }
    upstream: app
  - name: cached
    match: { paths: [ /cached ] }
    upstream: app
    plugins: [ cached ]
  - name: uncached
    match: { paths: [ /uncached ] }
    upstream: app
    plugins: [ uncached ]
  - name: jwt
    match: { paths: [ /jwt ] }
    upstream: app
    plugins: [ jwt ]
$grpc_route
EOF
}

start_nginx() {
  local name=$1 dir=$work_dir/$1
  start_daemon "$name" nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" -g 'daemon off;'
  server_pid[$name]=$started_pid
  base_url[$name]=http://127.0.0.1:${port[$name]}
  wait_for_http "$name" "${base_url[$name]}/" "$started_pid" "$dir/error.log"
}

start_idp() {
  start_daemon dev-idp "$bin_dir/tools/dev-idp" --listen 127.0.0.1:0 --threads 1
  server_pid[idp]=$started_pid
  idp_port=$(wait_for_port dev-idp "$work_dir/dev-idp.log" "$started_pid")
  base_url[idp]=http://127.0.0.1:$idp_port
}

start_haproxy() {
  local name=$1
  start_daemon "$name" haproxy -db -f "$work_dir/$name/haproxy.cfg"
  server_pid[$name]=$started_pid
  base_url[$name]=http://127.0.0.1:${port[$name]}
  wait_for_http "$name" "${base_url[$name]}/" "$started_pid" "$work_dir/$name.log"
}

# Starts a tollgate with the benchmark's configuration on PORT (a replica sharing its cache in
# Redis with a third argument `redis`; another build's executable with a fourth); its PID goes to
# started_pid.
start_tollgate() {
  local name=$1 listen_port=$2 cluster=${3:-} executable=${4:-$bin_dir/tollgate}
  write_tollgate_config "$work_dir/$name.yaml" "$listen_port" "$cluster"
  start_daemon "$name" "$executable" -c "$work_dir/$name.yaml"
  wait_for_http "$name" "http://127.0.0.1:$listen_port/" "$started_pid" "$work_dir/$name.log"
}

# A redis-server on its own port, nothing saved to disk (scenario r).
start_redis() {
  local i
  start_daemon redis redis-server --bind 127.0.0.1 --port "${port[redis]}" --save "" \
    --appendonly no --dir "$work_dir"
  server_pid[redis]=$started_pid
  for ((i = 0; i < ready_timeout_s * 10; i++)); do
    grep -q "Ready to accept connections" "$work_dir/redis.log" && return
    kill -0 "$started_pid" 2>/dev/null || fail "redis-server exited: $(cat "$work_dir/redis.log")"
    sleep 0.1
  done
  fail "redis-server was not ready within ${ready_timeout_s}s: $(cat "$work_dir/redis.log")"
}

# tests/grpc's echo server (@grpc/grpc-js on node), over h2c on the port it picks (scenario l).
start_grpc_peer() {
  start_daemon grpc-peer node "$repo_root/tests/grpc/grpc-peer.mjs" server
  server_pid[grpc]=$started_pid
  port[grpc]=$(wait_for_port grpc-peer "$work_dir/grpc-peer.log" "$started_pid")
  base_url[grpc]=http://127.0.0.1:${port[grpc]}
}

# The upstream and the dev IdP (Redis for scenario r, the gRPC echo server for l): started once,
# for every worker count.
start_backends() {
  chmod 0755 "$work_dir"   # nginx's workers run as another user when started as root
  allocate_ports
  write_tls_files
  write_upstream_config
  start_nginx upstream
  start_idp
  if $replicas; then start_redis; fi
  if $grpc; then start_grpc_peer; fi
}

# The proxies, with `workers` workers each (a number, or auto: each one's own default).
start_proxies() {
  write_nginx_config nginx off
  start_nginx nginx
  write_nginx_config nginx_same on
  start_nginx nginx_same
  write_haproxy_config haproxy off
  start_haproxy haproxy
  write_haproxy_config haproxy_same on
  start_haproxy haproxy_same
  write_haproxy_config haproxy_tcp off
  start_haproxy haproxy_tcp
  start_tollgate tollgate "${port[tollgate]}"
  server_pid[tollgate]=$started_pid
  base_url[tollgate]=http://127.0.0.1:${port[tollgate]}
  if [ -n "$baseline_dir" ]; then
    start_tollgate baseline "${port[baseline]}" "" "$baseline_dir/tollgate"
    server_pid[baseline]=$started_pid
    base_url[baseline]=http://127.0.0.1:${port[baseline]}
  fi
  $replicas || return 0
  local name
  for name in replica_a replica_b; do
    start_tollgate "$name" "${port[$name]}" redis
    server_pid[$name]=$started_pid
    base_url[$name]=http://127.0.0.1:${port[$name]}
  done
}

stop_proxies() {
  local name
  for name in replica_b replica_a baseline tollgate haproxy_tcp haproxy_same haproxy nginx_same nginx; do
    [ -n "${server_pid[$name]:-}" ] || continue
    stop_process "${server_pid[$name]}"
    unset "server_pid[$name]"
  done
}
