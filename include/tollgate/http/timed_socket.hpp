// A TCP socket with one deadline, as beast::tcp_stream has, without a timer operation per read or
// write. Setting the deadline stores a time; one timer per connection wakes at most once per
// timeout period (or when a deadline earlier than its wake-up is set), and only then looks at the
// deadline: passed, it cancels what the socket waits for, and those operations complete with
// beast::error::timeout. An operation started once the deadline has passed fails the same way.
//
// Unlike beast::tcp_stream, a timeout cancels rather than closes: the caller decides (a late
// request head still gets its 408). One connection lives on one thread, so nothing here locks.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <utility>

#include <boost/asio/append.hpp>
#include <boost/asio/associator.hpp>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>

#include "tollgate/common/asio.hpp"
#include "tollgate/common/exact_allocator.hpp"

namespace tollgate::http_io {

class TimedSocket {
 public:
  using Clock = std::chrono::steady_clock;
  using executor_type = tcp::socket::executor_type;
  using lowest_layer_type = tcp::socket;  // what ssl::stream asks of its next layer

  explicit TimedSocket(tcp::socket socket);
  explicit TimedSocket(const executor_type& executor);
  TimedSocket(TimedSocket&&) noexcept = default;
  TimedSocket& operator=(TimedSocket&& other) noexcept;
  ~TimedSocket();

  tcp::socket& socket() { return state_->socket; }
  lowest_layer_type& lowest_layer() { return state_->socket; }
  executor_type get_executor() { return state_->socket.get_executor(); }

  // The deadline for every operation from now on, until set again.
  void expires_at(Clock::time_point deadline);
  void expires_after(Clock::duration timeout) { expires_at(Clock::now() + timeout); }
  void expires_never() { expires_at(Clock::time_point::max()); }
  // True once the deadline has passed and cancelled the socket's operations.
  bool expired() const noexcept { return state_->expired; }

  template <class Buffers, class Token>
  auto async_read_some(const Buffers& buffers, Token&& token) {
    return start<void(error_code, std::size_t)>(
        [](tcp::socket& s, const Buffers& b, auto handler) {
          s.async_read_some(b, std::move(handler));
        },
        std::forward<Token>(token), buffers);
  }

  template <class Buffers, class Token>
  auto async_write_some(const Buffers& buffers, Token&& token) {
    return start<void(error_code, std::size_t)>(
        [](tcp::socket& s, const Buffers& b, auto handler) {
          s.async_write_some(b, std::move(handler));
        },
        std::forward<Token>(token), buffers);
  }

  template <class Token>
  auto async_connect(const tcp::endpoint& endpoint, Token&& token) {
    return start<void(error_code)>([](tcp::socket& s, const tcp::endpoint& e,
                                      auto handler) { s.async_connect(e, std::move(handler)); },
                                   std::forward<Token>(token), endpoint);
  }

  // Tries each endpoint in turn (what a name resolved to), within the one deadline.
  template <class Endpoints, class Token>
  auto async_connect_range(const Endpoints& endpoints, Token&& token) {
    return start<void(error_code, tcp::endpoint)>(
        [](tcp::socket& s, const Endpoints& e, auto handler) {
          asio::async_connect(s, e, std::move(handler));
        },
        std::forward<Token>(token), endpoints);
  }

 private:
  // Owned by the socket and by its pending operations' handlers (one may complete after the socket
  // was destroyed). The timer's handler only observes it: when the io_context is destroyed with the
  // wait pending, destroying that handler must not destroy the timer it belongs to.
  struct State {
    explicit State(tcp::socket s) : socket(std::move(s)), timer(socket.get_executor()) {}
    tcp::socket socket;
    asio::steady_timer timer;
    Clock::time_point deadline = Clock::time_point::max();
    Clock::time_point wake_at = Clock::time_point::max();  // when the pending wait ends
    unsigned wait_generation = 0;  // a wait replaced by a newer one finds it changed
    bool waiting = false;
    bool expired = false;
  };
  using StatePtr = std::shared_ptr<State>;

  // The timer's handler: a deadline moved later sends it back to sleep; a passed one cancels.
  struct Wake {
    std::weak_ptr<State> state;
    unsigned generation;
    void operator()(error_code ec);
  };
  static void wake_at(const StatePtr& state, Clock::time_point when);

 public:
  // An operation's handler, with a cancellation by the deadline reported as a timeout.
  template <class Handler>
  struct TimeoutReporting {
    Handler handler;
    StatePtr state;

    template <class... Rest>
    void operator()(error_code ec, Rest&&... rest) {
      if (ec == asio::error::operation_aborted && state->expired) ec = beast::error::timeout;
      state.reset();
      std::move(handler)(ec, std::forward<Rest>(rest)...);
    }
  };

 private:
  template <class Signature, class Initiate, class Token, class Argument>
  auto start(Initiate initiate, Token&& token, const Argument& argument) {
    return asio::async_initiate<Token, Signature>(
        [](auto handler, StatePtr state, Initiate initiate, const Argument& argument) {
          tcp::socket& socket = state->socket;
          if (state->expired) {
            TimeoutPost<Signature>::post(socket.get_executor(), std::move(handler));
            return;
          }
          initiate(socket, argument,
                   TimeoutReporting<std::decay_t<decltype(handler)>>{std::move(handler),
                                                                     std::move(state)});
        },
        token, state_, std::move(initiate), argument);
  }

  // Completes an operation started after the deadline: the timeout, and empty values for the rest
  // of its signature (no bytes, no endpoint).
  template <class Signature>
  struct TimeoutPost;
  template <class... Rest>
  struct TimeoutPost<void(error_code, Rest...)> {
    template <class Handler>
    static void post(const executor_type& executor, Handler handler) {
      asio::post(executor,
                 asio::append(std::move(handler), error_code(beast::error::timeout), Rest{}...));
    }
  };

  StatePtr state_;
};

}  // namespace tollgate::http_io

// The wrapped handler keeps what the operation's handler is associated with: its executor, its
// allocator and its cancellation slot (awaitable operators cancel through it).
template <template <typename, typename> class Associator, typename Handler, typename Default>
struct boost::asio::associator<Associator,
                               tollgate::http_io::TimedSocket::TimeoutReporting<Handler>, Default> {
  using type = typename Associator<Handler, Default>::type;
  static type get(const tollgate::http_io::TimedSocket::TimeoutReporting<Handler>& h) noexcept {
    return Associator<Handler, Default>::get(h.handler);
  }
  static auto get(const tollgate::http_io::TimedSocket::TimeoutReporting<Handler>& h,
                  const Default& d) noexcept
      -> decltype(Associator<Handler, Default>::get(h.handler, d)) {
    return Associator<Handler, Default>::get(h.handler, d);
  }
};
