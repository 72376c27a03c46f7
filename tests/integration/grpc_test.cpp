// gRPC through the gateway, end to end with real peers: a @grpc/grpc-js echo server as the upstream
// (protocol: grpc, h2c by prior knowledge) and a grpc-js client (tests/grpc/grpc-peer.mjs), the
// dev IdP for tokens; the python3-h2 client for what grpc-js hides (grpc-timeout on the wire, the
// gateway's own answers as frames).
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "idp_client.hpp"
#include "pki.hpp"
#include "services.hpp"

namespace tollgate::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const std::string kPeerDir = std::string(TOLLGATE_SOURCE_DIR) + "/tests/grpc";
const std::string kH2Client = std::string(TOLLGATE_SOURCE_DIR) + "/tests/http2/h2_client.py";

// A port nothing listens on: bound, then closed.
std::uint16_t closed_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(
      io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

struct Environment {
  DevIdp idp;
  std::unique_ptr<Process> server;
  std::uint16_t server_port = 0;
  Tollgate gateway;
  std::string token;

  Environment() {
    // Installed by scripts/test.sh (npm ci); a missing install is a failure, not a skip.
    if (!std::filesystem::exists(kPeerDir + "/node_modules/@grpc/grpc-js")) {
      throw std::runtime_error("run `npm ci` in tests/grpc");
    }
    idp = start_dev_idp();
    server = std::make_unique<Process>(
        std::vector<std::string>{"/usr/bin/env", "node", kPeerDir + "/grpc-peer.mjs", "server"});
    server_port = static_cast<std::uint16_t>(
        std::stoi(server->wait_for_line(R"(^grpc-peer listening on 127\.0\.0\.1:(\d+))")));
    gateway = start_tollgate(
        "listen:\n"
        "  - { address: 127.0.0.1:0, http2: true }\n"
        "admin:\n"
        "  address: 127.0.0.1:0\n"
        "workers: 2\n"
        "log: { level: info, format: text, access_log: stdout }\n"
        "limits: { max_body_bytes: 64KiB }\n"
        "upstreams:\n"
        "  echo: { targets: [ http://127.0.0.1:" +
        std::to_string(server_port) +
        " ], protocol: grpc }\n"
        "  down: { targets: [ http://127.0.0.1:" +
        std::to_string(closed_port()) +
        " ], protocol: grpc }\n"
        "plugins:\n" +
        openid_connect_plugin("oidc", "issuer: " + idp.issuer(), "      timeout: 2s\n") +
        "routes:\n"
        "  - { name: down, match: { hosts: [ down.test ] }, upstream: down }\n"
        "  - { name: echo, match: { paths: [ /tollgate.test.Echo/ ] }, upstream: echo, "
        "plugins: [ oidc ] }\n");
    gateway.process->wait_for_count("introspection endpoint .* discovered", 1);
    token = fetch_token(idp.port, "demo-client", "demo-secret", "orders:read");
  }
};

class GrpcTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { env_ = new Environment(); }
  static void TearDownTestSuite() {
    delete env_;
    env_ = nullptr;
  }
  static Environment& env() { return *env_; }
  static std::string address() { return "127.0.0.1:" + std::to_string(env_->gateway.port()); }

  // One grpc-js call through the gateway; its result line as JSON.
  static json call(const std::string& method, const std::string& token,
                   std::vector<std::string> options = {}) {
    std::vector<std::string> argv{
        "/usr/bin/env", "node", kPeerDir + "/grpc-peer.mjs", "client", address(), method, token};
    argv.insert(argv.end(), options.begin(), options.end());
    Process client(argv);
    const std::string line = client.wait_for_line(R"(^grpc-peer result (.*)$)", 30s);
    EXPECT_EQ(client.wait_exit(), 0) << client.output();
    return json::parse(line);
  }

  // A call made frame by frame (python3-h2): what the gateway puts on the wire.
  static json raw_call(const std::string& path, const std::string& body_hex,
                       std::vector<std::string> headers = {}) {
    std::vector<std::string> argv{"/usr/bin/python3",
                                  kH2Client,
                                  "grpc",
                                  std::to_string(env_->gateway.port()),
                                  path,
                                  body_hex};
    argv.insert(argv.end(), headers.begin(), headers.end());
    Process client(argv);
    const std::string line = client.wait_for_line(R"(^(\{.*\})$)", 30s);
    EXPECT_EQ(client.wait_exit(), 0) << client.output();
    return json::parse(line);
  }

  static Environment* env_;
};

