#include "tollgate/oidc/http_exchange.hpp"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "tollgate/common/error.hpp"
#include "tollgate/http/client_exchange.hpp"
#include "tollgate/http/headers.hpp"

namespace tollgate::oidc {
namespace {

constexpr std::size_t kMaxResponseHeaderBytes = 16 * 1024;
// The most one read adds to the body: a usual answer (about 1 KiB) arrives whole with its head.
constexpr std::size_t kBodyPiece = 16 * 1024;

using Clock = std::chrono::steady_clock;

IdpFailure failure_of(errc e, Clock::time_point deadline) {
  if (e == errc::upstream_timeout) return IdpFailure(IdpFailureKind::timeout);
  if (e == errc::upstream_busy) {
    // Every connection to the IdP was in use, and the queue full or the wait over.
    return IdpFailure(Clock::now() >= deadline ? IdpFailureKind::timeout : IdpFailureKind::connect);
  }
  if (e == errc::upstream_connect_failed) return IdpFailure(IdpFailureKind::connect);
  if (e == errc::internal) return IdpFailure(IdpFailureKind::internal);
  return IdpFailure(IdpFailureKind::io);
}

// What one try on one connection gave, and whether it deserves a second try on a new connection.
struct Try {
  HttpReplyResult result;
  bool stale = false;
};

// The body, read to its end by its framing, at most `max_body_bytes`.
awaitable<errc> read_body(http_io::ClientExchange& response, std::string& body,
                          Clock::time_point deadline, std::size_t max_body_bytes) {
  if (const auto whole = response.whole_body_buffered()) {
    if (whole->size() > max_body_bytes) co_return errc::upstream_bad_response;
    body.assign(*whole);
    response.consume_whole_body(whole->size());
    co_return errc::ok;
  }
  if (const auto length = response.parser().content_length()) {
    if (*length > max_body_bytes) co_return errc::upstream_bad_response;
    body.reserve(static_cast<std::size_t>(*length));
  }
  while (!response.body_done()) {
    // One byte of room beyond the limit, to see a body that exceeds it.
    const std::size_t room = std::min(kBodyPiece, max_body_bytes + 1 - body.size());
    const std::size_t old_size = body.size();
    body.resize(old_size + room);
    errc error = errc::ok;
    const std::size_t n =
        co_await response.read_body_piece(body.data() + old_size, room, deadline, error);
    body.resize(old_size + n);
    if (error != errc::ok) co_return error;
    if (body.size() > max_body_bytes) co_return errc::upstream_bad_response;
  }
  co_return errc::ok;
}

// The request on `lease`. Each socket operation is bounded by the deadline.
awaitable<Try> exchange_on(upstream::Lease lease, const std::string& wire,
                           Clock::time_point deadline, std::size_t max_body_bytes,
                           bool repeatable) {
  http_io::ClientExchange response(lease, /*head_request=*/false);
  lease.stream().expires_at(deadline);
  auto [write_error, written] = co_await asio::async_write(lease.stream(), asio::buffer(wire),
                                                           asio::as_tuple(asio::use_awaitable));
  if (write_error) {
    const errc e =
        write_error == beast::error::timeout ? errc::upstream_timeout : errc::upstream_bad_response;
    const bool stale = response.may_retry(e, repeatable, /*body_consumed=*/false);
    lease.discard();
    co_return Try{failure_of(e, deadline), stale};
  }
  errc e = co_await response.read_head(kMaxResponseHeaderBytes, deadline);
  if (e != errc::ok) {
    const bool stale = response.may_retry(e, repeatable, /*body_consumed=*/false);
    lease.discard();
    co_return Try{failure_of(e, deadline), stale};
  }
  HttpReply reply;
  e = co_await read_body(response, reply.body, deadline, max_body_bytes);
  if (e != errc::ok) {
    lease.discard();
    co_return Try{failure_of(e, deadline)};
  }
  reply.status = response.status();
  reply.retry_after = std::string(response.parser()[http::field::retry_after]);
  response.finish(/*request_keep_alive=*/true);
  co_return Try{std::move(reply)};
}

// The exchange on a connection from the pool (a new one when `fresh`), once more on a new one
// when a pooled connection was stale.
awaitable<HttpReplyResult> exchange_until(upstream::HttpClientPool& pool, const std::string& wire,
                                          Clock::time_point deadline, std::size_t max_body_bytes,
                                          bool fresh, bool repeatable) {
  for (;;) {
    result<upstream::Lease> lease = co_await pool.acquire(deadline, fresh);
    if (!lease) {
      if (Clock::now() >= deadline) co_return IdpFailure(IdpFailureKind::timeout);
      co_return failure_of(static_cast<errc>(lease.error().value()), deadline);
    }
    Try outcome =
        co_await exchange_on(std::move(*lease), wire, deadline, max_body_bytes, repeatable);
    if (!outcome.stale || fresh) co_return std::move(outcome.result);
    fresh = true;
  }
}

}  // namespace

awaitable<HttpReplyResult> exchange(upstream::HttpClientPool& pool,
                                    const http::request<http::string_body>& request,
                                    Clock::time_point deadline, std::size_t max_body_bytes,
                                    bool repeatable) {
  // The request as it goes on the wire, head and body in one piece: one plain write.
  std::string wire;
  wire.reserve(1024 + request.body().size());
  http_io::append_head(request.base(), wire);
  wire += request.body();

  // On a pooled connection every step is a socket operation bounded by the deadline: the usual
  // call needs nothing more.
  bool stale = false;
  if (auto lease = pool.take_idle()) {
    Try outcome =
        co_await exchange_on(std::move(*lease), wire, deadline, max_body_bytes, repeatable);
    if (!outcome.stale) co_return std::move(outcome.result);
    stale = true;
  }
  // A new connection, or a wait for one, leaves gaps (connect and TLS handshake are each bounded
  // by the pool's connect timeout): a timer raced against the whole exchange makes `deadline` hold
  // for all of it. The loser is cancelled; only name resolution cannot be interrupted.
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(co_await asio::this_coro::executor, deadline);
  auto outcome =
      co_await (exchange_until(pool, wire, deadline, max_body_bytes, stale, repeatable) ||
                timer.async_wait(asio::as_tuple(asio::use_awaitable)));
  if (outcome.index() == 0) co_return std::move(std::get<0>(outcome));
  co_return IdpFailure(IdpFailureKind::timeout);
}

}  // namespace tollgate::oidc
