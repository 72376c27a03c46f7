#include "tollgate/filters/openid_connect/settings.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <iterator>

#include <openssl/pem.h>
#include <yaml-cpp/yaml.h>

#include <spdlog/spdlog.h>

#include "tollgate/common/hash.hpp"
#include "tollgate/http/headers.hpp"
#include "tollgate/http/trace_context.hpp"

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

// Headers the gateway itself sets on every request it forwards: a route's header of the same name
// (in any spelling a CGI-style upstream reads as it) would reach the upstream beside the gateway's.
constexpr std::array<std::string_view, 7> kGatewayHeaders = {
    http_io::kXRequestId,    http_io::kTraceparent,     http_io::kTracestate,    "Via",
    http_io::kXForwardedFor, http_io::kXForwardedProto, http_io::kXForwardedHost};

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
  if (std::any_of(kGatewayHeaders.begin(), kGatewayHeaders.end(),
                  [&name](std::string_view n) { return http_io::cgi_equivalent(n, name); })) {
    reader.fail("\"" + name + "\" is set by the gateway on every forwarded request");
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

struct AuthMethods {
  bool bearer = false;
  bool introspection = false;
};

AuthMethods parse_auth_methods(const Reader& reader) {
  const std::vector<std::string> methods = reader.string_list_or({"introspection"});
  if (methods.empty()) reader.fail("must name at least one method (bearer, introspection)");
  AuthMethods out;
  for (std::size_t i = 0; i < methods.size(); ++i) {
    const std::string& method = methods[i];
    if (method == "introspection") {
      out.introspection = true;
      continue;
    }
    if (method == "bearer") {
      out.bearer = true;
      continue;
    }
    const Reader at = item_or_self(reader, i);
    if (std::find(kKongAuthMethods.begin(), kKongAuthMethods.end(), method) !=
        kKongAuthMethods.end()) {
      at.fail("\"" + method +
              "\" is not supported yet: tollgate implements bearer and introspection only");
    }
    std::vector<std::string> known(kKongAuthMethods.begin(), kKongAuthMethods.end());
    std::string message = "\"" + method + "\" is not an auth method";
    if (auto suggestion = config::did_you_mean(method, known)) {
      message += " (did you mean \"" + *suggestion + "\"?)";
    }
    at.fail(std::move(message));
  }
  return out;
}

oidc::ClientAuthMethod parse_client_auth_method(const Reader& reader) {
  const std::string method = reader.one_of_or(
      "client_secret_basic", {"client_secret_basic", "client_secret_post", "client_secret_jwt",
                              "private_key_jwt", "tls_client_auth"});
  if (method == "client_secret_post") return oidc::ClientAuthMethod::client_secret_post;
  if (method == "client_secret_jwt") return oidc::ClientAuthMethod::client_secret_jwt;
  if (method == "private_key_jwt") return oidc::ClientAuthMethod::private_key_jwt;
  if (method == "tls_client_auth") return oidc::ClientAuthMethod::tls_client_auth;
  return oidc::ClientAuthMethod::client_secret_basic;
}

std::string read_file(const Reader& reader, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) reader.fail("cannot read \"" + path + "\"");
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// private_key_jwt's key: client_jwk (a private JWK, as JSON text or a YAML map, or Kong's
// one-element list) or client_key_file (PEM).
jose::PublicKey parse_client_key(const Reader& config, std::string& kid,
                                 std::optional<jose::Algorithm>& jwk_alg) {
  const Reader jwk_reader = config["client_jwk"];
  const Reader file_reader = config["client_key_file"];
  if (jwk_reader.present() == file_reader.present()) {
    (jwk_reader.present() ? file_reader : jwk_reader)
        .fail("private_key_jwt needs exactly one of client_jwk and client_key_file");
  }
  if (file_reader.present()) {
    const std::string pem = read_file(file_reader, file_reader.string());
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    EVP_PKEY* key = bio ? PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr) : nullptr;
    BIO_free(bio);
    if (key == nullptr) file_reader.fail("holds no PEM private key");
    return jose::PublicKey(key, EVP_PKEY_free);
  }
  Reader one = jwk_reader;
  if (jwk_reader.node().IsSequence()) {
    if (jwk_reader.items().size() != 1) jwk_reader.fail("exactly one key is supported");
    one = jwk_reader.at(0);
  }
  nlohmann::json jwk;
  if (one.node().IsScalar()) {
    jwk = nlohmann::json::parse(one.string(), nullptr, false);
  } else {
    YAML::Emitter out;
    out << YAML::DoubleQuoted << YAML::Flow << YAML::Node(one.node());
    jwk = nlohmann::json::parse(out.c_str(), nullptr, false);
  }
  auto parsed = jose::parse_private_jwk(jwk);
  if (!parsed) one.fail("is not a usable private JWK: " + parsed.error());
  kid = parsed->kid;
  jwk_alg = parsed->alg;
  return parsed->key;
}

