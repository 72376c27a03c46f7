# bench/run.sh's results document → the tables people read. --arg format text | markdown.

def fixed($decimals):
  if . == null then "n/a"
  else (. * pow(10; $decimals) | round) as $scaled
    | ($scaled | fabs | tostring) as $digits
    | (if ($digits | length) <= $decimals
       then ("0" * ($decimals + 1 - ($digits | length))) + $digits else $digits end) as $padded
    | (if $scaled < 0 then "-" else "" end)
      + (if $decimals == 0 then $padded
         else $padded[0:($padded | length) - $decimals] + "." + $padded[($padded | length) - $decimals:] end)
  end;

def thousands:
  if . == null then "n/a"
  else (round | tostring) as $s | ($s | length) as $n
    | [ range(0; $n) as $i | (if $i > 0 and (($n - $i) % 3) == 0 then "," else "" end) + $s[$i:$i + 1] ]
    | join("")
  end;

def mib: if . == null then "n/a" else . / 1024 | fixed(1) end;
def ratio: if . == null then "" else fixed(2) + "×" end;

def contender_name($scenario):
  if . == "direct" and $scenario == "l" then "gRPC echo server, direct"
  elif . == "direct" then "upstream, direct"
  elif . == "idp" then "dev IdP alone"
  elif . == "nginx" and ($scenario | IN("b", "c", "g", "j")) then "nginx auth_request"
  elif . == "nginx" then "nginx"
  elif . == "nginx_same" then "nginx, same work"
  elif . == "haproxy" then "HAProxy"
  elif . == "haproxy_same" then "HAProxy, same work"
  elif . == "haproxy_tcp" then "HAProxy relaying bytes (floor)"
  elif . == "baseline" then "tollgate, baseline build"
  elif . == "replica_a" then "tollgate replica, Redis level on"
  elif . == "replicas" then "tollgate replicas a and b"
  else . end;

def order: {direct: 0, idp: 1, nginx: 2, nginx_same: 3, haproxy: 4, haproxy_same: 5, haproxy_tcp: 6,
  tollgate: 7, baseline: 8, replica_a: 9, replicas: 10};

def workers_text($machine):
  if . == "auto" then "each one's default (tollgate `workers: auto`, nginx `worker_processes auto`, "
    + "HAProxy one thread per core: \($machine.cpus) here)"
  else "\(.) each for tollgate, nginx and HAProxy" end;

def width($rows): [ $rows | transpose[] | map(length) | max ];

def pad($w): . + (" " * ($w - length));
def pad_left($w): (" " * ($w - length)) + .;

# Rows of cells → a table: Markdown, or text columns (the first two left-aligned, numbers right).
def table($header; $rows):
  if $ARGS.named.format == "markdown" then
    ([$header] + [$header | map("---")] + $rows)[] | "| " + join(" | ") + " |"
  else
    width([$header] + $rows) as $w
    | ([$header] + $rows)[]
    | [ to_entries[] | .key as $k | .value | if $k < 2 then pad($w[$k]) else pad_left($w[$k]) end ]
    | join("  ")
  end;

def target_value:
  if . == null then "n/a"
  elif type == "array" then map(tostring) | join(", ")
  else fixed(2) end;

def heading($text): if $ARGS.named.format == "markdown" then "**\($text)**\n" else "\($text)\n" end;

