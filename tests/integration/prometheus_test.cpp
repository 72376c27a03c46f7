// tollgate's /metrics as an operator's Prometheus sees it: a real Prometheus server scrapes the
// admin listener while known traffic passes through an openid-connect route, and its query API must
// give the exact counts; the IdP's count comes from the dev IdP itself. promtool, the format's
// reference linter, must find nothing to say about a scrape.
#include <gtest/gtest.h>

#include <string>

#include "http_client.hpp"
#include "idp_client.hpp"
#include "prometheus.hpp"
#include "services.hpp"

namespace tollgate::test {
namespace {

class PrometheusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    idp_ = start_dev_idp();
    echo_ = start_echo_server();
    gateway_ = start_tollgate(
        basic_config("upstreams:\n"
                     "  echo: { targets: [ " +
                     echo_.url() +
                     " ] }\n"
                     "plugins:\n" +
                     openid_connect_plugin("okta", "issuer: " + idp_.issuer(),
                                           "      auth_methods: [ introspection ]\n"
                                           "      cache_introspection: true\n"
                                           "      cache_ttl: 300s\n"
                                           "      scopes_required: [ \"orders:read\" ]\n") +
                     "routes:\n"
                     "  - { name: orders, match: { paths: [ /orders ] }, upstream: echo, plugins: "
                     "[ okta ] }\n"));
    gateway_.process->wait_for_count("introspection endpoint .* discovered", 1);
  }

  // Known traffic, sent one request at a time so that no cache lookup joins another in flight:
  // two tokens, five authorised requests each (2 misses, 8 hits, 2 IdP calls), three requests
  // without a token and one to a path no route matches.
  void send_known_traffic() {
    for (int t = 0; t < 2; ++t) {
      const std::string token = fetch_token(idp_.port, "demo-client", "demo-secret", "orders:read");
      for (int i = 0; i < 5; ++i) {
        ASSERT_EQ(http_get(gateway_.port(), "/orders", {{"Authorization", "Bearer " + token}})
                      .result_int(),
                  200);
      }
    }
    for (int i = 0; i < 3; ++i) ASSERT_EQ(http_get(gateway_.port(), "/orders").result_int(), 401);
    ASSERT_EQ(http_get(gateway_.port(), "/nowhere").result_int(), 404);
  }

  std::string admin_target() const { return "127.0.0.1:" + std::to_string(gateway_.admin_port); }

  DevIdp idp_;
  EchoServer echo_;
  Tollgate gateway_;
};

TEST_F(PrometheusTest, QueriesGiveTheExactCountsOfKnownTraffic) {
  PrometheusServer prometheus(admin_target(), "tollgate");
  // A scrape that succeeds, or nothing below can be seen.
  ASSERT_TRUE(prometheus.wait_for_value(R"(up{job="tollgate"})", 1));

  send_known_traffic();
  if (HasFatalFailure()) return;

  EXPECT_TRUE(
      prometheus.wait_for_value(R"(tollgate_http_requests_total{route="orders",code="200"})", 10));
  EXPECT_TRUE(
      prometheus.wait_for_value(R"(tollgate_http_requests_total{route="orders",code="401"})", 3));
  EXPECT_TRUE(
      prometheus.wait_for_value(R"(tollgate_http_requests_total{route="-",code="404"})", 1));
  EXPECT_TRUE(prometheus.wait_for_value(
      R"(tollgate_oidc_decisions_total{plugin="okta",decision="allowed"})", 10));
  EXPECT_TRUE(prometheus.wait_for_value(
      R"(tollgate_oidc_decisions_total{plugin="okta",decision="no_token"})", 3));

  // The IdP's own count of introspection calls is what tollgate says it asked.
  const int idp_calls = introspect_calls(idp_.port);
  EXPECT_EQ(idp_calls, 2);
  EXPECT_TRUE(prometheus.wait_for_value(R"(sum(tollgate_oidc_idp_requests_total{plugin="okta"}))",
                                        idp_calls));
  EXPECT_TRUE(prometheus.wait_for_value(
      R"(tollgate_oidc_idp_requests_total{plugin="okta",outcome="active"})", idp_calls));

  // Hits are the lookups that were not misses (none coalesced: one request at a time).
  EXPECT_TRUE(prometheus.wait_for_value(
      R"(tollgate_oidc_cache_lookups_total{plugin="okta",result="miss"})", 2));
  EXPECT_TRUE(prometheus.wait_for_value(
      R"(tollgate_oidc_cache_lookups_total{plugin="okta",result="hit"})", 8));
  EXPECT_TRUE(prometheus.wait_for_value(
      R"(sum(tollgate_oidc_cache_lookups_total{plugin="okta"}))"
      R"( - sum(tollgate_oidc_cache_lookups_total{plugin="okta",result="miss"}))",
      8));

  EXPECT_TRUE(prometheus.wait_for_value(R"(up{job="tollgate"})", 1));
}

TEST_F(PrometheusTest, PromtoolFindsTheScrapeClean) {
  send_known_traffic();
  if (HasFatalFailure()) return;

  const Response scrape = http_get(gateway_.admin_port, "/metrics");
  ASSERT_EQ(scrape.result_int(), 200) << scrape.body();
  ASSERT_NE(scrape.body().find("tollgate_http_requests_total"), std::string::npos) << scrape.body();

  const PromtoolResult lint = promtool_check_metrics(scrape.body());
  EXPECT_EQ(lint.exit_status, 0) << lint.output << "\nthe scrape:\n" << scrape.body();
  EXPECT_EQ(lint.output, "") << lint.output;
}

}  // namespace
}  // namespace tollgate::test
