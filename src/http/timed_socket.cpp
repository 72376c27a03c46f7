#include "tollgate/http/timed_socket.hpp"

namespace tollgate::http_io {

TimedSocket::TimedSocket(tcp::socket socket) : state_(std::make_shared<State>(std::move(socket))) {}

TimedSocket::TimedSocket(const executor_type& executor) : TimedSocket(tcp::socket(executor)) {}

TimedSocket& TimedSocket::operator=(TimedSocket&& other) noexcept {
  if (this != &other) {
    TimedSocket gone(std::move(*this));
    state_ = std::move(other.state_);
  }
  return *this;
}

// The socket closes now, as a destroyed socket does; the state goes once the last handler has run.
TimedSocket::~TimedSocket() {
  if (!state_) return;
  error_code ignored;
  state_->socket.close(ignored);
  state_->timer.cancel();
}

void TimedSocket::expires_at(Clock::time_point deadline) {
  State& state = *state_;
  state.deadline = deadline;
  state.expired = false;
  if (deadline == Clock::time_point::max()) return;        // a pending wait finds none and stops
  if (state.waiting && state.wake_at <= deadline) return;  // it wakes first and looks again
  wake_at(state_, deadline);
}

void TimedSocket::wake_at(const StatePtr& state, Clock::time_point when) {
  state->wake_at = when;
  state->waiting = true;
  state->timer.expires_at(when);  // a wait still pending ends as cancelled: it knows its generation
  state->timer.async_wait(
      asio::bind_allocator(ExactAllocator<void>(), Wake{state, ++state->wait_generation}));
}

void TimedSocket::Wake::operator()(error_code ec) {
  if (ec) return;
  const StatePtr owner = state.lock();
  if (!owner) return;  // the socket and its operations are gone
  State& s = *owner;
  if (generation != s.wait_generation) return;
  s.waiting = false;
  if (s.deadline == Clock::time_point::max()) return;
  if (Clock::now() < s.deadline) {
    wake_at(owner, s.deadline);
    return;
  }
  s.expired = true;
  error_code ignored;
  s.socket.cancel(ignored);
}

}  // namespace tollgate::http_io
