// Everything the IdP knows, shared by all worker threads. Each member guards itself (atomics,
// sharded locks, read-only data), so no lock covers the whole.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "clients.hpp"
#include "faults.hpp"
#include "signing_key.hpp"
#include "stats.hpp"
#include "token_store.hpp"

namespace tollgate::dev_idp {

enum class TokenFormat { opaque, jwt };

struct Settings {
  std::string issuer;  // <base>/oauth2/default
  std::chrono::seconds token_ttl{3600};
  TokenFormat default_format = TokenFormat::opaque;
};

struct IdpState {
  IdpState(Settings settings_in, std::vector<ClientConfig> clients_in, SigningKey key)
      : settings(std::move(settings_in)),
        clients(std::move(clients_in)),
        signing_keys(std::move(key)) {}

  const Settings settings;
  ClientRegistry clients;
  TokenStore tokens;
  KeyRing signing_keys;
  Stats stats;
  FaultSwitch faults;
};

}  // namespace tollgate::dev_idp
