// The seed's story end to end, with real processes: a client gets a token from the (Okta-shaped)
// dev IdP, calls tollgate, tollgate introspects (or serves its cache), and the echo upstream shows
// what tollgate forwarded. IdP call counts come from the IdP itself.
#include <gtest/gtest.h>

#include <latch>
#include <thread>

#include <openssl/evp.h>

#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "idp_client.hpp"
#include "services.hpp"

namespace tollgate::test {
namespace {

using nlohmann::json;

std::string base64_decode(const std::string& text) {
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) throw std::runtime_error("not base64: " + text);
  out.resize(static_cast<std::size_t>(n));
  // EVP_DecodeBlock writes a zero byte for each '=' of padding.
  for (auto it = text.rbegin(); it != text.rend() && *it == '=' && !out.empty(); ++it)
    out.pop_back();
  return out;
}

std::string plugin(const std::string& name, const DevIdp& idp, const std::string& extra) {
  return "  " + name +
         ":\n"
         "    name: openid-connect\n"
         "    config:\n"
         "      issuer: " +
         idp.issuer() +
         "\n"
         "      auth_methods: [ introspection ]\n"
         "      client_id: gateway\n"
         "      client_secret: gateway-secret\n"
         "      timeout: 1s\n" +
         extra;
}

class OidcFlowTest : public ::testing::Test {
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
        plugin("cached", idp_,
               "      cache_ttl: 300s\n"
               "      scopes_required: [ \"orders:read\" ]\n"
               "      upstream_headers_claims: [ sub, scope ]\n"
               "      upstream_headers_names: [ X-Authenticated-User, X-Authenticated-Scope ]\n"
               "      upstream_introspection_header: X-Introspection\n") +
        plugin("uncached", idp_,
               "      cache_introspection: false\n"
               "      upstream_headers_claims: [ sub ]\n"
               "      upstream_headers_names: [ X-Authenticated-User ]\n") +
        "routes:\n"
        "  - { name: orders, match: { paths: [ /orders ] }, upstream: echo, plugins: [ cached ] }\n"
        "  - { name: uncached, match: { paths: [ /uncached ] }, upstream: echo, "
        "plugins: [ uncached ] }\n"
        "  - { name: public, match: { paths: [ /public ] }, upstream: echo }\n"));
    // Discovery runs in the background at start, once per plugin; wait until both have found it.
    gateway_.process->wait_for_count("introspection endpoint .* discovered", 2);
  }

  Response call(const std::string& path, const std::string& token) {
    return http_get(gateway_.port(), path, {{"Authorization", "Bearer " + token}});
  }
  std::string token(const std::string& scope = "orders:read") {
    return fetch_token(idp_.port, "demo-client", "demo-secret", scope);
  }

  DevIdp idp_;
  EchoServer echo_;
  Tollgate gateway_;
};

TEST_F(OidcFlowTest, ValidTokenReachesTheUpstreamWithClaimHeaders) {
  auto r = call("/orders/1", token());
  ASSERT_EQ(r.result_int(), 200) << r.body();
  auto h = json::parse(r.body())["headers"];
  EXPECT_EQ(h["x-authenticated-user"], "demo-client");
  EXPECT_EQ(h["x-authenticated-scope"], "orders:read");
  ASSERT_TRUE(h.contains("x-introspection"));
  // base64 of the IdP's answer: the same claims the IdP sent for this token.
  const auto introspection = json::parse(base64_decode(h["x-introspection"].get<std::string>()));
  EXPECT_EQ(introspection["active"], true);
  EXPECT_EQ(introspection["client_id"], "demo-client");
  EXPECT_EQ(introspection["scope"], "orders:read");
  EXPECT_TRUE(h.contains("authorization"));  // forwarded unless hide_credentials
}

TEST_F(OidcFlowTest, MissingOrUnknownTokenIs401WithTheRightChallenge) {
  auto none = http_get(gateway_.port(), "/orders");
  EXPECT_EQ(none.result_int(), 401);
  EXPECT_EQ(none[boost::beast::http::field::www_authenticate], "Bearer realm=\"tollgate\"");
  auto garbage = call("/orders", "not-a-real-token");
  EXPECT_EQ(garbage.result_int(), 401);
  EXPECT_NE(std::string(garbage[boost::beast::http::field::www_authenticate])
                .find("error=\"invalid_token\""),
            std::string::npos);
  EXPECT_EQ(http_get(gateway_.port(), "/public").result_int(), 200);
}

TEST_F(OidcFlowTest, MissingScopeIs403InsufficientScope) {
  auto r = call("/orders", token("orders:write"));
  EXPECT_EQ(r.result_int(), 403);
  EXPECT_NE(std::string(r[boost::beast::http::field::www_authenticate])
                .find("error=\"insufficient_scope\""),
            std::string::npos);
}

TEST_F(OidcFlowTest, CacheOnAsksTheIdpOncePerToken) {
  const auto t = token();
  const int before = introspect_calls(idp_.port);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(call("/orders", t).result_int(), 200);
  EXPECT_EQ(introspect_calls(idp_.port) - before, 1);
}

