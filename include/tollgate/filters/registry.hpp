// The explicit list of plugin types: name → factory. No static registration magic: adding a plugin
// means adding one line to registry.cpp.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tollgate/config/reader.hpp"
#include "tollgate/filters/filter.hpp"

namespace tollgate::filters {

// Builds a filter from its `config:` map. Throws config::ConfigException (via Reader::fail) on any
// error, positioned at the offending key.
using FilterFactory = std::shared_ptr<const Filter> (*)(const config::Reader& config);

// nullptr when no plugin has that name.
FilterFactory find_filter_factory(std::string_view plugin_type);
std::vector<std::string> filter_type_names();

}  // namespace tollgate::filters
