// cache_ttl_resurrect end to end: once a cached answer's time has ended and the dev IdP fails (its
// outage faults), tollgate keeps serving that answer for the resurrect window, logs it and counts
// it; a route without the window answers 503 at once.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>

#include "http_client.hpp"
#include "idp_client.hpp"
#include "services.hpp"

namespace tollgate::test {
namespace {

using Clock = std::chrono::steady_clock;

std::string plugin(const std::string& name, const DevIdp& idp, const std::string& extra) {
  return openid_connect_plugin(name, "issuer: " + idp.issuer(),
                               "      timeout: 1s\n"
                               "      cache_ttl: 1s\n"
                               "      cache_ttl_neg: 1s\n" +
                                   extra);
}

class ResurrectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    idp_ = start_dev_idp();
    echo_ = start_echo_server();
    gateway_ = start_tollgate(basic_config(
        "upstreams:\n"
        "  echo: { targets: [ " +
        echo_.url() +
        " ] }\n"
        "plugins:\n" +
        plugin("resurrecting", idp_, "      cache_ttl_resurrect: 3s\n") +
        plugin("strict", idp_, "") +
        "routes:\n"
        "  - { name: resurrecting, match: { paths: [ /resurrecting ] }, upstream: echo, "
        "plugins: [ resurrecting ] }\n"
        "  - { name: strict, match: { paths: [ /strict ] }, upstream: echo, "
        "plugins: [ strict ] }\n"));
    gateway_.process->wait_for_count("introspection endpoint .* discovered", 2);
    token_ = fetch_token(idp_.port, "demo-client", "demo-secret", "orders:read");
  }

  int call(const std::string& path) {
    return http_get(gateway_.port(), path, {{"Authorization", "Bearer " + token_}}).result_int();
  }

  // Calls `path` until the gateway asks the IdP again (its cache time has ended), within 5 s;
  // returns the status of that call. The condition is the passing of time itself, so the loop
  // polls the gateway (each call is a round trip) rather than waiting on an event.
  int call_until_the_idp_is_asked(const std::string& path) {
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    const int before = introspect_calls(idp_.port);
    for (;;) {
      const int status = call(path);
      if (introspect_calls(idp_.port) > before) return status;
      if (Clock::now() > deadline) return -1;
    }
  }

  DevIdp idp_;
  EchoServer echo_;
  Tollgate gateway_;
  std::string token_;
};

TEST_F(ResurrectTest, AnExpiredAnswerIsServedWhileTheIdpIsDownThenNoLonger) {
  ASSERT_EQ(call("/resurrecting/a"), 200);
  ASSERT_EQ(call("/strict/a"), 200);
  const auto outage_start = Clock::now();
  set_fault(idp_.port, {{"status", 503}});

  EXPECT_EQ(call_until_the_idp_is_asked("/strict/a"), 503);
  EXPECT_EQ(call_until_the_idp_is_asked("/resurrecting/a"), 200);
  gateway_.process->wait_for_line("serving an expired cached answer .*route=resurrecting");
  const Response metrics = http_get(gateway_.admin_port, "/metrics");
  EXPECT_NE(metrics.body().find(
                R"(tollgate_oidc_cache_lookups_total{plugin="resurrecting",result="resurrected"})"),
            std::string::npos);
  EXPECT_EQ(
      metrics.body().find(
          R"(tollgate_oidc_cache_lookups_total{plugin="resurrecting",result="resurrected"} 0)"),
      std::string::npos);

  // The window (3 s after the 1 s cache time) ends: 503 from then on. Polled, within a bound.
  int status = 200;
  const auto deadline = outage_start + std::chrono::seconds(10);
  while (status == 200 && Clock::now() < deadline) status = call("/resurrecting/a");
  EXPECT_EQ(status, 503);
  EXPECT_GE(Clock::now() - outage_start, std::chrono::seconds(3));

  // The IdP back: a fresh answer.
  clear_faults(idp_.port);
  EXPECT_EQ(call("/resurrecting/a"), 200);
}

TEST_F(ResurrectTest, ARevokedTokenIsNotResurrected) {
  ASSERT_EQ(call("/resurrecting/a"), 200);
  set_client_active(idp_.port, "demo-client", false);  // its tokens are inactive for good
  EXPECT_EQ(call_until_the_idp_is_asked("/resurrecting/a"), 401);
  set_fault(idp_.port, {{"close", true}});
  EXPECT_EQ(call_until_the_idp_is_asked("/resurrecting/a"), 503);
}

}  // namespace
}  // namespace tollgate::test
