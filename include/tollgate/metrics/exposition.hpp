// GET /metrics: the registry's counts and the live gauges, in the Prometheus text format 0.0.4, or
// in OpenMetrics 1.0 when the scraper's Accept asks for it. Labels come only from configured names
// (route, upstream, target, plugin instance) and fixed sets, never from what a client sent.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tollgate/config/config.hpp"
#include "tollgate/metrics/registry.hpp"

namespace tollgate::metrics {

// What a scrape reads of one plugin instance of the running configuration.
struct PluginView {
  std::string name;
  std::string type;
  bool ready = true;
  std::optional<CacheGauges> cache;                     // when it keeps a cache
  std::optional<std::string_view> cluster_cache_state;  // when it shares a cache through Redis
};

// A scrape's input: the running configuration's names, the registry's counts, the instances'
// live state (indexed like config.plugins).
struct View {
  std::shared_ptr<const config::GatewayConfig> config;
  const Registry& registry;
  std::vector<PluginView> plugins;
};

enum class Format { prometheus_text, openmetrics };

Format format_for(std::string_view accept) noexcept;
std::string_view content_type_of(Format format) noexcept;
std::string render(const View& view, Format format, std::string_view version);

}  // namespace tollgate::metrics
