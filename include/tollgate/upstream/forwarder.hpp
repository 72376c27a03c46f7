// Sends one client request to an upstream and streams the answer back: request body up, response
// body down, both in small pieces through a fixed buffer (Beast's relay() shape), never whole.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>

#include "tollgate/common/asio.hpp"
#include "tollgate/common/error.hpp"
#include "tollgate/config/config.hpp"
#include "tollgate/http/headers.hpp"
#include "tollgate/http/stream.hpp"
#include "tollgate/upstream/balancer.hpp"
#include "tollgate/upstream/h2_client.hpp"
#include "tollgate/upstream/http_client_pool.hpp"

namespace tollgate::upstream {

using RequestParser = http::request_parser<http::buffer_body>;

inline constexpr std::size_t kRelayBufferSize = 16 * 1024;
using RelayBuffer = std::array<char, kRelayBufferSize>;

// The first piece of a request body (all of one up to kRelayBufferSize), read from the client
// before an upstream is chosen, in a relay buffer this thread's finished requests gave back.
class BodyStart {
 public:
  BodyStart();
  ~BodyStart();
  BodyStart(const BodyStart&) = delete;
  BodyStart& operator=(const BodyStart&) = delete;

  RelayBuffer& buffer() noexcept { return *buffer_; }
  std::size_t size = 0;  // bytes of the body in buffer(), as they go to the upstream
  bool request_has_body = false;

 private:
  RelayBuffer* buffer_;
};

// Reads the first piece of the request body into `start`: the whole body when it fits (the parser
// is then done). A body whose framing is broken from its first bytes, as a smuggled request is,
// is so refused before any upstream sees the request it belongs to.
awaitable<errc> read_body_start(http_io::Stream& client, beast::flat_buffer& client_buffer,
                                RequestParser& parser, config::Duration timeout, BodyStart& start);

// A WebSocket handshake being forwarded (RFC 6455 §4). It goes on a new connection; a 101 that
// switches to websocket with `accept` is relayed to the client and the connection handed over in
// `upgraded` for the tunnel. Any other answer is relayed as usual, and the connection closed after
// it: no connection a handshake went on returns to the pool.
struct WebSocketHandshake {
  std::string accept;  // the Sec-WebSocket-Accept the client's key asks for
  Lease upgraded;      // set once the 101 went to the client
};

struct ForwardRequest {
  http_io::Stream& client;
  beast::flat_buffer& client_buffer;
  RequestParser& parser;  // header parsed; its head already rewritten for the upstream
  Balancer& balancer;
  const config::GatewayConfig& config;
  bool keep_alive;          // what the client connection may do after this response
  const bool& draining;     // the worker is shutting down: no keep-alive once the head goes out
  bool preserve_host;       // keep the client's Host; otherwise the target's authority is sent
  bool head_request;        // HEAD: the response has no body whatever its headers say
  unsigned client_version;  // the client's HTTP version (10 or 11), before the head was rewritten
  std::string_view request_id;  // what the request is logged under; its response carries it too
  // The fields the gateway adds, written after the head's own; nullptr once they are in the head.
  const http_io::AddedFields* added = nullptr;
  // The body's start when the caller read it already (read_body_start); nullptr: forward() reads
  // it, and counts it in request_body_bytes.
  BodyStart* body_start = nullptr;
  WebSocketHandshake* websocket = nullptr;  // set for a handshake on a websocket route
};

struct ForwardResult {
  errc error = errc::ok;          // set when the exchange failed
  bool response_started = false;  // once true, a failure can only close the client connection
  bool keep_alive = false;        // the client connection may carry another request
  unsigned status = 0;
  std::uint64_t body_bytes = 0;          // response body bytes written to the client
  std::uint64_t request_body_bytes = 0;  // request body bytes read from the client
  const config::Target* target = nullptr;
  // From picking the last target tried to its response head (connect and wait included); zero
  // when no head arrived.
  std::chrono::nanoseconds upstream_duration{0};
};

awaitable<ForwardResult> forward(ForwardRequest request);

// Where the answer to a WholeRequest goes (an HTTP/2 stream): its head, rewritten for the client,
// then its body piece by piece, the last one marked (empty when the answer has no body). Each
// returns false when the client is gone; the exchange then ends.
class ResponseSink {
 public:
  // `last`: the head is the whole answer (an HTTP/2 HEADERS frame that ended the stream, as a gRPC
  // trailers-only answer is); no body() follows.
  virtual awaitable<bool> head(http::response_header<>& head, bool last) = 0;
  virtual awaitable<bool> body(std::string_view piece, bool last) = 0;
  // The answer's trailers (HTTP/2 upstreams: grpc-status, grpc-message...), before the last body().
  virtual void trailers(const Fields&) {}
  // The upstream stream the answer comes from, while it does (nullptr after): a sink whose client
  // goes away first resets it, so that a silent stream upstream is not held until upstream_read.
  virtual void follow(H2Call*) {}

 protected:
  ~ResponseSink() = default;
};

// A request whose body the client side read whole first, as an HTTP/2 stream does; the head is
// sent with the body's Content-Length.
struct WholeRequest {
  http::request_header<>& head;  // already rewritten for the upstream
  std::string_view body;
  Balancer& balancer;
  const config::GatewayConfig& config;
  bool preserve_host;
  bool head_request;
  std::string_view request_id;
  ResponseSink& sink;
};

// Same targets, pools, retries and counts as forward(), and the same head rewrite of the answer.
awaitable<ForwardResult> forward_whole(WholeRequest request);

// Where a streamed request's body comes from, piece by piece, as the client sends it.
class BodySource {
 public:
  using Clock = std::chrono::steady_clock;
  // Appends what arrived of the body to `out`, waiting for some until `deadline`; `last` once the
  // body is all there. Stopped, it returns at once with nothing.
  virtual awaitable<errc> read(std::string& out, bool& last, Clock::time_point deadline) = 0;
  // An exchange's answer is over: a read waiting for the client returns (`stopped`), or the next
  // exchange reads on (not `stopped`).
  virtual void stop(bool stopped) = 0;

 protected:
  ~BodySource() = default;
};

// A request to an HTTP/2 upstream (protocol h2 or grpc): the body goes up as it comes while the
// answer comes down (a bidirectional gRPC stream), then the answer's trailers.
struct StreamRequest {
  http::request_header<>& head;  // already rewritten for the upstream
  BodySource* body;              // nullptr: the request has no body
  Balancer& balancer;
  const config::GatewayConfig& config;
  bool preserve_host;
  std::string_view request_id;
  bool grpc;  // the request is a gRPC call (http_io::is_grpc)
  ResponseSink& sink;
};

// On an upstream stream of one of the target's HTTP/2 connections. grpc-timeout bounds the
// exchange; a gRPC call whose answer broke off after its head ends with grpc-status trailers.
awaitable<ForwardResult> forward_h2(StreamRequest request);

}  // namespace tollgate::upstream
