#include "options.hpp"

#include <charconv>
#include <set>

#include <yaml-cpp/yaml.h>

namespace tollgate::dev_idp {
namespace {

using Problem = std::string;

std::optional<std::chrono::seconds> parse_duration(std::string_view text) {
  long long multiplier = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 's':
        multiplier = 1;
        text.remove_suffix(1);
        break;
      case 'm':
        multiplier = 60;
        text.remove_suffix(1);
        break;
      case 'h':
        multiplier = 3600;
        text.remove_suffix(1);
        break;
      default:
        break;
    }
  }
  long long value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value <= 0 ||
      value > 10LL * 365 * 24 * 3600 / multiplier) {
    return std::nullopt;
  }
  return std::chrono::seconds(value * multiplier);
}

std::optional<tcp::endpoint> parse_listen(std::string_view text) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost") host = "127.0.0.1";
  unsigned port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc{} || end != port_text.data() + port_text.size() ||
      port > 65535) {
    return std::nullopt;
  }
  error_code address_ec;
  const auto address = asio::ip::make_address(std::string(host), address_ec);
  if (address_ec) return std::nullopt;
  return tcp::endpoint(address, static_cast<std::uint16_t>(port));
}

bool is_valid_scope(std::string_view scope) {
  return !scope.empty() && scope.find_first_of(" \t\r\n\"\\") == std::string_view::npos;
}

std::vector<std::string> split_commas(std::string_view text) {
  std::vector<std::string> parts;
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    if (comma != 0) parts.emplace_back(text.substr(0, comma));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return parts;
}

// id:secret:scope1,scope2 — split at the first two colons, since scopes often contain colons
// themselves (orders:read); "id:secret" has no scopes.
std::variant<ClientConfig, Problem> parse_client_flag(std::string_view text) {
  const std::size_t first = text.find(':');
  if (first == std::string_view::npos) return Problem("--client needs id:secret[:scope1,scope2]");
  ClientConfig client;
  client.client_id = text.substr(0, first);
  const std::string_view rest = text.substr(first + 1);
  const std::size_t second = rest.find(':');
  client.client_secret = rest.substr(0, second);
  if (second != std::string_view::npos) client.scopes = split_commas(rest.substr(second + 1));
  return client;
}

std::optional<Problem> validate(const ClientConfig& client) {
  if (client.client_id.empty()) return Problem("a client has an empty client_id");
  if (client.client_secret.empty()) return "client " + client.client_id + " has an empty secret";
  for (const auto& scope : client.scopes) {
    if (!is_valid_scope(scope)) return "client " + client.client_id + " has an invalid scope";
  }
  if (client.audience.empty()) return "client " + client.client_id + " has an empty audience";
  return std::nullopt;
}

std::variant<ClientConfig, Problem> client_from_yaml(const YAML::Node& node, std::size_t index) {
  const std::string where = "clients[" + std::to_string(index) + "]";
  if (!node.IsMap()) return where + " must be a mapping";
  ClientConfig client;
  for (const auto& entry : node) {
    const std::string key = entry.first.as<std::string>();
    const YAML::Node& value = entry.second;
    if (key == "client_id" || key == "client_secret" || key == "audience") {
      if (!value.IsScalar()) return where + "." + key + " must be a string";
      (key == "client_id"       ? client.client_id
       : key == "client_secret" ? client.client_secret
                                : client.audience) = value.as<std::string>();
    } else if (key == "scopes") {
      if (!value.IsSequence()) return where + ".scopes must be a list of strings";
      for (const auto& scope : value) {
        if (!scope.IsScalar()) return where + ".scopes must be a list of strings";
        client.scopes.push_back(scope.as<std::string>());
      }
    } else {
      return where + ": unknown key '" + key + "'";
    }
  }
  if (auto problem = validate(client)) return where + ": " + *problem;
  return client;
}

}  // namespace

std::variant<std::vector<ClientConfig>, std::string> load_clients_file(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return path + ": " + e.what();
  }
  const YAML::Node list = root.IsMap() ? root["clients"] : YAML::Node();
  if (!list || !list.IsSequence()) return path + ": expected 'clients:' with a list of clients";
  std::vector<ClientConfig> clients;
  try {
    for (std::size_t i = 0; i < list.size(); ++i) {
      auto client = client_from_yaml(list[i], i);
      if (auto* problem = std::get_if<Problem>(&client)) return path + ": " + *problem;
      clients.push_back(std::move(std::get<ClientConfig>(client)));
    }
  } catch (const YAML::Exception& e) {
    return path + ": " + e.what();
  }
  return clients;
}

std::vector<ClientConfig> default_clients() {
  return {
      ClientConfig{"demo-client", "demo-secret", {"orders:read", "orders:write"}},
      ClientConfig{"gateway", "gateway-secret", {}},
  };
}

