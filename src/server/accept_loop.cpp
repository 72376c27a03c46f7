#include "accept_loop.hpp"

#include <algorithm>
#include <chrono>

#include <spdlog/spdlog.h>

namespace tollgate::server {
namespace {

constexpr std::chrono::milliseconds kFirstBackoff{5};
constexpr std::chrono::milliseconds kMaxBackoff{1'000};

}  // namespace

awaitable<void> accept_connections(tcp::acceptor& acceptor, std::string listener,
                                   std::function<void(tcp::socket)> serve) {
  asio::steady_timer timer(acceptor.get_executor());
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
