// Entry point of the openid-connect plugin for the filter registry.
#pragma once

#include <memory>

#include "tollgate/config/reader.hpp"
#include "tollgate/filters/filter.hpp"

namespace tollgate::filters::openid_connect {

// Parses and validates the plugin's `config:` map; throws config::ConfigException on any error.
std::shared_ptr<const Filter> make_filter(const config::Reader& config);

}  // namespace tollgate::filters::openid_connect
