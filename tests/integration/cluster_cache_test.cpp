// Three tollgate replicas sharing one introspection cache in a real redis-server: one IdP call per
// token across them, encrypted values, Redis never deciding access, and purges reaching every
// replica.
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

  std::string config(const std::string& idp_timeout = "2s") const {
    return basic_config(
        "upstreams:\n"
        "  echo: { targets: [ " +
        echo_.url() +
        " ] }\n"
        "plugins:\n" +
        openid_connect_plugin(
            "okta", "introspection_endpoint: " + idp_.base_url() + "/oauth2/default/v1/introspect",
            "      timeout: " + idp_timeout +
                "\n"
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

  Tollgate start_replica(const std::string& idp_timeout = "2s") {
    return start_tollgate(config(idp_timeout), 1, true, {{"CLUSTER_KEY", kClusterKey}});
  }

  static int call(const Tollgate& replica, const std::string& token) {
    return http_get(replica.port(), "/orders", {{"Authorization", "Bearer " + token}}).result_int();
  }
  int call(int replica, const std::string& token) { return call(replicas_[replica], token); }

  // POST /cache/purge on a replica's admin listener.
  Response purge(int replica, const nlohmann::json& body) {
    return http_post(replicas_[replica].admin_port, "/cache/purge", body.dump(),
                     {{"Content-Type", "application/json"}});
  }
  // The cache key a replica logged with its next IdP call: what an operator purges by.
  std::string logged_key(int replica) {
    return replicas_[replica].process->wait_for_line(
        R"(introspection route=orders token=[0-9a-f]{12} key=([0-9a-f]{64}) )");
  }
  // /status.json's count of purges a replica applied, from `origin`, of `scope`.
  int purges_applied(int replica, const std::string& origin, const std::string& scope) {
    const auto status =
        nlohmann::json::parse(http_get(replicas_[replica].admin_port, "/status.json").body());
    return status["plugins"][0]["cache"]["purges"][origin][scope].get<int>();
  }
  // Calls `replica` with `token` until the IdP has answered `calls` calls since `before` (each call
  // that misses asks it once), within `limit`.
  bool idp_reached(int replica, const std::string& token, int before, int calls,
                   std::chrono::milliseconds limit = 1s) {
    return poll_until(
        [&] {
          call(replica, token);
          return idp_calls() - before >= calls;
        },
        limit);
  }
  std::string token() {
    return fetch_token(idp_.port, "demo-client", "demo-secret", "orders:read");
  }
  // A token of another application (sub "gateway").
  std::string other_token() { return mint_token(idp_.port, "gateway", "orders:read", 600); }
  int idp_calls() { return introspect_calls(idp_.port); }

  std::vector<std::string> keys_starting(const std::string& prefix) {
    std::vector<std::string> keys;
    for (const std::string& key : redis_.all_keys()) {
      if (key.rfind(prefix, 0) == 0) keys.push_back(key);
    }
    return keys;
  }
  std::vector<std::string> token_keys() { return keys_starting("tollgate:tok:"); }

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
  // Read and refused, not skipped: the lookup says it found a value it could not open.
  EXPECT_TRUE(std::regex_search(
      http_get(replicas_[1].admin_port, "/metrics").body(),
      std::regex(
          R"(tollgate_oidc_cluster_cache_lookups_total\{plugin="okta",result="unreadable"\} 1(\.0)?\n)")));

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
  EXPECT_TRUE(std::regex_search(
      http_get(replicas_[2].admin_port, "/metrics").body(),
      std::regex(
          R"(tollgate_oidc_cluster_cache_lookups_total\{plugin="okta",result="unreadable"\} 1(\.0)?\n)")));
}

TEST_F(ClusterCacheTest, NothingInRedisHoldsATokenOrAClaimValue) {
  const std::vector<std::string> tokens = {token(), other_token()};
  for (const std::string& t : tokens) ASSERT_EQ(call(0, t), 200);
  ASSERT_EQ(call(1, "never-issued-token"), 401);
  wait_for_stored(3);
  // The answers' sub and client_id indexes are there, under tags.
  EXPECT_FALSE(keys_starting("tollgate:who:").empty());
  EXPECT_FALSE(keys_starting("tollgate:app:").empty());
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

// The key a replica logs with its IdP call is the purge key: purged on one replica, the answer
// leaves Redis and, within a second, the first level of every other replica.
TEST_F(ClusterCacheTest, ALoggedKeyPurgedOnOneReplicaSendsTheOthersToTheIdpWithinASecond) {
  const std::string t = token();
  const int before = idp_calls();
  ASSERT_EQ(call(0, t), 200);
  const std::string key = logged_key(0);
  wait_for_stored(1);
  ASSERT_EQ(token_keys(), std::vector<std::string>{"tollgate:tok:" + key});
  for (int replica = 1; replica < kReplicas; ++replica) ASSERT_EQ(call(replica, t), 200);
  ASSERT_EQ(idp_calls() - before, 1);

  const Response r = purge(0, {{"key", key}});
  ASSERT_EQ(r.result_int(), 200) << r.body();
  const auto body = nlohmann::json::parse(r.body());
  EXPECT_EQ(body["purged"], 2) << r.body();  // replica 0's entry and the one in Redis
  EXPECT_EQ(body["plugins"]["okta"]["local"], 1);
  EXPECT_EQ(body["plugins"]["okta"]["redis"], 1);
  EXPECT_EQ(body["plugins"]["okta"]["subscribers"], kReplicas);
  EXPECT_TRUE(token_keys().empty());

  EXPECT_TRUE(idp_reached(1, t, before, 2)) << "replica 1 still answers from its first level";
  for (int replica = 1; replica < kReplicas; ++replica) {
    EXPECT_TRUE(poll_until([&] { return purges_applied(replica, "replica", "key") == 1; }, 1s))
        << replica;
  }
  EXPECT_EQ(purges_applied(0, "admin", "key"), 1);
  EXPECT_EQ(purges_applied(0, "replica", "key"), 0);  // its own message is not applied twice
  EXPECT_TRUE(std::regex_search(
      http_get(replicas_[2].admin_port, "/metrics").body(),
      std::regex(
          R"(tollgate_oidc_cache_purges_total\{plugin="okta",scope="key",origin="replica"\} 1)")));
}

// "This app was deactivated in Okta: cut it off now." Deactivation alone leaves its cached answers
// in use until they expire; one purge by client_id on any replica ends them everywhere.
TEST_F(ClusterCacheTest, ADeactivatedApplicationPurgedByClientIdIsRefusedOnEveryReplica) {
  const std::string t = token();  // demo-client's
  const std::string other = other_token();
  for (int replica = 0; replica < kReplicas; ++replica) {
    ASSERT_EQ(call(replica, t), 200);
    ASSERT_EQ(call(replica, other), 200);
  }
  set_client_active(idp_.port, "demo-client", false);
  EXPECT_EQ(call(1, t), 200);  // cached: why the purge is needed

  const Response r = purge(2, {{"client_id", "demo-client"}});
  ASSERT_EQ(r.result_int(), 200) << r.body();
  EXPECT_EQ(nlohmann::json::parse(r.body())["plugins"]["okta"]["redis"], 1);
  EXPECT_TRUE(poll_until(
      [&] {
        for (int replica = 0; replica < kReplicas; ++replica) {
          if (call(replica, t) != 401) return false;
        }
        return true;
      },
      1s));
  // Another application's token is untouched, and still cached.
  const int before = idp_calls();
  for (int replica = 0; replica < kReplicas; ++replica) EXPECT_EQ(call(replica, other), 200);
  EXPECT_EQ(idp_calls() - before, 0);
}

// A purge by sub drops that subject's answers everywhere and no other; what it sends through Redis
// names the subject by its tag only.
TEST_F(ClusterCacheTest, APurgeBySubLeavesOtherSubjectsCached) {
  const std::string demo = token();           // sub demo-client
  const std::string gateway = other_token();  // sub gateway
  for (int replica = 0; replica < kReplicas; ++replica) {
    ASSERT_EQ(call(replica, demo), 200);
    ASSERT_EQ(call(replica, gateway), 200);
  }
  wait_for_stored(2);
  // What the replicas hear, heard here too.
  Process listener(
      {"/usr/bin/redis-cli", "-p", std::to_string(redis_.port()), "SUBSCRIBE", "tollgate:purge"});
  listener.wait_for_line("^tollgate:purge$");

  const int before = idp_calls();
  const Response r = purge(1, {{"sub", "demo-client"}});
  ASSERT_EQ(r.result_int(), 200) << r.body();
  EXPECT_EQ(nlohmann::json::parse(r.body())["purged"], 2) << r.body();
  EXPECT_EQ(token_keys().size(), 1u);

  EXPECT_TRUE(idp_reached(0, demo, before, 1));
  EXPECT_TRUE(poll_until([&] { return purges_applied(2, "replica", "sub") == 1; }, 1s));
  wait_for_stored(2);
  EXPECT_EQ(call(2, demo), 200);  // from Redis: replica 0 fetched and stored it again
  for (int replica = 0; replica < kReplicas; ++replica) EXPECT_EQ(call(replica, gateway), 200);
  EXPECT_EQ(idp_calls() - before, 1);

  const std::string message = listener.wait_for_line(R"(^(\{.*"scope":"sub".*\})$)");
  EXPECT_EQ(message.find("demo-client"), std::string::npos) << message;
}

TEST_F(ClusterCacheTest, APurgeOfAllEmptiesRedisAndEveryReplica) {
  const std::string demo = token();
  const std::string gateway = other_token();
  for (int replica = 0; replica < kReplicas; ++replica) {
    ASSERT_EQ(call(replica, demo), 200);
    ASSERT_EQ(call(replica, gateway), 200);
  }
  wait_for_stored(2);
  const Response r = purge(0, {{"all", true}});
  ASSERT_EQ(r.result_int(), 200) << r.body();
  EXPECT_EQ(nlohmann::json::parse(r.body())["purged"], 4);  // 2 here, 2 in Redis
  EXPECT_TRUE(token_keys().empty());
  EXPECT_TRUE(keys_starting("tollgate:who:").empty());
  EXPECT_TRUE(keys_starting("tollgate:app:").empty());
  const int before = idp_calls();
  EXPECT_TRUE(idp_reached(2, gateway, before, 1));
  EXPECT_TRUE(poll_until([&] { return purges_applied(1, "replica", "all") == 1; }, 1s));
  for (int replica = 0; replica < kReplicas; ++replica) {
    const auto status =
        nlohmann::json::parse(http_get(replicas_[replica].admin_port, "/status.json").body());
    EXPECT_EQ(status["plugins"][0]["cache"]["purges"]["entries"], 2) << replica;
  }
}

// Redis down: the replica asked still purges itself, and says that Redis and the others were not
// reached; once Redis is back, each replica subscribes again and purges reach them.
TEST_F(ClusterCacheTest, APurgeWithRedisDownPurgesThisReplicaAndSaysWhatItDid) {
  const std::string t = token();
  ASSERT_EQ(call(0, t), 200);
  const std::string key = logged_key(0);
  wait_for_stored(1);
  ASSERT_EQ(call(1, t), 200);
  redis_.stop();

  const Response r = purge(0, {{"key", key}});
  EXPECT_EQ(r.result_int(), 503) << r.body();
  const auto body = nlohmann::json::parse(r.body());
  EXPECT_EQ(body["purged"], 1) << r.body();
  EXPECT_EQ(body["plugins"]["okta"]["local"], 1);
  EXPECT_EQ(body["plugins"]["okta"]["redis"], 0);
  EXPECT_TRUE(body["plugins"]["okta"]["subscribers"].is_null());
  EXPECT_TRUE(body["plugins"]["okta"]["error"].is_string());
  EXPECT_NE(body["message"].get<std::string>().find("other replicas"), std::string::npos);

  int before = idp_calls();
  EXPECT_EQ(call(0, t), 200);  // purged here: the IdP again
  EXPECT_EQ(call(1, t), 200);  // not told
  EXPECT_EQ(idp_calls() - before, 1);

  redis_.start();
  for (auto& replica : replicas_) {
    replica.process->wait_for_count("cluster cache: subscribed to purges", 2, 40s);
  }
  const Response again = purge(0, {{"key", key}});
  ASSERT_EQ(again.result_int(), 200) << again.body();
  before = idp_calls();
  EXPECT_TRUE(idp_reached(1, t, before, 1));
}

// A replica whose IdP call fails releases its lock at once, so a replica waiting on it asks the
// IdP itself without waiting out its bound (a quarter of timeout: 2 s here).
TEST_F(ClusterCacheTest, AFailedIdpCallReleasesTheLockAndTheWaitingReplicaAsksAtOnce) {
  const Tollgate holder = start_replica("8s");
  const Tollgate waiter = start_replica("8s");
  const std::string t = token();
  set_fault(idp_.port, {{"status", 500}, {"latency_ms", 1000}});
  const int before = idp_calls();
  int holder_status = 0;
  int waiter_status = 0;
  std::thread first([&] { holder_status = call(holder, t); });
  ASSERT_TRUE(poll_until([&] { return !keys_starting("tollgate:lock:").empty(); }, 5s));
  std::thread second([&] { waiter_status = call(waiter, t); });  // finds the lock taken: waits
  first.join();
  EXPECT_EQ(holder_status, 503);
  EXPECT_TRUE(poll_until([&] { return idp_calls() - before == 2; }, 700ms))
      << "the waiting replica did not ask the IdP once the lock was released";
  EXPECT_TRUE(keys_starting("tollgate:lock:").empty()) << "the lock outlives the call that took it";
  second.join();
  clear_faults(idp_.port);
  EXPECT_EQ(waiter_status, 503);  // the fault is still on for its own call
}

}  // namespace
}  // namespace tollgate::test
