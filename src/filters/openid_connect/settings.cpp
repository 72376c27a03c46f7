#include "tollgate/filters/openid_connect/settings.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include "tollgate/http/headers.hpp"

namespace tollgate::filters::openid_connect {
namespace {

using config::Duration;
using config::Reader;
using std::chrono::minutes;
using std::chrono::seconds;

// Kong's auth_methods, so a Kong user gets "not supported yet" rather than "unknown".
constexpr std::array<std::string_view, 9> kKongAuthMethods = {
    "password", "client_credentials", "authorization_code", "bearer", "introspection",
    "userinfo", "kong_oauth2",        "refresh_token",      "session"};

// Headers whose meaning belongs to the HTTP framing or the hop, never to identity.
constexpr std::array<std::string_view, 12> kFramingHeaders = {"host",
                                                              "content-length",
                                                              "transfer-encoding",
                                                              "connection",
                                                              "keep-alive",
                                                              "proxy-connection",
                                                              "te",
                                                              "trailer",
                                                              "upgrade",
                                                              "proxy-authenticate",
                                                              "proxy-authorization",
                                                              "expect"};

bool is_tchar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), is_tchar);
}

bool has_control(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\t') || u == 0x7f;
  });
}

bool contains_name(std::initializer_list<std::string_view> names, std::string_view name) {
  return std::any_of(names.begin(), names.end(),
                     [name](std::string_view n) { return http_io::iequals(n, name); });
}

bool is_framing_header(std::string_view name) {
  return std::any_of(kFramingHeaders.begin(), kFramingHeaders.end(),
                     [name](std::string_view n) { return http_io::iequals(n, name); });
}

// A header name a route may set on the upstream request.
std::string upstream_header_name(const Reader& reader, std::string name) {
  if (!is_token(name)) reader.fail("\"" + name + "\" is not a valid header name");
  if (is_framing_header(name)) {
    reader.fail("\"" + name + "\" is a framing or hop-by-hop header and cannot carry identity");
  }
  return name;
}

std::string non_empty_string(const Reader& reader) {
  std::string value = reader.string();
  if (value.empty()) reader.fail("must not be empty");
  return value;
}

// client_id / client_secret: a string, or Kong's one-element list.
std::string single_credential(const Reader& reader) {
  if (reader.present() && reader.node().IsSequence()) {
    const std::vector<Reader> items = reader.items();
    if (items.size() != 1) {
      reader.fail("exactly one value is supported (tollgate introspects as one client)");
    }
    return non_empty_string(items.front());
  }
  return non_empty_string(reader);
}

