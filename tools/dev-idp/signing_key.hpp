// The RSA key that signs JWT access tokens (RS256), generated at start like a fresh Okta
// authorization server's, and published as a JWKS.
#pragma once

#include <memory>
#include <mutex>
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

// The signing keys over time, as an issuer rotates them: one signs new tokens; the JWKS lists it
// and, for an overlap, the one it replaced. Safe to use from several threads.
class KeyRing {
 public:
  explicit KeyRing(SigningKey first);

  std::shared_ptr<const SigningKey> current() const;
  // {"keys":[current, previous (when kept)]}, serialised.
  std::string jwks_document() const;
  // A new key signs from now on; the old one stays in the JWKS when `keep_previous`, else it is
  // gone (tokens it signed no longer verify). Returns the new kid.
  std::string rotate(bool keep_previous);

 private:
  void rebuild_document();

  mutable std::mutex mutex_;
  std::shared_ptr<const SigningKey> current_;
  std::shared_ptr<const SigningKey> previous_;
  std::string document_;
};

}  // namespace tollgate::dev_idp
