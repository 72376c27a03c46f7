// A client sends the identity headers the openid-connect plugin hands the upstream, with its own
// values, in every spelling it can think of. The upstream (an echo that shows what it received)
// must see only tollgate's values on a protected route, nothing at all when the request is
// refused, and nothing of them on a route without the plugin either.
#include <gtest/gtest.h>

#include <cctype>
#include <memory>
#include <set>

#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "idp_client.hpp"
#include "services.hpp"
#include "suite_setup.hpp"

namespace tollgate::test {
namespace {

using nlohmann::json;

constexpr const char* kForged = "forged-by-client";

// Every header the plugin sets (lowercase, as the echo reports them), and one for a claim the
// dev IdP's tokens do not have, which must then be absent.
const std::set<std::string> kIdentityHeaders = {"x-authenticated-user", "x-authenticated-scope",
                                                "x-introspection", "x-access-token",
                                                "x-authenticated-email"};

std::string base64_decode(std::string_view text) {
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned bits = 0;
  int count = 0;
  for (const char c : text) {
    if (c == '=') break;
    const std::size_t value = kAlphabet.find(c);
    if (value == std::string::npos) return {};
    bits = (bits << 6) | static_cast<unsigned>(value);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>((bits >> count) & 0xff));
    }
  }
  return out;
}

// "X_Authenticated.USER" → "x-authenticated-user": the name a CGI-style upstream (PHP, WSGI, Rack)
// reads it under, HTTP_X_AUTHENTICATED_USER, whichever non-alphanumeric bytes the client used.
std::string cgi_name(std::string_view name) {
  std::string out;
  for (const char c : name) {
    out.push_back(std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c))
                                                              : '-');
  }
  return out;
}

class SpoofingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    setup_.run([] {
      idp_ = std::make_unique<DevIdp>(start_dev_idp());
      echo_ = std::make_unique<EchoServer>(start_echo_server("echo", {"--log-requests"}));
      gateway_ = std::make_unique<Tollgate>(start_tollgate(basic_config(
          "upstreams:\n"
          "  echo: { targets: [ " +
          echo_->url() +
          " ] }\n"
          "plugins:\n" +
          openid_connect_plugin(
              "oidc", "issuer: " + idp_->issuer(),
              "      timeout: 2s\n"
              "      cache_ttl: 300s\n"
              "      scopes_required: [ \"orders:read\" ]\n"
              "      upstream_headers_claims: [ sub, scope, email ]\n"
              "      upstream_headers_names: [ X-Authenticated-User, X-Authenticated-Scope, "
              "X-Authenticated-Email ]\n"
              "      upstream_introspection_header: X-Introspection\n"
              "      upstream_access_token_header: X-Access-Token\n") +
          "routes:\n"
          "  - { name: orders, match: { paths: [ /orders ] }, upstream: echo, plugins: [ oidc ] }\n"
          "  - { name: public, match: { paths: [ /public ] }, upstream: echo }\n")));
      // Counted over all output: discovery may finish before the startup lines waited for.
      gateway_->process->wait_for_count("introspection endpoint .* discovered", 1);
      token_ = fetch_token(idp_->port, "demo-client", "demo-secret", "orders:read");
    });
  }
  void SetUp() override { ASSERT_TRUE(setup_.ok()) << setup_.error(); }
  static SuiteSetup setup_;
  static void TearDownTestSuite() {
    gateway_.reset();
    echo_.reset();
    idp_.reset();
  }

  // Sends raw bytes, expects a 200 from the echo, and returns the headers it received.
  static json echoed_headers(const std::string& request) {
    HttpConnection connection(gateway_->port());
    connection.send_raw(request);
    const Response r = connection.read_response();
    EXPECT_EQ(r.result_int(), 200) << r.body();
    if (r.result_int() != 200) return json::object();
    return json::parse(r.body())["headers"];
  }

  static std::string protected_get(const std::string& headers) {
    return "GET /orders HTTP/1.1\r\nHost: gateway.test\r\nAuthorization: Bearer " + token_ +
           "\r\n" + headers + "\r\n";
  }

  // The upstream saw exactly tollgate's identity headers, once each, and no other spelling of them.
  static void expect_only_gateway_identity(const json& headers) {
    EXPECT_EQ(headers.value("x-authenticated-user", json()), "demo-client");
    EXPECT_EQ(headers.value("x-authenticated-scope", json()), "orders:read");
    EXPECT_EQ(headers.value("x-access-token", json()), token_);
    EXPECT_FALSE(headers.contains("x-authenticated-email"));  // the token has no email claim
    const json introspection = headers.value("x-introspection", json());
    ASSERT_TRUE(introspection.is_string()) << introspection;
    const json answer = json::parse(base64_decode(introspection.get<std::string>()), nullptr,
                                    /*allow_exceptions=*/false);
    EXPECT_EQ(answer.value("active", false), true) << introspection;
    EXPECT_EQ(answer.value("sub", ""), "demo-client");
    for (const auto& [name, value] : headers.items()) {
      const bool identity = kIdentityHeaders.contains(cgi_name(name));
      EXPECT_FALSE(identity && name != cgi_name(name))
          << "the upstream saw the client's " << name << ": " << value;
      EXPECT_NE(value, kForged) << name;
    }
  }

  static std::unique_ptr<DevIdp> idp_;
  static std::unique_ptr<EchoServer> echo_;
  static std::unique_ptr<Tollgate> gateway_;
  static std::string token_;
};
SuiteSetup SpoofingTest::setup_;
std::unique_ptr<DevIdp> SpoofingTest::idp_;
std::unique_ptr<EchoServer> SpoofingTest::echo_;
std::unique_ptr<Tollgate> SpoofingTest::gateway_;
std::string SpoofingTest::token_;

