#include "tollgate/oidc/jwt_validator.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "tollgate/http/headers.hpp"
#include "tollgate/jose/jws.hpp"

namespace tollgate::oidc {
namespace {

// RFC 9068 §2.1: "at+jwt" (or its media type); many IdPs (Keycloak, Okta) send "JWT" or nothing.
// Any other typ is a JWT for another purpose (an ID token, a logout token, a signed introspection
// answer) that must not pass for an access token.
bool access_token_type(std::string_view typ) noexcept {
  return typ.empty() || http_io::iequals(typ, "at+jwt") ||
         http_io::iequals(typ, "application/at+jwt") || http_io::iequals(typ, "JWT");
}

bool numeric_if_present(const nlohmann::json& claims, const char* name) {
  auto it = claims.find(name);
  return it == claims.end() || it->is_number();
}

}  // namespace

std::string_view describe(JwtRejection rejection) noexcept {
  switch (rejection) {
    case JwtRejection::none:
      return "valid";
    case JwtRejection::malformed:
      return "The token is not a well-formed JWT";
    case JwtRejection::unsupported_algorithm:
      return "The token's signature algorithm is not accepted";
    case JwtRejection::wrong_type:
      return "The token is not an access token";
    case JwtRejection::keys_unavailable:
      return "The issuer's signing keys are not available";
    case JwtRejection::unknown_key:
      return "The token is signed with an unknown key";
    case JwtRejection::bad_signature:
      return "The token's signature is invalid";
    case JwtRejection::missing_claims:
      return "The token lacks exp or iss";
    case JwtRejection::wrong_issuer:
      return "The token's issuer is not allowed";
    case JwtRejection::issued_in_future:
      return "The token is issued in the future";
  }
  return "invalid";
}

JwtOutcome JwtValidator::validate(std::string_view token, const jose::KeySet* keys,
                                  std::chrono::system_clock::time_point now) const {
  auto jws = jose::parse_compact(token);
  if (!jws) {
    return {nullptr, jws.error() == jose::JwsError::malformed
                         ? JwtRejection::malformed
                         : JwtRejection::unsupported_algorithm};
  }
  if (!access_token_type(jws->typ)) return {nullptr, JwtRejection::wrong_type};

  if (jose::is_hmac(jws->alg)) {
    if (settings_.hs_secret.empty()) return {nullptr, JwtRejection::unsupported_algorithm};
    if (!jose::verify_hmac(*jws, settings_.hs_secret))
      return {nullptr, JwtRejection::bad_signature};
  } else {
    if (keys == nullptr) return {nullptr, JwtRejection::keys_unavailable};
    bool candidate = false;
    const bool verified = keys->any_of(jws->kid, jws->alg, [&](const jose::Jwk& key) {
      candidate = true;
      return jose::verify_signature(*jws, key.key.get());
    });
    if (!verified) {
      return {nullptr, candidate || (!jws->kid.empty() && keys->has_kid(jws->kid))
                           ? JwtRejection::bad_signature
                           : JwtRejection::unknown_key};
    }
  }

  nlohmann::json claims = nlohmann::json::parse(jws->payload, nullptr, false);
  if (!claims.is_object()) return {nullptr, JwtRejection::malformed};
  auto exp = claims.find("exp");
  auto iss = claims.find("iss");
  if (exp == claims.end() || !exp->is_number() || iss == claims.end() || !iss->is_string()) {
    return {nullptr, JwtRejection::missing_claims};
  }
  if (!numeric_if_present(claims, "nbf") || !numeric_if_present(claims, "iat")) {
    return {nullptr, JwtRejection::malformed};
  }
  const std::string& issuer = iss->get_ref<const std::string&>();
  if (std::find(settings_.issuers.begin(), settings_.issuers.end(), issuer) ==
      settings_.issuers.end()) {
    return {nullptr, JwtRejection::wrong_issuer};
  }
  if (auto iat = claims.find("iat"); iat != claims.end()) {
    const double latest =
        std::chrono::duration<double>(now.time_since_epoch() + settings_.leeway).count();
    if (iat->get<double>() > latest) return {nullptr, JwtRejection::issued_in_future};
  }
  return {Introspection::create(/*active=*/true, claims), JwtRejection::none};
}

}  // namespace tollgate::oidc