Environment* GrpcTest::env_ = nullptr;

// EchoRequest{id: "t", sleep_ms: 2000}, framed: what the timeout case sends.
constexpr const char* kSleepingUnary = "00000000060a017420d00f";

TEST_F(GrpcTest, WithoutTokenIsUnauthenticated) {
  const json result = call("Unary", "");
  EXPECT_EQ(result["code"], 16) << result;
  EXPECT_EQ(result["messages"], 0) << result;
  const json bad = call("ServerStream", "not-a-token", {"--count", "3"});
  EXPECT_EQ(bad["code"], 16) << bad;
  // As frames: HTTP 200, one HEADERS frame that ends the stream, the challenge kept.
  const json raw = raw_call("/tollgate.test.Echo/Unary", "0000000000");
  EXPECT_EQ(raw["status"], 200) << raw;
  EXPECT_EQ(raw["headers"]["grpc-status"], "16") << raw;
  EXPECT_EQ(raw["headers"]["content-type"], "application/grpc") << raw;
  EXPECT_TRUE(raw["headers"].contains("www-authenticate")) << raw;
  EXPECT_TRUE(raw["headers"].contains("x-request-id")) << raw;
  EXPECT_TRUE(raw["body"].is_null()) << raw;
}

TEST_F(GrpcTest, UnaryWithToken) {
  const json result = call("Unary", env().token, {"--text", "hi there"});
  EXPECT_EQ(result["code"], 0) << result;
  EXPECT_EQ(result["messages"], 1) << result;
  EXPECT_EQ(result["in_order"], true) << result;
}

TEST_F(GrpcTest, ServerStreamingRelaysEveryMessageInOrder) {
  const json result = call("ServerStream", env().token, {"--count", "100"});
  EXPECT_EQ(result["code"], 0) << result;
  EXPECT_EQ(result["messages"], 100) << result;
  EXPECT_EQ(result["in_order"], true) << result;
}

// The client cancels a server stream while the upstream holds it open: the upstream learns at once,
// not when upstream_read (60 s by default) would have given up on it.
TEST_F(GrpcTest, ACancelledCallIsCancelledUpstreamAtOnce) {
  const json result = call("ServerStream", env().token,
                           {"--count", "1", "--cancel-after", "1", "--sleep-ms", "60000", "--text",
                            "held-by-the-client"});
  EXPECT_EQ(result["code"], 1) << result;  // CANCELLED, as the client did
  EXPECT_EQ(result["messages"], 1) << result;
  EXPECT_NO_THROW(env().server->wait_for_line("^grpc-peer cancelled held-by-the-client$", 10s))
      << env().server->output();
}

TEST_F(GrpcTest, BidirectionalStreamingEchoesInOrder) {
  const json result = call("BidiStream", env().token, {"--count", "1000"});
  EXPECT_EQ(result["code"], 0) << result;
  EXPECT_EQ(result["messages"], 1000) << result;
  EXPECT_EQ(result["in_order"], true) << result;
}

// max_body_bytes bounds a streamed request body as it does one held whole: a client stream that
// goes over it ends with RESOURCE_EXHAUSTED, whether or not echoes came back first.
TEST_F(GrpcTest, AStreamOverMaxBodyBytesIsResourceExhausted) {
  const json result =
      call("BidiStream", env().token, {"--count", "200", "--text", std::string(1000, 'x')});
  EXPECT_EQ(result["code"], 8) << result;
  EXPECT_LT(result["messages"], 200) << result;
}

TEST_F(GrpcTest, TrailingMetadataReachesTheClient) {
  const json result = call("Trailing", env().token, {"--text", "trailer-value"});
  EXPECT_EQ(result["code"], 0) << result;
  EXPECT_EQ(result["trailers"]["x-trailer"], "trailer-value") << result;
}

TEST_F(GrpcTest, UpstreamErrorStatusAndMessageReachTheClient) {
  const json result = call("Fail", env().token, {"--code", "5", "--text", "not here: 100% é"});
  EXPECT_EQ(result["code"], 5) << result;
  EXPECT_EQ(result["details"], "not here: 100% é") << result;
}

TEST_F(GrpcTest, GrpcTimeoutEndsTheCallWithDeadlineExceeded) {
  const json raw = raw_call("/tollgate.test.Echo/Unary", kSleepingUnary,
                            {"authorization=Bearer " + env().token, "grpc-timeout=300m"});
  EXPECT_EQ(raw["status"], 200) << raw;
  EXPECT_EQ(raw["headers"]["grpc-status"], "4") << raw;
  EXPECT_LT(raw["ms"].get<int>(), 1500) << raw;  // the upstream answers after 2 s
}

