// JWS Compact Serialization (RFC 7515 §7.1): header.payload.signature, each base64url. Parsing
// takes the token apart and refuses what tollgate does not verify; verification checks the
// signature with OpenSSL 3's EVP against one key; signing makes tokens for client authentication.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <openssl/types.h>
#include <boost/system/result.hpp>
#include <nlohmann/json.hpp>

#include "tollgate/jose/algorithm.hpp"

namespace tollgate::jose {

enum class JwsError {
  malformed,              // not three base64url parts, header not a JSON object, too large
  unsupported_algorithm,  // "none", a name tollgate does not know, or no "alg"
  unsupported_critical,   // a "crit" header: no extension is understood, so none may be relied on
};
std::string_view to_string(JwsError error) noexcept;

// A compact JWS taken apart. `signing_input` points into the token it was parsed from, which must
// outlive it.
struct Jws {
  std::string_view signing_input;  // base64url(header) "." base64url(payload)
  nlohmann::json header;
  std::string payload;    // decoded
  std::string signature;  // decoded
  Algorithm alg = Algorithm::RS256;
  std::string kid;  // empty when the header has none
  std::string typ;  // empty when the header has none
};

// Access tokens are a few KiB (Okta's with many groups about 8 KiB).
constexpr std::size_t kMaxJwsBytes = 64 * 1024;

boost::system::result<Jws, JwsError> parse_compact(std::string_view token,
                                                   std::size_t max_bytes = kMaxJwsBytes);

// Whether the token looks like a compact JWS at all (two dots, base64url characters): what decides
// between local validation and introspection. Says nothing about validity.
bool looks_like_compact_jws(std::string_view token) noexcept;

// Whether `jws`'s signature, made with `jws.alg`, verifies with `key`. False as well when the key
// is of another type than the algorithm needs (an RSA key for ES256, an EC key of another curve),
// when an RSA key is under 2048 bits, and for the HMAC algorithms (see verify_hmac).
bool verify_signature(const Jws& jws, EVP_PKEY* key);

// Whether `jws`'s HS256/384/512 signature verifies with `secret` (compared in constant time).
// False for any other algorithm, and for a secret shorter than the hash (RFC 7518 §3.2).
bool verify_hmac(const Jws& jws, std::string_view secret);

// A compact JWS of `payload` signed with `key` by `alg`; `header` gets "alg" set and keeps every
// other member. Throws std::runtime_error when OpenSSL fails or the key does not fit `alg`.
std::string sign_compact(nlohmann::json header, std::string_view payload, Algorithm alg,
                         EVP_PKEY* key);
// The same with an HMAC algorithm and a shared secret.
std::string sign_compact_hmac(nlohmann::json header, std::string_view payload, Algorithm alg,
                              std::string_view secret);

}  // namespace tollgate::jose
