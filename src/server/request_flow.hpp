// One request model, two framings. What happens to a request once its head is parsed (request id,
// trace, path normalisation, routing, the header strips, the filter chain, the rewrite for the
// upstream, the access log and the counts) is written once, in serve_request(); an HTTP/1.1
// connection and an HTTP/2 stream differ only in how they read a body and write an answer, which
// they say through Framing.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "access_log.hpp"
#include "tollgate/common/asio.hpp"
#include "tollgate/common/error.hpp"
#include "tollgate/filters/filter.hpp"
#include "tollgate/http/headers.hpp"
#include "tollgate/server/worker.hpp"
#include "tollgate/upstream/forwarder.hpp"

namespace tollgate::server {

using Headers = std::vector<std::pair<std::string, std::string>>;

// The request being answered: what its log line and counts say.
struct RequestRecord {
  explicit RequestRecord(Worker& w) : worker(w) {}

  // Starts the record of a new request, counted for no route until one matched.
  void start(const Generation& generation, std::string_view peer);
  // Counts the answered request and writes its access-log line. The route's histogram observes
  // the time to the answer: a tunnel's log line also counts the `tunnel_time` it stayed open after.
  void finish(http::status status, std::chrono::steady_clock::duration tunnel_time =
                                       std::chrono::steady_clock::duration{});

  Worker& worker;
  std::chrono::steady_clock::time_point started;
  AccessRecord record;
  metrics::RouteCell* route_stats = nullptr;
  bool head_request = false;  // the request being answered is a HEAD: its answers carry no body
};

// What the forwarder needs from serve_request, whatever the framing.
struct ForwardCall {
  upstream::Balancer& balancer;
  const config::GatewayConfig& config;
  bool keep_alive;  // the client connection may carry another request after this one
  bool preserve_host;
  bool head_request;
  unsigned client_version;
  std::string_view request_id;
  // The fields the gateway adds (X-Request-Id, the trace, X-Forwarded-*, Via), beside `head`: a
  // framing that does not write them after the head's fields inserts them into it first.
  const http_io::AddedFields& added;
  upstream::BodyStart* body_start;  // the body, when the filters needed it read first
  upstream::WebSocketHandshake* websocket;
};

// How one framing reads a request's body and writes its answers.
class Framing {
 public:
  // True while the request body has not been read whole.
  virtual bool body_pending() const = 0;
  // The client allows another request on the connection after this one (HTTP/1.1 keep-alive).
  virtual bool client_keep_alive() const = 0;
  // The request body is chunked (HTTP/1.1): its length is not known ahead.
  virtual bool chunked() const = 0;
  virtual bool is_tls() const = 0;
  // An answer made by the gateway: a JSON body of {message, request_id, error}.
  virtual awaitable<void> answer(http::status status, std::string_view message,
                                 std::string_view error, std::string_view request_id,
                                 bool keep_alive, const Headers& headers) = 0;
  // A 100 Continue, for a client that waits for one before sending its body.
  virtual awaitable<bool> send_continue() = 0;
  // Reads the whole body into `start` (a form body the filters read); body_too_large when it does
  // not fit.
  virtual awaitable<errc> read_whole_body(const config::GatewayConfig& config,
                                          upstream::BodyStart& start) = 0;
  // Sends `head` (rewritten for the upstream) and the body to the upstream and relays its answer.
  virtual awaitable<upstream::ForwardResult> forward(filters::RequestHead& head,
                                                     ForwardCall call) = 0;
  // After a 101: the WebSocket tunnel, for as long as it stays open (HTTP/1.1 only).
  virtual awaitable<void> run_tunnel(upstream::Lease& lease, config::Duration idle,
                                     RequestRecord& request) = 0;

  // The request is a gRPC call (http_io::is_grpc): the gateway's own answers are gRPC answers,
  // HTTP 200 with headers only (grpc_answer_fields).
  bool grpc = false;

 protected:
  ~Framing() = default;
};

// {"message": ..., "request_id": ..., "error": ...}: small, and the same shape for every local
// answer.
std::string json_body(std::string_view message, std::string_view request_id,
                      std::string_view error);

// The fields of a gRPC answer standing for the gateway's answer `status` with `message`:
// content-type application/grpc, grpc-status and grpc-message (the HTTP status itself is 200).
Headers grpc_answer_fields(http::status status, std::string_view message);

// Who sent the request.
struct Client {
  std::string_view peer;  // the address as text
  asio::ip::address address;
};

// Serves one request whose head was parsed: answers it, through `framing`, and finishes its
// record. `request_id` is the gateway's id for it (a valid X-Request-Id replaces it). Returns true
// when the connection may carry another request.
awaitable<bool> serve_request(Framing& framing, Generation& generation, filters::RequestHead& head,
                              std::string request_id, const Client& client, RequestRecord& request);

}  // namespace tollgate::server
