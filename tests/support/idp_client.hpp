// Talks to the dev IdP the way a client application and an operator would: tokens, admin API.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace tollgate::test {

// client_credentials grant with HTTP Basic client authentication; returns the access token.
std::string fetch_token(std::uint16_t idp_port, const std::string& client_id,
                        const std::string& secret, const std::string& scope,
                        const std::string& token_format = "");
// POST /admin/tokens with `body` as it is (any field the dev IdP takes, such as not_before_in_s).
std::string mint_token(std::uint16_t idp_port, const nlohmann::json& body);
// POST /admin/tokens: a token with a chosen lifetime.
std::string mint_token(std::uint16_t idp_port, const std::string& client_id,
                       const std::string& scope, int ttl_seconds,
                       const std::string& token_format = "");
// POST /admin/keys/rotate: a new signing key; the old one stays in the JWKS when `keep_previous`.
// Returns the new kid.
std::string rotate_keys(std::uint16_t idp_port, bool keep_previous);
// JWKS fetches the IdP has answered.
int keys_calls(std::uint16_t idp_port);
int introspect_calls(std::uint16_t idp_port);
void set_fault(std::uint16_t idp_port, const nlohmann::json& fault);
void clear_faults(std::uint16_t idp_port);
void set_client_active(std::uint16_t idp_port, const std::string& client_id, bool active);

}  // namespace tollgate::test
