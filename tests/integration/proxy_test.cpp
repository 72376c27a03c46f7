// tollgate as a reverse proxy, end to end: real tollgate, real echo upstreams, real sockets.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "services.hpp"

namespace tollgate::test {
namespace {

using nlohmann::json;

json echo_of(const Response& r) {
  return json::parse(r.body());
}

class ProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    echo_a_ = start_echo_server("a", {"--log-requests"});
    echo_b_ = start_echo_server("b");
    gateway_ =
        start_tollgate(basic_config("upstreams:\n"
                                    "  pair:\n"
                                    "    targets: [ " +
                                    echo_a_.url() + ", " + echo_b_.url() +
                                    " ]\n"
                                    "  single:\n"
                                    "    targets: [ " +
                                    echo_a_.url() +
                                    " ]\n"
                                    "routes:\n"
                                    "  - name: api\n"
                                    "    match: { paths: [ /api ] }\n"
                                    "    upstream: single\n"
                                    "  - name: api-v2\n"
                                    "    match: { paths: [ /api/v2 ] }\n"
                                    "    upstream: single\n"
                                    "    strip_path: true\n"
                                    "  - name: exact\n"
                                    "    match: { paths: [ \"= /exact\" ] }\n"
                                    "    upstream: single\n"
                                    "  - name: balanced\n"
                                    "    match: { paths: [ /rr ] }\n"
                                    "    upstream: pair\n"
                                    "  - name: by-host\n"
                                    "    match: { hosts: [ \"*.example.com\" ], paths: [ /api ] }\n"
                                    "    upstream: single\n"
                                    "    preserve_host: true\n"
                                    "  - name: only-get\n"
                                    "    match: { paths: [ /get-only ], methods: [ GET ] }\n"
                                    "    upstream: single\n"));
  }

  EchoServer echo_a_, echo_b_;
  Tollgate gateway_;
};

TEST_F(ProxyTest, ForwardsWithProxyHeaders) {
  auto r = http_get(gateway_.port(), "/api/items?x=1&y=%20", {{"X-Forwarded-For", "10.9.8.7"}});
  ASSERT_EQ(r.result_int(), 200);
  auto e = echo_of(r);
  EXPECT_EQ(e["method"], "GET");
  EXPECT_EQ(e["path"], "/api/items");
  EXPECT_EQ(e["query"], "x=1&y=%20");
  // Not a trusted proxy (trusted_proxies is empty): the client's chain is not kept.
  EXPECT_EQ(e["headers"]["x-forwarded-for"], "127.0.0.1");
  EXPECT_EQ(e["headers"]["x-forwarded-proto"], "http");
  EXPECT_EQ(e["headers"]["x-forwarded-host"], "127.0.0.1:" + std::to_string(gateway_.port()));
  EXPECT_EQ(e["headers"]["host"], "127.0.0.1:" + std::to_string(echo_a_.port));
  EXPECT_EQ(e["headers"]["via"], "1.1 tollgate");
  const std::string id = e["headers"]["x-request-id"];
  EXPECT_EQ(id.size(), 32u);
  EXPECT_EQ(r["X-Request-Id"], id);  // the client sees the id the request was logged under
}

TEST_F(ProxyTest, KeepsAClientRequestIdAndReplacesAnInvalidOne) {
  auto kept = echo_of(http_get(gateway_.port(), "/api", {{"X-Request-Id", "abc-123"}}));
  EXPECT_EQ(kept["headers"]["x-request-id"], "abc-123");
  auto replaced = echo_of(http_get(gateway_.port(), "/api", {{"X-Request-Id", "bad id\"<x>"}}));
  EXPECT_EQ(replaced["headers"]["x-request-id"].get<std::string>().size(), 32u);
}

TEST_F(ProxyTest, RoutesOnTheNormalisedPathAndForwardsIt) {
  auto e = echo_of(http_get(gateway_.port(), "/other/../api//a/./b/%7Euser"));
  EXPECT_EQ(e["path"], "/api/a/b/~user");
}

