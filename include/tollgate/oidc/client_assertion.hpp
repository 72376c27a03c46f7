// Client authentication with a JWT (RFC 7523 §2.2, OpenID Connect Core §9): private_key_jwt signs
// with the client's private key, client_secret_jwt with an HMAC of its secret. Every call gets a
// fresh assertion, since IdPs (Okta among them) refuse a jti they have seen.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "tollgate/jose/algorithm.hpp"
#include "tollgate/jose/jwk.hpp"

namespace tollgate::oidc {

inline constexpr std::string_view kJwtBearerAssertionType =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

// How long an assertion is valid: long enough for clock skew and a slow call, short enough that a
// captured one is soon useless.
inline constexpr std::chrono::seconds kAssertionLifetime{60};

struct AssertionKey {
  jose::Algorithm alg = jose::Algorithm::RS256;
  jose::PublicKey private_key;  // private_key_jwt (the EVP_PKEY holds the private half)
  std::string secret;           // client_secret_jwt
  std::string kid;              // the header's kid, when the key has one
};

// The assertion `client_id` presents to `audience` (the endpoint called: Okta requires its full
// URL): iss = sub = client_id, aud, a random jti, iat = now, exp = now + kAssertionLifetime.
// Throws std::runtime_error when OpenSSL fails.
std::string make_client_assertion(const AssertionKey& key, std::string_view client_id,
                                  std::string_view audience,
                                  std::chrono::system_clock::time_point now);

}  // namespace tollgate::oidc
