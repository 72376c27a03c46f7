#include "tollgate/oidc/signed_introspection.hpp"

#include <nlohmann/json.hpp>

#include "tollgate/http/headers.hpp"
#include "tollgate/jose/jws.hpp"

namespace tollgate::oidc {
namespace {

std::string_view without_trailing_slash(std::string_view url) {
  while (!url.empty() && url.back() == '/') url.remove_suffix(1);
  return url;
}

bool audience_holds(const nlohmann::json& aud, std::string_view client_id) {
  if (aud.is_string()) return aud.get_ref<const std::string&>() == client_id;
  if (!aud.is_array()) return false;
  for (const nlohmann::json& each : aud) {
    if (each.is_string() && each.get_ref<const std::string&>() == client_id) return true;
  }
  return false;
}

}  // namespace

SignedAnswerOutcome parse_signed_introspection(std::string_view body, const jose::KeySet* keys,
                                               std::string_view issuer, std::string_view client_id,
                                               std::chrono::system_clock::time_point now) {
  const IdpFailure refused(IdpFailureKind::bad_response);
  auto jws = jose::parse_compact(body);
  if (!jws || jose::is_hmac(jws->alg) || keys == nullptr) return {refused};
  // RFC 9701 §5: typ is "token-introspection+jwt" (the media type without "application/").
  if (!http_io::iequals(jws->typ, "token-introspection+jwt") &&
      !http_io::iequals(jws->typ, kSignedIntrospectionType)) {
    return {refused};
  }
  const bool verified = keys->any_of(jws->kid, jws->alg, [&](const jose::Jwk& key) {
    return jose::verify_signature(*jws, key.key.get());
  });
  if (!verified) {
    const bool unknown = !jws->kid.empty() && !keys->has_kid(jws->kid);
    return {refused, unknown};
  }
  const nlohmann::json claims = nlohmann::json::parse(jws->payload, nullptr, false);
  if (!claims.is_object()) return {refused};
  auto iss = claims.find("iss");
  auto aud = claims.find("aud");
  auto answer = claims.find("token_introspection");
  if (iss == claims.end() || !iss->is_string() ||
      without_trailing_slash(iss->get_ref<const std::string&>()) !=
          without_trailing_slash(issuer) ||
      aud == claims.end() || !audience_holds(*aud, client_id) || answer == claims.end() ||
      !answer->is_object()) {
    return {refused};
  }
  // The same reading as a plain JSON answer, so both kinds are held to the same rules.
  return {parse_introspection_response(200, "", answer->dump(), now)};
}

}  // namespace tollgate::oidc
