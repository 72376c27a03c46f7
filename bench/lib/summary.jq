# bench/run.sh's measured runs (slurped: one object per run) → the results document: medians per
# scenario and contender, same-run ratios, and the issue's targets, met or not.
# Arguments: $scenarios (the scenarios run, in order), $idle_rss_kib, $settings, $machine, $versions,
# $date, $commit, $command.

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
  g: "cold burst: \($settings.connections.g) connections, one new token"
};

. as $all
| def runs_of($scenario; $contender):
    [ $all[] | select(.scenario == $scenario and .contender == $contender) ];

  # Median over the runs of x's req/s divided by y's req/s in the same run: the two were measured
  # minutes apart at most, so the machine's drift cancels out.
  def same_run_ratio($x; $y):
    [ $x[] as $a | $y[] | select(.run == $a.run) | $a.rps / .rps ] | median;

  def wrk_summary($scenario; $contender):
    runs_of($scenario; $contender) as $runs
    | {
        runs: ($runs | length),
        rps: ([$runs[].rps] | median),
        p50_ms: ([$runs[].latency_us.p50 / 1000] | median),
        p99_ms: ([$runs[].latency_us.p99 / 1000] | median),
        idp_calls_per_request: ([$runs[] | .idp_calls / .requests] | median),
        cpu_s_per_1k_requests: ([$runs[] | .cpu_s / .requests * 1000] | median),
        # The first run's: allocators keep what they freed, so a later run's peak also holds what
        # the heavier scenarios before it left behind.
        peak_rss_kib: ([$runs[] | select(.run == 1) | .peak_rss_kib] | first),
        x_nginx: (if $contender == "nginx" then null
                  else same_run_ratio($runs; runs_of($scenario; "nginx")) end),
        x_haproxy: (if $contender == "haproxy" then null
                    else same_run_ratio($runs; runs_of($scenario; "haproxy")) end)
      };

  def burst_summary($contender):
    runs_of("g"; $contender) as $runs
    | {
        runs: ($runs | length),
        idp_calls: [$runs[].idp_calls],
        all_200: ($runs | all(.statuses == {"200": .requests})),
        elapsed_ms: ([$runs[].elapsed_ms] | median)
      };

  def summary($scenario):
    ([ $all[] | select(.scenario == $scenario) | .contender ] | unique) as $present
    | {
        title: titles[$scenario],
        connections: $settings.connections[$scenario],
        contenders: ([ $present[] as $c
                       | {($c): (if $scenario == "g" then burst_summary($c)
                                 else wrk_summary($scenario; $c) end)} ] | add // {})
      };

  # met is evaluated only when there is a value: null for what this run did not measure.
  def target($id; $what; $value; $goal; met):
    {id: $id, what: $what, value: $value, goal: $goal,
     met: (if $value == null then null else ($value | met) end)}
    + (if $value == null then {note: "not run"} else {} end);

  ($scenarios | map({(.): summary(.)}) | add // {}) as $summaries
  | ([ runs_of("g"; "tollgate")[].idp_calls ]) as $burst_calls
  | {
      benchmark: "bench/run.sh",
      command: $command,
      date: $date,
      commit: $commit,
      machine: $machine,
      versions: $versions,
      settings: $settings,
      idle_rss_kib: $idle_rss_kib,
      scenarios: $summaries,
      targets: [
        ($summaries.a.contenders.tollgate.x_haproxy
         | target("a"; "plain proxy: tollgate / HAProxy"; .; ">= 1.0"; . >= 1.0)),
        ($summaries.a.contenders.tollgate.x_nginx
         | target("a"; "plain proxy: tollgate / nginx"; .; ">= 1.3"; . >= 1.3)),
        (same_run_ratio(runs_of("b"; "tollgate"); runs_of("a"; "tollgate"))
         | target("b"; "cached introspection: tollgate (b) / tollgate (a)"; .; ">= 0.9"; . >= 0.9)),
        (same_run_ratio(runs_of("c"; "tollgate"); runs_of("c"; "idp"))
         | target("c"; "uncached introspection: tollgate / the dev IdP alone"; .; ">= 0.9"; . >= 0.9)),
        ($summaries.c.contenders.tollgate.idp_calls_per_request
         | target("c"; "uncached introspection: IdP calls per request"; .; "= 1.00"; (. * 100 | round) == 100)),
        (if ($burst_calls | length) == 0 then null else $burst_calls end
         | target("g"; "cold burst: IdP calls in each run"; .; "= 1"; all(. == 1))),
        ($idle_rss_kib.tollgate / 1024
         | target("memory"; "tollgate idle RSS, MiB"; .; "<= 16"; . <= 16)),
        (target("memory"; "per idle keep-alive connection (10k connections), KiB"; null; "<= 8"; false)
         | .note = "measured separately"),
        (target("memory"; "per cached token (1M tokens), bytes"; null; "<= 256"; false)
         | .note = "measured separately")
      ],
      runs: $all
    }
