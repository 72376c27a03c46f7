// What OpenSSL needs for each JWS algorithm, shared by verification and signing.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <openssl/evp.h>

#include "tollgate/jose/algorithm.hpp"

namespace tollgate::jose::detail {

// The hash of `alg`, fetched once per process (a fetch by name on every call costs more than the
// hash of a token); nullptr for EdDSA, which hashes internally.
const EVP_MD* digest_of(Algorithm alg);
// "SHA2-256" etc., for the HMAC call; empty for the others.
const char* digest_name_of(Algorithm alg) noexcept;

// ECDSA: the byte length of r and of s in the JWS form (RFC 7518 §3.4), and the curve's bits.
std::size_t ecdsa_half_size(Algorithm alg) noexcept;
int ecdsa_curve_bits(Algorithm alg) noexcept;

// Whether `key` is of the kind `alg` signs with (RSA of at least 2048 bits, EC on the algorithm's
// curve, Ed25519 or Ed448).
bool key_matches(Algorithm alg, EVP_PKEY* key);

// Sets RSA-PSS padding (salt as long as the hash, MGF1 with the same hash) for PS*; nothing for
// the others. False when OpenSSL refuses.
bool configure_padding(Algorithm alg, EVP_PKEY_CTX* context);

// r || s (each `half` bytes, big-endian) to the DER ECDSA-Sig-Value OpenSSL verifies, and back.
std::optional<std::string> ecdsa_raw_to_der(std::string_view raw, std::size_t half);
std::optional<std::string> ecdsa_der_to_raw(std::string_view der, std::size_t half);

}  // namespace tollgate::jose::detail
