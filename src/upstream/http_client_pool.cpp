#include "tollgate/upstream/http_client_pool.hpp"

#include <openssl/ssl.h>
#include <sys/socket.h>

#include <cerrno>

#include <utility>

#include <boost/asio/ssl/host_name_verification.hpp>

#include "tollgate/common/error.hpp"

namespace tollgate::upstream {
namespace {
// What a pooled connection's read buffer starts with and may keep while idle: a response head and
// a small body arrive in one read, a relay piece fits, and a bigger buffer is given back.
constexpr std::size_t kInitialBuffer = 4 * 1024;
constexpr std::size_t kIdleBufferLimit = 16 * 1024;

// True when nothing is waiting on an idle socket: a read would block. A peer's close (EOF), a reset
// or bytes nobody asked for (a late answer, a TLS close_notify) all make it unusable.
bool peer_left_it_open(tcp::socket& socket) {
  char byte;
  const ssize_t n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}
}  // namespace

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
  }
  if (pool_) pool_->forget_one();
  pool_ = nullptr;
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

std::optional<Lease> HttpClientPool::take_idle(IdleCheck check) {
  const auto now = std::chrono::steady_clock::now();
  while (!idle_.empty()) {
    std::unique_ptr<Connection> c = std::move(idle_.back());
    idle_.pop_back();
    // One idle too long may be closed by the peer any moment: dropped rather than risked.
    if (now - c->idle_since > options_.idle_timeout) continue;
    if (check == IdleCheck::peek && !peer_left_it_open(c->stream.socket())) continue;
    c->reused = true;
    ++active_;
    return Lease(this, std::move(c));
  }
  return std::nullopt;
}

awaitable<result<Lease>> HttpClientPool::acquire(IdleCheck check) {
  if (auto lease = take_idle(check)) co_return std::move(*lease);
  co_return co_await connect_new();
}

awaitable<result<Lease>> HttpClientPool::connect_new() {
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
  ++active_;
  co_return Lease(this, std::move(c));
}

void HttpClientPool::give_back(std::unique_ptr<Connection> connection) {
  --active_;
  if (idle_.size() >= options_.max_idle) return;  // closes it
  connection->stream.expires_never();
  // An idle connection keeps no large read buffer from an oversized response head or trailer.
  if (connection->buffer.size() == 0 && connection->buffer.capacity() > kIdleBufferLimit) {
    connection->buffer.shrink_to_fit();
  }
  connection->idle_since = std::chrono::steady_clock::now();
  idle_.push_back(std::move(connection));
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
