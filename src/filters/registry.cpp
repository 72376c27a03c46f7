// The plugin types tollgate knows, by the name used in `plugins.<instance>.name`.
#include "tollgate/filters/registry.hpp"

#include <array>
#include <utility>

#include "tollgate/filters/openid_connect/factory.hpp"

namespace tollgate::filters {

namespace {

constexpr std::array<std::pair<std::string_view, FilterFactory>, 1> registry{{
    {"openid-connect", &openid_connect::make_filter},
}};

}  // namespace

FilterFactory find_filter_factory(std::string_view plugin_type) {
  for (const auto& [name, factory] : registry) {
    if (name == plugin_type) return factory;
  }
  return nullptr;
}

std::vector<std::string> filter_type_names() {
  std::vector<std::string> names;
  names.reserve(registry.size());
  for (const auto& [name, factory] : registry) names.emplace_back(name);
  return names;
}

}  // namespace tollgate::filters
