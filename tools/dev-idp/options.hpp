// dev-idp's command line and clients file.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "clients.hpp"
#include "http_server.hpp"

namespace tollgate::dev_idp {

struct Options {
  tcp::endpoint listen{asio::ip::make_address_v4("127.0.0.1"), 0};
  std::optional<TlsFiles> tls;
  std::optional<std::string> issuer_base;  // without trailing slash
  std::vector<ClientConfig> clients;       // from --clients files and --client flags
  std::chrono::seconds token_ttl{3600};
  unsigned threads = 1;
  bool jwt = false;
  bool help = false;
};

// Parses argv; the string says what is wrong. Clients files are read here.
std::variant<Options, std::string> parse_options(int argc, const char* const* argv);

// `clients: [{client_id, client_secret, scopes: [..], audience}]`; the string says what is wrong.
std::variant<std::vector<ClientConfig>, std::string> load_clients_file(const std::string& path);

// demo-client / demo-secret (orders:read orders:write) and gateway / gateway-secret (no scopes:
// it only introspects).
std::vector<ClientConfig> default_clients();

std::string usage();

}  // namespace tollgate::dev_idp
