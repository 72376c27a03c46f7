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
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds idle_timeout{
      60'000};  // an idle pooled connection older than this is dropped
  std::shared_ptr<ssl::context>
      tls_context;  // required when origin.tls; verification set up by caller
};

// A pooled connection: the stream and the read buffer that belongs with it (bytes an upstream sent
// beyond one response would otherwise be lost).
struct Connection {
  explicit Connection(http_io::Stream s) : stream(std::move(s)) {}
  http_io::Stream stream;
  beast::flat_buffer buffer;
  bool reused = false;  // true when taken from the idle list (a failure on it may be retried)
  std::chrono::steady_clock::time_point idle_since{};
};

class HttpClientPool;

// How much a connection taken from the idle list is checked. A peer may close a connection while
// it sits idle (its keep-alive timeout, a restart). A request that can be sent again on a new
// connection when the pooled one fails before any answer byte needs no check and saves a system
// call per request; one that cannot (a request body already read from the client) has the socket
// peeked first, which sees the peer's close or stray bytes.
enum class IdleCheck { retry_covers_it, peek };

// RAII lease: returns the connection to the pool only when release() says it is reusable; otherwise
// the destructor closes it.
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

  void release();  // the exchange completed cleanly and both sides allow keep-alive
  void discard();  // close now

 private:
  HttpClientPool* pool_ = nullptr;
  std::unique_ptr<Connection> connection_;
};

class HttpClientPool {
 public:
  HttpClientPool(asio::any_io_executor executor, Origin origin, PoolOptions options);
  HttpClientPool(const HttpClientPool&) = delete;
  HttpClientPool& operator=(const HttpClientPool&) = delete;

  const Origin& origin() const noexcept { return origin_; }
  // An idle connection when one is there, else a new one (resolve, connect, TLS handshake with
  // SNI).
  awaitable<result<Lease>> acquire(IdleCheck check);
  // An idle connection that still looks usable, without connecting: nothing when there is none.
  std::optional<Lease> take_idle(IdleCheck check);
  // A new connection even when idle ones exist (used to retry after a stale pooled one failed).
  awaitable<result<Lease>> connect_new();

  std::size_t idle_count() const noexcept { return idle_.size(); }
  std::size_t active_count() const noexcept { return active_; }

 private:
  friend class Lease;
  void give_back(std::unique_ptr<Connection> connection);
  void forget_one() noexcept { --active_; }

  asio::any_io_executor executor_;
  Origin origin_;
  PoolOptions options_;
  tcp::resolver resolver_;
  std::optional<asio::ip::address> literal_address_;  // set when the host is an IP address
  std::deque<std::unique_ptr<Connection>> idle_;      // most recently used at the back
  std::size_t active_ = 0;
};

// A client TLS context: system trust store or `ca_file`, peer verification on unless told
// otherwise.
std::shared_ptr<ssl::context> make_client_tls_context(const std::string& ca_file, bool verify);

}  // namespace tollgate::upstream
