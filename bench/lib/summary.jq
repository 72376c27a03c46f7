# bench/run.sh's measured runs (slurped: one object per run) → the results document: for each worker
# count (a pass), medians per scenario and contender, same-run ratios, and the targets, met or not.
# Arguments: $scenarios (the scenarios run, in order), $passes ([{workers, wrk_threads,
# idle_rss_kib}]), $settings, $machine, $versions, $date, $commit, $command.

def median:
  map(select(. != null)) | sort
  | if length == 0 then null
    elif length % 2 == 1 then .[length / 2 | floor]
    else (.[length / 2 - 1] + .[length / 2]) / 2 end;

def titles: {
  a: "plain proxy",
  b: "protected, one token, cache on",
  c: "protected, cache off (IdP per request)",
  d: "protected, \($settings.tokens) tokens round-robin, cache on",
  e_download: "1 MiB response",
  e_upload: "1 MiB upload",
  f: "\($settings.connections.f) keep-alive connections",
  g: "cold burst: \($settings.connections.g) connections, one new token",
  h: "plain proxy at half of nginx's peak rate",
  j: "JWT, one token: tollgate validates it locally, nginx introspects it (cache on)",
  j_cold: "cold start with a JWT: \($settings.connections.j_cold) connections on a fresh tollgate",
  k: "plain proxy over TLS and HTTP/2 (h2load, \($settings.connections.k))",
  l: "gRPC unary calls over h2c (h2load, \($settings.connections.l))",
  r: "protected, one token, first-level hits: one process, and a replica sharing its cache in Redis",
  r_levels: "two replicas and Redis: \($settings.connections.r_levels) new tokens asked on a, then on b twice"
};

