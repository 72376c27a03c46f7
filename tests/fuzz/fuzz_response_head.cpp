// An upstream's answer as the forwarder reads it (http/response_parser.cpp, through
// http/client_exchange.cpp): the head up to its empty line, kept flat as views into a copy of its
// bytes, then the body piece by piece into lent room; and the fields the relay passes on
// (append_end_to_end_fields()). The input is the bytes an upstream sends.
//
// Differential: Beast's own response parser, which builds its field container, reads the same
// bytes. Both must accept the same heads, see the same status line, fields, framing and body; and
// the relay must pass on exactly the fields strip_hop_by_hop() leaves in Beast's container.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "fuzz_check.hpp"
#include "tollgate/http/headers.hpp"
#include "tollgate/http/response_parser.hpp"

namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tollgate::http_io::ResponseParser;

constexpr std::size_t kHeadLimit = 64 * 1024;  // max_response_header_bytes' default
// Beast's string body reserves a declared Content-Length up front: over this the bodies are not
// compared (no input is that long). Neither parser gets a body limit, as the forwarder's has none:
// Beast charges a body read to the close against its limit by the bytes offered, not those taken,
// which small room would exhaust.
constexpr std::uint64_t kLongestComparedBody = 1024 * 1024;

// "name: value" lines grouped by name in any case, in their order within a name: Beast's container
// groups a name's fields, the flat head keeps their arrival order, and only the order within a
// name means anything.
std::vector<std::string> grouped(std::vector<std::pair<std::string, std::string>> fields) {
  for (auto& [name, value] : fields) {
    for (char& c : name) c = tollgate::http_io::ascii_lower(c);
  }
  std::stable_sort(fields.begin(), fields.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> lines;
  for (const auto& [name, value] : fields) lines.push_back(name + ": " + value);
  return lines;
}

std::vector<std::pair<std::string, std::string>> fields_of(const http::fields& fields) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& field : fields) out.emplace_back(field.name_string(), field.value());
  return out;
}

std::vector<std::pair<std::string, std::string>> fields_of(const ResponseParser& parser) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& field : parser.fields()) out.emplace_back(field.name_string, field.value);
  return out;
}

// The relay's "Name: value\r\n" lines back as pairs.
std::vector<std::pair<std::string, std::string>> fields_of(std::string_view wire) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!wire.empty()) {
    const std::size_t end = wire.find("\r\n");
    FUZZ_CHECK(end != std::string_view::npos, wire);
    const std::string_view line = wire.substr(0, end);
    const std::size_t colon = line.find(": ");
    FUZZ_CHECK(colon != std::string_view::npos, line);
    out.emplace_back(line.substr(0, colon), line.substr(colon + 2));
    wire.remove_prefix(end + 2);
  }
  return out;
}

// The body as each parser reads it from `rest`: Beast's into its string, the flat parser's into
// room of `room` bytes at a time. Returns false when the parser refused the body.
bool read_body(http::response_parser<http::string_body>& parser, std::string_view rest) {
  while (!parser.is_done() && !rest.empty()) {
    boost::system::error_code ec;
    const std::size_t used = parser.put(asio::buffer(rest.data(), rest.size()), ec);
    if (ec == http::error::need_more) break;
    if (ec) return false;
    rest.remove_prefix(used);
    if (used == 0) break;
  }
  return true;
}

bool read_body(ResponseParser& parser, std::string_view rest, std::size_t room, std::string& body) {
  std::string piece(room, '\0');
  while (!parser.is_done() && !rest.empty()) {
    parser.lend_body_room(piece.data(), piece.size());
    boost::system::error_code ec;
    const std::size_t used = parser.put(asio::buffer(rest.data(), rest.size()), ec);
    body.append(piece.data(), piece.size() - parser.body_room());
    if (ec == http::error::need_more) break;
    if (ec && ec != http::error::need_buffer) return false;
    rest.remove_prefix(used);
    if (used == 0 && ec != http::error::need_buffer) break;
  }
  parser.lend_body_room(nullptr, 0);
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input = tollgate::fuzz::as_text(data, size);
  if (input.empty()) return 0;
  const std::size_t room = static_cast<unsigned char>(input.front()) % 7 + 1;
  input.remove_prefix(1);
  const std::size_t end = input.find("\r\n\r\n");
  if (end == std::string_view::npos || end + 4 > kHeadLimit) return 0;
  const std::string_view head = input.substr(0, end + 4);
  const std::string_view rest = input.substr(end + 4);

  ResponseParser flat;
  flat.header_limit(kHeadLimit);
  flat.body_limit(boost::none);
  const bool flat_ok = flat.parse_head(std::string(head));  // the bytes it read are gone after

  http::response_parser<http::string_body> beast;
  beast.header_limit(kHeadLimit);
  beast.body_limit(boost::none);
  beast.eager(false);
  bool beast_ok = false;
  try {
    boost::system::error_code ec;
    const std::size_t used = beast.put(asio::buffer(head.data(), head.size()), ec);
    beast_ok = !ec && used == head.size() && beast.is_header_done();
  } catch (const std::length_error&) {
    beast_ok = false;  // a field over its container's 64 KiB
  }
  FUZZ_CHECK(flat_ok == beast_ok, head);
  if (!flat_ok) return 0;

  const auto& message = beast.get();
  FUZZ_CHECK(flat.status() == message.result_int(), head);
  FUZZ_CHECK(flat.version() == message.version(), head);
  FUZZ_CHECK(flat.reason() == message.reason(), head);
  FUZZ_CHECK(grouped(fields_of(flat)) == grouped(fields_of(message.base())), head);
  FUZZ_CHECK(flat.content_length() == beast.content_length(), head);
  FUZZ_CHECK(flat.chunked() == beast.chunked(), head);
  FUZZ_CHECK(flat.keep_alive() == beast.keep_alive(), head);
  FUZZ_CHECK(flat.is_done() == beast.is_done(), head);
  FUZZ_CHECK(flat[http::field::content_type] == message[http::field::content_type], head);

  // The relay passes on what strip_hop_by_hop() leaves, without the upstream's X-Request-Id.
  std::string relayed;
  tollgate::http_io::append_end_to_end_fields(flat.fields(), "X-Request-Id", relayed);
  http::fields stripped = message.base();
  tollgate::http_io::strip_hop_by_hop(stripped);
  stripped.erase("X-Request-Id");
  FUZZ_CHECK(grouped(fields_of(relayed)) == grouped(fields_of(stripped)), relayed);

  // The same body, piece by piece into small room, as Beast reads it whole.
  if (flat.content_length().value_or(0) > kLongestComparedBody) return 0;
  beast.eager(true);
  flat.eager(true);
  std::string body;
  const bool beast_body_ok = read_body(beast, rest);
  const bool flat_body_ok = read_body(flat, rest, room, body);
  FUZZ_CHECK(beast_body_ok == flat_body_ok, input);
  if (!flat_body_ok) return 0;
  FUZZ_CHECK(flat.is_done() == beast.is_done(), input);
  FUZZ_CHECK(body == beast.get().body(), input);
  return 0;
}
