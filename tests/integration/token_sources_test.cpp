// Where the token comes from, end to end: the query, a form body and a cookie, each with and
// without hide_credentials (what the echo upstream receives shows what was forwarded); CORS
// preflights with and without run_on_preflight. Real processes: tollgate, the dev IdP, the echo.
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "idp_client.hpp"
#include "services.hpp"
#include "tollgate/common/hash.hpp"

namespace tollgate::test {
namespace {

namespace http = boost::beast::http;
using nlohmann::json;

std::string plugin(const std::string& name, const DevIdp& idp, const std::string& extra) {
  return openid_connect_plugin(name, "issuer: " + idp.issuer(),
                               "      timeout: 2s\n"
                               "      upstream_headers_claims: [ sub ]\n"
                               "      upstream_headers_names: [ X-Authenticated-User ]\n" +
                                   extra);
}

class TokenSourcesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    idp_ = new DevIdp(start_dev_idp());
    echo_ = new EchoServer(start_echo_server());
    const std::string places =
        "      bearer_token_param_type: [ header, query, body, cookie ]\n"
        "      bearer_token_cookie_name: at\n";
    gateway_ = new Tollgate(start_tollgate(basic_config(
        "upstreams:\n"
        "  echo: { targets: [ " +
        echo_->url() +
        " ] }\n"
        "plugins:\n" +
        plugin("hiding", *idp_, places + "      hide_credentials: true\n") +
        plugin("keeping", *idp_, places) +
        plugin("preflight-open", *idp_, "      run_on_preflight: false\n") +
        plugin("preflight-default", *idp_, "") +
        "routes:\n"
        "  - { name: hiding, match: { paths: [ /hiding ] }, upstream: echo, plugins: [ hiding ] }\n"
        "  - { name: keeping, match: { paths: [ /keeping ] }, upstream: echo, "
        "plugins: [ keeping ] }\n"
        "  - { name: open, match: { paths: [ /preflight-open ] }, upstream: echo, "
        "plugins: [ preflight-open ] }\n"
        "  - { name: default, match: { paths: [ /preflight-default ] }, upstream: echo, "
        "plugins: [ preflight-default ] }\n")));
    gateway_->process->wait_for_count("introspection endpoint .* discovered", 4);
    token_ = new std::string(fetch_token(idp_->port, "demo-client", "demo-secret", "orders:read"));
  }
  static void TearDownTestSuite() {
    delete gateway_;
    delete echo_;
    delete idp_;
    delete token_;
  }

  static Response post_form(const std::string& target, const std::string& body,
                            const std::string& content_type = "application/x-www-form-urlencoded",
                            const std::map<std::string, std::string>& headers = {}) {
    Request request{http::verb::post, target, 11};
    request.set(http::field::content_type, content_type);
    for (const auto& [name, value] : headers) request.set(name, value);
    request.body() = body;
    HttpConnection connection(gateway_->port());
    return connection.send(std::move(request));
  }
  static json echo_of(const Response& response) { return json::parse(response.body()); }
  static std::string sha256_hex(const std::string& text) { return to_hex(sha256(text)); }

  static inline DevIdp* idp_ = nullptr;
  static inline EchoServer* echo_ = nullptr;
  static inline Tollgate* gateway_ = nullptr;
  static inline std::string* token_ = nullptr;
};

TEST_F(TokenSourcesTest, QueryTokenIsRemovedFromTheForwardedTargetWithHideCredentials) {
  const Response hidden =
      http_get(gateway_->port(), "/hiding/x?a=1&access_token=" + *token_ + "&b=%2B");
  ASSERT_EQ(hidden.result_int(), 200) << hidden.body();
  EXPECT_EQ(echo_of(hidden)["query"], "a=1&b=%2B");
  EXPECT_EQ(echo_of(hidden)["headers"]["x-authenticated-user"], "demo-client");

  const Response only = http_get(gateway_->port(), "/hiding/x?access_token=" + *token_);
  ASSERT_EQ(only.result_int(), 200) << only.body();
  EXPECT_EQ(echo_of(only)["query"], "");

  const Response kept = http_get(gateway_->port(), "/keeping/x?access_token=" + *token_ + "&a=1");
  ASSERT_EQ(kept.result_int(), 200) << kept.body();
  EXPECT_EQ(echo_of(kept)["query"], "access_token=" + *token_ + "&a=1");
}

TEST_F(TokenSourcesTest, FormBodyTokenIsRemovedFromTheForwardedBodyWithHideCredentials) {
  const Response hidden = post_form("/hiding/form", "a=1&access_token=" + *token_ + "&b=two");
  ASSERT_EQ(hidden.result_int(), 200) << hidden.body();
  const json echo = echo_of(hidden);
  EXPECT_EQ(echo["headers"]["x-authenticated-user"], "demo-client");
  EXPECT_EQ(echo["body_size"], std::string("a=1&b=two").size());
  EXPECT_EQ(echo["body_sha256"], sha256_hex("a=1&b=two"));
  EXPECT_EQ(echo["headers"]["content-length"], "9");
}

TEST_F(TokenSourcesTest, FormBodyIsForwardedUnchangedWithoutHideCredentials) {
  const std::string body = "access_token=" + *token_ + "&note=caf%C3%A9+au+lait";
  const Response kept =
      post_form("/keeping/form", body, "Application/X-WWW-Form-Urlencoded; charset=UTF-8");
  ASSERT_EQ(kept.result_int(), 200) << kept.body();
  EXPECT_EQ(echo_of(kept)["body_sha256"], sha256_hex(body));
  EXPECT_EQ(echo_of(kept)["headers"]["x-authenticated-user"], "demo-client");
}

