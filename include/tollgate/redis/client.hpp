// A worker's client for one Redis: a few pipelined connections (opened when first needed, and again
// after one fails) and a circuit breaker. Used on its worker's thread only: nothing locks.
//
// The breaker: `kFailuresToOpen` failures in a row open it; while open, commands fail at once as
// Failure::unavailable; after the backoff (1 s, doubling to 30 s) one command goes through as a
// probe, and its success closes the breaker again.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "tollgate/redis/connection.hpp"

namespace tollgate::redis {

enum class BreakerState { closed, open, half_open };
std::string_view to_string(BreakerState state) noexcept;

class Breaker {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr int kFailuresToOpen = 3;
  static constexpr std::chrono::milliseconds kFirstBackoff{1'000};
  static constexpr std::chrono::milliseconds kMaxBackoff{30'000};

  // Called on every change of state, with the new state.
  using Transition = std::function<void(BreakerState)>;
  explicit Breaker(Transition on_transition = {}) : on_transition_(std::move(on_transition)) {}

  // Whether a command may go out now; in half-open, only the one probe may.
  bool allow(Clock::time_point now);
  void succeeded();
  void failed(Clock::time_point now);
  BreakerState state() const noexcept { return state_; }

 private:
  void move_to(BreakerState state);

  Transition on_transition_;
  BreakerState state_ = BreakerState::closed;
  int failures_ = 0;
  bool probing_ = false;
  std::chrono::milliseconds backoff_ = kFirstBackoff;
  Clock::time_point retry_at_{};
};

// Made with std::make_shared: a command keeps its client alive until it completes.
class Client : public std::enable_shared_from_this<Client> {
 public:
  static constexpr std::size_t kDefaultConnections = 2;

  Client(asio::any_io_executor executor, Options options, std::shared_ptr<ssl::context> tls_context,
         Breaker::Transition on_transition = {}, std::size_t max_connections = kDefaultConnections);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  awaitable<ReplyResult> command(std::span<const std::string_view> arguments,
                                 Accepts expected = kAnyReply);

  BreakerState breaker_state() const noexcept { return breaker_.state(); }
  // Closes every connection; commands waiting on them fail.
  void close();

 private:
  std::shared_ptr<Connection> pick();

  asio::any_io_executor executor_;
  Options options_;
  std::shared_ptr<ssl::context> tls_context_;
  Breaker breaker_;
  std::vector<std::shared_ptr<Connection>> connections_;
  std::size_t next_ = 0;
};

}  // namespace tollgate::redis
