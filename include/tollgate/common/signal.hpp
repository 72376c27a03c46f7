// A wake-up for a coroutine that waits on another, on one thread: a notify() before the wait is not
// lost.
#pragma once

#include <chrono>

#include "tollgate/common/asio.hpp"

namespace tollgate {

class Signal {
 public:
  using Clock = std::chrono::steady_clock;

  explicit Signal(const asio::any_io_executor& executor) : timer_(executor) {}
  void notify() {
    pending_ = true;
    timer_.cancel();
  }
  // True when notified, false when `deadline` passed first.
  awaitable<bool> wait(Clock::time_point deadline) {
    if (!pending_) {
      timer_.expires_at(deadline);
      error_code ec;
      co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    const bool notified = pending_;
    pending_ = false;
    co_return notified;
  }

 private:
  asio::steady_timer timer_;
  bool pending_ = false;
};

}  // namespace tollgate