// What the JWT and TLS client credentials need, checked at load: a key that signs with
// client_alg, a secret long enough for the HMAC, certificate and key files.
void parse_client_credential(const Reader& config, oidc::ClientSettings& idp) {
  const Reader alg_reader = config["client_alg"];
  auto algorithm_of = [&](std::string_view fallback) {
    const std::string name = alg_reader.string_or(std::string(fallback));
    const auto alg = jose::algorithm_from_name(name);
    if (!alg) alg_reader.fail("\"" + name + "\" is not a JWS algorithm tollgate signs with");
    return *alg;
  };
  switch (idp.auth_method) {
    case oidc::ClientAuthMethod::client_secret_jwt: {
      idp.assertion_key.alg = algorithm_of("HS256");
      if (!jose::is_hmac(idp.assertion_key.alg)) {
        alg_reader.fail("client_secret_jwt signs with HS256, HS384 or HS512");
      }
      // RFC 7518 §3.2: an HMAC key at least as long as the hash.
      if (idp.client_secret.size() < 32) {
        config["client_secret"].fail("client_secret_jwt needs a secret of at least 32 bytes");
      }
      idp.assertion_key.secret = idp.client_secret;
      break;
    }
    case oidc::ClientAuthMethod::private_key_jwt: {
      std::optional<jose::Algorithm> jwk_alg;
      idp.assertion_key.private_key = parse_client_key(config, idp.assertion_key.kid, jwk_alg);
      idp.assertion_key.alg =
          algorithm_of(jwk_alg ? jose::name_of(*jwk_alg) : std::string_view("RS256"));
      if (jose::is_hmac(idp.assertion_key.alg)) {
        alg_reader.fail("private_key_jwt signs with RS*, PS*, ES* or EdDSA");
      }
      try {  // a key that cannot sign with the algorithm fails now, not on the first request
        oidc::make_client_assertion(idp.assertion_key, idp.client_id, "https://check.invalid",
                                    std::chrono::system_clock::now());
      } catch (const std::exception&) {
        alg_reader.fail("the client key cannot sign with " +
                        std::string(jose::name_of(idp.assertion_key.alg)));
      }
      break;
    }
    case oidc::ClientAuthMethod::tls_client_auth: {
      const Reader cert = config["tls_client_auth_cert_file"];
      const Reader key = config["tls_client_auth_key_file"];
      idp.tls_client_cert_file = cert.string();
      idp.tls_client_key_file = key.string();
      break;
    }
    default:
      break;
  }
}

// `introspects`: whether this instance calls the introspection endpoint at all; without it the
// endpoint and the client credentials are optional.
oidc::ClientSettings parse_idp(const Reader& config, bool introspects) {
  oidc::ClientSettings idp;
  if (config["issuer"].present()) idp.issuer = parse_url(config["issuer"]);
  if (config["introspection_endpoint"].present()) {
    idp.endpoint = parse_url(config["introspection_endpoint"]);
  }
  if (introspects && idp.issuer.empty() && idp.endpoint.empty()) {
    config["introspection_endpoint"].fail(
        "is required unless `issuer` is given to discover it from");
  }

  idp.auth_method = parse_client_auth_method(config["introspection_endpoint_auth_method"]);
  const bool secret_needed = idp.auth_method == oidc::ClientAuthMethod::client_secret_basic ||
                             idp.auth_method == oidc::ClientAuthMethod::client_secret_post ||
                             idp.auth_method == oidc::ClientAuthMethod::client_secret_jwt;
  if (introspects || config["client_id"].present()) {
    idp.client_id = single_credential(config["client_id"]);
  }
  if ((introspects && secret_needed) || config["client_secret"].present()) {
    idp.client_secret = single_credential(config["client_secret"]);
  }
  if (introspects) parse_client_credential(config, idp);
  const Reader accept = config["introspection_accept"];
  idp.signed_answers =
      accept.one_of_or("application/json",
                       {"application/json", "application/token-introspection+jwt"}) !=
      "application/json";
  if (idp.signed_answers && idp.issuer.empty()) {
    accept.fail("a signed answer is verified with the issuer's keys: `issuer` is required");
  }

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
  const Reader resurrect = config["cache_ttl_resurrect"];
  cache.resurrect = resurrect.duration_or(seconds(0));
  if (cache.resurrect < Duration::zero() || cache.resurrect > std::chrono::hours(24)) {
    resurrect.fail("must be at least 0 and at most 24h");
  }
  return cache;
}

