// The first line of defence against request smuggling: the raw header block is checked byte by byte
// before the HTTP parser sees it, and the parsed head is checked for framing conflicts after.
#pragma once

#include <cstddef>
#include <string_view>

#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>

#include "tollgate/common/error.hpp"

namespace tollgate::server {

enum class HeadState { incomplete, complete, invalid };

struct HeadScan {
  HeadState state = HeadState::incomplete;
  std::size_t size = 0;  // bytes of the header block including the final CRLF CRLF, when complete
};

// Finds the end of the header block in `data` and rejects, before any parsing: bare LF, CR not
// followed by LF, NUL and other control characters (HT allowed), obs-fold (a line starting with SP
// or HT), and a request line starting with whitespace.
HeadScan scan_request_head(std::string_view data) noexcept;

// Framing rules on the parsed head (RFC 9112 §6.3, with the strict choices a gateway needs):
// exactly one Host; at most one Content-Length, a plain decimal number; Transfer-Encoding only as
// exactly "chunked", only on HTTP/1.1, never with Content-Length; no underscore spelling of either
// (Content_Length); HTTP/1.0 or 1.1 only; a method of upper-case letters, '-' and '_' only (as
// nginx: "get" is refused, not routed as something other than GET). Returns errc::ok or
// errc::bad_request.
errc validate_request_head(const boost::beast::http::request_header<>& head) noexcept;

// Parses `head`, a header block that scan_request_head() found complete (exactly its `size` bytes),
// with `parser`, whose header and body limits the caller has set; then validate_request_head().
// No body byte is read. Returns errc::ok, or bad_request, header_too_large or body_too_large.
errc parse_request_head(boost::beast::http::request_parser<boost::beast::http::buffer_body>& parser,
                        std::string_view head);

}  // namespace tollgate::server
