#include "tollgate/server/runtime.hpp"

#include <spdlog/spdlog.h>

#include "tollgate/filters/registry.hpp"

namespace tollgate::server {

std::vector<std::string> FilterSet::not_ready() const {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < instances.size(); ++i) {
    if (!instances[i]->ready()) out.push_back(names[i]);
  }
  return out;
}

std::shared_ptr<const FilterSet> PluginRuntime::apply(const config::GatewayConfig& config) {
  auto set = std::make_shared<FilterSet>();
  std::map<std::string, Running> next;
  std::vector<filters::Filter*> fresh;
  for (const config::PluginInstance& plugin : config.plugins) {
    std::shared_ptr<filters::Filter> filter;
    if (auto it = running_.find(plugin.name);
        it != running_.end() && it->second.fingerprint == plugin.fingerprint) {
      filter = it->second.filter;
    } else {
      filter = plugin.type->make(*plugin.settings, plugin.name);  // may throw: nothing started
      fresh.push_back(filter.get());
    }
    set->names.push_back(plugin.name);
    set->instances.push_back(filter);
    next.emplace(plugin.name, Running{plugin.fingerprint, std::move(filter)});
  }
  for (const config::Route& route : config.routes) {
    std::vector<const filters::Filter*> chain;
    chain.reserve(route.plugins.size());
    bool reads_form_body = false;
    for (const std::size_t index : route.plugins) {
      chain.push_back(set->instances[index].get());
      reads_form_body = reads_form_body || chain.back()->reads_form_body();
    }
    set->chains.push_back(std::move(chain));
    set->reads_form_body.push_back(reads_form_body);
  }

  for (filters::Filter* filter : fresh) filter->start(context_);
  std::size_t kept = 0;
  for (auto& [name, running] : running_) {
    auto it = next.find(name);
    if (it != next.end() && it->second.filter == running.filter) {
      ++kept;
    } else {
      running.filter->stop();
    }
  }
  if (!running_.empty() || !next.empty()) {
    spdlog::info("plugin instances: {} kept, {} started, {} stopped", kept, fresh.size(),
                 running_.size() - kept);
  }
  running_ = std::move(next);
  return set;
}

void PluginRuntime::stop_all() {
  for (auto& [name, running] : running_) running.filter->stop();
}

}  // namespace tollgate::server
