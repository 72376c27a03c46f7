// The tunnel invariant under seeded random schedules: many WebSocket tunnels at once through the
// gateway, each client and each upstream connection writing random bytes in random pieces, some
// closing early or vanishing, some clients without a valid token. For every schedule:
// - a tunnel opens (101) exactly when its token is valid, and an upstream never sees a refused one;
// - each client receives exactly its own bytes as its upstream transformed them, in order (or a
//   prefix of them when a side ended the tunnel early), never another tunnel's;
// - the upstream receives exactly what its client sent (or a prefix);
// - afterwards the gateway holds no tunnel and the upstream no connection.
// TOLLGATE_SEED and TOLLGATE_SCHEDULES repeat or widen a run; a failure prints both.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "http_client.hpp"
#include "idp_client.hpp"
#include "services.hpp"
#include "tollgate/http/websocket.hpp"

namespace tollgate::test {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using asio::ip::tcp;
using boost::system::error_code;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;

constexpr const char* kKey = "dGhlIHNhbXBsZSBub25jZQ==";

std::uint64_t env_number(const char* name, std::uint64_t fallback) {
  const char* text = std::getenv(name);
  return text ? std::strtoull(text, nullptr, 10) : fallback;
}

// What the upstream does to each byte of a tunnel: a per-tunnel key, so bytes of one tunnel that
// reached another would not match there.
char transform(int tunnel, char byte) {
  return static_cast<char>(byte ^ static_cast<char>(tunnel * 37 + 11));
}

std::string random_bytes(std::mt19937_64& rng, std::size_t size) {
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(rng());
  return bytes;
}

// Short random pauses and yields between writes: they shuffle how the two directions and the
// tunnels interleave. Nothing waits on them for a result.
awaitable<void> jitter(std::mt19937_64& rng) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  const auto roll = rng() % 8;
  timer.expires_after(roll == 0 ? std::chrono::microseconds(rng() % 2000) : 0us);
  co_await timer.async_wait(asio::use_awaitable);
}

