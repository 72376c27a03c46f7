// The gateway-wide list of protected header names: every header a plugin instance sets, and the
// forwarding headers (X-Forwarded-*, Forwarded, X-Real-IP), removed from every request on every
// route in every spelling a CGI-style upstream reads as the same name. Forwarding headers are kept
// (and X-Forwarded-For extended) only from a peer listed in trusted_proxies.
#include <gtest/gtest.h>

#include <memory>

#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "services.hpp"
#include "suite_setup.hpp"

namespace tollgate::test {
namespace {

using nlohmann::json;

constexpr const char* kForged = "forged-by-client";

std::string header(std::string_view name, std::string_view value = kForged) {
  return std::string(name) + ": " + std::string(value) + "\r\n";
}

// A plugin instance that sets identity headers; no route needs it to reach its IdP, whose endpoint
// refuses connections.
std::string gateway_config(const EchoServer& echo, const RefusingPort& idp,
                           const std::string& trusted_proxies) {
  return basic_config(
      "upstreams:\n"
      "  echo: { targets: [ " +
          echo.url() +
          " ] }\n"
          "plugins:\n" +
          openid_connect_plugin("oidc",
                                "introspection_endpoint: http://127.0.0.1:" +
                                    std::to_string(idp.number()) + "/introspect",
                                "      upstream_headers_claims: [ sub ]\n"
                                "      upstream_headers_names: [ X-Authenticated-User ]\n"
                                "      upstream_access_token_header: X-Access-Token\n") +
          "routes:\n"
          "  - { name: orders, match: { paths: [ /orders ] }, upstream: echo, plugins: [ oidc ] }\n"
          "  - { name: public, match: { paths: [ /public ] }, upstream: echo }\n",
      trusted_proxies);
}

// What the echo received for a GET /public sent with `headers`.
json echoed_headers(std::uint16_t port, const std::string& headers) {
  HttpConnection connection(port);
  connection.send_raw("GET /public HTTP/1.1\r\nHost: gateway.test\r\n" + headers + "\r\n");
  const Response r = connection.read_response();
  EXPECT_EQ(r.result_int(), 200) << r.body();
  if (r.result_int() != 200) return json::object();
  return json::parse(r.body())["headers"];
}

const std::string kIdentitySpellings =
    header("X.Authenticated.User") + header("X_Authenticated_User") +
    header("x-authenticated-user") + header("X~Authenticated~User") + header("X-Access.Token");

const std::string kForwardingHeaders =
    header("X-Forwarded-For", "203.0.113.7") + header("X-Forwarded-Proto", "https") +
    header("X-Forwarded-Host", "public.example") + header("X-Forwarded-Port", "443") +
    header("X-Forwarded-Prefix", "/api") + header("Forwarded", "for=203.0.113.7;proto=https") +
    header("X-Real-IP", "203.0.113.7") + header("X_Forwarded_For", "198.51.100.1") +
    header("X.Real.IP", "198.51.100.1");

class ProtectedHeadersTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    setup_.run([] {
      idp_ = std::make_unique<RefusingPort>();
      echo_ = std::make_unique<EchoServer>(start_echo_server());
      untrusting_ = std::make_unique<Tollgate>(start_tollgate(gateway_config(*echo_, *idp_, "")));
      trusting_ = std::make_unique<Tollgate>(start_tollgate(
          gateway_config(*echo_, *idp_, "trusted_proxies: [ 10.0.0.0/8, 127.0.0.1/32, ::1 ]\n")));
    });
  }
  void SetUp() override { ASSERT_TRUE(setup_.ok()) << setup_.error(); }
  static void TearDownTestSuite() {
    trusting_.reset();
    untrusting_.reset();
    echo_.reset();
    idp_.reset();
  }

  static SuiteSetup setup_;
  static std::unique_ptr<RefusingPort> idp_;
  static std::unique_ptr<EchoServer> echo_;
  static std::unique_ptr<Tollgate> untrusting_;
  static std::unique_ptr<Tollgate> trusting_;
};
SuiteSetup ProtectedHeadersTest::setup_;
std::unique_ptr<RefusingPort> ProtectedHeadersTest::idp_;
std::unique_ptr<EchoServer> ProtectedHeadersTest::echo_;
std::unique_ptr<Tollgate> ProtectedHeadersTest::untrusting_;
std::unique_ptr<Tollgate> ProtectedHeadersTest::trusting_;

TEST_F(ProtectedHeadersTest, IdentityHeadersInEverySpellingGoOnARouteWithoutThePlugin) {
  for (const Tollgate* gateway : {untrusting_.get(), trusting_.get()}) {
    const json headers = echoed_headers(gateway->port(), kIdentitySpellings);
    for (const auto& [name, value] : headers.items()) {
      EXPECT_NE(value, kForged) << "the upstream saw the client's " << name;
    }
  }
}

TEST_F(ProtectedHeadersTest, ForwardingHeadersFromAnUntrustedPeerAreReplaced) {
  const json headers = echoed_headers(untrusting_->port(), kForwardingHeaders);
  EXPECT_EQ(headers.value("x-forwarded-for", json()), "127.0.0.1");
  EXPECT_EQ(headers.value("x-forwarded-proto", json()), "http");
  EXPECT_EQ(headers.value("x-forwarded-host", json()), "gateway.test");
  for (const char* gone : {"x-forwarded-port", "x-forwarded-prefix", "forwarded", "x-real-ip",
                           "x_forwarded_for", "x.real.ip"}) {
    EXPECT_FALSE(headers.contains(gone)) << gone << ": " << headers.value(gone, json());
  }
  EXPECT_EQ(headers.value("via", json()), "1.1 tollgate");
}

TEST_F(ProtectedHeadersTest, ForwardingHeadersFromATrustedProxyAreKeptAndExtended) {
  const json headers = echoed_headers(trusting_->port(), kForwardingHeaders);
  EXPECT_EQ(headers.value("x-forwarded-for", json()), "203.0.113.7, 127.0.0.1");
  EXPECT_EQ(headers.value("x-forwarded-proto", json()), "https");
  EXPECT_EQ(headers.value("x-forwarded-host", json()), "public.example");
  EXPECT_EQ(headers.value("x-forwarded-port", json()), "443");
  EXPECT_EQ(headers.value("x-forwarded-prefix", json()), "/api");
  EXPECT_EQ(headers.value("forwarded", json()), "for=203.0.113.7;proto=https");
  EXPECT_EQ(headers.value("x-real-ip", json()), "203.0.113.7");
  // Only the usual spellings: others would reach a CGI-style upstream beside them.
  EXPECT_FALSE(headers.contains("x_forwarded_for"));
  EXPECT_FALSE(headers.contains("x.real.ip"));
}

TEST_F(ProtectedHeadersTest, ATrustedProxyWithoutForwardingHeadersGetsTheGatewaysOwn) {
  const json headers = echoed_headers(trusting_->port(), "");
  EXPECT_EQ(headers.value("x-forwarded-for", json()), "127.0.0.1");
  EXPECT_EQ(headers.value("x-forwarded-proto", json()), "http");
  EXPECT_EQ(headers.value("x-forwarded-host", json()), "gateway.test");
}

}  // namespace
}  // namespace tollgate::test
