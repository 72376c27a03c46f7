// Loading a config against an explicit set of plugin types instead of the built-in registry
// (filters/registry.hpp). The gateway always uses the registry; tests use this to exercise the
// loader's plugin handling with a fake filter type.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/system/result.hpp>

#include "tollgate/config/config.hpp"
#include "tollgate/filters/registry.hpp"

namespace tollgate::config {

// e.g. {"openid-connect", &openid_connect::parse_plugin_settings, &openid_connect::make_filter}.
using PluginTypes = std::vector<filters::PluginType>;

// load_config_text() with `plugin_types` in place of the registry.
boost::system::result<std::shared_ptr<const GatewayConfig>, ConfigError> load_config_text(
    const std::string& text, const std::string& file_name, const PluginTypes& plugin_types);

}  // namespace tollgate::config