struct SpoofCase {
  const char* name;
  std::string headers;  // complete "Name: value\r\n" lines the client adds
};

const std::string kAllIdentityHeaders = std::string("X-Authenticated-User: ") + kForged +
                                        "\r\n"
                                        "X-Authenticated-Scope: " +
                                        kForged +
                                        "\r\n"
                                        "X-Authenticated-Email: " +
                                        kForged +
                                        "\r\n"
                                        "X-Introspection: " +
                                        kForged +
                                        "\r\n"
                                        "X-Access-Token: " +
                                        kForged + "\r\n";

std::string header(std::string_view name) {
  return std::string(name) + ": " + kForged + "\r\n";
}

const std::vector<SpoofCase> kSpoofCases = {
    {"sameNames", kAllIdentityHeaders},
    {"oddCasing", header("x-AUTHENTICATED-user") + header("X-AUTHENTICATED-SCOPE") +
                      header("x-authenticated-email") + header("X-INTROSPECTION") +
                      header("x-Access-Token")},
    {"duplicates", kAllIdentityHeaders + kAllIdentityHeaders},
    {"emptyValues",
     "X-Authenticated-User:\r\nX-Authenticated-Email:\r\nX-Introspection: \r\nX-Access-Token:\r\n"},
    {"namedInConnection",
     "Connection: X-Authenticated-User, X-Authenticated-Scope, X-Introspection\r\n"
     "Connection: x-access-token ,  X-AUTHENTICATED-EMAIL\r\n" +
         kAllIdentityHeaders},
    {"connectionOnly",
     "Connection: keep-alive, X-Authenticated-User, X-Access-Token, X-Introspection\r\n"},
    {"underscores", header("X_Authenticated_User") + header("X_Authenticated_Scope") +
                        header("x_authenticated_email") + header("X_Introspection") +
                        header("X_ACCESS_TOKEN")},
    {"mixedSeparators", header("X-Authenticated_User") + header("x_authenticated-scope") +
                            header("X_Authenticated-Email") + header("X-Access_Token")},
    {"dots", header("X.Authenticated.User") + header("X.Authenticated.Scope") +
                 header("x.authenticated.email") + header("X~Introspection") +
                 header("X.ACCESS.TOKEN")},
    {"underscoresNamedInConnection",
     "Connection: X_Authenticated_User\r\n" + header("X_Authenticated_User")},
};

TEST_F(SpoofingTest, TheUpstreamSeesOnlyTheGatewaysIdentityHeaders) {
  for (const SpoofCase& c : kSpoofCases) {
    SCOPED_TRACE(c.name);
    expect_only_gateway_identity(echoed_headers(protected_get(c.headers)));
  }
}

TEST_F(SpoofingTest, IdentityHeadersInChunkedTrailersNeverReachTheUpstream) {
  const std::string request =
      "POST /orders HTTP/1.1\r\nHost: gateway.test\r\nAuthorization: Bearer " + token_ +
      "\r\nTransfer-Encoding: chunked\r\nTrailer: X-Authenticated-User\r\n"
      "\r\n"
      "5\r\nhello\r\n0\r\n" +
      kAllIdentityHeaders + "\r\n";
  const json headers = echoed_headers(request);
  expect_only_gateway_identity(headers);
  EXPECT_FALSE(headers.contains("trailer"));
}

TEST_F(SpoofingTest, MalformedHeaderNamesAreRefusedNotForwarded) {
  const std::vector<std::string> names = {"X-Authenticated-User ", " X-Authenticated-User",
                                          "X-Authenticated-U\xc5\xbf"
                                          "er",
                                          "X-Authenticated User"};
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    HttpConnection connection(gateway_->port());
    connection.send_raw(protected_get(name + ": " + kForged + "\r\n"));
    EXPECT_EQ(connection.read_response().result_int(), 400);
    EXPECT_TRUE(connection.closed_by_peer());
  }
}

