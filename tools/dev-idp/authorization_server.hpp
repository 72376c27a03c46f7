// The Okta-shaped OAuth 2.0 endpoints of a custom authorization server ("default"): discovery,
// token (client_credentials), introspection (RFC 7662), revocation (RFC 7009) and keys.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "idp_state.hpp"
#include "reply.hpp"

namespace tollgate::dev_idp {

struct IssuedToken {
  std::string access_token;
  std::string scope;
  std::chrono::seconds expires_in;
};

// {"token_type":"Bearer","expires_in":..,"access_token":..,"scope":..} as Okta's token endpoint.
Reply token_reply(const IssuedToken& token);

class AuthorizationServer {
 public:
  explicit AuthorizationServer(IdpState& state);

  Reply discovery() const { return json_reply(http::status::ok, discovery_document_); }
  Reply keys() const;
  Reply authorize() const;
  Reply token(const Request& request);
  Reply introspect(const Request& request);
  Reply revoke(const Request& request);

  // Issues a token with exactly `scope` (not checked against the client's scopes: callers do
  // that), with an nbf `not_before` after iat when given. nullopt when the client is deactivated.
  std::optional<IssuedToken> issue(const Client& client, std::string scope,
                                   std::chrono::seconds ttl, TokenFormat format,
                                   const std::string& audience,
                                   std::optional<std::chrono::seconds> not_before = std::nullopt);

 private:
  // The answer of a well-behaved IdP, before any fault touches it.
  Reply honest_introspection(const Request& request);

  IdpState& state_;
  std::string discovery_document_;
};

}  // namespace tollgate::dev_idp
