// POST /cache/purge on one tollgate without Redis: what it answers, what it refuses, and who may
// call it (admin.api_token). Purges across replicas are in cluster_cache_test.cpp.
#include <gtest/gtest.h>

#include <signal.h>

#include <regex>

#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "idp_client.hpp"
#include "services.hpp"

namespace tollgate::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kApiToken = "4f1c2a9e8b7d6c5e4f3a2b1c0d9e8f7a";

class CachePurgeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    idp_ = start_dev_idp();
    echo_ = start_echo_server();
  }

  // One instance with a cache and one without, on two routes; `admin` replaces the admin section.
  std::string config(const std::string& admin = "admin:\n  address: 127.0.0.1:0\n") const {
    std::string text = basic_config(
        "upstreams:\n"
        "  echo: { targets: [ " +
        echo_.url() +
        " ] }\n"
        "plugins:\n" +
        openid_connect_plugin("okta", "introspection_endpoint: " + idp_.base_url() +
                                          "/oauth2/default/v1/introspect") +
        openid_connect_plugin(
            "uncached",
            "introspection_endpoint: " + idp_.base_url() + "/oauth2/default/v1/introspect",
            "      cache_introspection: false\n") +
        "routes:\n"
        "  - { name: orders, match: { paths: [ /orders ] }, upstream: echo, plugins: [ okta ] }\n"
        "  - { name: live, match: { paths: [ /live ] }, upstream: echo, plugins: [ uncached ] "
        "}\n");
    const std::string default_admin = "admin:\n  address: 127.0.0.1:0\n";
    text.replace(text.find(default_admin), default_admin.size(), admin);
    return text;
  }

  int call(const std::string& token) {
    return http_get(tollgate_.port(), "/orders", {{"Authorization", "Bearer " + token}})
        .result_int();
  }

  Response purge(std::uint16_t admin_port, const std::string& body,
                 std::map<std::string, std::string> headers = {
                     {"Content-Type", "application/json"}}) {
    return http_post(admin_port, "/cache/purge", body, headers);
  }
  Response purge(const std::string& body) { return purge(tollgate_.admin_port, body); }

  // The port of an admin listener on 0.0.0.0 (reached here through 127.0.0.1).
  static std::uint16_t wildcard_admin_port(const Tollgate& tollgate) {
    std::smatch match;
    const std::string output = tollgate.process->output();
    if (!std::regex_search(output, match, std::regex(R"(admin listening on 0\.0\.0\.0:(\d+))"))) {
      ADD_FAILURE() << output;
      return 0;
    }
    return static_cast<std::uint16_t>(std::stoi(match[1].str()));
  }

  DevIdp idp_;
  EchoServer echo_;
  Tollgate tollgate_;
};

TEST_F(CachePurgeTest, OnLoopbackAPurgeNeedsNoTokenAndSaysWhatItRemoved) {
  tollgate_ = start_tollgate(config());
  const std::string t = fetch_token(idp_.port, "demo-client", "demo-secret", "orders:read");
  ASSERT_EQ(call(t), 200);
  const std::string key = tollgate_.process->wait_for_line(R"(key=([0-9a-f]{64}))");
  ASSERT_EQ(call(t), 200);
  const int before = introspect_calls(idp_.port);

  const Response r = purge(R"({"key": ")" + key + R"("})");
  ASSERT_EQ(r.result_int(), 200) << r.body();
  // Only the instance that keeps a cache; without Redis, "redis" is null.
  EXPECT_EQ(json::parse(r.body()),
            json::parse(R"({"purged": 1, "plugins": {"okta": {"local": 1, "redis": null}}})"));
  EXPECT_EQ(call(t), 200);
  EXPECT_EQ(introspect_calls(idp_.port) - before, 1);
  tollgate_.process->wait_for_line(
      R"(openid-connect\[okta\]: cache purge scope=key by the admin API: 1 removed here)");

  const Response again = purge(R"({"sub": "demo-client", "plugin": "okta"})");
  EXPECT_EQ(again.result_int(), 200) << again.body();
  EXPECT_EQ(json::parse(again.body())["purged"], 1);
  const Response none = purge(R"({"all": true})");
  EXPECT_EQ(json::parse(none.body())["purged"], 0);

  const json status = json::parse(http_get(tollgate_.admin_port, "/status.json").body());
  EXPECT_EQ(status["plugins"][0]["cache"]["purges"],
            json::parse(R"({"admin": {"key": 1, "sub": 1, "client_id": 0, "all": 1},
                            "replica": {"key": 0, "sub": 0, "client_id": 0, "all": 0},
                            "entries": 2})"));
  EXPECT_TRUE(std::regex_search(
      http_get(tollgate_.admin_port, "/metrics").body(),
      std::regex(R"(tollgate_oidc_cache_purged_entries_total\{plugin="okta"\} 2)")));
}

