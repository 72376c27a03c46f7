#include "status_report.hpp"

#include <cmath>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tollgate/metrics/process.hpp"

namespace tollgate::admin {
namespace {

using json = nlohmann::ordered_json;
using metrics::HistogramTotal;
using metrics::sum;
using metrics::sum_histograms;

constexpr auto kRateWindow = std::chrono::seconds(10);
constexpr std::size_t kMaxSamples = 64;

std::string rfc3339(std::chrono::system_clock::time_point t) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000;
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z",
                     fmt::gmtime(std::chrono::system_clock::to_time_t(t)), ms);
}

json quantile(const HistogramTotal& h, double q) {
  const double value = h.quantile(q);
  if (std::isnan(value)) return nullptr;
  return value;
}

json route_row(std::string_view name, const json& upstream, const metrics::RouteStats& stats) {
  std::uint64_t classes[5] = {0, 0, 0, 0, 0};
  for (unsigned slot = 0; slot < metrics::kStatusSlots; ++slot) {
    classes[slot / 100] +=
        sum(stats.cells, [slot](const metrics::RouteCell& c) { return c.responses[slot].get(); });
  }
  const HistogramTotal duration = sum_histograms(
      stats.cells,
      [](const metrics::RouteCell& c) -> const metrics::Histogram& { return c.duration; });
  return {{"name", name},
          {"upstream", upstream},
          {"requests", classes[0] + classes[1] + classes[2] + classes[3] + classes[4]},
          {"requests_per_second", nullptr},
          {"responses",
           {{"1xx", classes[0]},
            {"2xx", classes[1]},
            {"3xx", classes[2]},
            {"4xx", classes[3]},
            {"5xx", classes[4]}}},
          {"duration_p50_seconds", quantile(duration, 0.5)},
          {"duration_p99_seconds", quantile(duration, 0.99)}};
}

json target_row(const config::Target& target, const metrics::TargetStats* stats) {
  json row = {{"url", target.url},
              {"up", true},
              {"in_flight", 0},
              {"requests", 0},
              {"failures", 0},
              {"duration_p50_seconds", nullptr},
              {"duration_p99_seconds", nullptr}};
  if (!stats) return row;
  std::uint64_t requests = 0;
  std::uint64_t failures = 0;
  for (std::size_t o = 0; o < metrics::kUpstreamOutcomes; ++o) {
    const std::uint64_t n =
        sum(stats->cells, [o](const metrics::TargetCell& c) { return c.outcomes[o].get(); });
    requests += n;
    const auto outcome = static_cast<metrics::UpstreamOutcome>(o);
    if (outcome != metrics::UpstreamOutcome::ok &&
        outcome != metrics::UpstreamOutcome::client_abort) {
      failures += n;
    }
  }
  const HistogramTotal duration = sum_histograms(
      stats->cells,
      [](const metrics::TargetCell& c) -> const metrics::Histogram& { return c.duration; });
  row["up"] = stats->up();
  row["in_flight"] =
      sum(stats->cells, [](const metrics::TargetCell& c) { return c.in_flight.get(); });
  row["requests"] = requests;
  row["failures"] = failures;
  row["duration_p50_seconds"] = quantile(duration, 0.5);
  row["duration_p99_seconds"] = quantile(duration, 0.99);
  return row;
}

// Purges applied to the cache, by origin and scope, and the entries they removed.
json purges_of(const metrics::PluginStats* stats) {
  json out = json::object();
  for (std::size_t o = 0; o < metrics::kPurgeOrigins; ++o) {
    const auto origin = static_cast<metrics::PurgeOrigin>(o);
    json scopes = json::object();
    for (std::size_t s = 0; s < metrics::kPurgeScopes; ++s) {
      const auto scope = static_cast<metrics::PurgeScope>(s);
      const std::size_t slot = metrics::PluginCell::purge_slot(scope, origin);
      scopes[std::string(metrics::name_of(scope))] =
          stats ? sum(stats->cells,
                      [slot](const metrics::PluginCell& c) { return c.purges[slot].get(); })
                : 0;
    }
    out[std::string(metrics::name_of(origin))] = std::move(scopes);
  }
  out["entries"] =
      stats ? sum(stats->cells, [](const metrics::PluginCell& c) { return c.purged_entries.get(); })
            : 0;
  return out;
}

