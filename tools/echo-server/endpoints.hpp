// What the echo server answers: the JSON echo, and the special paths tests use to shape responses.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tollgate/common/asio.hpp"

#include "options.hpp"

namespace echo_server {

namespace asio = tollgate::asio;
namespace beast = tollgate::beast;
namespace http = tollgate::http;

enum class EndpointKind {
  echo,
  ok,
  bytes,
  status,
  delay,
  close_mid_body,
  ok_then_close,
  // Faults (faults.hpp): the connection is never reused after one.
  reset,
  reset_mid_body,
  slow_head,
  stall_mid_body,
  big_head,
  big_field,
  big_trailer,
  endless,
  never_closes,
  bad_request
};

struct Endpoint {
  EndpointKind kind = EndpointKind::echo;
  std::uint64_t number = 0;     // the N, NNN or MS of the path
  bool chunked = false;         // /bytes/N?chunked=1
  std::string_view error = {};  // for bad_request
  // /body-progress: an echo that prints "echo-server body-bytes N" (N so far) after every read of
  // the body, so a test can watch a body arrive piece by piece.
  bool log_body_progress = false;

  // Only answers that carry the echo need the body's hash; the others just drain the body.
  bool wants_body_hash() const {
    return kind == EndpointKind::echo || kind == EndpointKind::status ||
           kind == EndpointKind::delay;
  }
};

// Bytes of the /bytes pattern ('a' + i % 26), a whole number of periods long (64 KiB and more).
const std::string& pattern_block();

// Picks the endpoint from the request-target (path before '?', query after it).
Endpoint choose_endpoint(std::string_view target);

struct ReceivedBody {
  std::uint64_t size = 0;
  std::string sha256;  // lowercase hex; empty when the endpoint does not echo
};

struct ConnectionInfo {
  const Options& options;
  std::uint64_t connection_id;
  std::uint64_t request_on_connection;
};

// The request as parsed: its head, and a body that is only a window onto the session's scratch
// buffer.
using RequestHead = http::request<http::buffer_body>;

// Writes the answer. Returns true when the connection may serve another request.
asio::awaitable<bool> respond(beast::tcp_stream& stream, const RequestHead& request,
                              const Endpoint& endpoint, const ReceivedBody& body,
                              const ConnectionInfo& connection);

// A short JSON error answer for requests that could not be read; the connection is closed after.
asio::awaitable<void> respond_error(beast::tcp_stream& stream, http::status status,
                                    std::string_view message, std::chrono::seconds timeout);

}  // namespace echo_server
