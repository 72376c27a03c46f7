// The JWS algorithms tollgate verifies and signs (RFC 7518 §3, RFC 8037 for EdDSA), by their "alg"
// names. `none` is not one of them: it cannot be named, so it can never be accepted.
#pragma once

#include <optional>
#include <string_view>

namespace tollgate::jose {

// RS*: RSASSA-PKCS1-v1_5. PS*: RSASSA-PSS, MGF1 with the same hash, salt as long as the hash.
// ES*: ECDSA on P-256, P-384, P-521, the signature r || s of fixed length. EdDSA: Ed25519 or
// Ed448, by the key. HS*: HMAC with a shared secret, never with a key from a JWKS.
enum class Algorithm {
  RS256,
  RS384,
  RS512,
  PS256,
  PS384,
  PS512,
  ES256,
  ES384,
  ES512,
  EdDSA,
  HS256,
  HS384,
  HS512
};

enum class KeyFamily { rsa, ec, okp, secret };

// nullopt for "none" and every name not above (names are case-sensitive, RFC 7515 §4.1.1).
std::optional<Algorithm> algorithm_from_name(std::string_view name) noexcept;
std::string_view name_of(Algorithm alg) noexcept;
KeyFamily family_of(Algorithm alg) noexcept;
bool is_hmac(Algorithm alg) noexcept;

}  // namespace tollgate::jose