json plugin_row(const metrics::PluginView& plugin, const metrics::PluginStats* stats) {
  json decisions = json::object();
  std::uint64_t lookups[metrics::kCacheLookups] = {};
  std::uint64_t idp_requests = 0;
  std::uint64_t idp_failures = 0;
  HistogramTotal idp_duration(metrics::kIdpBounds);
  for (std::size_t d = 0; d < metrics::kDecisions; ++d) {
    decisions[std::string(metrics::name_of(static_cast<metrics::Decision>(d)))] =
        stats
            ? sum(stats->cells, [d](const metrics::PluginCell& c) { return c.decisions[d].get(); })
            : 0;
  }
  if (stats) {
    for (std::size_t l = 0; l < metrics::kCacheLookups; ++l) {
      lookups[l] =
          sum(stats->cells, [l](const metrics::PluginCell& c) { return c.lookups[l].get(); });
    }
    for (std::size_t o = 0; o < metrics::kIdpOutcomes; ++o) {
      const std::uint64_t n =
          sum(stats->cells, [o](const metrics::PluginCell& c) { return c.idp_outcomes[o].get(); });
      idp_requests += n;
      const auto outcome = static_cast<metrics::IdpOutcome>(o);
      if (outcome != metrics::IdpOutcome::active && outcome != metrics::IdpOutcome::inactive) {
        idp_failures += n;
      }
    }
    for (unsigned w = 0; w < stats->cells.size(); ++w)
      idp_duration.add(stats->cells[w].idp_duration);
  }
  json cache = nullptr;
  if (plugin.cache) {
    const std::uint64_t hits = lookups[0];
    const std::uint64_t all = lookups[0] + lookups[1] + lookups[2] + lookups[3];
    cache = {{"entries", plugin.cache->entries},
             {"bytes", plugin.cache->bytes},
             {"capacity", plugin.cache->capacity},
             {"evictions", plugin.cache->evictions},
             {"hits", hits},
             {"misses", lookups[1]},
             {"coalesced", lookups[2]},
             {"resurrected", lookups[3]},
             {"hit_ratio", all == 0 ? json(nullptr)
                                    : json(static_cast<double>(hits) / static_cast<double>(all))},
             {"purges", purges_of(stats)}};
  }
  json last_error = nullptr;
  if (stats) {
    if (const auto error = stats->last_error()) {
      last_error = {{"at", rfc3339(error->at)}, {"kind", error->kind}, {"message", error->message}};
    }
  }
  return {{"name", plugin.name},
          {"type", plugin.type},
          {"ready", plugin.ready},
          {"decisions", std::move(decisions)},
          {"cache", std::move(cache)},
          {"idp",
           {{"requests", idp_requests},
            {"failures", idp_failures},
            {"duration_p50_seconds", quantile(idp_duration, 0.5)},
            {"duration_p99_seconds", quantile(idp_duration, 0.99)},
            {"last_error", std::move(last_error)}}}};
}

}  // namespace

