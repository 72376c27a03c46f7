// Entry points of the openid-connect plugin for the filter registry.
#pragma once

#include <memory>
#include <string>

#include "tollgate/config/reader.hpp"
#include "tollgate/filters/registry.hpp"

namespace tollgate::filters::openid_connect {

// Parses and validates the plugin's `config:` map, TLS files included; throws
// config::ConfigException on any error. Starts nothing.
std::shared_ptr<const PluginSettings> parse_plugin_settings(const config::Reader& config);

// The live filter (IdP client, pools, token cache) for settings parse_plugin_settings gave.
std::shared_ptr<Filter> make_filter(const PluginSettings& settings, const std::string& instance);

}  // namespace tollgate::filters::openid_connect