TEST_F(SpoofingTest, RejectedRequestsNeverReachTheUpstream) {
  const std::string weak = fetch_token(idp_->port, "demo-client", "demo-secret", "orders:write");
  const std::vector<std::pair<std::string, int>> cases = {
      {"", 401},
      {"Authorization: Bearer not-a-token\r\n", 401},
      {"Authorization: Bearer " + weak + "\r\n", 403},
      {"Authorization: Bearer a b\r\n", 400},
  };
  const int before = echo_->process->count_lines("^echo-server request ");
  for (const auto& [authorization, status] : cases) {
    SCOPED_TRACE(authorization);
    HttpConnection connection(gateway_->port());
    connection.send_raw("GET /orders/rejected HTTP/1.1\r\nHost: gateway.test\r\n" + authorization +
                        kAllIdentityHeaders + "\r\n");
    EXPECT_EQ(connection.read_response().result_int(), status);
  }
  // A request that reached the echo was logged before the gateway could answer it, hence before
  // this one, which the echo logs too.
  echoed_headers("GET /public/after-rejections HTTP/1.1\r\nHost: gateway.test\r\n\r\n");
  echo_->process->wait_for_line("^echo-server request GET /public/after-rejections$");
  EXPECT_EQ(echo_->process->count_lines("^echo-server request "), before + 1);
  EXPECT_EQ(echo_->process->count_lines("/orders/rejected"), 0);
}

// Every header a plugin instance sets is protected gateway-wide: a route without the plugin removes
// them too, so an upstream reached both ways never takes a client's word for who is calling.
TEST_F(SpoofingTest, RoutesWithoutThePluginRemoveIdentityHeadersToo) {
  const json headers =
      echoed_headers("GET /public HTTP/1.1\r\nHost: gateway.test\r\n" + kAllIdentityHeaders +
                     header("X_Authenticated_User") + header("X.Authenticated.User") + "\r\n");
  for (const auto& [name, value] : headers.items()) {
    EXPECT_FALSE(kIdentityHeaders.contains(cgi_name(name))) << name << ": " << value;
    EXPECT_NE(value, kForged) << name;
  }
}

// Hop-by-hop rules are the same on every route: a header the client names in Connection is meant
// for the gateway alone and is not forwarded, plugin or not.
TEST_F(SpoofingTest, RoutesWithoutThePluginDropHeadersNamedInConnection) {
  const json headers = echoed_headers(
      "GET /public HTTP/1.1\r\nHost: gateway.test\r\n"
      "Connection: x-CUSTOM-hint\r\n" +
      header("X-Custom-Hint") + header("X-Other-Hint") + "\r\n");
  EXPECT_FALSE(headers.contains("x-custom-hint"));
  EXPECT_FALSE(headers.contains("connection"));
  EXPECT_EQ(headers["x-other-hint"], kForged);
}

TEST_F(SpoofingTest, ForwardingHeadersAreTheGatewaysOwn) {
  for (const std::string route : {"/orders", "/public"}) {
    SCOPED_TRACE(route);
    const json headers = echoed_headers(
        "GET " + route + " HTTP/1.1\r\nHost: gateway.test\r\nAuthorization: Bearer " + token_ +
        "\r\n"
        "Connection: X-Forwarded-Proto, X-Forwarded-Host, Via, X-Request-Id\r\n"
        "X-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.test\r\n"
        "X-Forwarded-For: 203.0.113.7\r\nVia: 1.1 evil\r\nX-Request-Id: bad id\r\n"
        "X_Forwarded_Proto: https\r\nx_forwarded_host: evil.test\r\nX_Forwarded_For: 1.2.3.4\r\n"
        "\r\n");
    EXPECT_EQ(headers["x-forwarded-proto"], "http");
    EXPECT_EQ(headers["x-forwarded-host"], "gateway.test");
    // Replaced: this peer is not a trusted proxy (trusted_proxies), so its chain is not kept.
    EXPECT_EQ(headers["x-forwarded-for"], "127.0.0.1");
    EXPECT_EQ(headers["via"], "1.1 tollgate");  // the client's Via was named in Connection
    EXPECT_TRUE(headers["x-request-id"].is_string());
    EXPECT_NE(headers["x-request-id"], "bad id");
    // Underscore spellings, which CGI-style upstreams read as the same headers, are gone.
    EXPECT_FALSE(headers.contains("x_forwarded_proto"));
    EXPECT_FALSE(headers.contains("x_forwarded_host"));
    EXPECT_FALSE(headers.contains("x_forwarded_for"));
  }
}

}  // namespace
}  // namespace tollgate::test