std::string StatusReport::render(const metrics::View& view, std::string_view config_path,
                                 std::string_view version) {
  const auto now = std::chrono::system_clock::now();
  const auto steady_now = std::chrono::steady_clock::now();
  const metrics::Registry& registry = view.registry;
  const config::GatewayConfig& config = *view.config;

  json routes = json::array();
  Sample sample{steady_now, {}};
  for (const config::Route& route : config.routes) {
    const metrics::RouteStats* stats = registry.find_route(route.name);
    if (!stats) continue;
    routes.push_back(route_row(route.name, config.upstreams[route.upstream].name, *stats));
  }
  routes.push_back(route_row("-", nullptr, registry.unmatched()));

  // Rates: against the newest earlier sample at least kRateWindow old, else the oldest one.
  const Sample* base = nullptr;
  for (const Sample& earlier : samples_) {
    if (steady_now - earlier.at >= kRateWindow || base == nullptr) base = &earlier;
  }
  for (json& row : routes) {
    const std::string name = row["name"];
    const std::uint64_t total = row["requests"];
    sample.totals.emplace(name, total);
    if (base == nullptr) continue;
    const double span = std::chrono::duration<double>(steady_now - base->at).count();
    if (span <= 0) continue;
    const auto it = base->totals.find(name);
    const std::uint64_t before = it == base->totals.end() ? 0 : it->second;
    row["requests_per_second"] = static_cast<double>(total - std::min(total, before)) / span;
  }
  samples_.push_back(std::move(sample));
  while (samples_.size() > 2 &&
         (samples_.size() > kMaxSamples || steady_now - samples_[1].at >= kRateWindow)) {
    samples_.pop_front();
  }

  json upstreams = json::array();
  for (const config::Upstream& upstream : config.upstreams) {
    json targets = json::array();
    for (const config::Target& target : upstream.targets) {
      targets.push_back(target_row(target, registry.find_target(upstream.name, target.url)));
    }
    upstreams.push_back({{"name", upstream.name}, {"targets", std::move(targets)}});
  }

  json plugins = json::array();
  for (const metrics::PluginView& plugin : view.plugins) {
    if (plugin.type != "openid-connect") continue;
    plugins.push_back(plugin_row(plugin, registry.find_plugin(plugin.name).get()));
  }

  const metrics::ReloadState reloads = registry.reloads();
  json last_reload = nullptr;
  if (reloads.last_at) {
    last_reload = {{"at", rfc3339(*reloads.last_at)},
                   {"result", reloads.last_ok ? "success" : "failure"},
                   {"error", reloads.last_ok ? json(nullptr) : json(reloads.last_error)}};
  }

  const metrics::ProcessStats process = metrics::read_process_stats();
  std::uint64_t open = 0;
  std::uint64_t idle = 0;
  json workers = json::array();
  for (unsigned w = 0; w < registry.connections().size(); ++w) {
    const metrics::ConnectionCell& cell = registry.connections()[w];
    open += cell.open.get();
    idle += cell.idle.get();
    workers.push_back({{"index", w},
                       {"connections_accepted", cell.accepted.get()},
                       {"connections_open", cell.open.get()},
                       {"requests", cell.requests.get()}});
  }

  const json status = {
      {"version", version},
      {"generated_at", rfc3339(now)},
      {"process",
       {{"started_at", rfc3339(registry.started_at())},
        {"uptime_seconds", std::chrono::duration<double>(now - registry.started_at()).count()},
        {"workers", registry.workers()},
        {"resident_memory_bytes", process.resident_bytes},
        {"open_fds", process.open_fds},
        {"max_fds", process.max_fds},
        {"cpu_seconds", process.cpu_seconds}}},
      {"config",
       {{"path", config_path},
        {"generation", reloads.generation},
        {"loaded_at", rfc3339(reloads.loaded_at)},
        {"reloads", {{"success", reloads.successes}, {"failure", reloads.failures}}},
        {"last_reload", std::move(last_reload)}}},
      {"connections", {{"active", open > idle ? open - idle : 0}, {"idle", idle}}},
      {"workers", std::move(workers)},
      {"routes", std::move(routes)},
      {"upstreams", std::move(upstreams)},
      {"plugins", std::move(plugins)}};
  return status.dump(2, ' ', /*ensure_ascii=*/false, json::error_handler_t::replace);
}

}  // namespace tollgate::admin