TEST_F(OidcFlowTest, CacheOffAsksTheIdpEveryTimeAndLogsEachCall) {
  const auto t = token();
  const int before = introspect_calls(idp_.port);
  const int logged_before = gateway_.process->count_lines("route=uncached|uncached.*introspect");
  for (int i = 0; i < 5; ++i) ASSERT_EQ(call("/uncached", t).result_int(), 200);
  EXPECT_EQ(introspect_calls(idp_.port) - before, 5);
  gateway_.process->wait_for_line("introspect.*uncached|uncached.*introspect");
  EXPECT_GE(
      gateway_.process->count_lines("introspect.*uncached|uncached.*introspect") - logged_before,
      1);
}

TEST_F(OidcFlowTest, DeactivatedApplicationGets401OnTheNextUncachedCall) {
  const auto t = token();
  ASSERT_EQ(call("/uncached", t).result_int(), 200);
  set_client_active(idp_.port, "demo-client", false);
  EXPECT_EQ(call("/uncached", t).result_int(), 401);
  set_client_active(idp_.port, "demo-client", true);
  EXPECT_EQ(call("/uncached", t).result_int(), 401);  // as in Okta: its old tokens stay dead
  EXPECT_EQ(call("/uncached", token()).result_int(), 200);
}

TEST_F(OidcFlowTest, SixtyFourConcurrentFirstRequestsMakeOneIdpCall) {
  const auto t = token();
  set_fault(idp_.port, {{"latency_ms", 300}});  // keep the first call open while the rest arrive
  const int before = introspect_calls(idp_.port);
  constexpr int kClients = 64;
  std::vector<std::unique_ptr<HttpConnection>> connections;
  for (int i = 0; i < kClients; ++i) {
    connections.push_back(std::make_unique<HttpConnection>(gateway_.port()));
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
  for (auto& th : threads) th.join();
  clear_faults(idp_.port);
  for (int s : statuses) EXPECT_EQ(s, 200);
  EXPECT_EQ(introspect_calls(idp_.port) - before, 1);
}

TEST_F(OidcFlowTest, NoTokenOrSecretEverAppearsInTheLog) {
  const auto t = token();
  call("/orders", t);
  call("/uncached", t);
  call("/orders", "garbage-token-value");
  http_get(gateway_.port(), "/public");
  gateway_.process->wait_for_line("/public");
  const std::string log = gateway_.process->output();
  EXPECT_EQ(log.find(t), std::string::npos);
  EXPECT_EQ(log.find("garbage-token-value"), std::string::npos);
  EXPECT_EQ(log.find("gateway-secret"), std::string::npos);
}

struct Fault {
  const char* name;
  json spec;
};
void PrintTo(const Fault& f, std::ostream* os) {
  *os << f.name;
}

class IdpFaultTest : public OidcFlowTest, public ::testing::WithParamInterface<Fault> {};

TEST_P(IdpFaultTest, FaultIs503NeverCachedAndRecovers) {
  const auto t = token();
  set_fault(idp_.port, GetParam().spec);
  auto r = call("/orders", t);
  EXPECT_EQ(r.result_int(), 503) << r.body();
  if (GetParam().spec.contains("retry_after")) {
    EXPECT_EQ(r[boost::beast::http::field::retry_after], "7");
  }
  // The public route is served meanwhile.
  EXPECT_EQ(http_get(gateway_.port(), "/public").result_int(), 200);
  clear_faults(idp_.port);
  // Nothing was cached: the same token now passes.
  EXPECT_EQ(call("/orders", t).result_int(), 200);
}

INSTANTIATE_TEST_SUITE_P(
    Faults, IdpFaultTest,
    ::testing::Values(
        Fault{"status500", {{"status", 500}}},
        Fault{"status429", {{"status", 429}, {"retry_after", "7"}}},
        Fault{"status401", {{"status", 401}}}, Fault{"html", {{"body", "<html>oops</html>"}}},
        Fault{"closed", {{"close", true}}}, Fault{"activeString", {{"active_string", true}}},
        Fault{"noActive", {{"omit_active", true}}}, Fault{"truncated", {{"truncate", true}}},
        Fault{"slow", {{"latency_ms", 2500}}}, Fault{"blackhole", {{"blackhole", true}}}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(OidcIdpDown, UnreachableIdpIs503) {
  auto echo = start_echo_server();
  const auto port = free_port();
  auto gateway = start_tollgate(basic_config(
      "upstreams:\n  echo: { targets: [ " + echo.url() +
      " ] }\n"
      "plugins:\n"
      "  okta:\n"
      "    name: openid-connect\n"
      "    config:\n"
      "      introspection_endpoint: http://127.0.0.1:" +
      std::to_string(port) +
      "/oauth2/default/v1/introspect\n"
      "      client_id: gateway\n"
      "      client_secret: gateway-secret\n"
      "routes:\n"
      "  - { name: orders, match: { paths: [ /orders ] }, upstream: echo, plugins: [ okta ] }\n"));
  auto r = http_get(gateway.port(), "/orders", {{"Authorization", "Bearer abc"}});
  EXPECT_EQ(r.result_int(), 503);
}

}  // namespace
}  // namespace tollgate::test
