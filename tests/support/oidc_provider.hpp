// The independent IdP of the interoperability tests: the npm `oidc-provider`, run by
// tests/interop/oidc-provider-server.mjs (tests/interop/README.md), and what a client application
// and an operator ask of it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "process.hpp"

namespace tollgate::test {

struct OidcProvider {
  std::unique_ptr<Process> process;
  std::uint16_t port = 0;
  std::string issuer() const { return "http://127.0.0.1:" + std::to_string(port); }
};

// Starts the server on a free port; `extra` goes to the script (--gateway-jwks FILE, ...). Throws
// when tests/interop has no `npm ci` install: a missing install is a failure, not a skip.
OidcProvider start_oidc_provider(std::vector<std::string> extra = {});

// A form POST with HTTP Basic client authentication.
Response form_post(std::uint16_t port, const std::string& target, const std::string& body,
                   const std::string& client, const std::string& secret,
                   const std::map<std::string, std::string>& headers = {});

// The application's token (client credentials, scope orders:read): opaque, or with `resource` a
// JWT access token for that API.
std::string oidc_provider_token(std::uint16_t port, const std::string& resource = "");
// RFC 7009 revocation by the application that holds the token; returns the answer.
Response revoke_at_oidc_provider(std::uint16_t port, const std::string& token);
// One counter of GET /admin/stats: introspect_calls, token_calls, jwks_calls.
int oidc_provider_stat(std::uint16_t port, const std::string& counter);
// POST /admin/<action> (disable-client/app, keys/rotate, keys/retire); its JSON answer.
nlohmann::json oidc_provider_admin(std::uint16_t port, const std::string& action);

}  // namespace tollgate::test
