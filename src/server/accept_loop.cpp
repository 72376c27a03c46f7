#include "accept_loop.hpp"

#include <algorithm>
#include <chrono>

#include <spdlog/spdlog.h>

namespace tollgate::server {
namespace {

constexpr std::chrono::milliseconds kFirstBackoff{5};
constexpr std::chrono::milliseconds kMaxBackoff{1'000};
// Connections taken from the backlog per turn of the worker's loop, beyond the one awaited.
constexpr int kAcceptBatch = 64;

// Each awaited accept completes at the back of the worker's queue, behind a handler for every
// busy connection: taking one connection per turn left a burst of new ones in the backlog for up
// to a second under load. What the backlog holds now is taken at once, up to a batch; a failure
// here is left to the awaited accept, which backs off.
void accept_waiting(tcp::acceptor& acceptor, const std::function<void(tcp::socket)>& serve) {
  for (int i = 0; i < kAcceptBatch; ++i) {
    error_code ec;
    tcp::socket socket = acceptor.accept(ec);
    if (ec) return;
    serve(std::move(socket));
  }
}

}  // namespace

awaitable<void> accept_connections(tcp::acceptor& acceptor, std::string listener,
                                   std::function<void(tcp::socket)> serve) {
  asio::steady_timer timer(acceptor.get_executor());
  error_code non_blocking_failed;
  acceptor.non_blocking(true, non_blocking_failed);
  std::chrono::milliseconds backoff{0};  // 0: not in a failure episode
  std::size_t failures = 0;
  for (;;) {
    error_code ec;
    tcp::socket socket =
        co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (!ec) {
      if (backoff.count() != 0) {
        spdlog::info("{}: accepting again after {} failed attempt(s)", listener, failures);
        backoff = std::chrono::milliseconds(0);
        failures = 0;
      }
      serve(std::move(socket));
      if (!non_blocking_failed) accept_waiting(acceptor, serve);
      continue;
    }
    if (backoff.count() == 0) {
      spdlog::warn("{}: accept failed: {}; retrying with backoff up to {} ms", listener,
                   ec.message(), kMaxBackoff.count());
      backoff = kFirstBackoff;
    } else {
      backoff = std::min(backoff * 2, kMaxBackoff);
    }
    ++failures;
    timer.expires_after(backoff);
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!acceptor.is_open()) co_return;
  }
}

}  // namespace tollgate::server
