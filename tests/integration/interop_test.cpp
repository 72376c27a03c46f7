// tollgate against an identity provider nobody here wrote: the certified npm `oidc-provider`, run
// by tests/interop/oidc-provider-server.mjs. Same story as with the dev IdP: discovery, client
// credentials, introspection, revocation, and "deactivate the application".
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "services.hpp"
#include "tollgate/common/hash.hpp"

namespace tollgate::test {
namespace {

namespace http = boost::beast::http;
using nlohmann::json;

const std::string kInteropDir = std::string(TOLLGATE_SOURCE_DIR) + "/tests/interop";

Response form_post(std::uint16_t port, const std::string& target, const std::string& body,
                   const std::string& client, const std::string& secret) {
  HttpConnection c(port);
  Request req{http::verb::post, target, 11};
  req.set(http::field::content_type, "application/x-www-form-urlencoded");
  req.set(http::field::authorization, "Basic " + base64_encode(client + ":" + secret));
  req.body() = body;
  return c.send(std::move(req));
}

class InteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Installed by scripts/test.sh (npm ci); a missing install is a failure, not a skip.
    ASSERT_TRUE(std::filesystem::exists(kInteropDir + "/node_modules/oidc-provider"))
        << "run `npm ci` in tests/interop";
    provider_ = std::make_unique<Process>(std::vector<std::string>{
        "/usr/bin/env", "node", kInteropDir + "/oidc-provider-server.mjs", "--port", "0"});
    provider_port_ = static_cast<std::uint16_t>(
        std::stoi(provider_->wait_for_line(R"(oidc-provider listening on 127\.0\.0\.1:(\d+))")));
    echo_ = start_echo_server();
    const std::string issuer = "http://127.0.0.1:" + std::to_string(provider_port_);
    auto plugin = [&](const std::string& name, bool cache) {
      return openid_connect_plugin(
          name, "issuer: " + issuer,
          std::string("      cache_introspection: ") + (cache ? "true" : "false") +
              "\n"
              "      scopes_required: [ \"orders:read\" ]\n"
              "      upstream_headers_claims: [ client_id, scope ]\n"
              "      upstream_headers_names: [ X-Authenticated-Client, X-Authenticated-Scope ]\n");
    };
    gateway_ = start_tollgate(basic_config(
        "upstreams:\n  echo: { targets: [ " + echo_.url() +
        " ] }\n"
        "plugins:\n" +
        plugin("cached", true) + plugin("uncached", false) +
        "routes:\n"
        "  - { name: cached, match: { paths: [ /cached ] }, upstream: echo, plugins: [ cached ] }\n"
        "  - { name: uncached, match: { paths: [ /uncached ] }, upstream: echo, "
        "plugins: [ uncached ] }\n"));
    gateway_.process->wait_for_count("introspection endpoint .* discovered", 2);  // both plugins
  }

  std::string token() {
    auto r = form_post(provider_port_, "/token",
                       "grant_type=client_credentials&scope=orders%3Aread", "app", "app-secret");
    EXPECT_EQ(r.result_int(), 200) << r.body();
    return json::parse(r.body()).at("access_token").get<std::string>();
  }
  int introspect_calls() {
    return json::parse(http_get(provider_port_, "/admin/stats").body())
        .at("introspect_calls")
        .get<int>();
  }
  Response call(const std::string& path, const std::string& token) {
    return http_get(gateway_.port(), path, {{"Authorization", "Bearer " + token}});
  }

  std::unique_ptr<Process> provider_;
  std::uint16_t provider_port_ = 0;
  EchoServer echo_;
  Tollgate gateway_;
};

TEST_F(InteropTest, ActiveTokenPassesWithClaimHeaders) {
  auto r = call("/cached/orders", token());
  ASSERT_EQ(r.result_int(), 200) << r.body();
  auto h = json::parse(r.body())["headers"];
  EXPECT_EQ(h["x-authenticated-client"], "app");
  EXPECT_EQ(h["x-authenticated-scope"], "orders:read");
}

TEST_F(InteropTest, MissingAndUnknownTokensAre401) {
  EXPECT_EQ(http_get(gateway_.port(), "/cached").result_int(), 401);
  EXPECT_EQ(call("/cached", "unknown-token").result_int(), 401);
}

TEST_F(InteropTest, CachedRouteAsksOnceUncachedEveryTime) {
  const auto t = token();
  int before = introspect_calls();
  for (int i = 0; i < 3; ++i) ASSERT_EQ(call("/cached", t).result_int(), 200);
  EXPECT_EQ(introspect_calls() - before, 1);
  before = introspect_calls();
  for (int i = 0; i < 3; ++i) ASSERT_EQ(call("/uncached", t).result_int(), 200);
  EXPECT_EQ(introspect_calls() - before, 3);
}

TEST_F(InteropTest, RevokedTokenIs401) {
  const auto t = token();
  ASSERT_EQ(call("/uncached", t).result_int(), 200);
  auto revoked = form_post(provider_port_, "/token/revocation", "token=" + t, "app", "app-secret");
  ASSERT_EQ(revoked.result_int(), 200) << revoked.body();
  EXPECT_EQ(call("/uncached", t).result_int(), 401);
}

TEST_F(InteropTest, DeactivatedApplicationIs401) {
  const auto t = token();
  ASSERT_EQ(call("/uncached", t).result_int(), 200);
  HttpConnection c(provider_port_);
  Request req{http::verb::post, "/admin/disable-client/app", 11};
  ASSERT_EQ(c.send(std::move(req)).result_int() / 100, 2);
  EXPECT_EQ(call("/uncached", t).result_int(), 401);
}

}  // namespace
}  // namespace tollgate::test