def pass_tables($doc):
  . as $pass
  | ($pass.scenarios | to_entries | map(select(.key | IN("g", "j_cold", "r_levels") | not))) as $wrk_scenarios
  | [ $wrk_scenarios[] as $s
      | $s.value.contenders | to_entries | sort_by(order[.key]) | .[]
      | [ ($s.key | sub("_"; " ")) + ": " + $s.value.title,
          (.key | contender_name($s.key)),
          ((.value.connections // $s.value.connections) | tostring),
          (.value.rps | thousands),
          (.value.p50_ms | fixed(2)),
          (.value.p99_ms | fixed(2)),
          (.value.idp_calls_per_request | fixed(2)),
          (.value.cpu_s_per_1k_requests | fixed(3)),
          (.value.peak_rss_kib | mib),
          (.value.x_direct | ratio),
          (if $s.key == "h" then "" else .value.x_nginx | ratio end),
          (if $s.key == "h" then "" else .value.x_haproxy | ratio end),
          (.value.x_nginx_same | ratio),
          (.value.x_haproxy_same | ratio),
          (.value.p99_x_nginx | ratio),
          (.value.x_baseline | ratio),
          (.value.cpu_x_baseline | ratio) ] ] as $all_rows
  # The columns "× direct" (scenario l) and those against a baseline build only when there is
  # something in them.
  | [ 9, 15, 16 | select(. as $i | [ $all_rows[][$i] ] | all(. == "")) ] as $empty_columns
  | def without_empty: map(to_entries | map(select(.key | IN($empty_columns[]) | not) | .value));
    ($all_rows | without_empty) as $rows
  | ($pass.scenarios.g.contenders // {} | to_entries | sort_by(order[.key])
     | map([ (.key | contender_name("g")),
             (.value.idp_calls | map(tostring) | join(", ")),
             (if .value.all_200 then "yes" else "no" end),
             (.value.elapsed_ms | fixed(1)) ])) as $burst_rows
  | ($pass.scenarios.j_cold.contenders // {} | to_entries
     | map([ (.key | contender_name("j_cold")),
             (.value.jwks_fetches | map(tostring) | join(", ")),
             (.value.idp_calls | map(tostring) | join(", ")),
             (if .value.all_200 then "yes" else "no" end),
             (.value.elapsed_ms | fixed(1)) ])) as $cold_jwt_rows
  | ($pass.scenarios.r_levels.contenders // {} | to_entries
     | map([ (.key | contender_name("r_levels")),
             (.value.idp_calls_per_token | fixed(2)),
             (.value.us_per_request.first_level | fixed(1)),
             (.value.us_per_request.second_level | fixed(1)),
             (.value.us_per_request.idp_call | fixed(1)),
             (.value.added_us.second_level | fixed(1)),
             (.value.added_us.idp_call | fixed(1)) ])) as $levels_rows
  | ($pass.targets | map([ .id, .what, (.value | target_value), .goal,
                           (if .met == null then .note elif .met then "met" else "MISSED" end) ]))
    as $target_rows
  | $pass.idle_rss_kib as $idle
  | heading("workers: \($pass.workers | workers_text($doc.machine)); upstream nginx and dev IdP 1 each; "
            + "wrk -t\($pass.wrk_threads), \($doc.settings.runs) × \($doc.settings.duration_s) s alternated, medians"),
    ( if ($rows | length) > 0 then
        table([["scenario", "contender", "conns", "req/s", "p50 ms", "p99 ms", "IdP calls/req",
                "CPU s/1k req", "peak RSS MiB", "× direct", "× nginx", "× HAProxy",
                "× nginx same work", "× HAProxy same work", "p99 × nginx", "× baseline",
                "CPU/req × baseline"]] | without_empty | first;
              $rows), ""
      else empty end ),
    ( if ($burst_rows | length) > 0 then
        heading("g: \($pass.scenarios.g.title)"),
        table(["contender", "IdP calls per run", "all 200", "ms to the last answer (median)"]; $burst_rows), ""
      else empty end ),
    ( if ($cold_jwt_rows | length) > 0 then
        heading("j cold: \($pass.scenarios.j_cold.title)"),
        table(["contender", "JWKS fetches per run", "introspection calls per run", "all 200",
               "ms to the last answer (median)"]; $cold_jwt_rows), ""
      else empty end ),
    ( if ($levels_rows | length) > 0 then
        heading("r levels: \($pass.scenarios.r_levels.title) (one request at a time, one connection)"),
        table(["contender", "IdP calls per token", "µs/req first level", "µs/req second level",
               "µs/req IdP call", "second level adds µs", "IdP call adds µs"]; $levels_rows), ""
      else empty end ),
    heading("idle RSS after start, MiB: tollgate \($idle.tollgate | mib), "
            + "nginx \($idle.nginx | mib) (master + workers), HAProxy \($idle.haproxy | mib)"),
    heading("targets at these worker counts (same-run ratios, medians of \($doc.settings.runs))"),
    table(["scenario", "target", "value", "goal", "result"]; $target_rows),
    "";

. as $doc
| heading("tollgate benchmark, \($doc.date): \($doc.machine.cpus) cores (\($doc.machine.cpu_model)), "
          + "commit \($doc.commit); \($doc.command)"),
  "access logs off on every server; \"same work\": nginx and HAProxy add the headers tollgate adds\n",
  ( $doc.passes[] | pass_tables($doc) )