// One cluster_cache_key: base64 of 32 random bytes (`openssl rand -base64 32`).
std::array<unsigned char, 32> parse_cluster_key(const Reader& reader) {
  const std::optional<std::string> key = base64_decode(reader.string());
  if (!key || key->size() != 32) {
    reader.fail("must be 32 bytes in base64 (e.g. the output of `openssl rand -base64 32`)");
  }
  std::array<unsigned char, 32> out{};
  std::copy(key->begin(), key->end(), out.begin());
  return out;
}

std::optional<oidc::ClusterCacheSettings> parse_cluster_cache(const Reader& config,
                                                              bool cache_introspection,
                                                              const std::string& ca_file) {
  const Reader strategy = config["cluster_cache_strategy"];
  if (strategy.one_of_or("off", {"off", "redis"}) == "off") return std::nullopt;
  if (!cache_introspection) {
    strategy.fail("needs cache_introspection: true (Redis is the second level of that cache)");
  }
  const Reader redis = config["cluster_cache_redis"];
  if (!redis.present()) redis.fail("is required with cluster_cache_strategy: redis");
  redis.expect_keys({"host", "port", "database", "username", "password", "ssl", "ssl_verify",
                     "server_name", "connect_timeout", "read_timeout", "send_timeout", "prefix"});
  oidc::ClusterCacheSettings cluster;
  cluster.ca_file = ca_file;
  redis::Options& options = cluster.redis;
  options.host = non_empty_string(redis["host"]);
  options.port = static_cast<std::uint16_t>(redis["port"].integer_or(6379, 1, 65535));
  options.database = static_cast<int>(redis["database"].integer_or(0, 0, 1'000'000));
  options.username = redis["username"].string_or("");
  options.password = redis["password"].string_or("");
  if (!options.username.empty() && options.password.empty()) {
    redis["username"].fail("needs a password");
  }
  options.ssl = redis["ssl"].boolean_or(false);
  options.ssl_verify = redis["ssl_verify"].boolean_or(true);
  options.server_name = redis["server_name"].string_or("");
  for (auto [name, field] : {std::pair{"connect_timeout", &options.connect_timeout},
                             std::pair{"read_timeout", &options.read_timeout},
                             std::pair{"send_timeout", &options.send_timeout}}) {
    const Reader at = redis[name];
    *field = at.duration_or(seconds(1));
    if (*field <= Duration::zero() || *field > minutes(1))
      at.fail("must be more than 0 and at most 1m");
  }
  cluster.prefix = redis["prefix"].string_or("tollgate:");
  if (has_control(cluster.prefix)) redis["prefix"].fail("must not hold control characters");

  const Reader key = config["cluster_cache_key"];
  if (!key.present()) {
    key.fail("is required with cluster_cache_strategy: redis (values in Redis are encrypted)");
  }
  if (key.node().IsSequence()) {
    for (const Reader& item : key.items()) cluster.keys.push_back(parse_cluster_key(item));
    if (cluster.keys.empty()) key.fail("must hold at least one key");
  } else {
    cluster.keys.push_back(parse_cluster_key(key));
  }
  if (options.ssl && !options.ssl_verify) {
    spdlog::warn("{}: ssl_verify is false: the Redis server's certificate is not verified",
                 redis.key_path());
  }
  return cluster;
}

