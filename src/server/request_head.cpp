#include "tollgate/server/request_head.hpp"

#include <array>
#include <stdexcept>

#include <boost/asio/buffer.hpp>

#include "tollgate/http/headers.hpp"

namespace tollgate::server {

namespace http = boost::beast::http;

namespace {

// RFC 9110 §8.6: Content-Length = 1*DIGIT. Beast also accepts a list of equal values ("5, 5") and
// would forward it as written, for the upstream to read its own way.
bool plain_decimal(std::string_view value) noexcept {
  if (value.empty()) return false;
  for (const char c : value) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Transfer_Encoding, Content.Length and the like are no framing headers to us, but they are to an
// upstream that reads header names the CGI way (HTTP_TRANSFER_ENCODING: any byte that is not a
// letter or digit as '_'), which would then split the stream where we do not.
bool has_framing_alias(const http::request_header<>& head) noexcept {
  for (const auto& field : head) {
    if (field.name() == http::field::content_length ||
        field.name() == http::field::transfer_encoding) {
      continue;  // the real ones, in any case
    }
    const std::string_view name = field.name_string();
    if (http_io::cgi_equivalent(name, "Content-Length") ||
        http_io::cgi_equivalent(name, "Transfer-Encoding")) {
      return true;
    }
  }
  return false;
}

// nginx's rule for a method: upper-case letters, '-' and '_'. Routes match methods exactly and
// many upstreams upper-case what they get, so "get" would skip a route bound to GET and still be
// served as one.
bool upper_case_method(std::string_view method) noexcept {
  if (method.empty()) return false;
  for (const char c : method) {
    if ((c < 'A' || c > 'Z') && c != '-' && c != '_') return false;
  }
  return true;
}

// Bytes that end a run of ordinary head bytes: every control character (CR, LF and HTAB among
// them) and DEL. A table keeps the common byte to one load and one branch.
constexpr std::array<bool, 256> kStopsRun = [] {
  std::array<bool, 256> stops{};
  for (int c = 0; c < 0x20; ++c) stops[c] = true;
  stops[0x7f] = true;
  return stops;
}();

}  // namespace

HeadScan scan_request_head(std::string_view data) noexcept {
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  const std::size_t size = data.size();
  if (size > 0 && (bytes[0] == ' ' || bytes[0] == '\t')) return {HeadState::invalid, 0};
  bool first_line = true;
  std::size_t i = 0;
  while (i < size) {
    // At the start of a line after the request line: an empty line ends the head, and a line
    // starting with white space is an obsolete fold, refused.
    if (!first_line) {
      const unsigned char c = bytes[i];
      if (c == '\r') {
        if (i + 1 == size) return {HeadState::incomplete, 0};
        if (bytes[i + 1] != '\n') return {HeadState::invalid, 0};
        return {HeadState::complete, i + 2};
      }
      if (c == ' ' || c == '\t') return {HeadState::invalid, 0};
    }
    // The rest of the line, up to its CRLF. HTAB is the one control character allowed in it.
    for (;;) {
      while (i < size && !kStopsRun[bytes[i]]) ++i;
      if (i == size) return {HeadState::incomplete, 0};
      if (bytes[i] == '\t') {
        ++i;
        continue;
      }
      if (bytes[i] != '\r') return {HeadState::invalid, 0};  // a bare LF, a CTL, DEL
      if (i + 1 == size) return {HeadState::incomplete, 0};
      if (bytes[i + 1] != '\n') return {HeadState::invalid, 0};
      i += 2;
      first_line = false;
      break;
    }
  }
  return {HeadState::incomplete, 0};
}

errc validate_request_head(const http::request_header<>& head) noexcept {
  const unsigned version = head.version();
  if (version != 10 && version != 11) return errc::bad_request;
  if (!upper_case_method(head.method_string())) return errc::bad_request;

  auto hosts = head.equal_range(http::field::host);
  if (hosts.first == hosts.second || std::next(hosts.first) != hosts.second)
    return errc::bad_request;
  if (hosts.first->value().empty()) return errc::bad_request;

  const auto lengths = head.count(http::field::content_length);
  const auto encodings = head.count(http::field::transfer_encoding);
  if (lengths > 1 || encodings > 1) return errc::bad_request;
  if (lengths == 1 && !plain_decimal(head[http::field::content_length])) return errc::bad_request;
  if (has_framing_alias(head)) return errc::bad_request;
  if (encodings == 1) {
    if (lengths != 0 || version != 11) return errc::bad_request;
    if (!http_io::iequals(head[http::field::transfer_encoding], "chunked"))
      return errc::bad_request;
  }
  return errc::ok;
}

errc parse_request_head(http::request_parser<http::buffer_body>& parser, std::string_view head) {
  boost::system::error_code ec;
  parser.eager(false);
  std::size_t used = 0;
  try {
    used = parser.put(boost::asio::buffer(head.data(), head.size()), ec);
  } catch (const std::length_error&) {
    // Beast stores no field over 64 KiB, whatever max_header_bytes allows.
    return errc::header_too_large;
  }
  if (ec == http::error::body_limit) return errc::body_too_large;
  if (ec == http::error::header_limit) return errc::header_too_large;
  if (ec || used != head.size() || !parser.is_header_done()) return errc::bad_request;
  return validate_request_head(parser.get());
}

}  // namespace tollgate::server
