#include "tollgate/http/websocket.hpp"

#include "tollgate/common/hash.hpp"
#include "tollgate/http/headers.hpp"

namespace tollgate::http_io {
namespace {

namespace http = boost::beast::http;

constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

// True when a comma-separated header (every occurrence of it) lists `token`, in any case.
bool lists_token(const http::fields& fields, http::field name, std::string_view token) {
  const auto [first, last] = fields.equal_range(name);
  for (auto it = first; it != last; ++it) {
    std::string_view value = it->value();
    while (!value.empty()) {
      const std::size_t comma = value.find(',');
      if (iequals(trim_ows(value.substr(0, comma)), token)) return true;
      if (comma == std::string_view::npos) break;
      value.remove_prefix(comma + 1);
    }
  }
  return false;
}

// A nonce of 16 bytes in base64 (§4.1, item 7): 24 characters that decode to 16 bytes.
bool valid_key(std::string_view key) {
  if (key.size() != 24) return false;
  const auto decoded = base64_decode(key);
  return decoded && decoded->size() == 16;
}

}  // namespace

Handshake check_handshake(const http::request_header<>& head, bool has_body) {
  if (!lists_token(head, http::field::upgrade, "websocket")) return Handshake::none;
  if (head.method() != http::verb::get || head.version() != 11 || has_body ||
      !lists_token(head, http::field::connection, "upgrade")) {
    return Handshake::malformed;
  }
  const auto keys = head.count(http::field::sec_websocket_key);
  if (keys != 1 || !valid_key(trim_ows(head[http::field::sec_websocket_key]))) {
    return Handshake::malformed;
  }
  if (head.count(http::field::sec_websocket_version) != 1) return Handshake::malformed;
  if (trim_ows(head[http::field::sec_websocket_version]) != "13") return Handshake::wrong_version;
  return Handshake::valid;
}

std::string websocket_accept(std::string_view key) {
  std::string input;
  input.reserve(key.size() + kGuid.size());
  input.append(trim_ows(key)).append(kGuid);
  const auto digest = sha1(input);
  return base64_encode(
      std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

bool switches_to_websocket(const http::response_header<>& head, std::string_view accept) {
  return head.result_int() == 101 && lists_token(head, http::field::upgrade, "websocket") &&
         lists_token(head, http::field::connection, "upgrade") &&
         head.count(http::field::sec_websocket_accept) == 1 &&
         trim_ows(head[http::field::sec_websocket_accept]) == accept;
}

}  // namespace tollgate::http_io
