// The client exchange and its pool against a peer that answers by a seeded random schedule: interim
// 1xx heads, bodies framed by length, chunks or the close, bodies on 204 and 304 and HEAD answers,
// a stray response after the answer, each split at random points across writes. The invariant:
// whatever the peer sends, a request reads its own marker or fails; never another request's. The
// seed is printed on failure; TOLLGATE_EXCHANGE_SEED and TOLLGATE_EXCHANGE_COUNT reproduce a run
// or make it longer.
#include "tollgate/http/client_exchange.hpp"

#include <algorithm>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace tollgate::http_io {
namespace {

using Clock = std::chrono::steady_clock;

std::uint64_t env_or(const char* name, std::uint64_t fallback) {
  const char* value = std::getenv(name);
  return value ? std::strtoull(value, nullptr, 10) : fallback;
}

// The peer: reads a request head, takes its marker from the target ("/<n>"), and answers as the
// schedule, seeded per request, says.
awaitable<void> serve(tcp::socket socket, std::uint64_t seed) {
  socket.set_option(tcp::no_delay(true));  // each piece leaves at once
  std::string pending;
  char chunk[4096];
  for (;;) {
    std::size_t end;
    while ((end = pending.find("\r\n\r\n")) == std::string::npos) {
      auto [ec, n] =
          co_await socket.async_read_some(asio::buffer(chunk), asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      pending.append(chunk, n);
    }
    const std::string head = pending.substr(0, end);
    pending.erase(0, end + 4);
    const bool is_head = head.starts_with("HEAD ");
    const std::size_t slash = head.find('/');
    const std::string marker =
        "marker:" + head.substr(slash + 1, head.find(' ', slash) - slash - 1);
    std::mt19937_64 random(seed ^ std::hash<std::string>{}(marker));
    auto pick = [&](int n) { return static_cast<int>(random() % static_cast<unsigned>(n)); };

    std::string wire;
    for (int i = pick(4); i > 0; --i)
      wire += pick(2) ? "HTTP/1.1 103 Early Hints\r\nLink: </s>\r\n\r\n"
                      : "HTTP/1.1 100 Continue\r\n\r\n";
    const std::string stray = "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nmarker:stray";
    bool close = false;
    std::string after;  // bytes nobody asked for, right after the answer
    switch (pick(6)) {
      case 0:  // length
        wire += "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(marker.size()) + "\r\n\r\n";
        if (!is_head) wire += marker;
        break;
      case 1:  // chunks
        wire += "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        if (!is_head)
          wire += "3\r\n" + marker.substr(0, 3) + "\r\n" +
                  (std::stringstream() << std::hex << marker.size() - 3).str() + "\r\n" +
                  marker.substr(3) + "\r\n0\r\n\r\n";
        break;
      case 2:  // the close
        wire += "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";
        if (!is_head) wire += marker;
        close = true;
        break;
      case 3:  // 204 with a body it must not have
        wire += "HTTP/1.1 204 No Content\r\n\r\n";
        after = stray;
        break;
      case 4:  // 304 announcing a length it must not send, and sending it
        wire += "HTTP/1.1 304 Not Modified\r\nContent-Length: " + std::to_string(stray.size()) +
                "\r\n\r\n";
        after = stray;
        break;
      default:  // a complete answer, then another nobody asked for
        wire += "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(marker.size()) + "\r\n\r\n";
        if (!is_head) wire += marker;
        after = stray;
        break;
    }
    // Random split points, each piece its own write. Unwanted bytes leave in the same write as
    // the answer's last byte: sent later, nothing could tell them from the next answer.
    std::vector<std::size_t> cuts{0};
    for (int i = pick(4); i > 0; --i) cuts.push_back(random() % wire.size());
    wire += after;
    cuts.push_back(wire.size());
    std::sort(cuts.begin(), cuts.end());
    for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {
      if (cuts[i] == cuts[i + 1]) continue;
      auto [ec, n] = co_await asio::async_write(
          socket, asio::buffer(wire.data() + cuts[i], cuts[i + 1] - cuts[i]),
          asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
    }
    if (close) co_return;
  }
}

awaitable<void> accept_loop(tcp::acceptor& acceptor, std::uint64_t seed) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    asio::co_spawn(acceptor.get_executor(), serve(std::move(socket), seed), asio::detached);
  }
}

struct Outcome {
  int answered = 0;
  int failed = 0;
  std::vector<std::string> wrong;  // what a request read that was not its own
};

awaitable<void> run_client(upstream::HttpClientPool& pool, std::uint64_t count, Outcome& out) {
  for (std::uint64_t i = 0; i < count; ++i) {
    const bool head = i % 5 == 4;
    const std::string marker = "marker:" + std::to_string(i);
    auto lease = co_await pool.acquire(Clock::now() + std::chrono::seconds(5));
    if (!lease) {
      ++out.failed;
      continue;
    }
    const std::string request = std::string(head ? "HEAD" : "GET") + " /" + std::to_string(i) +
                                " HTTP/1.1\r\nHost: peer\r\n\r\n";
    lease->stream().expires_after(std::chrono::seconds(5));
    auto [ec, n] = co_await asio::async_write(lease->stream(), asio::buffer(request),
                                              asio::as_tuple(asio::use_awaitable));
    ClientExchange exchange(*lease, head);
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    if (ec || co_await exchange.read_head(16 * 1024, deadline) != errc::ok) {
      ++out.failed;
      lease->discard();
      continue;
    }
    std::string body;
    char piece[7];  // small pieces: bodies cross read boundaries
    errc error = errc::ok;
    while (!exchange.body_done() && error == errc::ok) {
      const std::size_t got =
          co_await exchange.read_body_piece(piece, sizeof piece, deadline, error);
      body.append(piece, got);
    }
    if (error != errc::ok) {
      ++out.failed;
      lease->discard();
      continue;
    }
    const unsigned status = exchange.status();
    const bool bodyless = head || status == 204 || status == 304;
    if (bodyless ? !body.empty() : body != marker) {
      out.wrong.push_back(std::to_string(i) + " (" + std::to_string(status) + ") read \"" + body +
                          "\"");
    }
    ++out.answered;
    exchange.finish(true);
  }
}

TEST(ClientExchangeProperty, EveryRequestReadsItsOwnAnswerOrFails) {
  const std::uint64_t seed = env_or("TOLLGATE_EXCHANGE_SEED", std::random_device{}());
  const std::uint64_t count = env_or("TOLLGATE_EXCHANGE_COUNT", 5000);
  SCOPED_TRACE("seed " + std::to_string(seed) + " (TOLLGATE_EXCHANGE_SEED to repeat)");
  asio::io_context io;
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  asio::co_spawn(io, accept_loop(acceptor, seed), asio::detached);
  upstream::PoolOptions options;
  options.max_connections = 2;
  options.max_waiting = 64;
  upstream::HttpClientPool pool(io.get_executor(),
                                {false, "127.0.0.1", acceptor.local_endpoint().port()}, options);
  Outcome outcome;
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        co_await run_client(pool, count, outcome);
        done = true;
        io.stop();  // the peer still waits on pooled connections
      },
      asio::detached);
  io.run_for(std::chrono::seconds(60));
  ASSERT_TRUE(done) << outcome.answered << " answered, " << outcome.failed << " failed";
  EXPECT_TRUE(outcome.wrong.empty())
      << outcome.wrong.size() << " wrong, first: " << outcome.wrong.front();
  EXPECT_EQ(outcome.answered + outcome.failed, static_cast<int>(count));
  EXPECT_EQ(outcome.failed, 0);  // every shape above has an answer that can be read
  RecordProperty("exchanges", static_cast<int>(count));
}

}  // namespace
}  // namespace tollgate::http_io
