#include "tollgate/upstream/http_client_pool.hpp"

#include <openssl/ssl.h>
#include <sys/socket.h>

#include <cerrno>

#include <algorithm>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>

#include "tollgate/common/error.hpp"

namespace tollgate::upstream {
namespace {
// What a pooled connection's read buffer starts with and may keep while idle: a response head and
// a small body arrive in one read, a relay piece fits, and a bigger buffer is given back.
constexpr std::size_t kInitialBuffer = 4 * 1024;
constexpr std::size_t kIdleBufferLimit = 16 * 1024;

// The reuse check, made when a pooled connection is taken for a request: nothing is left in its
// read buffer, the TLS layer holds nothing, and a read on the socket would block. A peer's close
// (EOF), a reset or bytes nobody asked for (a late or overlong answer, a TLS close_notify) make it
// unusable: read as the next request's answer, they would reach the wrong client. Made at take
// time rather than when the connection is given back, it also sees what arrived while it idled;
// it costs one non-blocking recv per reuse.
bool still_usable(Connection& c) {
  if (c.buffer.size() != 0 || c.stream.tls_input_buffered()) return false;
  char byte;
  const ssize_t n = ::recv(c.stream.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}
}  // namespace

// A request queued for a connection. The pool hands it a connection given back, or the slot of
// one closed, and wakes it by cancelling its timer; the timer running out means it got neither.
struct HttpClientPool::Waiter {
  Waiter(HttpClientPool& p, Clock::time_point until) : pool(p), timer(p.executor_, until) {}
  ~Waiter() {
    // Gone before it took what it was given (its coroutine was cancelled): pass it on.
    if (auto it = std::find(pool.waiters_.begin(), pool.waiters_.end(), this);
        it != pool.waiters_.end()) {
      pool.waiters_.erase(it);
    }
    if (connection || slot) {
      connection.reset();
      pool.slot_freed();
    }
  }
  HttpClientPool& pool;
  asio::steady_timer timer;
  std::unique_ptr<Connection> connection;
  bool slot = false;
};

Lease::Lease(HttpClientPool* pool, std::unique_ptr<Connection> connection)
    : pool_(pool), connection_(std::move(connection)) {}

Lease::Lease(Lease&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)), connection_(std::move(other.connection_)) {}

Lease& Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    discard();
    pool_ = std::exchange(other.pool_, nullptr);
    connection_ = std::move(other.connection_);
  }
  return *this;
}

Lease::~Lease() {
  discard();
}

void Lease::release() {
  if (pool_ && connection_) pool_->give_back(std::move(connection_));
  pool_ = nullptr;
}

void Lease::discard() {
  if (connection_) {
    error_code ignored;
    connection_->stream.socket().close(ignored);
    connection_.reset();
    if (pool_) pool_->slot_freed();
  }
  pool_ = nullptr;
}

std::unique_ptr<Connection> Lease::take() {
  if (connection_ && pool_) pool_->slot_freed();
  pool_ = nullptr;
  return std::move(connection_);
}

HttpClientPool::HttpClientPool(asio::any_io_executor executor, Origin origin, PoolOptions options)
    : executor_(std::move(executor)),
      origin_(std::move(origin)),
      options_(std::move(options)),
      resolver_(executor_) {
  error_code ec;
  const auto address = asio::ip::make_address(origin_.host, ec);
  if (!ec) literal_address_ = address;
}

HttpClientPool::~HttpClientPool() = default;

std::optional<Lease> HttpClientPool::take_idle() {
  const auto now = Clock::now();
  while (!idle_.empty()) {
    std::unique_ptr<Connection> c = std::move(idle_.back());
    idle_.pop_back();
    // One idle too long may be closed by the peer any moment: dropped rather than risked.
    if (now - c->idle_since > options_.idle_timeout || !still_usable(*c)) {
      c.reset();
      slot_freed();
      continue;
    }
    c->reused = true;
    return Lease(this, std::move(c));
  }
  return std::nullopt;
}

