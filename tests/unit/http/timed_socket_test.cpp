// TimedSocket: one deadline per connection, checked lazily. Real sockets on 127.0.0.1; every run
// of the io_context is bounded, so a deadline that never fires fails the test instead of hanging.
#include "tollgate/http/timed_socket.hpp"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include <boost/asio/experimental/awaitable_operators.hpp>

namespace tollgate::http_io {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kBound = 5s;  // how long any test may run its io_context

class TimedSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tcp::acceptor acceptor(io_, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    tcp::socket client(io_);
    client.connect(acceptor.local_endpoint());
    peer_ = acceptor.accept();
    socket_.emplace(std::move(client));
  }

  // Starts a read of whatever comes; its outcome lands in `read_error_` / `read_text_`.
  void start_read() {
    socket_->async_read_some(asio::buffer(read_bytes_), [this](error_code ec, std::size_t n) {
      read_error_ = ec;
      read_text_.assign(read_bytes_.data(), n);
    });
  }

  // Writes `text` from the peer after `delay` (a timer on the same io_context).
  void peer_writes_after(Clock::duration delay, std::string text) {
    peer_timer_.expires_after(delay);
    peer_timer_.async_wait([this, text = std::move(text)](error_code ec) {
      if (!ec) asio::write(peer_, asio::buffer(text));
    });
  }

  void run_until_read_done() {
    io_.restart();
    const auto until = Clock::now() + kBound;
    while (!read_error_ && Clock::now() < until) io_.run_one_until(until);
    ASSERT_TRUE(read_error_.has_value()) << "the read never completed";
  }

  asio::io_context io_;
  tcp::socket peer_{io_};
  std::optional<TimedSocket> socket_;
  asio::steady_timer peer_timer_{io_};
  std::array<char, 64> read_bytes_{};
  std::optional<error_code> read_error_;
  std::string read_text_;
};

TEST_F(TimedSocketTest, APassedDeadlineEndsTheReadAsATimeoutAndLeavesTheSocketOpen) {
  socket_->expires_after(30ms);
  start_read();
  run_until_read_done();
  EXPECT_EQ(*read_error_, beast::error::timeout);
  EXPECT_TRUE(socket_->expired());
  EXPECT_TRUE(socket_->socket().is_open());  // cancelled, not closed: the caller may still answer

  // A new deadline clears it: the socket reads again.
  read_error_.reset();
  socket_->expires_after(kBound);
  EXPECT_FALSE(socket_->expired());
  peer_writes_after(0ms, "late");
  start_read();
  run_until_read_done();
  EXPECT_FALSE(*read_error_);
  EXPECT_EQ(read_text_, "late");
}

TEST_F(TimedSocketTest, ADeadlineMovedLaterDoesNotEndTheReadAtTheEarlierOne) {
  socket_->expires_after(20ms);  // the timer wakes at 20 ms and must sleep on
  socket_->expires_after(kBound);
  peer_writes_after(150ms, "data");
  start_read();
  run_until_read_done();
  EXPECT_FALSE(*read_error_) << read_error_->message();
  EXPECT_EQ(read_text_, "data");
}

TEST_F(TimedSocketTest, ADeadlineMovedEarlierEndsTheReadAtTheEarlierOne) {
  socket_->expires_after(1h);
  socket_->expires_after(30ms);
  start_read();
  run_until_read_done();  // bounded by kBound: the hour-long wake-up would fail it
  EXPECT_EQ(*read_error_, beast::error::timeout);
}

TEST_F(TimedSocketTest, NoDeadlineMeansTheReadWaitsForData) {
  socket_->expires_after(20ms);
  socket_->expires_never();
  peer_writes_after(150ms, "x");
  start_read();
  run_until_read_done();
  EXPECT_FALSE(*read_error_);
  EXPECT_EQ(read_text_, "x");
}

TEST_F(TimedSocketTest, AnOperationStartedAfterTheDeadlinePassedFailsAtOnce) {
  socket_->expires_after(10ms);
  // Let the deadline pass with nothing pending.
  asio::steady_timer wait(io_, 60ms);
  wait.async_wait([](error_code) {});
  io_.run_for(kBound);
  ASSERT_TRUE(socket_->expired());

  asio::write(peer_, asio::buffer(std::string("ready")));  // even with bytes there
  start_read();
  run_until_read_done();
  EXPECT_EQ(*read_error_, beast::error::timeout);
}

TEST_F(TimedSocketTest, AWriteIsBoundedToo) {
  // The peer never reads: the kernel buffers fill and a write waits until its deadline.
  const std::string chunk(1 << 20, 'x');
  socket_->expires_after(200ms);
  std::optional<error_code> write_error;
  std::function<void()> write_more = [&] {
    socket_->async_write_some(asio::buffer(chunk), [&](error_code ec, std::size_t) {
      if (ec) {
        write_error = ec;
        return;
      }
      write_more();
    });
  };
  write_more();
  const auto until = Clock::now() + kBound;
  while (!write_error && Clock::now() < until) io_.run_one_until(until);
  ASSERT_TRUE(write_error.has_value());
  EXPECT_EQ(*write_error, beast::error::timeout);
}

TEST_F(TimedSocketTest, DestroyedWithItsTimerPendingItLeavesNothingBehind) {
  socket_->expires_after(10ms);
  start_read();
  socket_.reset();  // the read ends as aborted; the timer's handler still holds the state
  run_until_read_done();
  EXPECT_EQ(*read_error_, asio::error::operation_aborted);
  io_.run_for(100ms);  // the timer's handler runs last; under ASan, a touch after a free fails here
}

// The handler's cancellation slot reaches the socket's operation: an awaitable operator that
// cancels the losing read works through the wrapper.
TEST_F(TimedSocketTest, ACancellationThroughTheHandlersSlotEndsTheRead) {
  using namespace asio::experimental::awaitable_operators;
  socket_->expires_after(1h);
  std::optional<std::size_t> winner;
  asio::co_spawn(
      io_,
      [&]() -> awaitable<void> {
        asio::steady_timer timer(io_, 30ms);
        auto outcome =
            co_await (socket_->async_read_some(asio::buffer(read_bytes_), asio::use_awaitable) ||
                      timer.async_wait(asio::use_awaitable));
        winner = outcome.index();
      },
      asio::detached);
  const auto until = Clock::now() + kBound;
  while (!winner && Clock::now() < until) io_.run_one_until(until);
  ASSERT_TRUE(winner.has_value());
  EXPECT_EQ(*winner, 1u);
  EXPECT_FALSE(socket_->expired());
}

}  // namespace
}  // namespace tollgate::http_io
