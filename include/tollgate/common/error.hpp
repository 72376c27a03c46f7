// The failures tollgate expects, and the one map from each to the HTTP answer a client gets.
#pragma once

#include <string_view>
#include <system_error>

#include <boost/beast/http/status.hpp>
#include <boost/system/error_code.hpp>

namespace tollgate {

enum class errc {
  ok = 0,
  // client side
  bad_request,            // 400: malformed request line/headers, framing conflict
  bad_path,               // 400: path that cannot be normalised safely
  header_too_large,       // 431
  body_too_large,         // 413
  client_header_timeout,  // 408
  no_route,               // 404
  method_not_allowed,     // 405 (reserved; unmatched methods give 404 like Kong)
  // upstream side
  upstream_connect_failed,  // 502
  upstream_bad_response,    // 502
  upstream_timeout,         // 504
  upstream_unavailable,     // 503: no healthy target
  upstream_busy,            // 503: max_connections open and the wait queue full or timed out
  // identity provider side
  idp_unavailable,  // 503: connect error, timeout, 5xx, 429, garbage
  // internal
  internal,  // 500
};

const boost::system::error_category& tollgate_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), tollgate_category()};
}

// The status a client sees for a failure, and the short message in the JSON body.
boost::beast::http::status http_status_for(errc e) noexcept;
std::string_view public_message_for(errc e) noexcept;

}  // namespace tollgate

namespace boost::system {
template <>
struct is_error_code_enum<tollgate::errc> : std::true_type {};
}  // namespace boost::system
