// Hashing for secrets that must be recognisable in logs and cache keys but never stored or shown.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace tollgate {

using Sha256 = std::array<unsigned char, 32>;

Sha256 sha256(std::string_view data);
std::string to_hex(const Sha256& digest);
// The digest `to_hex` wrote (64 lower-case hex characters); nullopt for anything else.
std::optional<Sha256> sha256_from_hex(std::string_view hex);
// The first 12 hex characters of sha256(secret): what logs show instead of a token.
std::string short_hash(std::string_view secret);
// SHA-1, for the one protocol that still asks for it: a WebSocket handshake's Sec-WebSocket-Accept
// (RFC 6455 §4.2.2). Never for secrets.
std::array<unsigned char, 20> sha1(std::string_view data);
// HMAC-SHA-256 (RFC 2104) of `data` under `key`.
Sha256 hmac_sha256(std::string_view key, std::string_view data);

std::string base64_encode(std::string_view data);
std::string base64url_encode(std::string_view data);  // no padding (JWT)
// Standard base64, with or without padding; nullopt on any other character or an impossible length.
std::optional<std::string> base64_decode(std::string_view text);
// base64url as JOSE writes it (RFC 7515 §2): no padding, nothing but the URL-safe alphabet.
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace tollgate
