// The OAuth clients (Okta "applications") the IdP knows: fixed at start, but each one can be
// deactivated and reactivated at run time through the admin API.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tollgate::dev_idp {

inline constexpr std::string_view kDefaultAudience = "api://default";

struct ClientConfig {
  std::string client_id;
  std::string client_secret;
  std::vector<std::string> scopes;
  std::string audience{kDefaultAudience};
};

class Client {
 public:
  explicit Client(ClientConfig config);

  const std::string& id() const { return config_.client_id; }
  const std::vector<std::string>& scopes() const { return config_.scopes; }
  const std::string& audience() const { return config_.audience; }
  // An Okta-style application id ("0oa" + 17 characters), stable for a given client_id.
  const std::string& uid() const { return uid_; }

  // Constant-time comparison, so response timing says nothing about the secret.
  bool secret_matches(std::string_view secret) const;

  bool active() const { return active_.load(); }
  void activate() { active_.store(true); }
  // Okta semantics: every token issued before a deactivation stays invalid forever, even after the
  // client is activated again. Tokens remember the generation they were issued in; deactivating
  // starts a new one.
  void deactivate();

  // The generation a token issued now belongs to, or nullopt while the client is deactivated.
  std::optional<std::uint64_t> issuing_generation() const;
  std::uint64_t current_generation() const { return generation_.load(); }
  // True while the client is active and has not been deactivated since the token was issued.
  bool accepts_tokens_of(std::uint64_t generation) const {
    return active_.load() && generation_.load() == generation;
  }

 private:
  ClientConfig config_;
  std::string uid_;
  std::atomic<bool> active_{true};
  std::atomic<std::uint64_t> generation_{0};
};

// Read-only after construction (clients are never added or removed), so lookups take no lock.
class ClientRegistry {
 public:
  explicit ClientRegistry(std::vector<ClientConfig> configs);

  Client* find(std::string_view client_id) const;
  // Every scope some client may request, sorted and unique (for the discovery document).
  std::vector<std::string> all_scopes() const;

 private:
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::unique_ptr<Client>, StringHash, std::equal_to<>> clients_;
};

}  // namespace tollgate::dev_idp
