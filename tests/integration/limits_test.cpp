// Limits, timeouts, malformed requests and failing upstreams: each gets its documented answer, and
// nothing a client or upstream sends takes the gateway down.
#include <gtest/gtest.h>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "services.hpp"

namespace tollgate::test {
namespace {

using nlohmann::json;

class LimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    echo_ = start_echo_server("echo");
    gateway_ = start_tollgate(
        basic_config("upstreams:\n"
                     "  echo:\n"
                     "    targets: [ " +
                         echo_.url() +
                         " ]\n"
                         "  dead:\n"
                         "    targets: [ http://127.0.0.1:" +
                         std::to_string(dead_port_.number()) +
                         " ]\n"
                         "  half-dead:\n"
                         "    targets: [ http://127.0.0.1:" +
                         std::to_string(dead_port_.number()) + ", " + echo_.url() +
                         " ]\n"
                         "routes:\n"
                         "  - name: echo\n"
                         "    match: { paths: [ / ] }\n"
                         "    upstream: echo\n"
                         "  - name: dead\n"
                         "    match: { paths: [ /dead ] }\n"
                         "    upstream: dead\n"
                         "  - name: half-dead\n"
                         "    match: { paths: [ /half ] }\n"
                         "    upstream: half-dead\n",
                     "limits: { max_header_bytes: 4KiB, max_body_bytes: 1MiB }\n"
                     "timeouts: { client_header: 500ms, client_idle: 700ms, upstream_read: 500ms, "
                     "upstream_connect: 500ms }\n"));
  }

  bool still_serves() { return http_get(gateway_.port(), "/alive").result_int() == 200; }

  EchoServer echo_;
  RefusingPort dead_port_;  // the "dead" upstream: nothing listens there
  Tollgate gateway_;
};

TEST_F(LimitsTest, OversizedHeaderIs431) {
  auto r = http_get(gateway_.port(), "/x", {{"X-Big", std::string(8000, 'a')}});
  EXPECT_EQ(r.result_int(), 431);
  EXPECT_TRUE(still_serves());
}

TEST_F(LimitsTest, OversizedRequestLineIs431) {
  auto raw = raw_exchange(gateway_.port(), "GET /" + std::string(10000, 'a') + " HTTP/1.1\r\n");
  EXPECT_EQ(status_of(raw), 431);
}

TEST_F(LimitsTest, DeclaredBodyOverLimitIs413WithoutReadingIt) {
  auto raw = raw_exchange(gateway_.port(),
                          "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n");
  EXPECT_EQ(status_of(raw), 413);
}

TEST_F(LimitsTest, ChunkedBodyOverLimitIs413) {
  std::string chunk(64 * 1024, 'z');
  std::string req = "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 20; ++i) req += "10000\r\n" + chunk + "\r\n";
  req += "0\r\n\r\n";
  auto raw = raw_exchange(gateway_.port(), req);
  // The upstream already saw the start of the stream, but the client is told the truth and the
  // connection is closed.
  EXPECT_EQ(status_of(raw), 413);
}

TEST_F(LimitsTest, SlowHeaderIs408AndClosed) {
  HttpConnection c(gateway_.port());
  c.send_raw("GET /x HTTP/1.1\r\nHost: x\r\n");  // never finishes the head
  auto r = c.read_response();
  EXPECT_EQ(r.result_int(), 408);
  EXPECT_TRUE(c.closed_by_peer());
}

TEST_F(LimitsTest, IdleKeepAliveConnectionIsClosed) {
  HttpConnection c(gateway_.port());
  EXPECT_EQ(c.get("/x").result_int(), 200);
  EXPECT_TRUE(c.closed_by_peer(std::chrono::seconds(5)));  // client_idle is 700ms
}

TEST_F(LimitsTest, MalformedFramingIs400AndClosed) {
  const std::vector<std::string> bad = {
      "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
      "0\r\n\r\n",
      "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde",
      "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd",
      "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
      "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
      "GET /x HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n",
      "GET /x HTTP/1.1\nHost: x\n\n",
      "GET /x HTTP/1.1\r\nHost: x\r\nX-Bad: a\rb\r\n\r\n",
      std::string("GET /x HTTP/1.1\r\nHost: x\r\nX-Nul: a") + '\0' + "b\r\n\r\n",
      "GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
      "GET /x HTTP/1.1\r\n\r\n",
      "GET /x HTTP/1.0\r\n\r\n",
      "GET /x HTTP/2.0\r\nHost: x\r\n\r\n",
      "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
      "GET /x HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n",
  };
  for (const auto& req : bad) {
    auto raw = raw_exchange(gateway_.port(), req);
    EXPECT_EQ(status_of(raw), 400) << req;
    EXPECT_NE(raw.find("Connection: close"), std::string::npos) << req;
  }
  EXPECT_TRUE(still_serves());
}

TEST_F(LimitsTest, UnreachableUpstreamIs502) {
  auto r = http_get(gateway_.port(), "/dead/x");
  EXPECT_EQ(r.result_int(), 502);
  EXPECT_FALSE(json::parse(r.body())["request_id"].get<std::string>().empty());
}

TEST_F(LimitsTest, UnreachableTargetIsSkippedForAnother) {
  for (int i = 0; i < 6; ++i) EXPECT_EQ(http_get(gateway_.port(), "/half/x").result_int(), 200);
}

TEST_F(LimitsTest, SlowUpstreamIs504) {
  auto r = http_get(gateway_.port(), "/delay/3000");
  EXPECT_EQ(r.result_int(), 504);
}

TEST_F(LimitsTest, UpstreamClosingMidResponseClosesTheClient) {
  HttpConnection c(gateway_.port());
  c.send_raw("GET /close-mid-body HTTP/1.1\r\nHost: x\r\n\r\n");
  // The head arrives with the upstream's Content-Length; the body stops short and the connection
  // closes, so no client can take the truncated body for a whole one.
  EXPECT_THROW(c.read_response(), std::exception);
}

TEST_F(LimitsTest, UpstreamStatusesPassThrough) {
  EXPECT_EQ(http_get(gateway_.port(), "/status/503").result_int(), 503);
  EXPECT_EQ(http_get(gateway_.port(), "/status/201").result_int(), 201);
}

TEST_F(LimitsTest, PipelinedRequestsAreAnsweredInOrder) {
  HttpConnection c(gateway_.port());
  c.send_raw("GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(json::parse(c.read_response().body())["path"], "/one");
  EXPECT_EQ(json::parse(c.read_response().body())["path"], "/two");
}

}  // namespace
}  // namespace tollgate::test
