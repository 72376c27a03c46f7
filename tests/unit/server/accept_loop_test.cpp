// The accept loop on a busy worker: connections waiting in the backlog are taken in a few turns
// of the event loop, not one per turn behind every other connection's work.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "server/accept_loop.hpp"

namespace tollgate::server {
namespace {

TEST(AcceptLoop, ABacklogIsTakenInAFewTurnsOfABusyLoop) {
  constexpr int kWaiting = 200;
  asio::io_context io;
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  // The clients' handshakes complete in the kernel: all of them wait in the backlog before the
  // loop runs.
  std::vector<tcp::socket> clients;
  for (int i = 0; i < kWaiting; ++i) {
    clients.emplace_back(io).connect(acceptor.local_endpoint());
  }

  std::vector<tcp::socket> served;
  int turns = 0;
  // The worker's other work: one handler per turn of the loop, for as long as connections wait
  // (and a bounded while: an accept loop that stalls ends the test instead of hanging it).
  std::function<void()> busy = [&] {
    ++turns;
    if (served.size() == kWaiting) return;
    if (turns < 10 * kWaiting) {
      asio::post(io, busy);
    } else {
      acceptor.close();
    }
  };
  asio::post(io, busy);
  asio::co_spawn(io,
                 accept_connections(acceptor, "test",
                                    [&](tcp::socket s) {
                                      served.push_back(std::move(s));
                                      if (served.size() == kWaiting) acceptor.close();
                                    }),
                 asio::detached);
  io.run();

  EXPECT_EQ(served.size(), static_cast<std::size_t>(kWaiting));
  // One connection per turn would take kWaiting turns.
  EXPECT_LE(turns, 10);
}

}  // namespace
}  // namespace tollgate::server
