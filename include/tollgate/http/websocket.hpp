// The WebSocket opening handshake (RFC 6455 §4) as a gateway sees it: which requests ask for it,
// whether they ask correctly, and whether an upstream's 101 answers the request it was sent.
// Nothing after the handshake is parsed: the frames go through a byte tunnel.
#pragma once

#include <string>
#include <string_view>

#include <boost/beast/http/message.hpp>

namespace tollgate::http_io {

enum class Handshake {
  none,           // no `Upgrade: websocket`: an ordinary request
  valid,          // GET, HTTP/1.1, Connection: upgrade, Sec-WebSocket-Version 13, a key, no body
  malformed,      // asks for websocket but breaks a rule of §4.1 → 400
  wrong_version,  // Sec-WebSocket-Version other than 13 → 426 with Sec-WebSocket-Version: 13
};

// Reads the head as the client sent it (before the hop-by-hop strip). `has_body`: the request
// has a body (a length above zero, or chunked).
Handshake check_handshake(const boost::beast::http::request_header<>& head, bool has_body);

// The Sec-WebSocket-Accept that answers `key`: base64(SHA-1(key + the RFC's GUID)).
std::string websocket_accept(std::string_view key);

// An upstream's 101 switches to websocket and carries `accept` (RFC 6455 §4.2.2 as the client
// checks it in §4.1).
bool switches_to_websocket(const boost::beast::http::response_header<>& head,
                           std::string_view accept);

}  // namespace tollgate::http_io
