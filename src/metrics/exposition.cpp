#include "tollgate/metrics/exposition.hpp"

#include <chrono>
#include <cmath>
#include <initializer_list>
#include <utility>

#include <fmt/format.h>

#include "tollgate/metrics/process.hpp"

namespace tollgate::metrics {
namespace {

using Label = std::pair<std::string_view, std::string_view>;
using Labels = std::initializer_list<Label>;

// A float as both formats accept it: "+Inf", "NaN", and integers with ".0" (OpenMetrics' canonical
// form for le="1.0").
std::string number(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  std::string text = fmt::format("{}", value);
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

class Writer {
 public:
  explicit Writer(Format format) : format_(format) {}

  // HELP and TYPE of a family. OpenMetrics names a counter family without its "_total".
  void family(std::string_view name, std::string_view type, std::string_view help) {
    std::string_view family_name = name;
    if (format_ == Format::openmetrics && type == "counter" && family_name.ends_with("_total")) {
      family_name.remove_suffix(6);
    }
    fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", family_name, help,
                   family_name, type);
  }

  void sample(std::string_view name, Labels labels, double value, Label extra = {}) {
    out_.append(name);
    bool first = true;
    auto put = [&](const Label& label) {
      out_ += first ? '{' : ',';
      first = false;
      out_.append(label.first).append("=\"");
      escape(label.second);
      out_ += '"';
    };
    for (const Label& label : labels) put(label);
    if (!extra.first.empty()) put(extra);
    if (!first) out_ += '}';
    out_ += ' ';
    out_ += number(value);
    out_ += '\n';
  }

  void sample(std::string_view name, Labels labels, std::uint64_t value) {
    sample(name, labels, static_cast<double>(value));
  }

  // _bucket (cumulative, with +Inf), _sum and _count of one label set.
  void histogram(std::string_view name, Labels labels, const HistogramTotal& h) {
    std::uint64_t cumulative = 0;
    const std::string bucket = std::string(name) + "_bucket";
    for (std::size_t i = 0; i < h.bounds.size(); ++i) {
      cumulative += h.buckets[i];
      sample(bucket, labels, static_cast<double>(cumulative),
             {"le", number(static_cast<double>(h.bounds[i]) / 1e9)});
    }
    sample(bucket, labels, static_cast<double>(h.count), {"le", "+Inf"});
    sample(std::string(name) + "_sum", labels, h.sum_seconds);
    sample(std::string(name) + "_count", labels, h.count);
  }

  std::string finish() {
    if (format_ == Format::openmetrics) out_ += "# EOF\n";
    return std::move(out_);
  }

 private:
  void escape(std::string_view value) {
    for (const char c : value) {
      if (c == '\\') {
        out_ += "\\\\";
      } else if (c == '"') {
        out_ += "\\\"";
      } else if (c == '\n') {
        out_ += "\\n";
      } else {
        out_ += c;
      }
    }
  }

  Format format_;
  std::string out_;
};

void write_http(Writer& out, const View& view) {
  const Registry& registry = view.registry;
  std::vector<std::pair<std::string_view, const RouteStats*>> routes;
  for (const config::Route& route : view.config->routes) {
    if (const RouteStats* stats = registry.find_route(route.name)) {
      routes.emplace_back(route.name, stats);
    }
  }
  routes.emplace_back("-", &registry.unmatched());

  out.family("tollgate_http_requests_total", "counter",
             "Requests answered, by route (\"-\": none matched) and status code.");
  for (const auto& [name, stats] : routes) {
    for (unsigned slot = 0; slot < kStatusSlots; ++slot) {
      const std::uint64_t n =
          sum(stats->cells, [slot](const RouteCell& c) { return c.responses[slot].get(); });
      if (n == 0) continue;
      const std::string code = std::to_string(kLowestStatus + slot);
      out.sample("tollgate_http_requests_total", {{"route", name}, {"code", code}}, n);
    }
  }
  out.family("tollgate_http_request_duration_seconds", "histogram",
             "Time from the first byte of a request to the end of its answer, by route.");
  for (const auto& [name, stats] : routes) {
    out.histogram("tollgate_http_request_duration_seconds", {{"route", name}},
                  sum_histograms(stats->cells, [](const RouteCell& c) -> const Histogram& {
                    return c.duration;
                  }));
  }

  const auto& connections = registry.connections();
  const std::uint64_t open = sum(connections, [](const ConnectionCell& c) { return c.open.get(); });
  const std::uint64_t idle = sum(connections, [](const ConnectionCell& c) { return c.idle.get(); });
  const std::uint64_t tunnels =
      sum(connections, [](const ConnectionCell& c) { return c.tunnels.get(); });
  out.family("tollgate_http_connections", "gauge",
             "Client connections open, by state (idle: waiting for a next request; websocket: "
             "carrying a WebSocket tunnel).");
  const std::uint64_t busy = idle + tunnels;
  out.sample("tollgate_http_connections", {{"state", "active"}}, open > busy ? open - busy : 0);
  out.sample("tollgate_http_connections", {{"state", "idle"}}, idle);
  out.sample("tollgate_http_connections", {{"state", "websocket"}}, tunnels);
}

void write_upstreams(Writer& out, const View& view) {
  struct Row {
    std::string_view upstream;
    std::string_view target;
    const TargetStats* stats;
  };
  std::vector<Row> rows;
  for (const config::Upstream& upstream : view.config->upstreams) {
    for (const config::Target& target : upstream.targets) {
      if (const TargetStats* stats = view.registry.find_target(upstream.name, target.url)) {
        rows.push_back({upstream.name, target.url, stats});
      }
    }
  }
  out.family("tollgate_upstream_requests_total", "counter",
             "Attempts to forward a request to an upstream target, by outcome.");
  for (const Row& row : rows) {
    for (std::size_t o = 0; o < kUpstreamOutcomes; ++o) {
      const std::uint64_t n =
          sum(row.stats->cells, [o](const TargetCell& c) { return c.outcomes[o].get(); });
      out.sample("tollgate_upstream_requests_total",
                 {{"upstream", row.upstream},
                  {"target", row.target},
                  {"outcome", name_of(static_cast<UpstreamOutcome>(o))}},
                 n);
    }
  }
  out.family("tollgate_upstream_duration_seconds", "histogram",
             "Time from sending a request to an upstream to its response head, by upstream.");
  for (const config::Upstream& upstream : view.config->upstreams) {
    HistogramTotal total;
    bool any = false;
    for (const Row& row : rows) {
      if (row.upstream != upstream.name) continue;
      any = true;
      for (unsigned w = 0; w < row.stats->cells.size(); ++w)
        total.add(row.stats->cells[w].duration);
    }
    if (!any) total.bounds = kRequestBounds;
    out.histogram("tollgate_upstream_duration_seconds", {{"upstream", upstream.name}}, total);
  }
  out.family("tollgate_upstream_target_up", "gauge",
             "1 unless a worker skips the target after a failure (passive health).");
  for (const Row& row : rows) {
    out.sample("tollgate_upstream_target_up", {{"upstream", row.upstream}, {"target", row.target}},
               std::uint64_t{row.stats->up() ? 1u : 0u});
  }
  out.family("tollgate_upstream_target_in_flight", "gauge",
             "Requests being forwarded to the target now.");
  for (const Row& row : rows) {
    out.sample("tollgate_upstream_target_in_flight",
               {{"upstream", row.upstream}, {"target", row.target}},
               sum(row.stats->cells, [](const TargetCell& c) { return c.in_flight.get(); }));
  }
}

void write_plugins(Writer& out, const View& view) {
  struct Row {
    const PluginView* plugin;
    std::shared_ptr<const PluginStats> stats;
  };
  std::vector<Row> rows;
  for (const PluginView& plugin : view.plugins) {
    if (plugin.type != "openid-connect") continue;
    rows.push_back({&plugin, view.registry.find_plugin(plugin.name)});
  }
  auto counts = [&](std::string_view name, std::string_view help, std::string_view label,
                    std::size_t size, auto member, auto name_at) {
    out.family(name, "counter", help);
    for (const Row& row : rows) {
      if (!row.stats) continue;
      for (std::size_t i = 0; i < size; ++i) {
        const std::uint64_t n =
            sum(row.stats->cells, [&](const PluginCell& c) { return (c.*member)[i].get(); });
        out.sample(name, {{"plugin", row.plugin->name}, {label, name_at(i)}}, n);
      }
    }
  };
  counts("tollgate_oidc_decisions_total", "openid-connect verdicts, by decision.", "decision",
         kDecisions, &PluginCell::decisions,
         [](std::size_t i) { return name_of(static_cast<Decision>(i)); });
  out.family("tollgate_oidc_cache_lookups_total", "counter",
             "Token cache lookups: hit, miss (an IdP call), coalesced (joined a call in flight), "
             "resurrected (the call failed; an expired answer served, cache_ttl_resurrect).");
  for (const Row& row : rows) {
    if (!row.stats || !row.plugin->cache) continue;
    for (std::size_t i = 0; i < kCacheLookups; ++i) {
      out.sample("tollgate_oidc_cache_lookups_total",
                 {{"plugin", row.plugin->name}, {"result", name_of(static_cast<CacheLookup>(i))}},
                 sum(row.stats->cells, [i](const PluginCell& c) { return c.lookups[i].get(); }));
    }
  }
  out.family("tollgate_oidc_cache_entries", "gauge", "Answers held in the token cache.");
  for (const Row& row : rows) {
    if (row.plugin->cache) {
      out.sample("tollgate_oidc_cache_entries", {{"plugin", row.plugin->name}},
                 std::uint64_t{row.plugin->cache->entries});
    }
  }
  out.family("tollgate_oidc_cache_bytes", "gauge", "Memory the token cache's entries take.");
  for (const Row& row : rows) {
    if (row.plugin->cache) {
      out.sample("tollgate_oidc_cache_bytes", {{"plugin", row.plugin->name}},
                 std::uint64_t{row.plugin->cache->bytes});
    }
  }
  out.family("tollgate_oidc_cache_evictions_total", "counter",
             "Entries dropped from a full token cache to make room.");
  for (const Row& row : rows) {
    if (row.plugin->cache) {
      out.sample("tollgate_oidc_cache_evictions_total", {{"plugin", row.plugin->name}},
                 row.plugin->cache->evictions);
    }
  }
  out.family("tollgate_oidc_cache_purges_total", "counter",
             "Cache purges applied to the token cache, by what they named (key, sub, client_id, "
             "all) and where they came from (admin: this process's admin listener; replica: "
             "another replica, through Redis).");
  for (const Row& row : rows) {
    if (!row.stats || !row.plugin->cache) continue;
    for (std::size_t o = 0; o < kPurgeOrigins; ++o) {
      for (std::size_t s = 0; s < kPurgeScopes; ++s) {
        const auto scope = static_cast<PurgeScope>(s);
        const auto origin = static_cast<PurgeOrigin>(o);
        const std::size_t slot = PluginCell::purge_slot(scope, origin);
        out.sample(
            "tollgate_oidc_cache_purges_total",
            {{"plugin", row.plugin->name}, {"scope", name_of(scope)}, {"origin", name_of(origin)}},
            sum(row.stats->cells, [slot](const PluginCell& c) { return c.purges[slot].get(); }));
      }
    }
  }
  out.family("tollgate_oidc_cache_purged_entries_total", "counter",
             "Token cache entries removed by purges.");
  for (const Row& row : rows) {
    if (!row.stats || !row.plugin->cache) continue;
    out.sample("tollgate_oidc_cache_purged_entries_total", {{"plugin", row.plugin->name}},
               sum(row.stats->cells, [](const PluginCell& c) { return c.purged_entries.get(); }));
  }
  counts("tollgate_oidc_idp_requests_total", "Introspection calls to the IdP, by outcome.",
         "outcome", kIdpOutcomes, &PluginCell::idp_outcomes,
         [](std::size_t i) { return name_of(static_cast<IdpOutcome>(i)); });
  out.family("tollgate_oidc_idp_duration_seconds", "histogram",
             "Time an introspection call took, whatever its outcome.");
  for (const Row& row : rows) {
    HistogramTotal total(kIdpBounds);
    if (row.stats) {
      for (unsigned w = 0; w < row.stats->cells.size(); ++w) {
        total.add(row.stats->cells[w].idp_duration);
      }
    }
    out.histogram("tollgate_oidc_idp_duration_seconds", {{"plugin", row.plugin->name}}, total);
  }
  out.family(
      "tollgate_oidc_cluster_cache_lookups_total", "counter",
      "Cluster cache (Redis) lookups after a local miss: hit, miss, unreadable (a value that "
      "did not open or parse), error (Redis failed); but for a hit, the IdP is asked.");
  for (const Row& row : rows) {
    if (!row.stats || !row.plugin->cluster_cache_state) continue;
    for (std::size_t i = 0; i < kClusterCacheLookups; ++i) {
      out.sample(
          "tollgate_oidc_cluster_cache_lookups_total",
          {{"plugin", row.plugin->name}, {"result", name_of(static_cast<ClusterCacheLookup>(i))}},
          sum(row.stats->cells, [i](const PluginCell& c) { return c.cluster_lookups[i].get(); }));
    }
  }
  out.family("tollgate_oidc_cluster_cache_state", "gauge",
             "1 for the cluster cache breaker's current state (closed: Redis in use; open: "
             "skipped after failures; half_open: one probe).");
  for (const Row& row : rows) {
    if (!row.plugin->cluster_cache_state) continue;
    for (std::string_view state : {"closed", "half_open", "open"}) {
      out.sample("tollgate_oidc_cluster_cache_state",
                 {{"plugin", row.plugin->name}, {"state", state}},
                 std::uint64_t{*row.plugin->cluster_cache_state == state ? 1u : 0u});
    }
  }
  out.family("tollgate_oidc_idp_ready", "gauge",
             "1 once the introspection endpoint is known (configured or discovered).");
  for (const Row& row : rows) {
    out.sample("tollgate_oidc_idp_ready", {{"plugin", row.plugin->name}},
               std::uint64_t{row.plugin->ready ? 1u : 0u});
  }
}

double epoch_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

void write_process(Writer& out, const View& view, std::string_view version) {
  const ReloadState reloads = view.registry.reloads();
  out.family("tollgate_config_reloads_total", "counter", "Configuration reloads, by result.");
  out.sample("tollgate_config_reloads_total", {{"result", "success"}}, reloads.successes);
  out.sample("tollgate_config_reloads_total", {{"result", "failure"}}, reloads.failures);
  out.family("tollgate_config_last_reload_success_timestamp_seconds", "gauge",
             "When the running configuration was loaded.");
  out.sample("tollgate_config_last_reload_success_timestamp_seconds", {},
             epoch_seconds(reloads.loaded_at));
  out.family("tollgate_build_info", "gauge", "Always 1; the version is a label.");
  out.sample("tollgate_build_info", {{"version", version}}, std::uint64_t{1});

  const ProcessStats process = read_process_stats();
  out.family("process_cpu_seconds_total", "counter", "Total user and system CPU time spent.");
  out.sample("process_cpu_seconds_total", {}, process.cpu_seconds);
  out.family("process_resident_memory_bytes", "gauge", "Resident memory size.");
  out.sample("process_resident_memory_bytes", {}, process.resident_bytes);
  out.family("process_virtual_memory_bytes", "gauge", "Virtual memory size.");
  out.sample("process_virtual_memory_bytes", {}, process.virtual_bytes);
  out.family("process_open_fds", "gauge", "Open file descriptors.");
  out.sample("process_open_fds", {}, process.open_fds);
  out.family("process_max_fds", "gauge", "The limit on open file descriptors.");
  out.sample("process_max_fds", {}, process.max_fds);
  out.family("process_start_time_seconds", "gauge",
             "Start time of the process since the Unix epoch.");
  out.sample("process_start_time_seconds", {}, process.start_time_seconds);
}

}  // namespace

Format format_for(std::string_view accept) noexcept {
  return accept.find("application/openmetrics-text") != std::string_view::npos
             ? Format::openmetrics
             : Format::prometheus_text;
}

std::string_view content_type_of(Format format) noexcept {
  return format == Format::openmetrics
             ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
             : "text/plain; version=0.0.4; charset=utf-8";
}

std::string render(const View& view, Format format, std::string_view version) {
  Writer out(format);
  write_http(out, view);
  write_upstreams(out, view);
  write_plugins(out, view);
  write_process(out, view, version);
  return out.finish();
}

}  // namespace tollgate::metrics
