// The openid-connect plugin's configuration, parsed and validated once at load (Kong's field
// names).
#pragma once

#include <chrono>
#include <string>

#include "tollgate/config/reader.hpp"
#include "tollgate/filters/openid_connect/policy.hpp"
#include "tollgate/filters/openid_connect/token_extraction.hpp"
#include "tollgate/filters/openid_connect/upstream_headers.hpp"
#include "tollgate/oidc/introspection_client.hpp"
#include "tollgate/oidc/token_cache.hpp"

namespace tollgate::filters::openid_connect {

struct Settings {
  oidc::ClientSettings idp;
  bool cache_introspection = true;
  oidc::CachePolicy cache;
  TokenLocations token_locations;
  Policy policy;
  UpstreamHeaders upstream_headers;
  bool hide_credentials = false;
  std::string realm = "tollgate";
  std::string unauthorized_message = "Unauthorized";
  std::string forbidden_message = "Forbidden";
};

// Reads the plugin's `config:` map. Throws config::ConfigException, positioned at the offending
// key, for unknown keys, wrong types, values out of range and combinations tollgate cannot honour
// safely.
Settings parse_settings(const config::Reader& config);

}  // namespace tollgate::filters::openid_connect