awaitable<result<Lease>> HttpClientPool::acquire(Clock::time_point wait_until, bool fresh) {
  if (!fresh) {
    if (auto lease = take_idle()) co_return std::move(*lease);
  }
  if (!bounded_and_full()) {
    ++open_;
    co_return co_await connect_new();
  }
  if (!idle_.empty()) {
    // A fresh connection is asked for while idle ones hold every slot: the oldest makes room.
    idle_.pop_front();
    co_return co_await connect_new();
  }
  if (waiters_.size() >= options_.max_waiting) co_return make_error_code(errc::upstream_busy);
  Waiter waiter(*this, wait_until);
  waiters_.push_back(&waiter);
  co_await waiter.timer.async_wait(asio::as_tuple(asio::use_awaitable));
  if (waiter.connection) {
    std::unique_ptr<Connection> c = std::move(waiter.connection);
    if (!fresh && still_usable(*c)) {
      c->reused = true;
      co_return Lease(this, std::move(c));
    }
    c.reset();  // its slot is ours: a new connection takes it
    co_return co_await connect_new();
  }
  if (waiter.slot) {
    waiter.slot = false;
    co_return co_await connect_new();
  }
  co_return make_error_code(errc::upstream_busy);
}

// Runs with a slot counted in open_ for it; gives the slot up when it fails.
awaitable<result<Lease>> HttpClientPool::connect_new() {
  struct SlotGuard {
    HttpClientPool& pool;
    bool kept = false;
    ~SlotGuard() {
      if (kept) return;
      pool.slot_freed();
    }
  } slot{*this};
  error_code ec;
  http_io::TimedSocket socket(executor_);
  socket.expires_after(options_.connect_timeout);
  if (literal_address_) {
    // An address needs no resolver, whose lookups run on a helper thread and cost a thread
    // hand-off on every new connection.
    co_await socket.async_connect(tcp::endpoint(*literal_address_, origin_.port),
                                  asio::redirect_error(asio::use_awaitable, ec));
  } else {
    auto endpoints = co_await resolver_.async_resolve(
        origin_.host, std::to_string(origin_.port), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return make_error_code(errc::upstream_connect_failed);
    socket.expires_after(options_.connect_timeout);
    co_await socket.async_connect_range(endpoints, asio::redirect_error(asio::use_awaitable, ec));
  }
  if (ec) {
    co_return make_error_code(ec == beast::error::timeout ? errc::upstream_timeout
                                                          : errc::upstream_connect_failed);
  }
  socket.socket().set_option(tcp::no_delay(true), ec);

  std::unique_ptr<Connection> c;
  if (origin_.tls) {
    if (!options_.tls_context) co_return make_error_code(errc::internal);
    c = std::make_unique<Connection>(http_io::Stream(std::move(socket), *options_.tls_context));
    auto& tls = c->stream.tls();
    // SNI only for names: RFC 6066 forbids IP literals in server_name.
    if (!literal_address_ && !SSL_set_tlsext_host_name(tls.native_handle(), origin_.host.c_str())) {
      co_return make_error_code(errc::upstream_connect_failed);
    }
    tls.set_verify_callback(ssl::host_name_verification(origin_.host));
    c->stream.expires_after(options_.connect_timeout);
    co_await tls.async_handshake(ssl::stream_base::client,
                                 asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return make_error_code(errc::upstream_connect_failed);
  } else {
    c = std::make_unique<Connection>(http_io::Stream(std::move(socket)));
  }
  c->buffer.reserve(kInitialBuffer);
  slot.kept = true;
  co_return Lease(this, std::move(c));
}

void HttpClientPool::give_back(std::unique_ptr<Connection> connection) {
  connection->stream.expires_never();
  if (!waiters_.empty()) {
    // The oldest waiting request takes it as it is (it checks it before use).
    Waiter* waiter = waiters_.front();
    waiters_.pop_front();
    waiter->connection = std::move(connection);
    waiter->timer.cancel();
    return;
  }
  if (idle_.size() >= options_.max_idle) {
    connection.reset();
    slot_freed();
    return;
  }
  // An idle connection keeps no large read buffer from an oversized response head or trailer.
  if (connection->buffer.capacity() > kIdleBufferLimit) connection->buffer.shrink_to_fit();
  connection->idle_since = Clock::now();
  idle_.push_back(std::move(connection));
}

// A connection closed, or was never made: its slot goes, and the oldest waiting request may open
// one in its place.
void HttpClientPool::slot_freed() noexcept {
  --open_;
  if (waiters_.empty() || bounded_and_full()) return;
  Waiter* waiter = waiters_.front();
  waiters_.pop_front();
  ++open_;
  waiter->slot = true;
  waiter->timer.cancel();
}

std::shared_ptr<ssl::context> make_client_tls_context(const std::string& ca_file, bool verify) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  if (ca_file.empty()) {
    context->set_default_verify_paths();
  } else {
    context->load_verify_file(ca_file);  // throws with the reason: checked at config load
  }
  context->set_verify_mode(verify ? ssl::verify_peer : ssl::verify_none);
  return context;
}

}  // namespace tollgate::upstream