TEST_F(TokenSourcesTest, ChunkedFormBodyTokenIsAcceptedAndHidden) {
  const std::string body = "access_token=" + *token_ + "&b=2";
  std::string raw =
      "POST /hiding/chunked HTTP/1.1\r\nHost: x\r\n"
      "Content-Type: application/x-www-form-urlencoded\r\n"
      "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
  const std::size_t half = body.size() / 2;
  for (const std::string piece : {body.substr(0, half), body.substr(half)}) {
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
    raw += size + piece + "\r\n";
  }
  raw += "0\r\n\r\n";
  const std::string answer = raw_exchange(gateway_->port(), raw);
  ASSERT_EQ(status_of(answer), 200) << answer;
  EXPECT_NE(answer.find(sha256_hex("b=2")), std::string::npos) << answer;
}

TEST_F(TokenSourcesTest, AClientWaitingFor100ContinueGetsItBeforeTheBodyIsRead) {
  const std::string body = "access_token=" + *token_;
  HttpConnection connection(gateway_->port());
  connection.send_raw(
      "POST /keeping/expect HTTP/1.1\r\nHost: x\r\n"
      "Content-Type: application/x-www-form-urlencoded\r\n"
      "Expect: 100-continue\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n");
  EXPECT_EQ(connection.read_response().result_int(), 100);
  connection.send_raw(body);
  const Response answer = connection.read_response();
  ASSERT_EQ(answer.result_int(), 200) << answer.body();
  EXPECT_EQ(echo_of(answer)["body_sha256"], sha256_hex(body));
  // The connection carries a next request: the body was consumed whole.
  EXPECT_EQ(connection.get("/keeping/x?access_token=" + *token_).result_int(), 200);
}

TEST_F(TokenSourcesTest, TokenInTheBodyAndTheHeaderIsABadRequest) {
  const Response both =
      post_form("/keeping/form", "access_token=" + *token_, "application/x-www-form-urlencoded",
                {{"Authorization", "Bearer " + *token_}});
  EXPECT_EQ(both.result_int(), 400) << both.body();
  const Response twice =
      post_form("/keeping/form", "access_token=" + *token_ + "&access_token=" + *token_);
  EXPECT_EQ(twice.result_int(), 400) << twice.body();
}

TEST_F(TokenSourcesTest, OnlyFormBodiesAreSearched) {
  const Response json_body =
      post_form("/keeping/form", "access_token=" + *token_, "application/json");
  EXPECT_EQ(json_body.result_int(), 401) << json_body.body();
}

TEST_F(TokenSourcesTest, FormBodyOverTheBoundIs413) {
  const std::string filler(16 * 1024, 'x');
  const Response large = post_form("/keeping/form", "access_token=" + *token_ + "&f=" + filler);
  EXPECT_EQ(large.result_int(), 413) << large.body();
  // Within the bound it passes.
  const std::string fits = "access_token=" + *token_ + "&f=";
  const Response within =
      post_form("/keeping/form", fits + std::string(16 * 1024 - fits.size(), 'x'));
  EXPECT_EQ(within.result_int(), 200) << within.body();
}

TEST_F(TokenSourcesTest, CookieTokenIsRemovedWithHideCredentials) {
  const std::map<std::string, std::string> cookie{{"Cookie", "theme=dark; at=" + *token_}};
  const Response hidden = http_get(gateway_->port(), "/hiding/c", cookie);
  ASSERT_EQ(hidden.result_int(), 200) << hidden.body();
  EXPECT_EQ(echo_of(hidden)["headers"]["cookie"], "theme=dark");
  const Response kept = http_get(gateway_->port(), "/keeping/c", cookie);
  ASSERT_EQ(kept.result_int(), 200) << kept.body();
  EXPECT_EQ(echo_of(kept)["headers"]["cookie"], "theme=dark; at=" + *token_);
}

TEST_F(TokenSourcesTest, PreflightPassesWithoutATokenOnlyWithRunOnPreflightOff) {
  const int calls_before = introspect_calls(idp_->port);
  Request preflight{http::verb::options, "/preflight-open/orders", 11};
  preflight.set(http::field::origin, "https://app.example");
  preflight.set(http::field::access_control_request_method, "POST");
  preflight.set("X-Authenticated-User", "spoofed");
  HttpConnection connection(gateway_->port());
  const Response passed = connection.send(preflight);
  ASSERT_EQ(passed.result_int(), 200) << passed.body();
  EXPECT_EQ(echo_of(passed)["method"], "OPTIONS");
  EXPECT_FALSE(echo_of(passed)["headers"].contains("x-authenticated-user"));
  EXPECT_EQ(introspect_calls(idp_->port), calls_before);

  preflight.target("/preflight-default/orders");
  EXPECT_EQ(connection.send(preflight).result_int(), 401);
  // Not a preflight (no Access-Control-Request-Method): a token is needed.
  Request options{http::verb::options, "/preflight-open/orders", 11};
  options.set(http::field::origin, "https://app.example");
  EXPECT_EQ(connection.send(options).result_int(), 401);
}

}  // namespace
}  // namespace tollgate::test
