// The pool's connection bound and its wait queue, against a real listener on 127.0.0.1 that
// accepts and stays silent: a request beyond max_connections waits for a connection given back or
// for the slot of one closed, in arrival order, for a bounded time, and a full queue is refused at
// once.
#include "tollgate/upstream/http_client_pool.hpp"

#include <optional>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "tollgate/common/error.hpp"

namespace tollgate::upstream {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

class PoolBoundTest : public ::testing::Test {
 protected:
  PoolBoundTest() : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
    accept();
    PoolOptions options;
    options.max_connections = 1;
    options.max_waiting = 1;
    pool_.emplace(io_.get_executor(), Origin{false, "127.0.0.1", acceptor_.local_endpoint().port()},
                  options);
  }

  void accept() {
    acceptor_.async_accept([this](error_code ec, tcp::socket socket) {
      if (ec) return;
      accepted_.push_back(std::move(socket));
      accept();
    });
  }

  // Starts an acquire; its outcome lands in `out` once it completes.
  void start_acquire(std::optional<result<Lease>>& out, milliseconds wait = milliseconds(5000),
                     bool fresh = false) {
    asio::co_spawn(
        io_,
        [&, wait, fresh]() -> awaitable<void> {
          out.emplace(co_await pool_->acquire(Clock::now() + wait, fresh));
        },
        asio::detached);
  }

  template <class Done>
  bool run_until(Done done) {
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (!done() && Clock::now() < deadline) io_.run_one_for(milliseconds(20));
    return done();
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::vector<tcp::socket> accepted_;
  std::optional<HttpClientPool> pool_;
};

TEST_F(PoolBoundTest, AConnectionGivenBackGoesToTheWaitingRequest) {
  std::optional<result<Lease>> first, second, third;
  start_acquire(first);
  ASSERT_TRUE(run_until([&] { return first.has_value(); }));
  ASSERT_TRUE(first->has_value());
  start_acquire(second);
  ASSERT_TRUE(run_until([&] { return pool_->waiting_count() == 1; }));
  start_acquire(third);  // the queue holds one: refused at once
  ASSERT_TRUE(run_until([&] { return third.has_value(); }));
  ASSERT_TRUE(third->has_error());
  EXPECT_EQ(third->error(), make_error_code(errc::upstream_busy));

  first->value().release();
  ASSERT_TRUE(run_until([&] { return second.has_value(); }));
  ASSERT_TRUE(second->has_value());
  EXPECT_TRUE(second->value().reused());
  EXPECT_EQ(pool_->open_count(), 1u);
  EXPECT_EQ(accepted_.size(), 1u);
}

TEST_F(PoolBoundTest, TheSlotOfAClosedConnectionGoesToTheWaitingRequest) {
  std::optional<result<Lease>> first, second;
  start_acquire(first);
  ASSERT_TRUE(run_until([&] { return first.has_value(); }));
  start_acquire(second);
  ASSERT_TRUE(run_until([&] { return pool_->waiting_count() == 1; }));
  first->value().discard();
  ASSERT_TRUE(run_until([&] { return second.has_value(); }));
  ASSERT_TRUE(second->has_value());
  EXPECT_FALSE(second->value().reused());
  EXPECT_EQ(pool_->open_count(), 1u);
  ASSERT_TRUE(run_until([&] { return accepted_.size() == 2; }));
}

TEST_F(PoolBoundTest, TheWaitEndsAtItsDeadline) {
  std::optional<result<Lease>> first, second;
  start_acquire(first);
  ASSERT_TRUE(run_until([&] { return first.has_value(); }));
  const auto started = Clock::now();
  start_acquire(second, milliseconds(100));
  ASSERT_TRUE(run_until([&] { return second.has_value(); }));
  EXPECT_GE(Clock::now() - started, milliseconds(90));
  ASSERT_TRUE(second->has_error());
  EXPECT_EQ(second->error(), make_error_code(errc::upstream_busy));
  EXPECT_EQ(pool_->waiting_count(), 0u);
  EXPECT_EQ(pool_->open_count(), 1u);
}

// A connection with bytes nobody asked for (here: the peer's close) is never handed out again.
TEST_F(PoolBoundTest, AnIdleConnectionThePeerClosedIsNotReused) {
  std::optional<result<Lease>> first, second;
  start_acquire(first);
  ASSERT_TRUE(run_until([&] { return first.has_value() && accepted_.size() == 1; }));
  first->value().release();
  EXPECT_EQ(pool_->idle_count(), 1u);
  // On loopback the close has reached the pooled socket when close() returns.
  accepted_.front().close();
  start_acquire(second);
  ASSERT_TRUE(run_until([&] { return second.has_value(); }));
  ASSERT_TRUE(second->has_value());
  EXPECT_FALSE(second->value().reused());
}

}  // namespace
}  // namespace tollgate::upstream