TEST_F(GrpcTest, UpstreamDownIsUnavailable) {
  const json result = call("Unary", env().token, {"--authority", "down.test"});
  EXPECT_EQ(result["code"], 14) << result;
}

TEST_F(GrpcTest, HttpOneClientCallsTheHttpTwoUpstream) {
  // EchoRequest{id: "h1", text: "x"}, framed; the answer comes chunked, grpc-status in its trailer.
  const std::string request("\0\0\0\0\x07\x0a\x02h1\x12\x01x", 12);
  const Response h1 =
      http_post(env().gateway.port(), "/tollgate.test.Echo/Unary", request,
                {{"Content-Type", "application/grpc"}, {"Authorization", "Bearer " + env().token}});
  EXPECT_EQ(h1.result_int(), 200) << h1;
  EXPECT_NE(h1.body().find("h1"), std::string::npos) << h1;
  EXPECT_EQ(h1["grpc-status"], "0") << h1;  // Beast puts the trailer's fields with the head's
}

TEST_F(GrpcTest, NoRouteIsUnimplementedOverBothFramings) {
  const json raw = raw_call("/other.Service/Call", "0000000000");
  EXPECT_EQ(raw["status"], 200) << raw;
  EXPECT_EQ(raw["headers"]["grpc-status"], "12") << raw;
  EXPECT_EQ(raw["headers"]["grpc-message"], "No route matched with those values") << raw;
  // HTTP/1.1 has the same answer: 200, the status in headers, no body.
  const Response h1 = http_post(env().gateway.port(), "/other.Service/Call", std::string(5, '\0'),
                                {{"Content-Type", "application/grpc+proto"}});
  EXPECT_EQ(h1.result_int(), 200);
  EXPECT_EQ(h1["grpc-status"], "12");
  EXPECT_EQ(h1["content-type"], "application/grpc");
  EXPECT_TRUE(h1.body().empty());
  // Not a gRPC call: the usual JSON answer.
  EXPECT_EQ(http_get(env().gateway.port(), "/other.Service/Call").result_int(), 404);
}

// An https target is spoken to in h2 by ALPN, and verified as any https target.
TEST(GrpcTlsTest, H2ByAlpnToAVerifiedUpstream) {
  ASSERT_TRUE(std::filesystem::exists(kPeerDir + "/node_modules/@grpc/grpc-js"))
      << "run `npm ci` in tests/grpc";
  TempDir dir;
  TestPki pki(dir);
  Process server(std::vector<std::string>{"/usr/bin/env", "node", kPeerDir + "/grpc-peer.mjs",
                                          "server", pki.cert, pki.key});
  const std::string port = server.wait_for_line(R"(^grpc-peer listening on 127\.0\.0\.1:(\d+))");
  Tollgate gateway = start_tollgate(
      "listen:\n"
      "  - { address: 127.0.0.1:0, http2: true }\n"
      "admin:\n"
      "  address: 127.0.0.1:0\n"
      "workers: 1\n"
      "log: { level: info, format: text, access_log: stdout }\n"
      "upstreams:\n"
      "  verified: { targets: [ https://127.0.0.1:" +
      port + " ], protocol: grpc, ca_file: " + pki.ca +
      " }\n"
      "  unverified: { targets: [ https://127.0.0.1:" +
      port +
      " ], protocol: grpc }\n"
      "routes:\n"
      "  - { name: unverified, match: { hosts: [ other.test ] }, upstream: unverified }\n"
      "  - { name: verified, match: { paths: [ / ] }, upstream: verified }\n");
  const std::string address = "127.0.0.1:" + std::to_string(gateway.port());
  auto call = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv{
        "/usr/bin/env", "node", kPeerDir + "/grpc-peer.mjs", "client", address, "BidiStream", "",
        "--count",      "50"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    Process client(argv);
    const json result = json::parse(client.wait_for_line(R"(^grpc-peer result (.*)$)", 30s));
    EXPECT_EQ(client.wait_exit(), 0) << client.output();
    return result;
  };
  const json ok = call({});
  EXPECT_EQ(ok["code"], 0) << ok;
  EXPECT_EQ(ok["messages"], 50) << ok;
  // The test CA is not in the system store: the target fails verification, and the call is 14.
  const json refused = call({"--authority", "other.test"});
  EXPECT_EQ(refused["code"], 14) << refused;
}

}  // namespace
}  // namespace tollgate::test
