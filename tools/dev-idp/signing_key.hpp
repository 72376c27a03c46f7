// The RSA key that signs JWT access tokens (RS256), generated at start like a fresh Okta
// authorization server's, and published as a JWKS.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <openssl/types.h>
#include <nlohmann/json.hpp>

namespace tollgate::dev_idp {

class SigningKey {
 public:
  // A new 2048-bit RSA key. Throws std::runtime_error if OpenSSL fails.
  static SigningKey generate();

  // base64url(SHA-256 of the DER public key): stable for the key, like Okta's kid.
  const std::string& kid() const { return kid_; }
  // {"keys":[{"kty":"RSA","alg":"RS256","kid":..,"use":"sig","e":..,"n":..}]}
  const nlohmann::ordered_json& jwks() const { return jwks_; }

  // A compact JWS: base64url(header).base64url(claims).base64url(RS256 signature).
  // Safe to call from several threads at once.
  std::string sign_jwt(const nlohmann::ordered_json& claims) const;

 private:
  struct KeyDeleter {
    void operator()(EVP_PKEY* key) const;
  };
  explicit SigningKey(std::unique_ptr<EVP_PKEY, KeyDeleter> key);

  std::unique_ptr<EVP_PKEY, KeyDeleter> key_;
  std::string kid_;
  std::string encoded_header_;  // the header is the same for every token
  nlohmann::ordered_json jwks_;
};

}  // namespace tollgate::dev_idp