std::variant<Options, std::string> parse_options(int argc, const char* const* argv) {
  Options options;
  std::optional<std::string> tls_certificate;
  std::optional<std::string> tls_key;
  bool clients_given = false;

  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::optional<std::string_view> inline_value;
    if (const std::size_t eq = arg.find('=');
        arg.starts_with("--") && eq != std::string_view::npos) {
      inline_value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    }
    auto take_value = [&]() -> std::optional<std::string> {
      if (inline_value) return std::string(*inline_value);
      if (i + 1 >= argc) return std::nullopt;
      return std::string(argv[++i]);
    };
    auto missing = [&] { return Problem(std::string(arg) + " needs a value"); };

    if (arg == "--help" || arg == "-h") {
      options.help = true;
    } else if (arg == "--jwt") {
      options.jwt = true;
    } else if (arg == "--listen") {
      const auto value = take_value();
      if (!value) return missing();
      const auto endpoint = parse_listen(*value);
      if (!endpoint) return Problem("--listen needs ADDRESS:PORT, e.g. 127.0.0.1:0");
      options.listen = *endpoint;
    } else if (arg == "--tls-cert") {
      if (!(tls_certificate = take_value())) return missing();
    } else if (arg == "--tls-key") {
      if (!(tls_key = take_value())) return missing();
    } else if (arg == "--issuer-base") {
      auto value = take_value();
      if (!value) return missing();
      if (!value->starts_with("http://") && !value->starts_with("https://")) {
        return Problem("--issuer-base must be an http:// or https:// URL");
      }
      while (value->ends_with('/')) value->pop_back();
      options.issuer_base = std::move(*value);
    } else if (arg == "--clients") {
      const auto value = take_value();
      if (!value) return missing();
      auto loaded = load_clients_file(*value);
      if (auto* problem = std::get_if<Problem>(&loaded)) return *problem;
      for (auto& client : std::get<std::vector<ClientConfig>>(loaded)) {
        options.clients.push_back(std::move(client));
      }
      clients_given = true;
    } else if (arg == "--client") {
      const auto value = take_value();
      if (!value) return missing();
      auto client = parse_client_flag(*value);
      if (auto* problem = std::get_if<Problem>(&client)) return *problem;
      if (auto problem = validate(std::get<ClientConfig>(client))) return "--client: " + *problem;
      options.clients.push_back(std::move(std::get<ClientConfig>(client)));
      clients_given = true;
    } else if (arg == "--token-ttl") {
      const auto value = take_value();
      if (!value) return missing();
      const auto ttl = parse_duration(*value);
      if (!ttl) return Problem("--token-ttl needs a positive duration such as 3600s, 60m or 1h");
      options.token_ttl = *ttl;
    } else if (arg == "--threads") {
      const auto value = take_value();
      if (!value) return missing();
      unsigned threads = 0;
      const auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), threads);
      if (ec != std::errc{} || end != value->data() + value->size() || threads == 0 ||
          threads > 256) {
        return Problem("--threads needs a number from 1 to 256");
      }
      options.threads = threads;
    } else {
      return "unknown argument '" + std::string(arg) + "' (see --help)";
    }
  }

  if (tls_certificate.has_value() != tls_key.has_value()) {
    return Problem("--tls-cert and --tls-key go together");
  }
  if (tls_certificate) options.tls = TlsFiles{*tls_certificate, *tls_key};

  if (!clients_given) options.clients = default_clients();
  std::set<std::string> ids;
  for (const auto& client : options.clients) {
    if (!ids.insert(client.client_id).second) {
      return "client_id '" + client.client_id + "' is defined twice";
    }
  }
  return options;
}

std::string usage() {
  return R"(dev-idp: an Okta-shaped OAuth 2.0 authorization server for demos, tests and benchmarks.

Usage: dev-idp [options]

  --listen ADDRESS:PORT     where to listen (default 127.0.0.1:0; port 0 picks a free one)
  --tls-cert FILE           PEM certificate chain: serve HTTPS (needs --tls-key)
  --tls-key FILE            PEM private key of --tls-cert
  --issuer-base URL         base of the issuer, which is URL/oauth2/default
                            (default http(s)://ADDRESS:PORT as bound)
  --clients FILE            YAML clients file (see config/dev-idp.yaml):
                              clients: [{client_id, client_secret, scopes: [..], audience}]
  --client ID:SECRET:S1,S2  one more client with scopes S1 S2 (repeatable; the id and the
                            secret cannot contain ':', scopes can)
  --token-ttl DURATION      access token lifetime: 3600s, 60m, 1h (default 3600s)
  --jwt                     issue RS256 JWT access tokens (default: opaque tokens; a token
                            request may choose with token_format=jwt|opaque)
  --threads N               worker threads (default 1)
  -h, --help                this text

Without --clients or --client, two clients exist: demo-client / demo-secret with scopes
"orders:read orders:write", and gateway / gateway-secret for a gateway's introspection calls.

When ready, prints one line to stdout: "dev-idp listening on ADDRESS:PORT". Logs go to stderr.

Endpoints (issuer = BASE/oauth2/default):
  GET  /oauth2/default/.well-known/openid-configuration   (and oauth-authorization-server)
  POST /oauth2/default/v1/token        grant_type=client_credentials [scope] [token_format]
  POST /oauth2/default/v1/introspect   RFC 7662
  POST /oauth2/default/v1/revoke       RFC 7009
  GET  /oauth2/default/v1/keys         JWKS
  Client authentication: HTTP Basic or client_id + client_secret in the body, never both.

Admin API, for development only: it has NO authentication, so keep dev-idp on loopback.
  POST   /admin/clients/ID/deactivate   every token issued so far becomes inactive for good
  POST   /admin/clients/ID/activate     new tokens work again; old ones stay inactive
  GET    /admin/stats                   {"introspect_calls":N,"token_calls":N,"keys_calls":N,
                                         "introspect_traces":[{"traceparent":..}]}
  POST   /admin/keys/rotate             a new signing key; {"keep_previous":false} drops the old
                                         one from the JWKS (default: kept)
  POST   /admin/stats/reset
  POST   /admin/faults                  faults on introspection calls, e.g.
           {"latency_ms":200}  {"status":503,"retry_after":"5"}  {"body":"<html>"}
           {"close":true}  {"truncate":true}  {"blackhole":true}
           {"active_string":true}  {"omit_active":true}
  GET    /admin/faults                  the faults in force
  DELETE /admin/faults                  back to normal
  POST   /admin/tokens                  {"client_id":"..","scope":"..","ttl_s":N} mints a token
                                        (optional "audience", "token_format",
                                        "not_before_in_s")
)";
}

}  // namespace tollgate::dev_idp