std::vector<std::string> non_empty_entries(const Reader& list, std::vector<std::string> fallback) {
  if (!list.present()) return fallback;
  std::vector<std::string> out = list.string_list();
  if (list.node().IsSequence()) {
    const std::vector<Reader> items = list.items();
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (out[i].find_first_not_of(' ') == std::string::npos) items[i].fail("must not be empty");
    }
  } else if (out.front().find_first_not_of(' ') == std::string::npos) {
    list.fail("must not be empty");
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> paired_lists(const Reader& names_reader,
                                                              const Reader& values_reader) {
  const std::vector<std::string> names = names_reader.string_list_or({});
  const std::vector<std::string> values = values_reader.string_list_or({});
  if (names.size() != values.size()) {
    (values_reader.present() ? values_reader : names_reader)
        .fail("has " + std::to_string(values.size()) + " values for " +
              std::to_string(names.size()) + " names: give one value per name");
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (std::size_t i = 0; i < names.size(); ++i) out.emplace_back(names[i], values[i]);
  return out;
}

Reader item_or_self(const Reader& list, std::size_t index) {
  return list.node().IsSequence() ? list.at(index) : list;
}

std::string parse_url(const Reader& reader) {
  std::string url = reader.string();
  if (!oidc::parse_endpoint(url)) {
    reader.fail("\"" + url + "\" is not an absolute http(s) URL");
  }
  return url;
}

void parse_auth_methods(const Reader& reader) {
  const std::vector<std::string> methods = reader.string_list_or({"introspection"});
  if (methods.empty()) reader.fail("must name at least one method (introspection)");
  for (std::size_t i = 0; i < methods.size(); ++i) {
    const std::string& method = methods[i];
    if (method == "introspection") continue;
    const Reader at = item_or_self(reader, i);
    if (std::find(kKongAuthMethods.begin(), kKongAuthMethods.end(), method) !=
        kKongAuthMethods.end()) {
      at.fail("\"" + method + "\" is not supported yet: tollgate implements introspection only");
    }
    std::vector<std::string> known(kKongAuthMethods.begin(), kKongAuthMethods.end());
    std::string message = "\"" + method + "\" is not an auth method";
    if (auto suggestion = config::did_you_mean(method, known)) {
      message += " (did you mean \"" + *suggestion + "\"?)";
    }
    at.fail(std::move(message));
  }
}

oidc::ClientSettings parse_idp(const Reader& config) {
  oidc::ClientSettings idp;
  if (config["issuer"].present()) idp.issuer = parse_url(config["issuer"]);
  if (config["introspection_endpoint"].present()) {
    idp.endpoint = parse_url(config["introspection_endpoint"]);
  }
  if (idp.issuer.empty() && idp.endpoint.empty()) {
    config["introspection_endpoint"].fail(
        "is required unless `issuer` is given to discover it from");
  }
  idp.auth_method = config["introspection_endpoint_auth_method"].one_of_or(
                        "client_secret_basic", {"client_secret_basic", "client_secret_post"}) ==
                            "client_secret_post"
                        ? oidc::ClientAuthMethod::client_secret_post
                        : oidc::ClientAuthMethod::client_secret_basic;
  idp.client_id = single_credential(config["client_id"]);
  idp.client_secret = single_credential(config["client_secret"]);

  const Reader hint = config["introspection_hint"];
  idp.token_type_hint = hint.string_or("access_token");
  if (has_control(idp.token_type_hint)) hint.fail("must not hold control characters");

  const Reader header_names = config["introspection_headers_names"];
  idp.extra_headers = paired_lists(header_names, config["introspection_headers_values"]);
  for (std::size_t i = 0; i < idp.extra_headers.size(); ++i) {
    const auto& [name, value] = idp.extra_headers[i];
    const Reader at = item_or_self(header_names, i);
    if (!is_token(name)) at.fail("\"" + name + "\" is not a valid header name");
    if (is_framing_header(name) ||
        contains_name({"content-type", "accept", "authorization"}, name)) {
      at.fail("\"" + name + "\" is set by tollgate itself (one client credential, a form body)");
    }
    if (has_control(value)) {
      item_or_self(config["introspection_headers_values"], i)
          .fail("must not hold control characters");
    }
  }

  const Reader arg_names = config["introspection_post_args_names"];
  idp.extra_post_args = paired_lists(arg_names, config["introspection_post_args_values"]);
  for (std::size_t i = 0; i < idp.extra_post_args.size(); ++i) {
    const std::string& name = idp.extra_post_args[i].first;
    if (name.empty()) item_or_self(arg_names, i).fail("must not be empty");
    if (contains_name({"token", "token_type_hint", "client_id", "client_secret", "client_assertion",
                       "client_assertion_type"},
                      name)) {
      item_or_self(arg_names, i)
          .fail("\"" + name + "\" is set by tollgate itself (exactly one client credential)");
    }
  }

  const Reader timeout = config["timeout"];
  if (timeout.present() && timeout.node().IsScalar() &&
      std::all_of(timeout.node().Scalar().begin(), timeout.node().Scalar().end(),
                  [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    timeout.fail("needs a unit (e.g. 5s or 5000ms); Kong reads a bare number as milliseconds");
  }
  idp.timeout = timeout.duration_or(seconds(5));
  if (idp.timeout <= Duration::zero() || idp.timeout > minutes(5)) {
    timeout.fail("must be more than 0 and at most 5m");
  }
  idp.ssl_verify = config["ssl_verify"].boolean_or(true);
  idp.ca_file = config["ca_file"].string_or("");
  idp.max_connections =
      static_cast<std::size_t>(config["introspection_max_connections"].integer_or(64, 0, 100'000));
  return idp;
}

oidc::CachePolicy parse_cache(const Reader& config) {
  oidc::CachePolicy cache;
  cache.ttl = config["cache_ttl"].duration_or(seconds(300));
  if (config["cache_ttl_max"].present()) cache.ttl_max = config["cache_ttl_max"].duration();
  if (config["cache_ttl_min"].present()) cache.ttl_min = config["cache_ttl_min"].duration();
  if (cache.ttl_min && cache.ttl_max && *cache.ttl_min > *cache.ttl_max) {
    config["cache_ttl_min"].fail("must not be more than cache_ttl_max");
  }
  cache.ttl_negative = config["cache_ttl_neg"].duration_or(seconds(10));
  cache.max_entries =
      static_cast<std::size_t>(config["cache_size"].integer_or(100'000, 1, 10'000'000));
  const Reader leeway = config["leeway"];
  cache.leeway = leeway.duration_or(seconds(5));
  if (cache.leeway > minutes(5)) leeway.fail("must be at most 5m");
  return cache;
}

TokenLocations parse_token_locations(const Reader& config) {
  const Reader types = config["bearer_token_param_type"];
  TokenLocations locations{false, false, false, {}};
  if (!types.present()) {
    locations.header = true;
  } else {
    const std::vector<std::string> words = types.string_list();
    if (words.empty()) types.fail("must name at least one place (header, query or cookie)");
    for (std::size_t i = 0; i < words.size(); ++i) {
      const Reader at = item_or_self(types, i);
      const std::string type = at.one_of({"header", "query", "body", "cookie"});
      if (type == "header") locations.header = true;
      if (type == "query") locations.query = true;
      if (type == "cookie") locations.cookie = true;
      if (type == "body") {
        at.fail(
            "\"body\" is not supported: tollgate decides on the request head, before any body "
            "is read; send the token in the Authorization header, the query or a cookie");
      }
    }
  }
  const Reader cookie_name = config["bearer_token_cookie_name"];
  if (cookie_name.present()) {
    locations.cookie_name = cookie_name.string();
    if (!is_token(locations.cookie_name)) cookie_name.fail("is not a valid cookie name");
  } else if (locations.cookie) {
    cookie_name.fail("is required when bearer_token_param_type includes cookie");
  }
  return locations;
}

Policy parse_policy(const Reader& config, Duration leeway, const std::string& issuer) {
  Policy policy;
  // As Kong's issuers_allowed: the configured issuer unless a list is given.
  std::vector<std::string> issuers;
  if (!issuer.empty()) issuers.push_back(issuer);
  policy.issuers_allowed = non_empty_entries(config["issuers_allowed"], std::move(issuers));
  policy.scopes_required = Requirement(non_empty_entries(config["scopes_required"], {}));
  policy.scopes_claim = non_empty_entries(config["scopes_claim"], {"scope"});
  policy.audience_required = Requirement(non_empty_entries(config["audience_required"], {}));
  policy.audience_claim = non_empty_entries(config["audience_claim"], {"aud"});
  policy.groups_required = Requirement(non_empty_entries(config["groups_required"], {}));
  policy.groups_claim = non_empty_entries(config["groups_claim"], {"groups"});
  policy.leeway = leeway;
  return policy;
}

UpstreamHeaders parse_upstream_headers(const Reader& config) {
  UpstreamHeaders headers;
  const Reader token_header = config["upstream_access_token_header"];
  if (token_header.present()) {
    // Kong's form: "name" or "name:prefix", e.g. "authorization:bearer".
    const std::string text = token_header.string();
    const std::size_t colon = text.find(':');
    headers.access_token_header = upstream_header_name(token_header, text.substr(0, colon));
    if (colon != std::string::npos) {
      headers.access_token_prefix = text.substr(colon + 1);
      if (!is_token(headers.access_token_prefix)) {
        token_header.fail("the prefix after ':' must be a single word, e.g. bearer");
      }
    }
  }
  const Reader introspection_header = config["upstream_introspection_header"];
  if (introspection_header.present()) {
    headers.introspection_header =
        upstream_header_name(introspection_header, introspection_header.string());
  }

  const Reader claims_reader = config["upstream_headers_claims"];
  const Reader names_reader = config["upstream_headers_names"];
  const std::vector<std::string> claims = non_empty_entries(claims_reader, {});
  const std::vector<std::string> names = names_reader.string_list_or({});
  if (claims.size() != names.size()) {
    (names_reader.present() ? names_reader : claims_reader)
        .fail("has " + std::to_string(names.size()) + " header names for " +
              std::to_string(claims.size()) +
              " claims in upstream_headers_claims: give one header name per claim");
  }
  for (std::size_t i = 0; i < claims.size(); ++i) {
    headers.claim_headers.push_back(
        ClaimHeader{{claims[i]}, upstream_header_name(item_or_self(names_reader, i), names[i])});
  }

  const std::vector<std::string> all = headers.names();
  for (std::size_t i = 0; i < all.size(); ++i) {
    for (std::size_t j = i + 1; j < all.size(); ++j) {
      if (http_io::iequals(all[i], all[j])) {
        config.fail("upstream header \"" + all[j] + "\" is configured twice");
      }
    }
  }
  return headers;
}

std::string parse_realm(const Reader& reader) {
  std::string realm = reader.string_or("tollgate");
  if (realm.empty() || has_control(realm)) {
    reader.fail("must be non-empty printable text");
  }
  return realm;
}

}  // namespace

Settings parse_settings(const Reader& config) {
  config.expect_map();
  config.expect_keys({"issuer",
                      "auth_methods",
                      "introspection_endpoint",
                      "introspection_endpoint_auth_method",
                      "client_id",
                      "client_secret",
                      "introspect_jwt_tokens",
                      "introspection_hint",
                      "introspection_headers_names",
                      "introspection_headers_values",
                      "introspection_post_args_names",
                      "introspection_post_args_values",
                      "introspection_max_connections",
                      "cache_introspection",
                      "cache_ttl",
                      "cache_ttl_max",
                      "cache_ttl_min",
                      "cache_ttl_neg",
                      "cache_size",
                      "bearer_token_param_type",
                      "bearer_token_cookie_name",
                      "scopes_required",
                      "scopes_claim",
                      "audience_required",
                      "audience_claim",
                      "groups_required",
                      "groups_claim",
                      "issuers_allowed",
                      "upstream_access_token_header",
                      "upstream_introspection_header",
                      "upstream_headers_claims",
                      "upstream_headers_names",
                      "hide_credentials",
                      "unauthorized_error_message",
                      "forbidden_error_message",
                      "timeout",
                      "ssl_verify",
                      "ca_file",
                      "realm",
                      "leeway"});

  parse_auth_methods(config["auth_methods"]);
  const Reader jwt = config["introspect_jwt_tokens"];
  if (!jwt.boolean_or(true)) {
    jwt.fail(
        "local JWT verification is not available yet; with false this route would let JWTs "
        "through unverified. Remove the key or set it to true");
  }

  Settings settings;
  settings.idp = parse_idp(config);
  settings.cache_introspection = config["cache_introspection"].boolean_or(true);
  settings.cache = parse_cache(config);
  settings.token_locations = parse_token_locations(config);
  settings.policy = parse_policy(config, settings.cache.leeway, settings.idp.issuer);
  settings.upstream_headers = parse_upstream_headers(config);
  settings.hide_credentials = config["hide_credentials"].boolean_or(false);
  if (settings.hide_credentials && settings.token_locations.query) {
    config["hide_credentials"].fail(
        "cannot remove a token sent in the query string (the request target is forwarded as "
        "routed); drop query from bearer_token_param_type or set hide_credentials: false");
  }
  settings.realm = parse_realm(config["realm"]);
  settings.unauthorized_message = config["unauthorized_error_message"].string_or("Unauthorized");
  settings.forbidden_message = config["forbidden_error_message"].string_or("Forbidden");
  return settings;
}

}  // namespace tollgate::filters::openid_connect
