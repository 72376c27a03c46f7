// HTTP/2 to an upstream target, with nghttp2 client sessions: many streams multiplexed on a few
// connections per target and worker, each connection driven by one coroutine on the worker's event
// loop (as the server side does). h2 by ALPN on https targets, h2c by prior knowledge on http ones.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tollgate/common/asio.hpp"
#include "tollgate/common/error.hpp"
#include "tollgate/common/signal.hpp"
#include "tollgate/upstream/http_client_pool.hpp"

namespace tollgate::upstream {

using Fields = std::vector<std::pair<std::string, std::string>>;

class H2Connection;

// One request stream. The request body goes up with send(), the answer comes with wait_head() and
// read(); its trailers are in `trailers` once read() said done.
class H2Call {
 public:
  using Clock = std::chrono::steady_clock;

  H2Call(std::shared_ptr<H2Connection> connection, const asio::any_io_executor& executor);
  ~H2Call();
  H2Call(const H2Call&) = delete;
  H2Call& operator=(const H2Call&) = delete;

  // Queues a piece of the request body (the last one ends the stream) and waits until the upstream
  // took all but a bounded backlog of it. An error once the stream or its connection ended.
  awaitable<errc> send(std::string_view piece, bool last, Clock::time_point deadline);
  // Waits for the response head (status, head_fields, head_ends_stream).
  awaitable<errc> wait_head(Clock::time_point deadline);
  // Moves what arrived of the response body into `out` (waiting for some); `done` once the stream
  // ended, its trailers read.
  awaitable<errc> read(std::string& out, bool& done, Clock::time_point deadline);
  // Resets the stream (RST_STREAM with `code`) if it is still open.
  void cancel(std::uint32_t code);

  // True when the upstream never processed the stream (a REFUSED_STREAM, or above the last stream
  // id of its GOAWAY): it may go again on another connection.
  bool refused() const noexcept { return refused_; }

  unsigned status = 0;
  Fields head_fields;  // lower-case names, as HTTP/2 carries them
  bool head_ends_stream = false;
  Fields trailers;

 private:
  friend class H2Connection;
  std::shared_ptr<H2Connection> connection_;
  std::int32_t id_ = -1;
  // The request's sender and the answer's reader run at once (a bidirectional stream): each waits
  // on its own signal.
  Signal sent_;
  Signal received_;
  // Request body bytes nghttp2 has not taken yet.
  std::string out_;
  std::size_t out_taken_ = 0;
  bool out_last_ = false;
  bool deferred_ = false;  // nghttp2 waits for resume_data
  // The response.
  bool head_done_ = false;
  bool in_done_ = false;  // the upstream ended its side of the stream
  std::string in_;
  std::size_t in_unconsumed_ = 0;     // bytes in in_ whose stream window is not given back yet
  std::size_t max_header_bytes_ = 0;  // what the head, and then the trailers, may take
  std::size_t header_bytes_ = 0;
  bool closed_ = false;  // the stream ended, in either way
  bool failed_ = false;  // it ended without a complete answer
  bool refused_ = false;
};

struct H2PoolOptions {
  std::size_t max_connections = 2;
  std::chrono::milliseconds idle_timeout{60'000};  // a connection with no stream closes after it
  std::chrono::milliseconds send_timeout{60'000};  // between writes to the upstream
};

// A target's HTTP/2 connections on one worker.
class H2Pool {
 public:
  using Clock = std::chrono::steady_clock;

  // `connector` makes the connections (connect, TLS with ALPN h2, verification); each one leaves
  // it once made and counts against max_connections here.
  H2Pool(asio::any_io_executor executor, HttpClientPool& connector, bool tls,
         H2PoolOptions options);
  ~H2Pool();
  H2Pool(const H2Pool&) = delete;
  H2Pool& operator=(const H2Pool&) = delete;

  // Opens a stream with the request head `fields` (pseudo-headers first) on a connection with room
  // for it, opening one when none has and max_connections allows, else waiting until `deadline`.
  // Without `has_body` the head ends the stream. An answer whose head or trailers take more than
  // `max_header_bytes` (each field counted as `name: value` and its line end) resets the stream.
  awaitable<result<std::shared_ptr<H2Call>>> open(const Fields& fields, bool has_body,
                                                  std::size_t max_header_bytes,
                                                  Clock::time_point deadline);

  std::size_t connection_count() const noexcept { return connections_.size(); }

 private:
  friend class H2Connection;
  void removed(H2Connection* connection);
  void room() {
    for (Signal* s : waiting_) s->notify();
  }

  asio::any_io_executor executor_;
  HttpClientPool& connector_;
  bool tls_;
  H2PoolOptions options_;
  std::vector<std::shared_ptr<H2Connection>> connections_;
  std::size_t connecting_ = 0;
  std::vector<Signal*> waiting_;  // open() calls waiting for room
};

// Offers only "h2" by ALPN on a client TLS context.
void offer_h2(ssl::context& context);

}  // namespace tollgate::upstream
