// Downstream HTTP/2 (RFC 9113) with nghttp2: framing, HPACK and flow control are nghttp2's; each
// stream's request goes through the same serve_request() as an HTTP/1.1 request, to an HTTP/1.1
// upstream.
#pragma once

#include <string>
#include <string_view>

#include "tollgate/common/asio.hpp"
#include "tollgate/http/stream.hpp"
#include "tollgate/server/worker.hpp"

namespace tollgate::http2 {

// The connection preface every HTTP/2 client sends first (RFC 9113 §3.4).
inline constexpr std::string_view kClientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// Serves one HTTP/2 connection until either side ends it. `received` holds what was already read
// from it (the preface, or its start, on a plain listener). One coroutine drives the connection:
// it reads into nghttp2, writes what nghttp2 has to send, and starts a coroutine per request.
awaitable<void> serve_connection(server::Worker& worker, http_io::Stream& stream, std::string peer,
                                 asio::ip::address peer_address, std::string_view received);

}  // namespace tollgate::http2