TEST_F(ProxyTest, RefusesPathsThatCannotBeNormalisedSafely) {
  for (const char* target : {"/api/%2F..%2Fsecret", "/api/%00", "/../api", "/api/%zz"}) {
    auto r = http_get(gateway_.port(), target);
    EXPECT_EQ(r.result_int(), 400) << target;
    EXPECT_FALSE(echo_of(r)["request_id"].get<std::string>().empty()) << target;
  }
}

TEST_F(ProxyTest, NoRouteIs404Json) {
  auto r = http_get(gateway_.port(), "/nothing-here");
  EXPECT_EQ(r.result_int(), 404);
  EXPECT_EQ(r[boost::beast::http::field::content_type], "application/json");
  auto body = echo_of(r);
  EXPECT_EQ(body["message"], "No route matched with those values");
  EXPECT_EQ(body["request_id"].get<std::string>().size(), 32u);
  // Segment-boundary prefixes: /apix is not under /api.
  EXPECT_EQ(http_get(gateway_.port(), "/apix").result_int(), 404);
}

TEST_F(ProxyTest, LongestPrefixWinsAndStripPathRemovesIt) {
  EXPECT_EQ(echo_of(http_get(gateway_.port(), "/api/v2/orders"))["path"], "/orders");
  EXPECT_EQ(echo_of(http_get(gateway_.port(), "/api/v2"))["path"], "/");
  EXPECT_EQ(echo_of(http_get(gateway_.port(), "/api/v3"))["path"], "/api/v3");
}

TEST_F(ProxyTest, ExactPathsMatchOnlyThemselves) {
  EXPECT_EQ(http_get(gateway_.port(), "/exact").result_int(), 200);
  EXPECT_EQ(http_get(gateway_.port(), "/exact/more").result_int(), 404);
}

TEST_F(ProxyTest, MethodsRestrictARoute) {
  HttpConnection c(gateway_.port());
  EXPECT_EQ(c.get("/get-only").result_int(), 200);
  Request post{boost::beast::http::verb::post, "/get-only", 11};
  post.body() = "x";
  EXPECT_EQ(c.send(post).result_int(), 404);
}

TEST_F(ProxyTest, HostRoutesWithWildcardAndPreserveHost) {
  auto e = echo_of(http_get(gateway_.port(), "/api/x", {{"Host", "Shop.Example.com:8080"}}));
  EXPECT_EQ(e["headers"]["host"], "Shop.Example.com:8080");  // preserve_host
  // The same path without a matching host takes the host-less route, which sends the target's host.
  auto plain = echo_of(http_get(gateway_.port(), "/api/x", {{"Host", "other.org"}}));
  EXPECT_EQ(plain["headers"]["host"], "127.0.0.1:" + std::to_string(echo_a_.port));
}

// RFC 9112 §3.2.2: the authority of an absolute-form target replaces Host. The route is chosen on
// that authority, so it is also what an upstream dispatching on Host (a virtual host, as the echo
// reports it) must see: the client's own Host could name a site the gateway protects.
TEST_F(ProxyTest, AbsoluteFormTargetsReplaceHostWithTheirAuthority) {
  HttpConnection c(gateway_.port());
  c.send_raw("GET http://shop.example.com/api/abs HTTP/1.1\r\nHost: admin.example.org\r\n\r\n");
  auto e = echo_of(c.read_response());
  EXPECT_EQ(e["path"], "/api/abs");
  EXPECT_EQ(e["headers"]["host"], "shop.example.com");  // preserve_host route
  EXPECT_EQ(e["headers"]["x-forwarded-host"], "shop.example.com");

  // The authority as written goes upstream; X-Forwarded-Host is the host it was routed on.
  c.send_raw(
      "GET http://Shop.Example.COM.:8080/api/abs HTTP/1.1\r\nHost: admin.example.org\r\n\r\n");
  e = echo_of(c.read_response());
  EXPECT_EQ(e["headers"]["host"], "Shop.Example.COM.:8080");
  EXPECT_EQ(e["headers"]["x-forwarded-host"], "shop.example.com:8080");

  // On a route that sends the target's host, only X-Forwarded-Host tells of the client's.
  c.send_raw("GET http://other.org/api/abs HTTP/1.1\r\nHost: admin.example.org\r\n\r\n");
  e = echo_of(c.read_response());
  EXPECT_EQ(e["headers"]["host"], "127.0.0.1:" + std::to_string(echo_a_.port));
  EXPECT_EQ(e["headers"]["x-forwarded-host"], "other.org");
}

