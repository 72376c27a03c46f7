// Hashing for secrets that must be recognisable in logs and cache keys but never stored or shown.
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace tollgate {

using Sha256 = std::array<unsigned char, 32>;

Sha256 sha256(std::string_view data);
std::string to_hex(const Sha256& digest);
// The first 12 hex characters of sha256(secret): what logs show instead of a token.
std::string short_hash(std::string_view secret);

std::string base64_encode(std::string_view data);
std::string base64url_encode(std::string_view data);  // no padding (JWT)

}  // namespace tollgate
