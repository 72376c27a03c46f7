#include "tollgate/server/request_head.hpp"

#include "tollgate/http/headers.hpp"

namespace tollgate::server {

namespace http = boost::beast::http;

HeadScan scan_request_head(std::string_view data) noexcept {
  if (!data.empty() && (data[0] == ' ' || data[0] == '\t')) return {HeadState::invalid, 0};
  bool line_start = true;
  bool first_line = true;
  for (std::size_t i = 0; i < data.size(); ++i) {
    const auto c = static_cast<unsigned char>(data[i]);
    if (c == '\r') {
      if (i + 1 == data.size()) return {HeadState::incomplete, 0};
      if (data[i + 1] != '\n') return {HeadState::invalid, 0};
      if (line_start && !first_line) return {HeadState::complete, i + 2};
      ++i;  // the LF
      line_start = true;
      first_line = false;
      continue;
    }
    if (c == '\n') return {HeadState::invalid, 0};  // bare LF
    if ((c < 0x20 && c != '\t') || c == 0x7f) return {HeadState::invalid, 0};
    if (line_start && !first_line && (c == ' ' || c == '\t')) return {HeadState::invalid, 0};
    line_start = false;
  }
  return {HeadState::incomplete, 0};
}

errc validate_request_head(const http::request_header<>& head) noexcept {
  const unsigned version = head.version();
  if (version != 10 && version != 11) return errc::bad_request;

  auto hosts = head.equal_range(http::field::host);
  if (hosts.first == hosts.second || std::next(hosts.first) != hosts.second)
    return errc::bad_request;
  if (hosts.first->value().empty()) return errc::bad_request;

  const auto lengths = head.count(http::field::content_length);
  const auto encodings = head.count(http::field::transfer_encoding);
  if (lengths > 1 || encodings > 1) return errc::bad_request;
  if (encodings == 1) {
    if (lengths != 0 || version != 11) return errc::bad_request;
    if (!http_io::iequals(head[http::field::transfer_encoding], "chunked"))
      return errc::bad_request;
  }
  return errc::ok;
}

}  // namespace tollgate::server
