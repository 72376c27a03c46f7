// Sends one client request to an upstream and streams the answer back: request body up, response
// body down, both in small pieces through a fixed buffer (Beast's relay() shape), never whole.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>

#include "tollgate/common/asio.hpp"
#include "tollgate/common/error.hpp"
#include "tollgate/config/config.hpp"
#include "tollgate/http/stream.hpp"
#include "tollgate/upstream/balancer.hpp"

namespace tollgate::upstream {

using RequestParser = http::request_parser<http::buffer_body>;

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

}  // namespace tollgate::upstream
