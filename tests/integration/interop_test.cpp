// tollgate against an identity provider nobody here wrote: the certified npm `oidc-provider`, run
// by tests/interop/oidc-provider-server.mjs. Same story as with the dev IdP: discovery, client
// credentials, introspection, revocation, and "deactivate the application".
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "oidc_provider.hpp"
#include "services.hpp"

namespace tollgate::test {
namespace {

using nlohmann::json;

class InteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    provider_ = start_oidc_provider();
    echo_ = start_echo_server();
    const std::string issuer = provider_.issuer();
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

  std::string token() { return oidc_provider_token(provider_.port); }
  int introspect_calls() { return oidc_provider_stat(provider_.port, "introspect_calls"); }
  Response call(const std::string& path, const std::string& token) {
    return http_get(gateway_.port(), path, {{"Authorization", "Bearer " + token}});
  }

  OidcProvider provider_;
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
  auto revoked = revoke_at_oidc_provider(provider_.port, t);
  ASSERT_EQ(revoked.result_int(), 200) << revoked.body();
  EXPECT_EQ(call("/uncached", t).result_int(), 401);
}

TEST_F(InteropTest, DeactivatedApplicationIs401) {
  const auto t = token();
  ASSERT_EQ(call("/uncached", t).result_int(), 200);
  oidc_provider_admin(provider_.port, "disable-client/app");
  EXPECT_EQ(call("/uncached", t).result_int(), 401);
}

}  // namespace
}  // namespace tollgate::test
