// The plugin types tollgate knows, by the name used in `plugins.<instance>.name`.
#include "tollgate/filters/registry.hpp"

#include "tollgate/filters/openid_connect/factory.hpp"

namespace tollgate::filters {

const std::vector<PluginType>& plugin_types() {
  static const std::vector<PluginType> types{
      {"openid-connect", &openid_connect::parse_plugin_settings, &openid_connect::make_filter},
  };
  return types;
}

const PluginType* find_plugin_type(std::string_view name) {
  for (const PluginType& type : plugin_types()) {
    if (type.name == name) return &type;
  }
  return nullptr;
}

}  // namespace tollgate::filters