TEST_F(CachePurgeTest, WrongMethodsTypesAndBodiesAreRefusedClearly) {
  tollgate_ = start_tollgate(config());
  const Response get = http_get(tollgate_.admin_port, "/cache/purge");
  EXPECT_EQ(get.result_int(), 405);
  EXPECT_EQ(get[boost::beast::http::field::allow], "POST");
  const Response post_metrics = http_post(tollgate_.admin_port, "/metrics", "");
  EXPECT_EQ(post_metrics.result_int(), 405);
  EXPECT_EQ(post_metrics[boost::beast::http::field::allow], "GET, HEAD");

  const Response text =
      purge(tollgate_.admin_port, R"({"all": true})", {{"Content-Type", "text/plain"}});
  EXPECT_EQ(text.result_int(), 415);
  EXPECT_EQ(json::parse(text.body())["message"],
            "send the body with Content-Type: application/json");

  const Response malformed = purge(R"({"sub": )");
  EXPECT_EQ(malformed.result_int(), 400);
  EXPECT_NE(json::parse(malformed.body())["message"].get<std::string>().find("JSON object"),
            std::string::npos);
  EXPECT_EQ(purge(R"({"sub": "a", "client_id": "b"})").result_int(), 400);
  EXPECT_EQ(purge(R"({"key": "not-a-key"})").result_int(), 400);

  const Response unknown = purge(R"({"all": true, "plugin": "uncached"})");
  EXPECT_EQ(unknown.result_int(), 404);
  EXPECT_EQ(json::parse(unknown.body())["message"],
            "no plugin instance named \"uncached\" keeps a cache");
}

TEST_F(CachePurgeTest, WithAnApiTokenEveryPurgeNeedsItAndAReloadReplacesIt) {
  tollgate_ =
      start_tollgate(config("admin:\n  address: 127.0.0.1:0\n  api_token: ${ADMIN_API_TOKEN}\n"), 1,
                     true, {{"ADMIN_API_TOKEN", kApiToken}});
  const Response none = purge(R"({"all": true})");
  EXPECT_EQ(none.result_int(), 401);
  EXPECT_EQ(none[boost::beast::http::field::www_authenticate], R"(Bearer realm="tollgate admin")");
  const auto with = [&](const std::string& credentials) {
    return purge(tollgate_.admin_port, R"({"all": true})",
                 {{"Content-Type", "application/json"}, {"Authorization", credentials}})
        .result_int();
  };
  EXPECT_EQ(with("Bearer " + std::string(kApiToken) + "x"), 401);
  EXPECT_EQ(with("Bearer " + std::string(kApiToken).substr(1)), 401);
  EXPECT_EQ(with("Basic " + std::string(kApiToken)), 401);
  EXPECT_EQ(with("Bearer " + std::string(kApiToken)), 200);
  EXPECT_EQ(with("bearer " + std::string(kApiToken)), 200);
  // Reads stay open (probes, scrapers).
  EXPECT_EQ(http_get(tollgate_.admin_port, "/metrics").result_int(), 200);

  const std::string rotated = "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d";
  tollgate_.dir->write("tollgate.yaml",
                       config("admin:\n  address: 127.0.0.1:0\n  api_token: " + rotated + "\n"));
  tollgate_.process->signal(SIGHUP);
  tollgate_.process->wait_for_line("configuration reloaded");
  EXPECT_EQ(with("Bearer " + std::string(kApiToken)), 401);
  EXPECT_EQ(with("Bearer " + rotated), 200);
}

// Off loopback, purges need a token: without one they are refused (and the rest still answers);
// the config still loads, so a deployment that probes /readyz on the pod's address keeps working.
TEST_F(CachePurgeTest, OffLoopbackWithoutATokenPurgesAreForbidden) {
  tollgate_ = start_tollgate(config("admin:\n  address: 0.0.0.0:0\n"), 1, false);
  const std::uint16_t port = wildcard_admin_port(tollgate_);
  EXPECT_EQ(tollgate_.process->count_lines("admin listener not on loopback and no "
                                           "admin.api_token: POST /cache/purge is refused"),
            1);
  const Response refused = purge(port, R"({"all": true})");
  EXPECT_EQ(refused.result_int(), 403);
  EXPECT_EQ(json::parse(refused.body())["message"],
            "cache purges are refused on an admin listener that is not on loopback unless "
            "admin.api_token is set");
  EXPECT_EQ(http_get(port, "/readyz").result_int(), 200);

  Tollgate with_token = start_tollgate(
      config("admin:\n  address: 0.0.0.0:0\n  api_token: " + std::string(kApiToken) + "\n"), 1,
      false);
  const std::uint16_t token_port = wildcard_admin_port(with_token);
  EXPECT_EQ(purge(token_port, R"({"all": true})").result_int(), 401);
  EXPECT_EQ(purge(token_port, R"({"all": true})",
                  {{"Content-Type", "application/json"},
                   {"Authorization", "Bearer " + std::string(kApiToken)}})
                .result_int(),
            200);
}

}  // namespace
}  // namespace tollgate::test
