#include "tollgate/oidc/http_exchange.hpp"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/read.hpp>

#include "tollgate/common/error.hpp"
#include "tollgate/http/headers.hpp"

namespace tollgate::oidc {
namespace {

constexpr std::size_t kMaxResponseHeaderBytes = 16 * 1024;
// What the connection's buffer may hold unparsed: the head, then one chunk-size line or trailer
// section at a time. Beast bounds neither of these, and throws from inside the read (where no
// handler can catch it, so the call would never end) for a trailer field over 64 KiB.
constexpr std::size_t kMaxUnparsedBytes = 32 * 1024;

using Clock = std::chrono::steady_clock;

IdpFailure failure_of(const error_code& ec) {
  if (ec == beast::error::timeout || ec == make_error_code(errc::upstream_timeout)) {
    return IdpFailure(IdpFailureKind::timeout);
  }
  if (ec == make_error_code(errc::upstream_connect_failed)) {
    return IdpFailure(IdpFailureKind::connect);
  }
  if (ec == make_error_code(errc::internal)) return IdpFailure(IdpFailureKind::internal);
  return IdpFailure(IdpFailureKind::io);
}

// Time left before the deadline, or nothing when it has passed.
std::optional<Clock::duration> remaining(Clock::time_point deadline) {
  const auto left = deadline - Clock::now();
  if (left <= Clock::duration::zero()) return std::nullopt;
  return left;
}

// What one try on one connection gave, and whether it deserves a second try on a new connection:
// only a connection that sat idle in the pool can have been closed under us, and only a failure
// before any answer byte shows that.
struct Try {
  HttpReplyResult result;
  bool stale = false;
};

// The request on `lease`. Each socket operation is bounded by what is left until the deadline.
awaitable<Try> exchange_on(upstream::Lease lease, const std::string& wire,
                           Clock::time_point deadline, std::size_t max_body_bytes) {
  const bool reused = lease.reused();
  auto left = remaining(deadline);
  if (!left) co_return Try{IdpFailure(IdpFailureKind::timeout)};
  lease.stream().expires_after(*left);
  auto [write_error, written] = co_await asio::async_write(lease.stream(), asio::buffer(wire),
                                                           asio::as_tuple(asio::use_awaitable));
  if (write_error) {
    lease.discard();
    co_return Try{failure_of(write_error), reused && write_error != beast::error::timeout};
  }

  http::response_parser<http::string_body> parser;
  parser.header_limit(kMaxResponseHeaderBytes);
  parser.body_limit(max_body_bytes);
  left = remaining(deadline);
  if (!left) co_return Try{IdpFailure(IdpFailureKind::timeout)};
  lease.stream().expires_after(*left);
  lease.buffer().max_size(std::max(lease.buffer().size(), kMaxUnparsedBytes));
  auto [read_error, read] = co_await http::async_read(lease.stream(), lease.buffer(), parser,
                                                      asio::as_tuple(asio::use_awaitable));
  if (read_error) {
    const bool nothing_received = !parser.got_some() && lease.buffer().size() == 0;
    lease.discard();
    co_return Try{failure_of(read_error),
                  reused && nothing_received && read_error != beast::error::timeout};
  }

  http::response<http::string_body> response = parser.release();
  HttpReply reply;
  reply.status = response.result_int();
  reply.retry_after = std::string(response[http::field::retry_after]);
  reply.body = std::move(response.body());
  if (response.keep_alive()) {
    lease.stream().expires_never();
    lease.release();
  } else {
    lease.discard();
  }
  co_return Try{std::move(reply)};
}

// The exchange on a connection from the pool (a new one when `fresh`), once more on a new one
// when a pooled connection was stale.
awaitable<HttpReplyResult> exchange_until(upstream::HttpClientPool& pool, const std::string& wire,
                                          Clock::time_point deadline, std::size_t max_body_bytes,
                                          bool fresh) {
  for (;;) {
    // (Not one ?: expression: g++ 12 mishandles the temporaries of co_await inside one.)
    result<upstream::Lease> lease = make_error_code(errc::internal);
    if (fresh) {
      lease = co_await pool.connect_new();
    } else {
      lease = co_await pool.acquire(upstream::IdleCheck::retry_covers_it);
    }
    if (!lease) {
      if (!remaining(deadline)) co_return IdpFailure(IdpFailureKind::timeout);
      co_return failure_of(lease.error());
    }
    Try outcome = co_await exchange_on(std::move(*lease), wire, deadline, max_body_bytes);
    if (!outcome.stale || fresh) co_return std::move(outcome.result);
    fresh = true;
  }
}

}  // namespace

awaitable<HttpReplyResult> exchange(upstream::HttpClientPool& pool,
                                    const http::request<http::string_body>& request,
                                    Clock::time_point deadline, std::size_t max_body_bytes) {
  // The request as it goes on the wire, head and body in one piece: one plain write.
  std::string wire;
  wire.reserve(1024 + request.body().size());
  http_io::append_head(request.base(), wire);
  wire += request.body();

  // On a pooled connection every step is a socket operation bounded by the deadline: the usual
  // call needs nothing more.
  bool stale = false;
  // An introspection request may be sent again: a stale pooled connection is retried below.
  if (auto lease = pool.take_idle(upstream::IdleCheck::retry_covers_it)) {
    Try outcome = co_await exchange_on(std::move(*lease), wire, deadline, max_body_bytes);
    if (!outcome.stale) co_return std::move(outcome.result);
    stale = true;
  }
  // A new connection leaves gaps (connect and TLS handshake are each bounded by the pool's connect
  // timeout): a timer raced against the whole exchange makes `deadline` hold for all of it. The
  // loser is cancelled; only name resolution cannot be interrupted.
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(co_await asio::this_coro::executor, deadline);
  auto outcome = co_await (exchange_until(pool, wire, deadline, max_body_bytes, stale) ||
                           timer.async_wait(asio::as_tuple(asio::use_awaitable)));
  if (outcome.index() == 0) co_return std::move(std::get<0>(outcome));
  co_return IdpFailure(IdpFailureKind::timeout);
}

}  // namespace tollgate::oidc
