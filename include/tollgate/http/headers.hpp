// Header rules shared by every hop: what is hop-by-hop, what a client may not set.
#pragma once

#include <string_view>

#include <boost/beast/http/fields.hpp>

namespace tollgate::http_io {

// Headers Beast has no enum for.
inline constexpr std::string_view kXRequestId = "X-Request-Id";
inline constexpr std::string_view kXForwardedFor = "X-Forwarded-For";
inline constexpr std::string_view kXForwardedProto = "X-Forwarded-Proto";
inline constexpr std::string_view kXForwardedHost = "X-Forwarded-Host";

// Removes Connection, Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade,
// Proxy-Authenticate, Proxy-Authorization, and every header named in a Connection header.
void strip_hop_by_hop(boost::beast::http::fields& fields);

// Case-insensitive comparison for header names and tokens.
bool iequals(std::string_view a, std::string_view b) noexcept;

// True when `fields` carries `name` more than once.
bool has_duplicate(const boost::beast::http::fields& fields, boost::beast::http::field name);

}  // namespace tollgate::http_io
