// Connections to an upstream target and to the identity provider are bounded per worker: requests
// beyond the bound wait in a bounded queue for a connection to come free, and beyond the queue get
// a clear 503. Scripted peers hold their answers until the test releases them, and count the
// connections open at once.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "scripted_peer.hpp"
#include "services.hpp"

namespace tollgate::test {
namespace {

std::string one_worker_config(const std::string& rest) {
  return basic_config(rest, "timeouts: { upstream_connect: 10s, upstream_read: 10s }\n", 1);
}

// Answers every request with its own path, once the test releases it.
PeerReply held_echo(const PeerRequest& request) {
  PeerReply reply;
  reply.hold = true;
  reply.pieces = {peer_response("marker:" + request.target)};
  return reply;
}

// Sends `count` requests at once, each on its own connection and thread; collects the statuses and
// bodies.
class Burst {
 public:
  Burst(std::uint16_t port, int count, const std::function<std::string(int)>& token_of = {})
      : statuses_(count), bodies_(count) {
    for (int i = 0; i < count; ++i) {
      threads_.emplace_back([this, port, i, token_of] {
        std::map<std::string, std::string> headers;
        if (token_of) headers["Authorization"] = "Bearer " + token_of(i);
        try {
          const Response r = http_get(port, "/r" + std::to_string(i), headers);
          bodies_[i] = r.body();
          statuses_[i] = r.result_int();
        } catch (const std::exception& e) {
          bodies_[i] = e.what();
          statuses_[i] = -1;
        }
        ++done_;
      });
    }
  }
  ~Burst() { join(); }
  void join() {
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  int done() const { return done_.load(); }
  int count_status(int status) const {
    int n = 0;
    for (const auto& s : statuses_) n += s.load() == status ? 1 : 0;
    return n;
  }
  std::string describe() const {
    std::string text;
    for (const auto& s : statuses_) text += std::to_string(s.load()) + " ";
    return text;
  }
  // Read once join() returned.
  const std::vector<std::atomic<int>>& statuses() const { return statuses_; }
  const std::vector<std::string>& bodies() const { return bodies_; }

 private:
  std::vector<std::atomic<int>> statuses_;  // 0 until the answer is in
  std::vector<std::string> bodies_;
  std::vector<std::thread> threads_;
  std::atomic<int> done_{0};
};

// One worker and one route to the peer's upstream, whose pool is bounded by `bounds`.
std::string bounded_upstream_config(const ScriptedPeer& upstream, const std::string& bounds) {
  return one_worker_config(
      "upstreams:\n"
      "  peer: { targets: [ " +
      upstream.url() + " ], " + bounds +
      " }\n"
      "routes:\n"
      "  - { name: all, match: { paths: [ / ] }, upstream: peer }\n");
}

// Every client of a burst of `requests` is connected and `bound` connections to the peer hold a
// request each: the others wait in the queue.
bool queue_filled(const ScriptedPeer& peer, int bound, const Tollgate& gateway, int requests) {
  const bool filled = poll_until([&] {
    return peer.held() == bound && open_connections(gateway.process->pid()) >= requests + bound;
  });
  if (!filled) ADD_FAILURE() << peer.held() << " held";
  return filled;
}

// Releases the peer's held answers as they come until every request of `burst` is done.
bool release_until_done(ScriptedPeer& peer, const Burst& burst, int count) {
  return poll_until(
      [&] {
        if (peer.held() > 0) peer.release_held();
        return burst.done() == count;
      },
      std::chrono::seconds(20));
}

TEST(ConnectionBoundsTest, UpstreamConnectionsStayWithinMaxConnectionsAndQueuedRequestsComplete) {
  ScriptedPeer upstream(held_echo);
  Tollgate gateway =
      start_tollgate(bounded_upstream_config(upstream, "max_connections: 2, max_queued: 16"));
  constexpr int kRequests = 10;
  Burst burst(gateway.port(), kRequests);
  ASSERT_TRUE(queue_filled(upstream, 2, gateway, kRequests));
  ASSERT_TRUE(release_until_done(upstream, burst, kRequests));
  burst.join();
  for (int i = 0; i < kRequests; ++i) {
    EXPECT_EQ(burst.statuses()[i].load(), 200) << burst.bodies()[i];
    EXPECT_EQ(burst.bodies()[i], "marker:/r" + std::to_string(i));
  }
  EXPECT_LE(upstream.max_concurrent_connections(), 2);
}

TEST(ConnectionBoundsTest, RequestBeyondAFullQueueGets503) {
  ScriptedPeer upstream(held_echo);
  Tollgate gateway =
      start_tollgate(bounded_upstream_config(upstream, "max_connections: 1, max_queued: 2"));
  // One request in flight, two in the queue, and the fourth finds the queue full.
  constexpr int kRequests = 4;
  Burst burst(gateway.port(), kRequests);
  ASSERT_TRUE(poll_until([&] { return burst.count_status(503) == 1; }))
      << upstream.held() << " held, statuses " << burst.describe();
  ASSERT_TRUE(release_until_done(upstream, burst, kRequests));
  burst.join();
  EXPECT_EQ(burst.count_status(200), kRequests - 1) << burst.describe();
  for (int i = 0; i < kRequests; ++i) {
    if (burst.statuses()[i].load() != 503) continue;
    EXPECT_EQ(nlohmann::json::parse(burst.bodies()[i])["message"], "upstream busy");
  }
  EXPECT_LE(upstream.max_concurrent_connections(), 1);
}

TEST(ConnectionBoundsTest, IdentityProviderConnectionsStayWithinTheirBound) {
  ScriptedPeer idp([](const PeerRequest& request) {
    PeerReply reply;
    reply.hold = true;
    const std::string token = request.body.substr(6, request.body.find('&') - 6);
    reply.pieces = {peer_response(R"({"active":true,"sub":")" + token + R"("})", 200,
                                  "Content-Type: application/json\r\n")};
    return reply;
  });
  ScriptedPeer upstream([](const PeerRequest& request) {
    PeerReply reply;
    reply.pieces = {peer_response("marker:" + request.target)};
    return reply;
  });
  Tollgate gateway = start_tollgate(one_worker_config(
      "upstreams:\n"
      "  peer: { targets: [ " +
      upstream.url() +
      " ] }\n"
      "plugins:\n" +
      openid_connect_plugin("idp", "introspection_endpoint: " + idp.url() + "/introspect",
                            "      auth_methods: [ introspection ]\n"
                            "      timeout: 10s\n"
                            "      introspection_max_connections: 2\n") +
      "routes:\n"
      "  - { name: all, match: { paths: [ / ] }, upstream: peer, plugins: [ idp ] }\n"));
  constexpr int kRequests = 10;
  Burst burst(gateway.port(), kRequests, [](int i) { return "token-" + std::to_string(i); });
  ASSERT_TRUE(queue_filled(idp, 2, gateway, kRequests));
  ASSERT_TRUE(release_until_done(idp, burst, kRequests));
  burst.join();
  for (int i = 0; i < kRequests; ++i) {
    EXPECT_EQ(burst.statuses()[i].load(), 200) << burst.bodies()[i];
  }
  EXPECT_LE(idp.max_concurrent_connections(), 2);
}

}  // namespace
}  // namespace tollgate::test
