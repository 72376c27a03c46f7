// SIGHUP with the openid-connect plugin: an instance whose config did not change keeps its token
// cache and its discovered endpoint (no IdP call for a cached token, no 503 while it would
// rediscover); a changed instance starts afresh; `log:` applies.
#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <fstream>
#include <map>
#include <thread>

#include "http_client.hpp"
#include "idp_client.hpp"
#include "services.hpp"

namespace tollgate::test {
namespace {

std::string reload_config(const EchoServer& echo, const DevIdp& idp,
                          const std::string& cache_ttl = "300s",
                          const std::string& level = "info") {
  std::string yaml = basic_config(
      "upstreams:\n"
      "  echo: { targets: [ " +
      echo.url() +
      " ] }\n"
      "plugins:\n" +
      openid_connect_plugin("oidc", "issuer: " + idp.issuer(),
                            "      timeout: 2s\n"
                            "      cache_ttl: " +
                                cache_ttl + "\n") +
      "routes:\n"
      "  - { name: orders, match: { paths: [ /orders ] }, upstream: echo, plugins: [ oidc ] }\n");
  const std::string info = "level: info";
  yaml.replace(yaml.find(info), info.size(), "level: " + level);
  return yaml;
}

class PluginReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    idp_ = start_dev_idp();
    echo_ = start_echo_server();
    gateway_ = start_tollgate(reload_config(echo_, idp_));
    gateway_.process->wait_for_count("introspection endpoint .* discovered", 1);
    token_ = fetch_token(idp_.port, "demo-client", "demo-secret", "orders:read");
  }

  int get_orders() {
    return http_get(gateway_.port(), "/orders", {{"Authorization", "Bearer " + token_}})
        .result_int();
  }

  // Rewrites the file and waits for the gateway to say it applied it (the `reloads`-th time).
  void reload(const std::string& yaml, int reloads) {
    std::ofstream(gateway_.config_path) << yaml;
    gateway_.process->signal(SIGHUP);
    gateway_.process->wait_for_count("configuration reloaded from", reloads);
  }

  DevIdp idp_;
  EchoServer echo_;
  Tollgate gateway_;
  std::string token_;
};

TEST_F(PluginReloadTest, CachedTokenMakesNoIdpCallAndNo503AcrossReloads) {
  ASSERT_EQ(get_orders(), 200);
  ASSERT_EQ(introspect_calls(idp_.port), 1);

  // A client hammering the protected route on one keep-alive connection while the file is
  // reloaded several times, unchanged.
  std::atomic<bool> stop{false};
  std::map<int, int> statuses;
  std::thread client([&] {
    HttpConnection connection(gateway_.port());
    for (int i = 0; i < 20'000 && !stop; ++i) {
      ++statuses[connection.get("/orders", {{"Authorization", "Bearer " + token_}}).result_int()];
    }
  });
  constexpr int kReloads = 5;
  for (int i = 1; i <= kReloads; ++i) reload(reload_config(echo_, idp_), i);
  // Fresh connections land on either worker, after each has installed the last configuration.
  for (int i = 0; i < 8; ++i) EXPECT_EQ(get_orders(), 200);
  stop = true;
  client.join();

  EXPECT_EQ(statuses.size(), 1u) << "statuses seen: 503 x " << statuses[503];
  EXPECT_GT(statuses[200], 0);
  EXPECT_EQ(introspect_calls(idp_.port), 1);
  EXPECT_EQ(gateway_.process->count_lines("discovered from"), 1);
}

TEST_F(PluginReloadTest, ChangedPluginConfigStartsWithAnEmptyCache) {
  ASSERT_EQ(get_orders(), 200);
  ASSERT_EQ(introspect_calls(idp_.port), 1);
  reload(reload_config(echo_, idp_, "301s"), 1);
  // Discovery runs again for the new instance; its requests are 503 until it is done.
  gateway_.process->wait_for_count("introspection endpoint .* discovered", 2);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(get_orders(), 200);
  EXPECT_EQ(introspect_calls(idp_.port), 2);
}

TEST_F(PluginReloadTest, LogLevelChangeApplies) {
  ASSERT_EQ(get_orders(), 200);
  EXPECT_EQ(gateway_.process->count_lines("cache hit"), 0);
  reload(reload_config(echo_, idp_, "300s", "debug"), 1);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(get_orders(), 200);
  gateway_.process->wait_for_line("openid-connect: cache hit", std::chrono::seconds(5));
}

}  // namespace
}  // namespace tollgate::test