TokenLocations parse_token_locations(const Reader& config) {
  const Reader types = config["bearer_token_param_type"];
  TokenLocations locations{false, false, false, {}};
  if (!types.present()) {
    locations.header = true;
  } else {
    const std::vector<std::string> words = types.string_list();
    if (words.empty()) types.fail("must name at least one place (header, query, body or cookie)");
    for (std::size_t i = 0; i < words.size(); ++i) {
      const Reader at = item_or_self(types, i);
      const std::string type = at.one_of({"header", "query", "body", "cookie"});
      if (type == "header") locations.header = true;
      if (type == "query") locations.query = true;
      if (type == "cookie") locations.cookie = true;
      if (type == "body") locations.body = true;
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

// Where the issuer's keys are and how often a kid may fetch them again (bearer and signed
// introspection answers).
void parse_jwks_settings(const Reader& config, Settings& settings) {
  oidc::JwksSettings& jwks = settings.jwks;
  jwks.issuer = settings.idp.issuer;
  if (config["jwks_endpoint"].present()) jwks.jwks_uri = parse_url(config["jwks_endpoint"]);
  if (jwks.issuer.empty() && jwks.jwks_uri.empty()) {
    config["jwks_endpoint"].fail("is required with bearer unless `issuer` is given");
  }
  jwks.timeout = settings.idp.timeout;
  const Reader lifetime = config["rediscovery_lifetime"];
  jwks.min_refresh_interval = lifetime.duration_or(seconds(30));
  if (jwks.min_refresh_interval < std::chrono::milliseconds(100) ||
      jwks.min_refresh_interval > std::chrono::hours(24)) {
    lifetime.fail("must be at least 100ms and at most 24h");
  }
}

// What local JWT validation needs besides the keys: which issuers, and the HMAC secret when HS*
// is enabled.
void parse_bearer(const Reader& config, Settings& settings) {
  oidc::JwtSettings& jwt = settings.jwt;
  jwt.issuers = settings.policy.issuers_allowed;
  if (jwt.issuers.empty()) {
    config["issuers_allowed"].fail("is required with bearer unless `issuer` is given");
  }
  jwt.leeway = settings.cache.leeway;
  const Reader hs = config["enable_hs_signatures"];
  if (hs.boolean_or(false)) {
    // RFC 7518 §3.2: an HMAC key at least as long as the hash; a short client secret would let
    // tokens be forged by guessing it offline.
    if (settings.idp.client_secret.size() < 32) {
      hs.fail("needs a client_secret of at least 32 bytes to verify HS256 signatures with");
    }
    jwt.hs_secret = settings.idp.client_secret;
  }
}

}  // namespace

Settings parse_settings(const Reader& config) {
  config.expect_map();
  config.expect_keys({"issuer",
                      "auth_methods",
                      "introspection_endpoint",
                      "introspection_endpoint_auth_method",
                      "client_alg",
                      "introspection_accept",
                      "client_jwk",
                      "client_key_file",
                      "tls_client_auth_cert_file",
                      "tls_client_auth_key_file",
                      "client_id",
                      "client_secret",
                      "introspect_jwt_tokens",
                      "jwks_endpoint",
                      "enable_hs_signatures",
                      "rediscovery_lifetime",
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
                      "cache_ttl_resurrect",
                      "cache_size",
                      "cluster_cache_strategy",
                      "cluster_cache_redis",
                      "cluster_cache_key",
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
                      "run_on_preflight",
                      "unauthorized_error_message",
                      "forbidden_error_message",
                      "timeout",
                      "ssl_verify",
                      "ca_file",
                      "realm",
                      "leeway"});

  const AuthMethods methods = parse_auth_methods(config["auth_methods"]);
  Settings settings;
  settings.bearer = methods.bearer;
  settings.introspection = methods.introspection;
  const Reader jwt = config["introspect_jwt_tokens"];
  settings.introspect_jwt_tokens = jwt.boolean_or(!methods.bearer);
  if (!methods.bearer && !settings.introspect_jwt_tokens) {
    jwt.fail(
        "false needs bearer in auth_methods: without local verification every JWT is "
        "introspected. Add bearer or remove the key");
  }
  if (methods.bearer && settings.introspect_jwt_tokens && !methods.introspection) {
    jwt.fail("true needs introspection in auth_methods as well");
  }
  settings.idp = parse_idp(config, methods.introspection);
  settings.cache_introspection = config["cache_introspection"].boolean_or(true);
  settings.cache = parse_cache(config);
  settings.cluster_cache =
      parse_cluster_cache(config, settings.cache_introspection, settings.idp.ca_file);
  settings.token_locations = parse_token_locations(config);
  settings.policy = parse_policy(config, settings.cache.leeway, settings.idp.issuer);
  if (settings.bearer || settings.idp.signed_answers) parse_jwks_settings(config, settings);
  if (settings.bearer) parse_bearer(config, settings);
  settings.upstream_headers = parse_upstream_headers(config);
  settings.hide_credentials = config["hide_credentials"].boolean_or(false);
  settings.run_on_preflight = config["run_on_preflight"].boolean_or(true);
  settings.realm = parse_realm(config["realm"]);
  settings.unauthorized_message = config["unauthorized_error_message"].string_or("Unauthorized");
  settings.forbidden_message = config["forbidden_error_message"].string_or("Forbidden");
  return settings;
}

}  // namespace tollgate::filters::openid_connect