TEST_F(ProxyTest, XForwardedHostIsTheNormalisedHostTheRouteWasChosenOn) {
  auto e = echo_of(http_get(gateway_.port(), "/api/x", {{"Host", "Shop.Example.com.:8080"}}));
  EXPECT_EQ(e["headers"]["host"], "Shop.Example.com.:8080");  // preserve_host: as the client wrote
  EXPECT_EQ(e["headers"]["x-forwarded-host"], "shop.example.com:8080");
}

TEST_F(ProxyTest, RoundRobinSpreadsRequestsOverTargets) {
  HttpConnection c(gateway_.port());
  std::map<std::string, int> seen;
  for (int i = 0; i < 10; ++i) seen[echo_of(c.get("/rr"))["server"]]++;
  EXPECT_EQ(seen["a"], 5);
  EXPECT_EQ(seen["b"], 5);
}

TEST_F(ProxyTest, KeepAliveReusesConnectionsBothWays) {
  HttpConnection c(gateway_.port());
  std::set<std::string> upstream_connections;
  for (int i = 0; i < 20; ++i) {
    auto r = c.get("/api/ka");
    ASSERT_EQ(r.result_int(), 200);
    upstream_connections.insert(echo_of(r)["connection_id"].dump());
  }
  // One client connection carried all 20; the gateway's two workers each hold at most one pooled
  // upstream connection for this sequential client.
  EXPECT_LE(upstream_connections.size(), 2u);
}

// An upstream may close a pooled connection while it is idle (its keep-alive timeout, a restart).
// The next request must not fail on it: one without a body is sent again on a new connection, and
// one with a body (which cannot be sent twice) finds the close before it is sent.
TEST_F(ProxyTest, AnUpstreamConnectionClosedWhileIdleIsNotUsed) {
  HttpConnection c(gateway_.port());
  for (int round = 1; round <= 2; ++round) {
    ASSERT_EQ(c.get("/api/v2/ok-then-close").result_int(), 200);
    echo_a_.process->wait_for_count("^echo-server closed after /ok-then-close$", round);
    if (round == 1) {
      Request post{boost::beast::http::verb::post, "/api/v2/after-close", 11};
      post.body() = "payload";
      const Response r = c.send(post);
      ASSERT_EQ(r.result_int(), 200);
      EXPECT_EQ(echo_of(r)["body_size"], 7);
    } else {
      const Response r = c.get("/api/v2/after-close");
      ASSERT_EQ(r.result_int(), 200);
      EXPECT_EQ(echo_of(r)["method"], "GET");
    }
  }
}

TEST_F(ProxyTest, StripsHopByHopHeadersAndThoseNamedInConnection) {
  auto e = echo_of(http_get(gateway_.port(), "/api",
                            {{"Connection", "keep-alive, X-Secret-Hop"},
                             {"X-Secret-Hop", "1"},
                             {"Keep-Alive", "timeout=5"},
                             {"Proxy-Authorization", "Basic eA=="},
                             {"Upgrade", "websocket"},
                             {"X-Kept", "yes"}}));
  const auto& h = e["headers"];
  EXPECT_FALSE(h.contains("x-secret-hop"));
  EXPECT_FALSE(h.contains("keep-alive"));
  EXPECT_FALSE(h.contains("proxy-authorization"));
  EXPECT_FALSE(h.contains("upgrade"));
  EXPECT_EQ(h["x-kept"], "yes");
}

