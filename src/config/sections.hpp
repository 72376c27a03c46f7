// One reader per top-level section of the config file. Each validates its section completely and
// throws ConfigException (through Reader::fail) at the first problem. Used by load_config.cpp only.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tollgate/config/config.hpp"
#include "tollgate/config/plugin_types.hpp"
#include "tollgate/config/reader.hpp"

namespace tollgate::config::sections {

std::vector<Listen> read_listens(const Reader& section);
Admin read_admin(const Reader& section, const std::vector<Listen>& listens);
unsigned read_workers(const Reader& section);
Log read_log(const Reader& section);
Limits read_limits(const Reader& section);
Timeouts read_timeouts(const Reader& section);

std::vector<Upstream> read_upstreams(const Reader& section);

// Plugin instances in file order, each read once; routes refer to them by index.
std::vector<PluginInstance> read_plugins(const Reader& section, const PluginTypes& types);
// See PluginInstance::fingerprint.
std::string plugin_fingerprint(std::string_view type, const Reader& config);

std::vector<Route> read_routes(const Reader& section, const std::vector<Upstream>& upstreams,
                               const std::vector<PluginInstance>& plugins);

// `trusted_proxies`: a list of CIDR networks (or single addresses), IPv4 or IPv6.
std::vector<Network> read_trusted_proxies(const Reader& section);

// Shared helpers.

// A list of strings written as a list or as one string, with a Reader per entry for positions.
std::vector<Reader> string_items(const Reader& reader);

// Fails unless the file named by `reader` can be opened for reading; returns its path.
std::string readable_file(const Reader& reader);

std::string in_quotes(std::string_view text);

}  // namespace tollgate::config::sections
