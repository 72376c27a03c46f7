// The explicit list of plugin types: name → how its config is read and how its filter is built. No
// static registration magic: adding a plugin means adding one line to registry.cpp.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tollgate/config/reader.hpp"
#include "tollgate/filters/filter.hpp"

namespace tollgate::filters {

// A plugin instance's `config:` map as read at load: plain values, validated, never changed.
class PluginSettings {
 public:
  virtual ~PluginSettings() = default;
  // Every request header the plugin sets: the gateway removes them, in every spelling, from every
  // request on every route, so none of them ever reaches an upstream in a client's words.
  virtual std::vector<std::string> request_headers_set() const { return {}; }
};

// Reads and validates a plugin's `config:` map. Throws config::ConfigException (via Reader::fail)
// on any error, positioned at the offending key. Builds nothing that lives (no sockets, no timers).
using SettingsParser = std::shared_ptr<const PluginSettings> (*)(const config::Reader& config);

// Builds the live filter of one plugin instance from its settings (what the runtime keeps across
// reloads while the instance's config stays the same). `instance` names it in logs.
using FilterMaker = std::shared_ptr<Filter> (*)(const PluginSettings& settings,
                                                const std::string& instance);

struct PluginType {
  std::string name;  // as written in `plugins.<instance>.name`
  SettingsParser parse = nullptr;
  FilterMaker make = nullptr;
};

// nullptr when no plugin has that name.
const PluginType* find_plugin_type(std::string_view name);
const std::vector<PluginType>& plugin_types();

}  // namespace tollgate::filters
