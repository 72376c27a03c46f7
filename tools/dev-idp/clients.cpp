#include "clients.hpp"

#include <algorithm>
#include <set>
#include <stdexcept>

#include <openssl/crypto.h>

#include "tollgate/common/hash.hpp"

namespace tollgate::dev_idp {
namespace {

std::string application_uid(std::string_view client_id) {
  return "0oa" + to_hex(sha256(client_id)).substr(0, 17);
}

}  // namespace

Client::Client(ClientConfig config)
    : config_(std::move(config)), uid_(application_uid(config_.client_id)) {}

bool Client::secret_matches(std::string_view secret) const {
  const std::string& expected = config_.client_secret;
  return secret.size() == expected.size() &&
         CRYPTO_memcmp(secret.data(), expected.data(), expected.size()) == 0;
}

void Client::deactivate() {
  // Clear `active` first: an issuer that reads the new generation then also sees the client
  // inactive (see issuing_generation), so no token can slip into the new generation unseen.
  active_.store(false);
  generation_.fetch_add(1);
}

std::optional<std::uint64_t> Client::issuing_generation() const {
  const std::uint64_t generation = generation_.load();
  if (!active_.load()) return std::nullopt;
  return generation;
}

ClientRegistry::ClientRegistry(std::vector<ClientConfig> configs) {
  for (auto& config : configs) {
    std::string id = config.client_id;
    auto [it, inserted] =
        clients_.emplace(std::move(id), std::make_unique<Client>(std::move(config)));
    if (!inserted) throw std::invalid_argument("duplicate client_id " + it->first);
  }
}

Client* ClientRegistry::find(std::string_view client_id) const {
  const auto it = clients_.find(client_id);
  return it == clients_.end() ? nullptr : it->second.get();
}

std::vector<std::string> ClientRegistry::all_scopes() const {
  std::set<std::string> scopes;
  for (const auto& [id, client] : clients_)
    scopes.insert(client->scopes().begin(), client->scopes().end());
  return {scopes.begin(), scopes.end()};
}

}  // namespace tollgate::dev_idp
