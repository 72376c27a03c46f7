// The openid-connect plugin's configuration, parsed and validated once at load (Kong's field
// names).
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "tollgate/config/reader.hpp"
#include "tollgate/filters/openid_connect/policy.hpp"
#include "tollgate/filters/openid_connect/token_extraction.hpp"
#include "tollgate/filters/openid_connect/upstream_headers.hpp"
#include "tollgate/oidc/cluster_cache.hpp"
#include "tollgate/oidc/introspection_client.hpp"
#include "tollgate/oidc/jwks_client.hpp"
#include "tollgate/oidc/jwt_validator.hpp"
#include "tollgate/oidc/token_cache.hpp"

namespace tollgate::filters::openid_connect {

struct Settings {
  // auth_methods: bearer validates JWTs locally, introspection asks the IdP about the rest (and,
  // with introspect_jwt_tokens, about valid JWTs too, so a revoked one is seen).
  bool bearer = false;
  bool introspection = true;
  bool introspect_jwt_tokens = false;
  oidc::JwksSettings jwks;  // with bearer
  oidc::JwtSettings jwt;    // with bearer
  oidc::ClientSettings idp;
  bool cache_introspection = true;
  oidc::CachePolicy cache;
  // cluster_cache_strategy: redis; nullopt when off.
  std::optional<oidc::ClusterCacheSettings> cluster_cache;
  TokenLocations token_locations;
  Policy policy;
  UpstreamHeaders upstream_headers;
  bool hide_credentials = false;
  // false: a CORS preflight (OPTIONS with Origin and Access-Control-Request-Method) passes
  // without a token (Kong's run_on_preflight).
  bool run_on_preflight = true;
  std::string realm = "tollgate";
  std::string unauthorized_message = "Unauthorized";
  std::string forbidden_message = "Forbidden";
};

// Reads the plugin's `config:` map. Throws config::ConfigException, positioned at the offending
// key, for unknown keys, wrong types, values out of range and combinations tollgate cannot honour
// safely.
Settings parse_settings(const config::Reader& config);

}  // namespace tollgate::filters::openid_connect
