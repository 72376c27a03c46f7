#include "tollgate/redis/client.hpp"

#include <algorithm>

namespace tollgate::redis {

std::string_view to_string(BreakerState state) noexcept {
  switch (state) {
    case BreakerState::closed:
      return "closed";
    case BreakerState::open:
      return "open";
    case BreakerState::half_open:
      return "half_open";
  }
  return "unknown";
}

bool Breaker::allow(Clock::time_point now) {
  switch (state_) {
    case BreakerState::closed:
      return true;
    case BreakerState::open:
      if (now < retry_at_) return false;
      move_to(BreakerState::half_open);
      probing_ = true;
      return true;
    case BreakerState::half_open:
      if (probing_) return false;
      probing_ = true;
      return true;
  }
  return false;
}

void Breaker::succeeded() {
  failures_ = 0;
  probing_ = false;
  backoff_ = kFirstBackoff;
  if (state_ != BreakerState::closed) move_to(BreakerState::closed);
}

void Breaker::failed(Clock::time_point now) {
  if (state_ == BreakerState::open) return;  // commands already in flight when it opened
  if (state_ == BreakerState::half_open) {
    probing_ = false;
    backoff_ = std::min(backoff_ * 2, kMaxBackoff);
  } else if (++failures_ < kFailuresToOpen) {
    return;
  }
  retry_at_ = now + backoff_;
  move_to(BreakerState::open);
}

void Breaker::move_to(BreakerState state) {
  state_ = state;
  if (on_transition_) on_transition_(state);
}

Client::Client(asio::any_io_executor executor, Options options,
               std::shared_ptr<ssl::context> tls_context, Breaker::Transition on_transition,
               std::size_t max_connections)
    : executor_(std::move(executor)),
      options_(std::move(options)),
      tls_context_(std::move(tls_context)),
      breaker_(std::move(on_transition)),
      connections_(std::max<std::size_t>(max_connections, 1)) {}

Client::~Client() {
  close();
}

void Client::close() {
  for (std::shared_ptr<Connection>& connection : connections_) {
    if (connection) connection->close(Failure::closed);
    connection.reset();
  }
}

std::shared_ptr<Connection> Client::pick() {
  std::shared_ptr<Connection>& slot = connections_[next_];
  next_ = (next_ + 1) % connections_.size();
  if (!slot || !slot->usable()) slot = Connection::open(executor_, options_, tls_context_);
  return slot;
}

awaitable<ReplyResult> Client::command(std::span<const std::string_view> arguments,
                                       Accepts expected) {
  if (!breaker_.allow(Breaker::Clock::now())) co_return Failure::unavailable;
  const std::shared_ptr<Client> self = shared_from_this();
  const std::shared_ptr<Connection> connection = pick();
  ReplyResult reply = co_await connection->command(arguments, expected);
  if (reply) {
    breaker_.succeeded();
  } else {
    breaker_.failed(Breaker::Clock::now());
  }
  co_return reply;
}

}  // namespace tollgate::redis
