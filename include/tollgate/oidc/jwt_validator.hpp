// Local validation of a JWT access token (RFC 9068, as Okta issues them): the signature against
// the issuer's keys, then the claims every JWT must get right before the route's policy (scopes,
// groups, audience, exp and nbf with leeway) looks at them as it would at an introspection answer.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "tollgate/jose/jwks.hpp"
#include "tollgate/oidc/introspection.hpp"

namespace tollgate::oidc {

struct JwtSettings {
  // The token's iss must be exactly one of these (the policy's issuers_allowed).
  std::vector<std::string> issuers;
  // Not empty: HS256/384/512 tokens verify with this secret (enable_hs_signatures). A key from the
  // JWKS never serves as an HMAC secret.
  std::string hs_secret;
  std::chrono::milliseconds leeway{5'000};
};

enum class JwtRejection {
  none,
  malformed,              // not a compact JWS, or its payload not a JSON object
  unsupported_algorithm,  // none, HS* without enable_hs_signatures, crit, an unknown alg
  wrong_type,             // a typ that says it is not an access token
  keys_unavailable,       // no key set fetched yet: an IdP failure, not the token's fault
  unknown_key,            // no key with the token's kid (after one refresh, if allowed)
  bad_signature,
  missing_claims,  // no exp or no iss
  wrong_issuer,
  issued_in_future,  // iat later than now + leeway
};
// Fixed text for error_description and logs.
std::string_view describe(JwtRejection rejection) noexcept;

struct JwtOutcome {
  IntrospectionPtr claims;  // set when the token is valid: an active answer holding its claims
  JwtRejection rejection = JwtRejection::none;
};

class JwtValidator {
 public:
  explicit JwtValidator(JwtSettings settings) : settings_(std::move(settings)) {}

  // Validates `token` with `keys` (nullptr when none were fetched yet). exp and nbf are only
  // required to be numbers here: the policy checks them, with leeway, as for any answer.
  JwtOutcome validate(std::string_view token, const jose::KeySet* keys,
                      std::chrono::system_clock::time_point now) const;

  const JwtSettings& settings() const noexcept { return settings_; }

 private:
  JwtSettings settings_;
};

}  // namespace tollgate::oidc
