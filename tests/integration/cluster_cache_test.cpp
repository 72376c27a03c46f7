// Three tollgate replicas sharing one introspection cache in a real redis-server: one IdP call per
// token across them, encrypted values, and Redis never deciding access.
#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "idp_client.hpp"
#include "redis_server.hpp"
#include "services.hpp"

namespace tollgate::test {
namespace {

using namespace std::chrono_literals;

// 32 bytes of base64: the key values are sealed with.
constexpr const char* kClusterKey = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";
constexpr int kReplicas = 3;

class ClusterCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    idp_ = start_dev_idp();
    echo_ = start_echo_server();
    for (int i = 0; i < kReplicas; ++i) replicas_.push_back(start_replica());
  }

  std::string config() const {
    return basic_config(
        "upstreams:\n"
        "  echo: { targets: [ " +
        echo_.url() +
        " ] }\n"
        "plugins:\n" +
        openid_connect_plugin(
            "okta", "introspection_endpoint: " + idp_.base_url() + "/oauth2/default/v1/introspect",
            "      timeout: 2s\n"
            "      cache_ttl: 300s\n"
            "      upstream_headers_claims: [ sub ]\n"
            "      upstream_headers_names: [ X-Authenticated-User ]\n"
            "      cluster_cache_strategy: redis\n"
            "      cluster_cache_key: ${CLUSTER_KEY}\n"
            "      cluster_cache_redis:\n"
            "        host: 127.0.0.1\n"
            "        port: " +
                std::to_string(redis_.port()) +
                "\n"
                "        connect_timeout: 200ms\n"
                "        read_timeout: 200ms\n"
                "        send_timeout: 200ms\n") +
        "routes:\n"
        "  - { name: orders, match: { paths: [ /orders ] }, upstream: echo, plugins: [ okta ] }\n");
  }

  Tollgate start_replica() {
    return start_tollgate(config(), 1, true, {{"CLUSTER_KEY", kClusterKey}});
  }

  int call(int replica, const std::string& token) {
    return http_get(replicas_[replica].port(), "/orders", {{"Authorization", "Bearer " + token}})
        .result_int();
  }
  std::string token() {
    return fetch_token(idp_.port, "demo-client", "demo-secret", "orders:read");
  }
  // A token of another application (sub "gateway").
  std::string other_token() { return mint_token(idp_.port, "gateway", "orders:read", 600); }
  int idp_calls() { return introspect_calls(idp_.port); }

  std::vector<std::string> token_keys() {
    std::vector<std::string> keys;
    for (const std::string& key : redis_.all_keys()) {
      if (key.rfind("tollgate:tok:", 0) == 0) keys.push_back(key);
    }
    return keys;
  }

  // Waits until Redis holds `count` cached answers (replicas store them in the background).
  void wait_for_stored(std::size_t count) {
    ASSERT_TRUE(poll_until([&] { return token_keys().size() >= count; }, 5s))
        << "Redis holds " << token_keys().size() << " answers";
  }

  RedisServer redis_;
  DevIdp idp_;
  EchoServer echo_;
  std::vector<Tollgate> replicas_;
};

TEST_F(ClusterCacheTest, TheSameTokenThroughEveryReplicaMakesOneIdpCall) {
  const std::string t = token();
  const int before = idp_calls();
  ASSERT_EQ(call(0, t), 200);
  wait_for_stored(1);
  for (int replica = 1; replica < kReplicas; ++replica) EXPECT_EQ(call(replica, t), 200);
  for (int replica = 0; replica < kReplicas; ++replica) EXPECT_EQ(call(replica, t), 200);
  EXPECT_EQ(idp_calls() - before, 1);
}

TEST_F(ClusterCacheTest, InactiveAnswersAreSharedToo) {
  const int before = idp_calls();
  ASSERT_EQ(call(0, "never-issued-token"), 401);
  wait_for_stored(1);
  for (int replica = 1; replica < kReplicas; ++replica) {
    EXPECT_EQ(call(replica, "never-issued-token"), 401);
  }
  EXPECT_EQ(idp_calls() - before, 1);
}

TEST_F(ClusterCacheTest, SixtyFourConcurrentFirstRequestsOverThreeReplicasMakeOneIdpCall) {
  const std::string t = token();
  set_fault(idp_.port, {{"latency_ms", 300}});  // keep the first call open while the rest arrive
  const int before = idp_calls();
  constexpr int kClients = 64;
  std::vector<std::unique_ptr<HttpConnection>> connections;
  for (int i = 0; i < kClients; ++i) {
    connections.push_back(std::make_unique<HttpConnection>(replicas_[i % kReplicas].port()));
  }
  std::latch start(kClients);
  std::vector<int> statuses(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      statuses[i] = connections[i]->get("/orders", {{"Authorization", "Bearer " + t}}).result_int();
    });
  }
  for (auto& thread : threads) thread.join();
  clear_faults(idp_.port);
  for (int status : statuses) EXPECT_EQ(status, 200);
  EXPECT_EQ(idp_calls() - before, 1);
}