TEST_F(ProxyTest, ChunkedBodiesPassBothWays) {
  HttpConnection c(gateway_.port());
  c.send_raw(
      "POST /api/upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  auto r = c.read_response();
  ASSERT_EQ(r.result_int(), 200);
  json e = echo_of(r);
  EXPECT_EQ(e["body_size"], 11);
  // A head that goes up before its body has all the gateway's fields too, once each.
  json& h = e["headers"];
  EXPECT_EQ(h["host"], "127.0.0.1:" + std::to_string(echo_a_.port)) << h;
  EXPECT_EQ(h["x-forwarded-for"], "127.0.0.1") << h;
  EXPECT_EQ(h["x-forwarded-proto"], "http") << h;
  EXPECT_EQ(h["x-forwarded-host"], "x") << h;
  EXPECT_EQ(h["via"], "1.1 tollgate") << h;
  EXPECT_TRUE(h["x-request-id"].is_string()) << h;
  EXPECT_TRUE(h["traceparent"].is_string()) << h;
  auto chunked = c.get("/api/bytes-via/bytes?chunked=1");  // routed under /api, echo sees /api/...
  EXPECT_EQ(chunked.result_int(), 200);
}

// A body the client sends slowly reaches the upstream as it comes: once the first 16 KiB (what
// is checked before an upstream is chosen) are through, a later piece is not held back until more
// arrive.
TEST_F(ProxyTest, ASlowRequestBodyReachesTheUpstreamAsItArrives) {
  // A little over 16 KiB first, so the body's start is full and goes up without waiting.
  const std::size_t first = 16 * 1024 + 512, second = 1024, rest = 3 * 1024;
  HttpConnection c(gateway_.port());
  c.send_raw("POST /api/v2/body-progress HTTP/1.1\r\nHost: x\r\nContent-Length: " +
             std::to_string(first + second + rest) + "\r\n\r\n" + std::string(first, 'a'));
  echo_a_.process->wait_for_line("echo-server body-bytes " + std::to_string(first) + "$");
  c.send_raw(std::string(second, 'b'));
  // Nothing more is sent until the upstream has seen the second piece.
  echo_a_.process->wait_for_line("echo-server body-bytes " + std::to_string(first + second) + "$",
                                 std::chrono::seconds(5));
  c.send_raw(std::string(rest, 'c'));
  auto r = c.read_response();
  ASSERT_EQ(r.result_int(), 200);
  EXPECT_EQ(echo_of(r)["body_size"], first + second + rest);
}

TEST_F(ProxyTest, ExpectContinueIsAnsweredBeforeTheBody) {
  HttpConnection c(gateway_.port());
  c.send_raw(
      "POST /api/e HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
  std::string interim(25, '\0');
  boost::asio::read(c.socket(), boost::asio::buffer(interim));
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  c.send_raw("data");
  auto r = c.read_response();
  ASSERT_EQ(r.result_int(), 200);
  EXPECT_EQ(echo_of(r)["body_size"], 4);
  EXPECT_FALSE(echo_of(r)["headers"].contains("expect"));
}

TEST_F(ProxyTest, HeadRequestsGetHeadersOnly) {
  HttpConnection c(gateway_.port());
  Request head{boost::beast::http::verb::head, "/api/h", 11};
  auto r = c.send(head);
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_TRUE(r.body().empty());
  EXPECT_EQ(c.get("/api/after-head").result_int(), 200);
}

// An answer the gateway makes itself carries no body on HEAD either: on a kept-alive connection the
// client would read that body as the start of its next response.
TEST_F(ProxyTest, HeadRequestsAnsweredByTheGatewayGetHeadersOnly) {
  HttpConnection c(gateway_.port());
  c.send_raw(
      "HEAD /nothing-here HTTP/1.1\r\nHost: localhost\r\n\r\n"
      "GET /api/after-local-head HTTP/1.1\r\nHost: localhost\r\n\r\n");
  const Response local = c.read_response(/*head=*/true);
  EXPECT_EQ(local.result_int(), 404);
  EXPECT_NE(local[boost::beast::http::field::content_length], "0");
  const Response next = c.read_response();
  EXPECT_EQ(next.result_int(), 200);
  EXPECT_EQ(echo_of(next)["path"], "/api/after-local-head");
}

}  // namespace
}  // namespace tollgate::test
