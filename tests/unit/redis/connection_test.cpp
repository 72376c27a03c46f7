// The pipelined Redis connection against a real redis-server, and against a scripted peer that
// misbehaves: every reply reaches its own command, or the command fails.
#include "tollgate/redis/connection.hpp"

#include <random>

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "redis_server.hpp"
#include "scripted_redis_peer.hpp"
#include "tollgate/redis/client.hpp"

namespace tollgate::redis {
namespace {

using namespace std::chrono_literals;
using test::RedisPeerReply;

constexpr Accepts kGetReply = accepts({Reply::Type::string, Reply::Type::nil});

Options options_for(std::uint16_t port) {
  Options options;
  options.port = port;
  options.connect_timeout = 2s;
  options.send_timeout = 2s;
  options.read_timeout = 2s;
  return options;
}

// Runs `body` on `io` until it completes (bounded), rethrowing what it threw.
void run(asio::io_context& io, std::function<awaitable<void>()> body,
         std::chrono::seconds limit = 20s) {
  io.restart();  // a loop that ran out of work stays stopped until restarted
  bool done = false;
  std::exception_ptr failure;
  asio::co_spawn(io, body(), [&](std::exception_ptr e) {
    failure = e;
    done = true;
  });
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done && std::chrono::steady_clock::now() < deadline) io.run_for(50ms);
  ASSERT_TRUE(done) << "did not complete within " << limit.count() << "s";
  if (failure) std::rethrow_exception(failure);
}

TEST(RedisConnection, SpeaksToARealServer) {
  test::RedisServer server;
  asio::io_context io;
  auto connection = Connection::open(io.get_executor(), options_for(server.port()), nullptr);
  run(io, [&]() -> awaitable<void> {
    const std::string binary("a\0b\r\nc", 6);
    const auto command1 = arguments("SET", "k", binary);
    ReplyResult set = co_await connection->command(command1);
    EXPECT_TRUE(set && set->is_status("OK"));
    const auto command2 = arguments("GET", "k");
    ReplyResult got = co_await connection->command(command2, kGetReply);
    EXPECT_TRUE(got && got->type == Reply::Type::string && got->text == binary);
    const auto command3 = arguments("GET", "nothing");
    ReplyResult missing = co_await connection->command(command3, kGetReply);
    EXPECT_TRUE(missing && missing->type == Reply::Type::nil);
    const auto command4 = arguments("INCR", "n");
    ReplyResult counted = co_await connection->command(command4);
    EXPECT_TRUE(counted && counted->type == Reply::Type::integer && counted->integer == 1);
    const auto command5 = arguments("NOSUCHCOMMAND");
    ReplyResult refused = co_await connection->command(command5);
    EXPECT_TRUE(refused && refused->type == Reply::Type::error);
    EXPECT_TRUE(connection->usable());  // an error reply is an answer, not a broken stream
  });
  connection->close(Failure::closed);
}

TEST(RedisConnection, PipelinesCommandsAndMatchesRepliesInOrder) {
  test::RedisServer server;
  constexpr int kCommands = 300;
  asio::io_context io;
  auto connection = Connection::open(io.get_executor(), options_for(server.port()), nullptr);
  run(io, [&]() -> awaitable<void> {
    for (int i = 0; i < kCommands; ++i) {
      const std::string key = "key-" + std::to_string(i);
      const std::string value = "value-" + std::to_string(i);
      const auto command6 = arguments("SET", key, value);
      co_await connection->command(command6);
    }
  });
  int right = 0;
  for (int i = 0; i < kCommands; ++i) {
    asio::co_spawn(
        io,
        [&, i]() -> awaitable<void> {
          const std::string key = "key-" + std::to_string(i);
          const auto command7 = arguments("GET", key);
          ReplyResult reply = co_await connection->command(command7, kGetReply);
          if (reply && reply->text == "value-" + std::to_string(i)) ++right;
        },
        asio::detached);
  }
  // Commands go out back to back: many wait for their replies at once on the one connection.
  std::size_t most_waiting = 0;
  ASSERT_TRUE(test::poll_until([&] {
    for (int i = 0; i < 100 && io.poll_one() > 0; ++i) {
      most_waiting = std::max(most_waiting, connection->waiting());
    }
    return right == kCommands;
  }));
  EXPECT_GT(most_waiting, static_cast<std::size_t>(kCommands / 2));
  EXPECT_TRUE(connection->usable());
  connection->close(Failure::closed);
}

TEST(RedisConnection, AuthenticatesAndSelectsTheDatabase) {
  test::RedisServer server({"--requirepass", "s3cret"});
  asio::io_context io;
  Options options = options_for(server.port());
  options.password = "s3cret";
  options.database = 3;
  auto connection = Connection::open(io.get_executor(), options, nullptr);
  options.password = "wrong";
  auto refused = Connection::open(io.get_executor(), options, nullptr);
  run(io, [&]() -> awaitable<void> {
    const auto command8 = arguments("SET", "in-three", "yes");
    ReplyResult set = co_await connection->command(command8);
    EXPECT_TRUE(set && set->is_status("OK"));
    const auto command9 = arguments("GET", "in-three");
    ReplyResult denied = co_await refused->command(command9, kGetReply);
    EXPECT_FALSE(denied);
    if (!denied) {
      EXPECT_EQ(denied.error(), Failure::auth);
    }
  });
  EXPECT_EQ(server.cli({"-a", "s3cret", "--no-auth-warning", "-n", "3", "GET", "in-three"}), "yes");
  connection->close(Failure::closed);
}

TEST(RedisConnection, FailsAsAValueWhenNothingListens) {
  std::uint16_t port = 0;
  {
    test::RedisServer server;
    port = server.port();
  }
  asio::io_context io;
  auto connection = Connection::open(io.get_executor(), options_for(port), nullptr);
  run(io, [&]() -> awaitable<void> {
    const auto command10 = arguments("GET", "k");
    ReplyResult reply = co_await connection->command(command10, kGetReply);
    EXPECT_FALSE(reply);
    if (!reply) {
      EXPECT_EQ(reply.error(), Failure::connect);
    }
  });
}

TEST(RedisConnection, ASilentPeerTimesOutWithinReadTimeout) {
  test::ScriptedRedisPeer peer([](const std::vector<std::string>&) { return RedisPeerReply{}; });
  asio::io_context io;
  Options options = options_for(peer.port());
  options.read_timeout = 150ms;
  auto connection = Connection::open(io.get_executor(), options, nullptr);
  const auto started = std::chrono::steady_clock::now();
  run(io, [&]() -> awaitable<void> {
    const auto command11 = arguments("GET", "k");
    ReplyResult reply = co_await connection->command(command11, kGetReply);
    EXPECT_FALSE(reply);
    if (!reply) {
      EXPECT_EQ(reply.error(), Failure::timeout);
    }
  });
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_GE(took, 140ms);
  EXPECT_LT(took, 2s);
  EXPECT_FALSE(connection->usable());
}

// A subscribed connection: messages published to its channel go to the push handler whenever they
// arrive, even between a PING and its answer, which still reaches the PING.
TEST(RedisConnection, PublishedMessagesReachThePushHandlerAndCommandsKeepTheirReplies) {
  const std::string message = "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n";
  test::ScriptedRedisPeer peer([&](const std::vector<std::string>& command) {
    RedisPeerReply reply;
    if (command[0] == "SUBSCRIBE") {
      reply.pieces = {"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"};
    } else if (command[0] == "PING") {
      reply.pieces = {message, "*2\r\n$4\r\npong\r\n$0\r\n\r\n"};
    } else {
      reply.pieces = {"-ERR unexpected\r\n"};
    }
    return reply;
  });
  asio::io_context io;
  std::vector<std::string> pushed;
  auto connection =
      Connection::open(io.get_executor(), options_for(peer.port()), nullptr,
                       [&](const Reply& push) { pushed.push_back(push.elements.at(2).text); });
  run(io, [&]() -> awaitable<void> {
    const auto subscribe = arguments("SUBSCRIBE", "ch");
    ReplyResult subscribed = co_await connection->command(subscribe);
    EXPECT_TRUE(subscribed && subscribed->type == Reply::Type::array &&
                subscribed->elements.at(0).text == "subscribe");
    const auto ping = arguments("PING");
    ReplyResult pong = co_await connection->command(ping);
    EXPECT_TRUE(pong && pong->type == Reply::Type::array && pong->elements.at(0).text == "pong");
  });
  EXPECT_EQ(pushed, std::vector<std::string>{"hello"});
  EXPECT_TRUE(connection->usable());
  connection->close(Failure::closed);
}

// What the adversarial peer does with one GET, chosen from its seeded generator.
enum class Move { answer, split, wrong_type, garbage, extra_reply, close, reset, silent, count };

RedisPeerReply misbehave(const std::vector<std::string>& command, std::mt19937& random,
                         bool adversarial) {
  RedisPeerReply reply;
  if (command.size() != 2 || command[0] != "GET") {
    reply.pieces = {"-ERR unexpected\r\n"};
    return reply;
  }
  const std::string answer = test::resp_bulk("value-" + command[1].substr(4));
  Move move = Move::answer;
  if (adversarial) {
    const int roll = static_cast<int>(random() % 100);
    // Mostly answers, so several commands are in flight when something goes wrong.
    if (roll < 55)
      move = Move::answer;
    else if (roll < 75)
      move = Move::split;
    else
      move = static_cast<Move>(2 + random() % (static_cast<unsigned>(Move::count) - 2));
  }
  switch (move) {
    case Move::answer:
      reply.pieces = {answer};
      break;
    case Move::split:
      for (std::size_t at = 0; at < answer.size();) {
        const std::size_t size = 1 + random() % 4;
        reply.pieces.push_back(answer.substr(at, size));
        at += size;
      }
      break;
    case Move::wrong_type:
      reply.pieces = {":" + std::to_string(random() % 1000) + "\r\n"};
      break;
    case Move::garbage:
      // At a reply's start: cut inside a bulk string, it would read as a value of that length.
      reply.pieces = {"?garbage-" + std::to_string(random() % 1000) + "\r\n"};
      break;
    case Move::extra_reply:
      reply.pieces = {answer + ":7\r\n"};
      break;
    case Move::close:
      reply.pieces = {answer.substr(0, random() % answer.size())};
      reply.ending = RedisPeerReply::Ending::close;
      break;
    case Move::reset:
      reply.pieces = {answer.substr(0, random() % answer.size())};
      reply.ending = RedisPeerReply::Ending::reset;
      break;
    case Move::silent:
      reply.ending = RedisPeerReply::Ending::stall;
      break;
    case Move::count:
      break;
  }
  return reply;
}

struct Tally {
  int own = 0;
  int failed = 0;
  int foreign = 0;  // a reply that belongs to another command: the invariant broken
  int threw = 0;
};

// Rounds of 1-8 concurrent GETs on one connection (a new one once it fails), against the peer.
Tally attribution_run(unsigned seed, int rounds, bool adversarial) {
  std::mt19937 peer_random(seed);
  test::ScriptedRedisPeer peer([&](const std::vector<std::string>& command) {
    return misbehave(command, peer_random, adversarial);
  });
  std::mt19937 client_random(seed * 7919 + 1);
  asio::io_context io;
  Options options = options_for(peer.port());
  options.read_timeout = 50ms;  // the silent move costs this much
  std::shared_ptr<Connection> connection;
  Tally tally;
  int next_id = 0;
  for (int round = 0; round < rounds; ++round) {
    if (!connection || !connection->usable()) {
      connection = Connection::open(io.get_executor(), options, nullptr);
    }
    const int commands = 1 + static_cast<int>(client_random() % 8);
    int done = 0;
    for (int i = 0; i < commands; ++i) {
      const int id = next_id++;
      asio::co_spawn(
          io,
          [&, id, c = connection]() -> awaitable<void> {
            const std::string key = "key-" + std::to_string(id);
            const auto command12 = arguments("GET", key);
            ReplyResult reply = co_await c->command(command12, kGetReply);
            if (!reply) {
              ++tally.failed;
            } else if (reply->type == Reply::Type::string &&
                       reply->text == "value-" + std::to_string(id)) {
              ++tally.own;
            } else {
              ++tally.foreign;
            }
            ++done;
          },
          [&](std::exception_ptr e) {
            if (e) ++tally.threw;
          });
    }
    io.restart();  // it ran out of work when the last connection closed
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (done < commands && std::chrono::steady_clock::now() < deadline) io.run_one_for(10ms);
    EXPECT_EQ(done, commands) << "round " << round << " of seed " << seed << " did not finish";
    if (done < commands) break;
  }
  if (connection) connection->close(Failure::closed);
  io.run_for(10ms);
  return tally;
}

TEST(RedisConnection, WellBehavedPeerAnswersEveryCommand) {
  const Tally tally = attribution_run(1, 200, /*adversarial=*/false);
  EXPECT_EQ(tally.failed, 0);
  EXPECT_EQ(tally.foreign, 0);
  EXPECT_GT(tally.own, 200);
}

TEST(RedisConnection, EveryReplyReachesItsOwnCommandUnderAnAdversarialPeer) {
  for (unsigned seed : {11u, 22u, 33u}) {
    const Tally tally = attribution_run(seed, 250, /*adversarial=*/true);
    EXPECT_EQ(tally.foreign, 0) << "seed " << seed;
    EXPECT_EQ(tally.threw, 0) << "seed " << seed;
    // The run exercised both sides: answers delivered and streams abandoned.
    EXPECT_GT(tally.own, 200) << "seed " << seed;
    EXPECT_GT(tally.failed, 50) << "seed " << seed;
  }
}

TEST(RedisBreaker, OpensAfterFailuresProbesAfterBackoffAndCloses) {
  std::vector<BreakerState> seen;
  Breaker breaker([&](BreakerState state) { seen.push_back(state); });
  const auto t0 = Breaker::Clock::now();
  for (int i = 0; i < Breaker::kFailuresToOpen; ++i) {
    ASSERT_TRUE(breaker.allow(t0));
    breaker.failed(t0);
  }
  EXPECT_EQ(breaker.state(), BreakerState::open);
  EXPECT_FALSE(breaker.allow(t0 + Breaker::kFirstBackoff - 1ms));
  EXPECT_TRUE(breaker.allow(t0 + Breaker::kFirstBackoff));  // the one probe
  EXPECT_FALSE(breaker.allow(t0 + Breaker::kFirstBackoff));
  breaker.failed(t0 + Breaker::kFirstBackoff);  // probe failed: twice the backoff
  EXPECT_FALSE(breaker.allow(t0 + Breaker::kFirstBackoff * 2));
  EXPECT_TRUE(breaker.allow(t0 + Breaker::kFirstBackoff * 3));
  breaker.succeeded();
  EXPECT_EQ(breaker.state(), BreakerState::closed);
  EXPECT_EQ(seen, (std::vector<BreakerState>{BreakerState::open, BreakerState::half_open,
                                             BreakerState::open, BreakerState::half_open,
                                             BreakerState::closed}));
}

TEST(RedisClient, StopsTryingAnUnreachableRedisAndRecovers) {
  auto server = std::make_unique<test::RedisServer>();
  const std::uint16_t port = server->port();
  server->stop();
  asio::io_context io;
  auto client = std::make_shared<Client>(io.get_executor(), options_for(port), nullptr);
  run(io, [&]() -> awaitable<void> {
    for (int i = 0; i < Breaker::kFailuresToOpen; ++i) {
      const auto command13 = arguments("GET", "k");
      ReplyResult reply = co_await client->command(command13, kGetReply);
      EXPECT_FALSE(reply);
    }
    const auto command14 = arguments("GET", "k");
    ReplyResult skipped = co_await client->command(command14, kGetReply);
    EXPECT_FALSE(skipped);
    if (!skipped) {
      EXPECT_EQ(skipped.error(), Failure::unavailable);
    }
  });
  EXPECT_EQ(client->breaker_state(), BreakerState::open);
  server->start();
  bool recovered = false;
  ASSERT_TRUE(test::poll_until(
      [&] {
        run(io, [&]() -> awaitable<void> {
          const auto command15 = arguments("PING");
          ReplyResult reply = co_await client->command(command15);
          recovered = reply && reply->is_status("PONG");
        });
        return recovered;
      },
      5s));
  EXPECT_EQ(client->breaker_state(), BreakerState::closed);
}

}  // namespace
}  // namespace tollgate::redis