. as $all
| def pass_summary($pass):
    $pass.workers as $w
    | def runs_of($scenario; $contender):
        [ $all[] | select(.workers == $w and .scenario == $scenario and .contender == $contender) ];

      # Median over the runs of x's req/s divided by y's req/s in the same run: the two were
      # measured minutes apart at most, so the machine's drift cancels out.
      def same_run_ratio($x; $y):
        [ $x[] as $a | $y[] | select(.run == $a.run) | $a.rps / .rps ] | median;

      # The same for p99 latency (scenario h: the same offered rate for both).
      def same_run_p99_ratio($x; $y):
        [ $x[] as $a | $y[] | select(.run == $a.run) | $a.latency_us.p99 / .latency_us.p99 ] | median;

      # And for the CPU the servers spent per request (baseline: one build's cost against another's).
      def same_run_cpu_ratio($x; $y):
        [ $x[] as $a | $y[] | select(.run == $a.run)
          | ($a.cpu_s / $a.requests) / (.cpu_s / .requests) ] | median;

      def ratio_to($scenario; $contender; $other):
        if $contender == $other then null
        else same_run_ratio(runs_of($scenario; $contender); runs_of($scenario; $other)) end;

      def wrk_summary($scenario; $contender):
        runs_of($scenario; $contender) as $runs
        | {
            runs: ($runs | length),
            rps: ([$runs[].rps] | median),
            p50_ms: ([$runs[].latency_us.p50 / 1000] | median),
            p99_ms: ([$runs[].latency_us.p99 / 1000] | median),
            idp_calls_per_request: ([$runs[] | .idp_calls / .requests] | median),
            cpu_s_per_1k_requests: ([$runs[] | .cpu_s / .requests * 1000] | median),
            # The first run's: allocators keep what they freed, so a later run's peak also holds
            # what the heavier scenarios before it left behind.
            peak_rss_kib: ([$runs[] | select(.run == 1) | .peak_rss_kib] | first),
            x_nginx: ratio_to($scenario; $contender; "nginx"),
            x_haproxy: ratio_to($scenario; $contender; "haproxy"),
            x_nginx_same: ratio_to($scenario; $contender; "nginx_same"),
            x_haproxy_same: ratio_to($scenario; $contender; "haproxy_same"),
            x_baseline: ratio_to($scenario; $contender; "baseline"),
            cpu_x_baseline: (if $contender == "baseline" then null
                             else same_run_cpu_ratio($runs; runs_of($scenario; "baseline")) end)
          }
          + (if $scenario == "h" then
               {connections: ([$runs[].connections] | first),
                p99_x_nginx: (if $contender == "nginx" then null
                              else same_run_p99_ratio($runs; runs_of("h"; "nginx")) end)}
             # l: the proxies against the gRPC echo server called directly.
             elif $scenario == "l" then {x_direct: ratio_to($scenario; $contender; "direct")}
             else {} end);

      def burst_summary($scenario; $contender):
        runs_of($scenario; $contender) as $runs
        | {
            runs: ($runs | length),
            idp_calls: [$runs[].idp_calls],
            jwks_fetches: (if $scenario == "j_cold" then [$runs[].jwks_fetches] else null end),
            all_200: ($runs | all(.statuses == {"200": .requests})),
            elapsed_ms: ([$runs[].elapsed_ms] | median)
          };

      def levels_summary($contender):
        runs_of("r_levels"; $contender) as $runs
        | {
            runs: ($runs | length),
            tokens: ([$runs[].tokens] | first),
            idp_calls_per_token: ([$runs[].idp_calls_per_token] | median),
            us_per_request: ([$runs[].us_per_request] | {
              idp_call: (map(.idp_call) | median),
              second_level: (map(.second_level) | median),
              first_level: (map(.first_level) | median)}),
            added_us: ([$runs[].added_us] | {
              idp_call: (map(.idp_call) | median),
              second_level: (map(.second_level) | median)})
          };

      def summary($scenario):
        ([ $all[] | select(.workers == $w and .scenario == $scenario) | .contender ] | unique)
          as $present
        | {
            title: titles[$scenario],
            connections: $settings.connections[$scenario],
            contenders: ([ $present[] as $c
                           | {($c): (if $scenario | IN("g", "j_cold") then burst_summary($scenario; $c)
                                     elif $scenario == "r_levels" then levels_summary($c)
                                     else wrk_summary($scenario; $c) end)} ] | add // {})
          };

      # met is evaluated only when there is a value: null for what this run did not measure.
      def target($id; $what; $value; $goal; met):
        {id: $id, what: $what, value: $value, goal: $goal,
         met: (if $value == null then null else ($value | met) end)}
        + (if $value == null then {note: "not run"} else {} end);

      ($scenarios | map({(.): summary(.)}) | add // {}) as $summaries
      | ($summaries.a.contenders.tollgate // {}) as $a
      | ([ runs_of("g"; "tollgate")[].idp_calls ]) as $burst_calls
      | $pass + {
          scenarios: $summaries,
          targets: [
            ($a.x_nginx_same
             | target("a"; "plain proxy, same work: tollgate / nginx"; .; ">= 1.1"; . >= 1.1)),
            ($a.x_haproxy_same
             | target("a"; "plain proxy, same work: tollgate / HAProxy"; .; ">= 1.1"; . >= 1.1)),
            ($a.x_nginx
             | target("a"; "plain proxy as shipped: tollgate / nginx"; .; ">= 1.0"; . >= 1.0)),
            ($a.x_haproxy
             | target("a"; "plain proxy as shipped: tollgate / HAProxy"; .; ">= 1.0"; . >= 1.0)),
            (same_run_ratio(runs_of("b"; "tollgate"); runs_of("a"; "tollgate"))
             | target("b"; "cached introspection: tollgate (b) / tollgate (a)"; .; ">= 0.9"; . >= 0.9)),
            ($summaries.b.contenders.tollgate.x_nginx
             | target("b"; "cached introspection: tollgate / nginx auth_request"; .; ">= 2.5"; . >= 2.5)),
            (same_run_ratio(runs_of("c"; "tollgate"); runs_of("c"; "idp"))
             | target("c"; "uncached introspection: tollgate / the dev IdP alone"; .; ">= 0.9"; . >= 0.9)),
            ($summaries.c.contenders.tollgate.idp_calls_per_request
             | target("c"; "uncached introspection: IdP calls per request"; .; "= 1.00";
                      (. * 100 | round) == 100)),
            ($summaries.f.contenders.tollgate.x_nginx
             | target("f"; "1,000 keep-alive connections: tollgate / nginx"; .; ">= 1.0"; . >= 1.0)),
            ($summaries.k.contenders.tollgate.x_nginx
             | target("k"; "HTTP/2 over TLS: tollgate / nginx"; .; ">= 1.0"; . >= 1.0)),
            ($summaries.h.contenders.tollgate.p99_x_nginx
             | target("h"; "p99 at half of nginx's peak rate: tollgate / nginx"; .; "<= 1.2"; . <= 1.2)),
            (same_run_ratio(runs_of("r"; "replica_a"); runs_of("r"; "tollgate"))
             | target("r"; "cached, first-level hits: a replica with the Redis level / one process";
                      .; ">= 0.95"; . >= 0.95)),
            ($summaries.r_levels.contenders.replicas.idp_calls_per_token
             | target("r"; "two replicas: IdP calls per distinct token"; .; "= 1.00";
                      (. * 100 | round) == 100)),
            (if ($burst_calls | length) == 0 then null else $burst_calls end
             | target("g"; "cold burst: IdP calls in each run"; .; "= 1"; all(. == 1))),
            ($pass.idle_rss_kib.tollgate / 1024
             | target("memory"; "tollgate idle RSS, MiB"; .; "<= 16"; . <= 16))
          ]
        };

  {
    benchmark: "bench/run.sh",
    command: $command,
    date: $date,
    commit: $commit,
    machine: $machine,
    versions: $versions,
    settings: $settings,
    passes: [ $passes[] | pass_summary(.) ],
    runs: $all
  }
