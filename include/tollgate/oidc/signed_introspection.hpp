// JWT introspection answers (RFC 9701): the IdP signs its answer with its JWKS keys; the answer is
// the "token_introspection" claim. An answer that fails any check is an IdP failure (503), never
// an answer: a forged "active": true must not let a request through.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "tollgate/jose/jwks.hpp"
#include "tollgate/oidc/introspection.hpp"

namespace tollgate::oidc {

inline constexpr std::string_view kSignedIntrospectionType = "application/token-introspection+jwt";

struct SignedAnswerOutcome {
  IntrospectionResult result = IdpFailure(IdpFailureKind::bad_response);
  bool unknown_key = false;  // signed with a kid the keys lack: worth one JWKS fetch, then again
};

// Checks `body`, the IdP's 200 answer: a compact JWS with typ token-introspection+jwt, signed
// with one of `keys` (never HS*), iss = `issuer`, aud holding `client_id`, and a
// "token_introspection" object read as any introspection answer.
SignedAnswerOutcome parse_signed_introspection(std::string_view body, const jose::KeySet* keys,
                                               std::string_view issuer, std::string_view client_id,
                                               std::chrono::system_clock::time_point now);

}  // namespace tollgate::oidc