TEST_F(ClusterCacheTest, ATamperedOrForeignValueIsAMiss) {
  const std::string first = token();
  ASSERT_EQ(call(0, first), 200);
  wait_for_stored(1);
  const std::string first_key = token_keys().at(0);
  redis::ReplyResult sealed = redis_.command({"GET", first_key});
  ASSERT_TRUE(sealed && sealed->type == redis::Reply::Type::string);

  // One bit flipped: replica 1 does not take it, asks the IdP, and still answers.
  std::string tampered = sealed->text;
  tampered.back() = static_cast<char>(tampered.back() ^ 0x01);
  ASSERT_TRUE(redis_.command({"SET", first_key, tampered, "KEEPTTL"}));
  int before = idp_calls();
  EXPECT_EQ(call(1, first), 200);
  EXPECT_EQ(idp_calls() - before, 1);

  // Another token's value copied under this token's key: it names another key, so it does not
  // open (the Redis key is its associated data).
  const std::string second = other_token();
  ASSERT_EQ(call(0, second), 200);
  wait_for_stored(2);
  std::string second_key;
  for (const std::string& key : token_keys()) {
    if (key != first_key) second_key = key;
  }
  ASSERT_FALSE(second_key.empty());
  redis::ReplyResult foreign = redis_.command({"GET", second_key});
  ASSERT_TRUE(foreign && foreign->type == redis::Reply::Type::string);
  ASSERT_TRUE(redis_.command({"SET", first_key, foreign->text, "KEEPTTL"}));
  before = idp_calls();
  const Response r =
      http_get(replicas_[2].port(), "/orders", {{"Authorization", "Bearer " + first}});
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(idp_calls() - before, 1);
  EXPECT_EQ(nlohmann::json::parse(r.body())["headers"]["x-authenticated-user"], "demo-client");
}

TEST_F(ClusterCacheTest, NothingInRedisHoldsATokenOrAClaimValue) {
  const std::vector<std::string> tokens = {token(), other_token()};
  for (const std::string& t : tokens) ASSERT_EQ(call(0, t), 200);
  ASSERT_EQ(call(1, "never-issued-token"), 401);
  wait_for_stored(3);
  std::vector<std::string> forbidden = tokens;
  for (const char* claim :
       {"demo-client", "gateway", "orders:read", "never-issued-token", "\"active\"", "sub"}) {
    forbidden.emplace_back(claim);
  }
  for (const std::string& key : redis_.all_keys()) {
    redis::ReplyResult value = redis_.command({"DUMP", key});
    ASSERT_TRUE(value) << key;
    if (value->type == redis::Reply::Type::nil) continue;  // a lock that expired meanwhile
    ASSERT_EQ(value->type, redis::Reply::Type::string) << key;
    for (const std::string& secret : forbidden) {
      EXPECT_EQ(key.find(secret), std::string::npos) << key << " holds " << secret;
      EXPECT_EQ(value->text.find(secret), std::string::npos) << key << "'s value holds " << secret;
    }
  }
}

TEST_F(ClusterCacheTest, RedisStoppedUnderLoadChangesNothingForClientsAndIsUsedAgainWhenBack) {
  const std::string t = token();
  ASSERT_EQ(call(0, t), 200);
  std::atomic<bool> stop{false};
  std::atomic<int> answered{0};
  std::atomic<int> not_ok{0};
  std::thread load([&] {
    std::vector<std::unique_ptr<HttpConnection>> connections;
    for (int i = 0; i < kReplicas; ++i) {
      connections.push_back(std::make_unique<HttpConnection>(replicas_[i].port()));
    }
    // Fresh tokens too, so first-level misses go to Redis while it is down.
    for (int i = 0; !stop && i < 5'000; ++i) {
      const std::string fresh = (i % 10 == 0) ? token() : t;
      const int status = connections[i % kReplicas]
                             ->get("/orders", {{"Authorization", "Bearer " + fresh}})
                             .result_int();
      if (status != 200) ++not_ok;
      ++answered;
    }
  });
  ASSERT_TRUE(poll_until([&] { return answered > 30; }, 10s));
  redis_.stop();
  const int at_stop = answered;
  ASSERT_TRUE(poll_until([&] { return answered > at_stop + 100; }, 20s));
  for (auto& replica : replicas_) {
    replica.process->wait_for_line("cluster cache: redis .* failing", 10s);
  }
  // Still ready (Redis never decides), with the breaker shown; the failures are counted.
  const Response ready = http_get(replicas_[0].admin_port, "/readyz");
  EXPECT_EQ(ready.result_int(), 200);
  const auto state = nlohmann::json::parse(ready.body())["cluster_cache"]["okta"];
  EXPECT_TRUE(state == "open" || state == "half_open") << ready.body();
  EXPECT_TRUE(std::regex_search(
      http_get(replicas_[0].admin_port, "/metrics").body(),
      std::regex(
          R"(tollgate_oidc_cluster_cache_lookups_total\{plugin="okta",result="error"\} [1-9])")));
  redis_.start();
  const int at_start = answered;
  ASSERT_TRUE(poll_until([&] { return answered > at_start + 30; }, 20s));
  stop = true;
  load.join();
  EXPECT_EQ(not_ok, 0);

  // Back: once each replica's breaker lets it try again, a token asked on one replica is served to
  // the others from Redis.
  ASSERT_TRUE(poll_until(
      [&] {
        const std::string fresh = token();
        const int before = idp_calls();
        for (int replica = 0; replica < kReplicas; ++replica) {
          if (call(replica, fresh) != 200) return false;
          // Let the first replica's background SET land before the others ask.
          if (replica == 0 && !poll_until([&] { return !token_keys().empty(); }, 1s)) return false;
        }
        return idp_calls() - before == 1;
      },
      40s));
  const Response ready_again = http_get(replicas_[1].admin_port, "/readyz");
  EXPECT_EQ(nlohmann::json::parse(ready_again.body())["status"], "ready");
  EXPECT_TRUE(std::regex_search(
      http_get(replicas_[1].admin_port, "/metrics").body(),
      std::regex(
          R"(tollgate_oidc_cluster_cache_lookups_total\{plugin="okta",result="hit"\} [1-9])")));
}

}  // namespace
}  // namespace tollgate::test
