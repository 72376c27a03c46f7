// JOSE parsing (src/jose/) and local JWT validation (oidc/jwt_validator.cpp). The input is read
// both as a JWKS document (what the issuer's jwks_uri serves) and as a bearer token.
//
// Both come from outside: a JWKS over the limits or holding no usable key is refused whole; a
// token is never valid without a signature made with a key or secret tollgate holds, so no input
// the fuzzer makes may pass validation; `none` and unknown algorithms never parse.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "tollgate/jose/jwks.hpp"
#include "tollgate/jose/jws.hpp"
#include "tollgate/oidc/jwt_validator.hpp"

namespace {

using tollgate::jose::Algorithm;

const std::chrono::system_clock::time_point kNow{std::chrono::seconds(1'767'225'600)};

void check_jwks(std::string_view text) {
  const tollgate::jose::JwksLimits limits{.max_bytes = 64 * 1024, .max_keys = 8};
  auto parsed = tollgate::jose::parse_jwks(text, limits);
  if (!parsed) return;
  FUZZ_CHECK(parsed->keys.size() >= 1 && parsed->keys.size() <= limits.max_keys, text);
  for (const tollgate::jose::Jwk& key : parsed->keys.keys()) {
    FUZZ_CHECK(key.key != nullptr, text);
    FUZZ_CHECK(!tollgate::jose::key_fits(key, Algorithm::HS256), text);
  }
}

void check_token(std::string_view token) {
  auto jws = tollgate::jose::parse_compact(token);
  if (jws) {
    FUZZ_CHECK(tollgate::jose::looks_like_compact_jws(token), token);
    FUZZ_CHECK(token.starts_with(jws->signing_input), token);
    FUZZ_CHECK(!jws->signature.empty(), token);
    FUZZ_CHECK(jws->header.is_object(), token);
  }
  // With an HMAC secret and no keys: nothing the fuzzer writes carries a valid MAC.
  tollgate::oidc::JwtSettings settings;
  settings.issuers = {"https://idp.example/oauth2/default"};
  settings.hs_secret = std::string(32, 'k');
  const tollgate::oidc::JwtValidator validator(settings);
  const auto outcome = validator.validate(token, nullptr, kNow);
  FUZZ_CHECK(outcome.rejection != tollgate::oidc::JwtRejection::none, token);
  FUZZ_CHECK(outcome.claims == nullptr, token);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = tollgate::fuzz::as_text(data, size);
  check_jwks(input);
  check_token(input);
  return 0;
}
