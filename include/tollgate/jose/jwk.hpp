// One JSON Web Key (RFC 7517) turned into an OpenSSL public key: RSA (n, e), EC (crv P-256, P-384,
// P-521 with x, y) and OKP (Ed25519, Ed448 with x, RFC 8037). Symmetric ("oct") keys are never
// taken from a JWK: an HMAC secret comes from configuration only.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <openssl/types.h>
#include <boost/system/result.hpp>
#include <nlohmann/json_fwd.hpp>

#include "tollgate/jose/algorithm.hpp"

namespace tollgate::jose {

// Read-only once made; OpenSSL allows one key in several threads' verifications at once.
using PublicKey = std::shared_ptr<EVP_PKEY>;

struct Jwk {
  std::string kid;               // empty when the JWK has none
  std::optional<Algorithm> alg;  // the JWK's "alg": the only algorithm it may then verify
  KeyFamily family = KeyFamily::rsa;
  std::string curve;  // "P-256", "Ed25519", ...; empty for RSA
  PublicKey key;
};

constexpr int kMinRsaBits = 2048;

// The key, or why it cannot be used (for logs): unknown kty or crv, a member missing or of the
// wrong size, a point not on its curve, an RSA modulus under kMinRsaBits, "use" other than "sig",
// an "alg" tollgate does not verify.
boost::system::result<Jwk, std::string> parse_jwk(const nlohmann::json& jwk);

// A private JWK (RSA with n, e, d, p, q, dp, dq, qi; EC with d; OKP with d) for signing: what
// client_jwk holds. Refused, with the reason, like parse_jwk, and when a private member is missing.
boost::system::result<Jwk, std::string> parse_private_jwk(const nlohmann::json& jwk);

// Whether `key` may verify a signature made with `alg`: the key's family and curve fit the
// algorithm, and the JWK's own "alg", when given, is `alg`.
bool key_fits(const Jwk& key, Algorithm alg) noexcept;

// The public JWK of an RSA, EC (P-256/384/521) or Ed25519/Ed448 key, with "kid" when not empty:
// what an issuer publishes. Throws std::runtime_error for any other key.
nlohmann::json public_jwk(EVP_PKEY* key, const std::string& kid);

}  // namespace tollgate::jose
