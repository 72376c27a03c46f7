// Helpers shared by the oidc and openid-connect filter unit tests: a clock the test moves by hand,
// answers built from JSON text, and a gate that holds a coroutine until the test opens it.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "tollgate/oidc/clock.hpp"
#include "tollgate/oidc/introspection.hpp"

namespace tollgate::oidc::testing {

// Starts at a fixed wall time (2023-11-14T22:13:20Z = 1'700'000'000 s) and moves only when told.
class ManualClock final : public Clock {
 public:
  static constexpr std::int64_t kStartSeconds = 1'700'000'000;

  std::chrono::system_clock::time_point wall_now() const override {
    return std::chrono::system_clock::time_point(std::chrono::seconds(kStartSeconds)) + elapsed();
  }
  std::chrono::steady_clock::time_point steady_now() const override {
    return std::chrono::steady_clock::time_point(std::chrono::hours(1)) + elapsed();
  }
  void advance(std::chrono::milliseconds by) { elapsed_ms_ += by.count(); }
  // Seconds since the epoch, as claims write them.
  std::int64_t epoch_seconds() const { return kStartSeconds + elapsed_ms_.load() / 1000; }

 private:
  std::chrono::milliseconds elapsed() const {
    return std::chrono::milliseconds(elapsed_ms_.load());
  }
  std::atomic<std::int64_t> elapsed_ms_{0};
};

inline IntrospectionPtr answer_from(const std::string& json_text) {
  auto result = parse_introspection_response(200, "", json_text, std::chrono::system_clock::now());
  if (!result) throw std::runtime_error("test answer is not a valid introspection response");
  return *result;
}

// Holds the coroutines that wait() until open() is called. open() must be called while no thread
// runs the waiting coroutines' io_contexts (tests open it between their poll and run phases), or
// from the waiter's own thread.
class Gate {
 public:
  boost::asio::awaitable<void> wait() {
    auto executor = co_await boost::asio::this_coro::executor;
    boost::asio::steady_timer timer(executor, std::chrono::steady_clock::time_point::max());
    {
      std::lock_guard lock(mutex_);
      if (open_) co_return;
      timer_ = &timer;
    }
    co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    std::lock_guard lock(mutex_);
    timer_ = nullptr;
  }
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    if (timer_ != nullptr) timer_->cancel();
  }

 private:
  std::mutex mutex_;
  bool open_ = false;
  boost::asio::steady_timer* timer_ = nullptr;
};

}  // namespace tollgate::oidc::testing
