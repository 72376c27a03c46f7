// Keep-alive connections to one origin (scheme, host, port), owned by one worker thread: no locks.
// One class serves the upstreams and the identity provider.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include <boost/beast/core/flat_buffer.hpp>

#include "tollgate/common/asio.hpp"
#include "tollgate/http/stream.hpp"

namespace tollgate::upstream {

struct Origin {
  bool tls = false;
  std::string host;  // DNS name or literal address; also the SNI name and the name verified
  std::uint16_t port = 0;
};

struct PoolOptions {
  std::size_t max_idle = 64;
  // Connections open at once to the origin (in use, connecting or idle); 0 = no bound. A request
  // that finds them all in use waits in a queue of at most `max_waiting`, for at most the deadline
  // it gives acquire().
  std::size_t max_connections = 0;
  std::size_t max_waiting = 0;
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds idle_timeout{
      60'000};  // an idle pooled connection older than this is dropped
  std::shared_ptr<ssl::context>
      tls_context;  // required when origin.tls; verification set up by caller
};

// A pooled connection: the stream and the read buffer that belongs with it.
struct Connection {
  explicit Connection(http_io::Stream s) : stream(std::move(s)) {}
  http_io::Stream stream;
  beast::flat_buffer buffer;
  bool reused = false;  // true when taken from the idle list (a failure on it may be retried)
  std::chrono::steady_clock::time_point idle_since{};
};

class HttpClientPool;

// RAII lease: returns the connection to the pool only through release(), which only the client
// exchange calls, once it has read a whole response and nothing more (http/client_exchange.hpp);
// anything else closes it.
class Lease {
 public:
  Lease() = default;
  Lease(HttpClientPool* pool, std::unique_ptr<Connection> connection);
  Lease(Lease&& other) noexcept;
  Lease& operator=(Lease&& other) noexcept;
  ~Lease();

  Connection& connection() { return *connection_; }
  http_io::Stream& stream() { return connection_->stream; }
  beast::flat_buffer& buffer() { return connection_->buffer; }
  bool reused() const { return connection_->reused; }
  explicit operator bool() const noexcept { return connection_ != nullptr; }

  void release();  // back to the pool (or to a request waiting for one)
  void discard();  // close now
  // The connection leaves the pool for good (an HTTP/2 connection, which the upstream's HTTP/2
  // pool counts): its slot is freed, and closing it is the caller's.
  std::unique_ptr<Connection> take();

 private:
  HttpClientPool* pool_ = nullptr;
  std::unique_ptr<Connection> connection_;
};

class HttpClientPool {
 public:
  using Clock = std::chrono::steady_clock;

  HttpClientPool(asio::any_io_executor executor, Origin origin, PoolOptions options);
  ~HttpClientPool();
  HttpClientPool(const HttpClientPool&) = delete;
  HttpClientPool& operator=(const HttpClientPool&) = delete;

  const Origin& origin() const noexcept { return origin_; }
  // An idle connection that passes the reuse check when there is one (unless `fresh`), else a new
  // one (resolve, connect, TLS handshake with SNI). When max_connections are open, waits in the
  // queue until one is given back or its slot freed, at most until `wait_until`:
  // errc::upstream_busy when the queue is full or the wait ran out.
  awaitable<result<Lease>> acquire(Clock::time_point wait_until, bool fresh = false);
  // An idle connection that passes the reuse check, without connecting or waiting: nothing when
  // there is none.
  std::optional<Lease> take_idle();

  std::size_t idle_count() const noexcept { return idle_.size(); }
  std::size_t open_count() const noexcept { return open_; }
  std::size_t waiting_count() const noexcept { return waiters_.size(); }

 private:
  friend class Lease;
  struct Waiter;
  awaitable<result<Lease>> connect_new();
  void give_back(std::unique_ptr<Connection> connection);
  void slot_freed() noexcept;  // one open connection fewer, or handed to a waiting request
  bool bounded_and_full() const noexcept {
    return options_.max_connections != 0 && open_ >= options_.max_connections;
  }

  asio::any_io_executor executor_;
  Origin origin_;
  PoolOptions options_;
  tcp::resolver resolver_;
  std::optional<asio::ip::address> literal_address_;  // set when the host is an IP address
  std::deque<std::unique_ptr<Connection>> idle_;      // most recently used at the back
  std::deque<Waiter*> waiters_;                       // oldest first
  std::size_t open_ = 0;                              // in use, connecting or idle
};

// A client TLS context: system trust store or `ca_file`, peer verification on unless told
// otherwise.
std::shared_ptr<ssl::context> make_client_tls_context(const std::string& ca_file, bool verify);

}  // namespace tollgate::upstream