// Writes `bytes` in random pieces, appending each piece written to `written`; false if the
// connection broke first.
awaitable<bool> write_in_pieces(tcp::socket& socket, std::string_view bytes, std::mt19937_64& rng,
                                std::string& written) {
  while (!bytes.empty()) {
    const std::size_t n = std::min<std::size_t>(bytes.size(), 1 + rng() % 6000);
    error_code ec;
    co_await asio::async_write(socket, asio::buffer(bytes.data(), n),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return false;
    written.append(bytes.substr(0, n));
    bytes.remove_prefix(n);
    co_await jitter(rng);
  }
  co_return true;
}

// Reads until the peer closes or resets.
awaitable<void> read_to_end(tcp::socket& socket, std::string& into) {
  char buffer[16384];
  for (;;) {
    error_code ec;
    const std::size_t n = co_await socket.async_read_some(
        asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
    into.append(buffer, n);
    if (ec) co_return;
  }
}

bool is_prefix(const std::string& part, const std::string& whole) {
  return part.size() <= whole.size() && whole.compare(0, part.size(), part) == 0;
}

// How one side of one tunnel behaves.
enum class Ending {
  half_close,  // writes everything, shuts down its sending side, reads to the end
  vanish,      // closes the socket after writing part of its bytes
};

struct TunnelPlan {
  int id = 0;
  bool valid_token = true;
  bool data_with_handshake = false;  // the first piece in the same write as the handshake
  std::string client_bytes;
  Ending client_ending = Ending::half_close;
  Ending upstream_ending = Ending::half_close;
  std::size_t vanish_after = 0;  // bytes, for the side that vanishes
  std::uint64_t seed = 0;
};

struct UpstreamSeen {
  std::string received;
  std::string sent;
};

// The upstream: answers every handshake with a valid 101, then sends back each byte it receives,
// transformed, in its own random pieces; on the client's end it ends its side as planned.
class TunnelUpstream {
 public:
  TunnelUpstream() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    asio::co_spawn(io_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TunnelUpstream() {
    io_.stop();
    thread_.join();
  }

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

  // What the next schedule's tunnels do; read by the connections of that schedule only.
  void plan(std::map<int, TunnelPlan> plans) {
    std::lock_guard lock(mutex_);
    plans_ = std::move(plans);
    seen_.clear();
  }
  std::map<int, UpstreamSeen> seen() const {
    std::lock_guard lock(mutex_);
    return seen_;
  }
  int open_connections() const { return open_.load(); }
  std::vector<std::string> faults() const {
    std::lock_guard lock(mutex_);
    return faults_;
  }

 private:
  awaitable<void> accept_loop() {
    for (;;) {
      tcp::socket socket = co_await acceptor_.async_accept(asio::use_awaitable);
      ++open_;
      asio::co_spawn(io_, serve(std::move(socket)), [this](std::exception_ptr) { --open_; });
    }
  }

  void fault(std::string what) {
    std::lock_guard lock(mutex_);
    faults_.push_back(std::move(what));
  }

  awaitable<void> serve(tcp::socket socket) {
    std::string head;
    error_code ec;
    const std::size_t end =
        co_await asio::async_read_until(socket, asio::dynamic_buffer(head, 16384), "\r\n\r\n",
                                        asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return fault("upstream: a connection ended before its handshake");
    const auto at = head.find("x-tunnel: ");
    const auto at_upper = head.find("X-Tunnel: ");
    const auto pos = at != std::string::npos ? at : at_upper;
    if (pos == std::string::npos) co_return fault("upstream: a handshake without X-Tunnel");
    const int id = std::atoi(head.c_str() + pos + 10);
    TunnelPlan plan;
    {
      std::lock_guard lock(mutex_);
      const auto it = plans_.find(id);
      if (it == plans_.end()) co_return fault("upstream: unknown tunnel " + std::to_string(id));
      plan = it->second;
      if (!plan.valid_token) {
        faults_.push_back("upstream: tunnel " + std::to_string(id) +
                          " reached the upstream without a valid token");
      }
      if (seen_.contains(id)) {
        faults_.push_back("upstream: tunnel " + std::to_string(id) + " opened twice");
      }
      seen_[id];
    }
    std::string received = head.substr(end);
    std::mt19937_64 rng(plan.seed ^ 0x5eed);
    const std::string answer =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " +
        http_io::websocket_accept(kKey) + "\r\n\r\n";
    co_await asio::async_write(socket, asio::buffer(answer),
                               asio::redirect_error(asio::use_awaitable, ec));
    std::string sent;
    std::size_t echoed = 0;
    bool client_done = false;
    char buffer[8192];
    while (!ec) {
      // Echo what has arrived, transformed, unless this side vanishes here.
      std::string out;
      for (; echoed < received.size(); ++echoed) out.push_back(transform(id, received[echoed]));
      if (plan.upstream_ending == Ending::vanish && sent.size() + out.size() >= plan.vanish_after) {
        out.resize(plan.vanish_after - std::min(plan.vanish_after, sent.size()));
        co_await write_in_pieces(socket, out, rng, sent);
        break;
      }
      if (!co_await write_in_pieces(socket, out, rng, sent)) break;
      if (client_done) {
        socket.shutdown(tcp::socket::shutdown_send, ec);
        break;
      }
      const std::size_t n = co_await socket.async_read_some(
          asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
      received.append(buffer, n);
      if (ec == asio::error::eof) {
        client_done = true;
        ec = {};
      }
    }
    socket.close(ec);
    std::lock_guard lock(mutex_);
    seen_[id] = UpstreamSeen{std::move(received), std::move(sent)};
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::atomic<int> open_{0};
  mutable std::mutex mutex_;
  std::map<int, TunnelPlan> plans_;
  std::map<int, UpstreamSeen> seen_;
  std::vector<std::string> faults_;
};

struct ClientSeen {
  int status = 0;
  std::string sent;
  std::string received;
};

awaitable<void> play_client(std::uint16_t port, const TunnelPlan& plan, const std::string& token,
                            ClientSeen& seen) {
  std::mt19937_64 rng(plan.seed);
  tcp::socket socket(co_await asio::this_coro::executor);
  co_await socket.async_connect({asio::ip::make_address("127.0.0.1"), port}, asio::use_awaitable);
  socket.set_option(tcp::no_delay(true));
  std::string handshake =
      "GET /ws/" + std::to_string(plan.id) +
      " HTTP/1.1\r\nHost: gw.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " +
      kKey + "\r\nX-Tunnel: " + std::to_string(plan.id) + "\r\nAuthorization: Bearer " +
      (plan.valid_token ? token : "not-a-token-" + std::to_string(plan.seed)) + "\r\n\r\n";
  std::string_view bytes = plan.client_bytes;
  if (plan.client_ending == Ending::vanish) bytes = bytes.substr(0, plan.vanish_after);
  std::size_t early = 0;
  if (plan.data_with_handshake && plan.valid_token) {
    early = std::min<std::size_t>(bytes.size(), 1 + rng() % 512);
    handshake.append(bytes.substr(0, early));
  }
  error_code ec;
  std::string handshake_written;
  if (!co_await write_in_pieces(socket, handshake, rng, handshake_written)) co_return;
  seen.sent.assign(bytes.substr(0, early));

  std::string head;
  const std::size_t end =
      co_await asio::async_read_until(socket, asio::dynamic_buffer(head, 16384), "\r\n\r\n",
                                      asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return;
  seen.status = std::atoi(head.c_str() + 9);
  if (seen.status != 101) co_return;
  seen.received = head.substr(end);

  auto writer = [&]() -> awaitable<void> {
    co_await write_in_pieces(socket, bytes.substr(early), rng, seen.sent);
    if (plan.client_ending == Ending::vanish) {
      socket.close(ec);
    } else {
      socket.shutdown(tcp::socket::shutdown_send, ec);
    }
  };
  auto reader = [&]() -> awaitable<void> {
    if (plan.client_ending == Ending::vanish) co_return;
    co_await read_to_end(socket, seen.received);
  };
  co_await (writer() && reader());
}

TunnelPlan random_plan(std::mt19937_64& rng, int id) {
  TunnelPlan plan;
  plan.id = id;
  plan.seed = rng();
  plan.valid_token = rng() % 8 != 0;
  plan.data_with_handshake = rng() % 4 == 0;
  const std::size_t size = rng() % 4 == 0 ? rng() % 200'000 : rng() % 4'000;
  plan.client_bytes = random_bytes(rng, size);
  const auto ending = rng() % 10;
  if (ending == 0) plan.client_ending = Ending::vanish;
  if (ending == 1) plan.upstream_ending = Ending::vanish;
  plan.vanish_after = size == 0 ? 0 : rng() % size;
  return plan;
}

std::string describe(const TunnelPlan& plan) {
  return "tunnel " + std::to_string(plan.id) + (plan.valid_token ? "" : " (bad token)") +
         (plan.data_with_handshake ? " (data with the handshake)" : "") + ", client " +
         (plan.client_ending == Ending::vanish ? "vanishes" : "half-closes") + ", upstream " +
         (plan.upstream_ending == Ending::vanish ? "vanishes" : "half-closes") + ", " +
         std::to_string(plan.client_bytes.size()) + " bytes, vanish after " +
         std::to_string(plan.vanish_after);
}

// The violations of one tunnel, empty when it kept the invariant.
std::vector<std::string> check(const TunnelPlan& plan, const ClientSeen& client,
                               const std::map<int, UpstreamSeen>& upstream) {
  std::vector<std::string> faults;
  const auto it = upstream.find(plan.id);
  if (!plan.valid_token) {
    if (client.status != 401) faults.push_back("status " + std::to_string(client.status));
    if (it != upstream.end()) faults.push_back("reached the upstream");
    return faults;
  }
  if (client.status != 101) {
    faults.push_back("status " + std::to_string(client.status));
    return faults;
  }
  if (it == upstream.end()) {
    faults.push_back("never reached the upstream");
    return faults;
  }
  const UpstreamSeen& up = it->second;
  const bool complete =
      plan.client_ending == Ending::half_close && plan.upstream_ending == Ending::half_close;
  if (complete ? up.received != client.sent : !is_prefix(up.received, client.sent)) {
    faults.push_back("the upstream received " + std::to_string(up.received.size()) +
                     " bytes that are not what the client sent (" +
                     std::to_string(client.sent.size()) + ")");
  }
  std::string expected = up.sent;
  if (complete && up.sent.size() != client.sent.size()) {
    faults.push_back("the upstream sent back " + std::to_string(up.sent.size()) + " of " +
                     std::to_string(client.sent.size()) + " bytes");
  }
  for (std::size_t i = 0; i < up.sent.size(); ++i) {
    if (i >= client.sent.size() || up.sent[i] != transform(plan.id, client.sent[i])) {
      faults.push_back("the upstream's echo differs at byte " + std::to_string(i));
      break;
    }
  }
  if (plan.client_ending == Ending::half_close &&
      (complete ? client.received != up.sent : !is_prefix(client.received, up.sent))) {
    faults.push_back("the client received " + std::to_string(client.received.size()) +
                     " bytes that are not its upstream's " + std::to_string(up.sent.size()));
  }
  return faults;
}

int websocket_gauge(std::uint16_t admin_port) {
  const std::string body = http_get(admin_port, "/metrics").body();
  const std::string name = R"(tollgate_http_connections{state="websocket"} )";
  const auto at = body.find(name);
  return at == std::string::npos ? -1 : std::atoi(body.c_str() + at + name.size());
}

TEST(WebSocketPropertyTest, EveryTunnelCarriesOnlyItsOwnBytesAndEndsClean) {
  const std::uint64_t seed = env_number("TOLLGATE_SEED", 20261206);
  const std::uint64_t schedules = env_number("TOLLGATE_SCHEDULES", 1000);
  const auto budget = 60s;
  const std::string reproduce = "TOLLGATE_SEED=" + std::to_string(seed) +
                                " TOLLGATE_SCHEDULES=" + std::to_string(schedules) +
                                " integration_tests --gtest_filter=WebSocketPropertyTest.*";

  DevIdp idp = start_dev_idp();
  TunnelUpstream upstream;
  Tollgate gateway = start_tollgate(basic_config(
      "upstreams:\n  tunnels: { targets: [ http://127.0.0.1:" + std::to_string(upstream.port()) +
          " ] }\n"
          "plugins:\n" +
          openid_connect_plugin("oidc", "issuer: " + idp.issuer(), "      timeout: 2s\n") +
          "routes:\n"
          "  - { name: ws, match: { paths: [ /ws ] }, upstream: tunnels, websocket: true, "
          "plugins: [ oidc ] }\n",
      "timeouts: { websocket_idle: 60s }\n"));
  gateway.process->wait_for_count("introspection endpoint .* discovered", 1);
  const std::string token = fetch_token(idp.port, "demo-client", "demo-secret", "orders:read");

  std::mt19937_64 rng(seed);
  const auto started = std::chrono::steady_clock::now();
  std::uint64_t played = 0;
  int tunnels = 0;
  for (; played < schedules && std::chrono::steady_clock::now() - started < budget; ++played) {
    std::map<int, TunnelPlan> plans;
    const int count = 1 + static_cast<int>(rng() % 8);
    for (int i = 0; i < count; ++i) {
      const int id = ++tunnels;
      plans[id] = random_plan(rng, id);
    }
    upstream.plan(plans);
    std::map<int, ClientSeen> seen;
    asio::io_context io;
    for (auto& [id, plan] : plans) {
      asio::co_spawn(io, play_client(gateway.port(), plan, token, seen[id]), asio::detached);
    }
    // Well inside websocket_idle: a tunnel that ends only by its idle timeout is a fault.
    io.run_for(20s);
    ASSERT_TRUE(io.stopped()) << "schedule " << played << " did not end within 20 s\n" << reproduce;

    // The tunnels are over for the clients; the upstream's sides and the gateway's end with them.
    ASSERT_TRUE(poll_until([&] {
      return upstream.open_connections() == 0 && websocket_gauge(gateway.admin_port) == 0;
    })) << "schedule "
        << played << ": " << upstream.open_connections() << " upstream connections and "
        << websocket_gauge(gateway.admin_port) << " tunnels left open\n"
        << reproduce;
    const auto upstream_seen = upstream.seen();
    for (const auto& [id, plan] : plans) {
      const auto faults = check(plan, seen[id], upstream_seen);
      for (const auto& fault : faults) {
        ADD_FAILURE() << "schedule " << played << ", " << describe(plan) << ": " << fault << "\n"
                      << reproduce;
      }
      if (!faults.empty()) return;
    }
    const auto upstream_faults = upstream.faults();
    ASSERT_TRUE(upstream_faults.empty())
        << "schedule " << played << ": " << upstream_faults[0] << "\n"
        << reproduce;
  }
  // A slow machine (a sanitizer build) may play fewer within the budget; a few hundred still
  // cover every kind of ending many times over.
  EXPECT_GE(played, std::min<std::uint64_t>(schedules, 200)) << reproduce;
  std::cout << "played " << played << " schedules, " << tunnels << " tunnels, seed " << seed
            << "\n";
}

}  // namespace
}  // namespace tollgate::test
