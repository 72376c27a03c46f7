// WebSocket through the gateway (RFC 6455 over HTTP/1.1 Upgrade), end to end with real peers: the
// npm `ws` echo server as upstream and a `ws` client (tests/websocket/ws-peer.mjs), the dev IdP
// for tokens, and scripted upstreams for what a well-behaved server would never send.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <regex>

#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "idp_client.hpp"
#include "pki.hpp"
#include "scripted_peer.hpp"
#include "services.hpp"
#include "tollgate/http/websocket.hpp"

namespace tollgate::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const std::string kPeerDir = std::string(TOLLGATE_SOURCE_DIR) + "/tests/websocket";
constexpr const char* kKey = "dGhlIHNhbXBsZSBub25jZQ==";  // RFC 6455 §1.3's example key
constexpr const char* kClientEnd = R"(^ws-peer client (saw close|refused|mismatch).*)";

// Over TLS when `pki` is given.
std::unique_ptr<Process> start_ws_server(std::uint16_t& port, const TestPki* pki = nullptr) {
  std::vector<std::string> argv{"/usr/bin/env", "node", kPeerDir + "/ws-peer.mjs", "server"};
  if (pki) {
    argv.push_back(pki->cert);
    argv.push_back(pki->key);
  }
  auto server = std::make_unique<Process>(argv);
  port = static_cast<std::uint16_t>(
      std::stoi(server->wait_for_line(R"(^ws-peer listening on 127\.0\.0\.1:(\d+))")));
  return server;
}

// Over TLS, verified against `ca`, when `ca` is given.
std::unique_ptr<Process> start_client(std::uint16_t gateway_port, const std::string& path,
                                      const std::string& scenario, const std::string& token = "",
                                      int count = 0, const std::string& ca = "") {
  const std::string scheme = ca.empty() ? "ws://" : "wss://";
  std::map<std::string, std::string> env;
  if (!ca.empty()) env["WS_PEER_CA"] = ca;
  return std::make_unique<Process>(
      std::vector<std::string>{"/usr/bin/env", "node", kPeerDir + "/ws-peer.mjs", "client",
                               scheme + "localhost:" + std::to_string(gateway_port) + path,
                               scenario, token, std::to_string(count)},
      env);
}

// The handshake a client writes, with `extra` header lines (each ending in CRLF) and `tail`
// bytes after the head in the same write.
std::string handshake(const std::string& path, const std::string& extra = "",
                      const std::string& version = "HTTP/1.1") {
  return "GET " + path + " " + version +
         "\r\n"
         "Host: gw.test\r\n"
         "Connection: Upgrade\r\n"
         "Upgrade: websocket\r\n" +
         extra + "\r\n";
}

std::string valid_headers(const std::string& token) {
  return std::string("Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ") + kKey +
         "\r\nAuthorization: Bearer " + token + "\r\n";
}

// A masked client frame (RFC 6455 §5.3) carrying `text`, shorter than 126 bytes.
std::string masked_text_frame(const std::string& text) {
  const char mask[4] = {0x11, 0x22, 0x33, 0x44};
  std::string frame = {static_cast<char>(0x81), static_cast<char>(0x80 | text.size())};
  frame.append(mask, 4);
  for (std::size_t i = 0; i < text.size(); ++i) frame.push_back(text[i] ^ mask[i % 4]);
  return frame;
}

// The payload sizes ws-peer.mjs's echo scenario sends (see message() there).
std::uint64_t echo_payload_bytes(int count) {
  std::uint64_t total = 0;
  for (int i = 0; i < count; ++i) total += i % 500 == 0 ? 64 * 1024 : (i * 7919) % 4096;
  return total;
}

std::string gateway_config(const DevIdp& idp, std::uint16_t ws_port, std::uint16_t scripted_port,
                           const std::string& timeouts) {
  return basic_config(
      "upstreams:\n"
      "  ws: { targets: [ http://127.0.0.1:" +
          std::to_string(ws_port) +
          " ] }\n"
          "  scripted: { targets: [ http://127.0.0.1:" +
          std::to_string(scripted_port) +
          " ] }\n"
          "plugins:\n" +
          openid_connect_plugin("oidc", "issuer: " + idp.issuer(), "      timeout: 2s\n") +
          "routes:\n"
          "  - { name: ws, match: { paths: [ /ws ] }, upstream: ws, websocket: true, "
          "plugins: [ oidc ] }\n"
          "  - { name: plain, match: { paths: [ /plain ] }, upstream: ws, plugins: [ oidc ] }\n"
          "  - { name: scripted, match: { paths: [ /scripted ] }, upstream: scripted, "
          "websocket: true, plugins: [ oidc ] }\n",
      "timeouts: { " + timeouts + " }\n");
}

// The scripted upstream's answer to a handshake, set by each case that uses it.
std::mutex script_mutex;
std::function<PeerReply(const PeerRequest&)> script;

// Shared by the suite: starting the processes is the slow part.
struct Environment {
  DevIdp idp;
  std::uint16_t ws_port = 0;
  std::unique_ptr<Process> ws_server;
  std::unique_ptr<ScriptedPeer> scripted;
  Tollgate gateway;
  std::string token;

  Environment() {
    // Installed by scripts/test.sh (npm ci); a missing install is a failure, not a skip.
    if (!std::filesystem::exists(kPeerDir + "/node_modules/ws")) {
      throw std::runtime_error("run `npm ci` in tests/websocket");
    }
    idp = start_dev_idp();
    ws_server = start_ws_server(ws_port);
    scripted = std::make_unique<ScriptedPeer>([](const PeerRequest& request) {
      std::lock_guard lock(script_mutex);
      return script(request);
    });
    gateway = start_tollgate(
        gateway_config(idp, ws_port, scripted->port(), "websocket_idle: 2s, shutdown_grace: 1s"));
    gateway.process->wait_for_count("introspection endpoint .* discovered", 1);
    token = fetch_token(idp.port, "demo-client", "demo-secret", "orders:read");
  }
};

class WebSocketTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { env_ = new Environment(); }
  static void TearDownTestSuite() {
    delete env_;
    env_ = nullptr;
  }
  static Environment& env() { return *env_; }
  static std::uint16_t port() { return env_->gateway.port(); }

  // Runs a client scenario to its end and returns its last line.
  static std::string run(const std::string& path, const std::string& scenario,
                         const std::string& token, int count = 0,
                         std::chrono::milliseconds limit = 20s) {
    auto client = start_client(port(), path, scenario, token, count);
    const std::string line = client->wait_for_line(kClientEnd, limit);
    EXPECT_EQ(client->wait_exit(), 0) << client->output();
    return client->output();
  }

  static Environment* env_;
};

Environment* WebSocketTest::env_ = nullptr;

TEST_F(WebSocketTest, HandshakeWithoutTokenIsRefusedAndNeverReachesTheUpstream) {
  const std::string out = run("/ws/no-token", "refused", "");
  EXPECT_NE(out.find("client refused 401"), std::string::npos) << out;
  EXPECT_EQ(out.find("client opened"), std::string::npos) << out;
  const std::string bad = run("/ws/bad-token", "refused", "not-a-token");
  EXPECT_NE(bad.find("client refused 401"), std::string::npos) << bad;
  // A handshake sent after them reaches the upstream; the refused ones never did.
  const std::string after = run("/ws/after", "close-client", env().token);
  EXPECT_NE(after.find("client saw close 4001"), std::string::npos) << after;
  env().ws_server->wait_for_line("^ws-peer upgrade /ws/after ");
  EXPECT_EQ(env().ws_server->count_lines("^ws-peer (upgrade|http) /ws/(no|bad)-token"), 0);
}

TEST_F(WebSocketTest, TenThousandMessagesEchoInOrderAndIntact) {
  constexpr int kCount = 10'000;
  const std::string out = run("/ws/echo", "echo", env().token, kCount, 90s);
  ASSERT_NE(out.find("client echoed 10000"), std::string::npos) << out;
  EXPECT_NE(out.find("client saw close 1000"), std::string::npos) << out;
  // One log line for the tunnel, once it closed: status 101 and the bytes sent to the client (at
  // least every payload echoed, plus the frame headers).
  const std::string bytes =
      env().gateway.process->wait_for_line(R"("GET /ws/echo" 101 (\d+) .*route=ws )");
  EXPECT_GE(std::stoull(bytes), echo_payload_bytes(kCount));
}

TEST_F(WebSocketTest, CloseCodesPassThroughBothWays) {
  const std::string from_client = run("/ws/close-client", "close-client", env().token);
  EXPECT_NE(from_client.find("client saw close 4001"), std::string::npos) << from_client;
  env().ws_server->wait_for_line("^ws-peer server saw close 4001$");

  const std::string from_server = run("/ws/close-server", "close-server", env().token);
  EXPECT_NE(from_server.find("client saw close 4002"), std::string::npos) << from_server;
  env().ws_server->wait_for_line("^ws-peer server saw close 4002$");
}

TEST_F(WebSocketTest, SilentTunnelClosesAfterTheIdleTimeout) {
  auto client = start_client(port(), "/ws/idle", "wait", env().token);
  client->wait_for_line("^ws-peer client opened$");
  // websocket_idle is 2 s (long enough that no stall of a loaded machine ends the other cases'
  // tunnels): the gateway closes the connections without a close frame (1006).
  const std::string ms =
      client->wait_for_line(R"(^ws-peer client saw close 1006 after (\d+) ms$)", 10s);
  EXPECT_GE(std::stoi(ms), 2000);
  env().gateway.process->wait_for_line(R"("GET /ws/idle" 101 \d+ )");
}

TEST_F(WebSocketTest, RouteWithoutWebsocketStripsUpgrade) {
  HttpConnection c(port());
  c.send_raw(handshake("/plain/x", valid_headers(env().token)));
  const Response r = c.read_response();
  EXPECT_EQ(r.result_int(), 200) << r.body();
  EXPECT_EQ(json::parse(r.body())["upgrade"], nullptr);
  env().ws_server->wait_for_line("^ws-peer http GET /plain/x upgrade=-$");

  const std::string out = run("/plain/client", "refused", env().token);
  EXPECT_NE(out.find("client refused 200"), std::string::npos) << out;
}

TEST_F(WebSocketTest, MalformedHandshakesAreRefused) {
  const std::string key = std::string("Sec-WebSocket-Key: ") + kKey + "\r\n";
  const std::string wrong_version =
      raw_exchange(port(), handshake("/ws/v", key + "Sec-WebSocket-Version: 8\r\n"));
  EXPECT_EQ(status_of(wrong_version), 426) << wrong_version;
  EXPECT_NE(wrong_version.find("Sec-WebSocket-Version: 13\r\n"), std::string::npos);

  EXPECT_EQ(status_of(raw_exchange(port(), handshake("/ws/k", "Sec-WebSocket-Version: 13\r\n"))),
            400);
  EXPECT_EQ(status_of(raw_exchange(port(), handshake("/ws/k",
                                                     "Sec-WebSocket-Version: 13\r\n"
                                                     "Sec-WebSocket-Key: c2hvcnQ=\r\n"))),
            400);  // not 16 bytes
  EXPECT_EQ(status_of(raw_exchange(port(), handshake("/ws/b", key + "Sec-WebSocket-Version: 13\r\n"
                                                                    "Content-Length: 5\r\n") +
                                               "hello")),
            400);
  EXPECT_EQ(status_of(raw_exchange(
                port(), handshake("/ws/h", key + "Sec-WebSocket-Version: 13\r\n", "HTTP/1.0"))),
            400);
  std::string post = handshake("/ws/p", key + "Sec-WebSocket-Version: 13\r\n");
  post.replace(0, 3, "POST");
  EXPECT_EQ(status_of(raw_exchange(port(), post)), 400);
  // Upgrade: websocket without Connection: upgrade asks for it wrongly.
  EXPECT_EQ(status_of(raw_exchange(port(),
                                   "GET /ws/c HTTP/1.1\r\nHost: gw.test\r\n"
                                   "Upgrade: websocket\r\n" +
                                       key + "Sec-WebSocket-Version: 13\r\n\r\n")),
            400);
  EXPECT_EQ(env().ws_server->count_lines("^ws-peer (upgrade|http) /ws/[vkbhpc] "), 0);
}

TEST_F(WebSocketTest, BytesTheClientSendsWithItsHandshakeReachTheUpstream) {
  // The handshake and a first frame in one write: the frame is in the gateway's read buffer with
  // the head, and must go through the tunnel, not be lost. The echo comes back unmasked.
  const std::string raw = raw_exchange(
      port(), handshake("/ws/early", valid_headers(env().token)) + masked_text_frame("early"));
  ASSERT_EQ(status_of(raw), 101) << raw;
  const std::string echo = std::string("\x81\x05", 2) + "early";
  EXPECT_NE(raw.find("\r\n\r\n" + echo), std::string::npos) << raw;
}

TEST_F(WebSocketTest, FramesTheUpstreamSendsWithIts101ReachTheClient) {
  const std::string frame = std::string("\x81\x05", 2) + "hello";
  {
    std::lock_guard lock(script_mutex);
    script = [frame](const PeerRequest& request) {
      PeerReply reply;
      const std::string accept = http_io::websocket_accept(request.headers["Sec-WebSocket-Key"]);
      reply.pieces = {
          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
          "Connection: Upgrade\r\nSec-WebSocket-Accept: " +
          accept + "\r\n\r\n" + frame};
      reply.ending = PeerReply::Ending::close;
      return reply;
    };
  }
  const std::string raw =
      raw_exchange(port(), handshake("/scripted/a", valid_headers(env().token)));
  ASSERT_EQ(status_of(raw), 101) << raw;
  EXPECT_NE(raw.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), std::string::npos);
  EXPECT_NE(raw.find("\r\n\r\n" + frame), std::string::npos) << raw;
}

TEST_F(WebSocketTest, A101WithTheWrongAcceptIs502) {
  {
    std::lock_guard lock(script_mutex);
    script = [](const PeerRequest&) {
      PeerReply reply;
      reply.pieces = {
          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
          "Connection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n"
          "\r\n"};
      reply.ending = PeerReply::Ending::close;
      return reply;
    };
  }
  const std::string raw =
      raw_exchange(port(), handshake("/scripted/b", valid_headers(env().token)));
  EXPECT_EQ(status_of(raw), 502) << raw;
}

TEST_F(WebSocketTest, AnUpstreamRefusalIsRelayedAsAnOrdinaryResponse) {
  {
    std::lock_guard lock(script_mutex);
    script = [](const PeerRequest&) {
      PeerReply reply;
      reply.pieces = {peer_response("no websocket here", 403)};
      return reply;
    };
  }
  const std::string raw =
      raw_exchange(port(), handshake("/scripted/c", valid_headers(env().token)));
  EXPECT_EQ(status_of(raw), 403) << raw;
  EXPECT_NE(raw.find("no websocket here"), std::string::npos) << raw;
}

// Its own gateway: SIGTERM stops it.
TEST(WebSocketDrainTest, SigtermClosesOpenTunnelsWithinTheDrainBound) {
  ASSERT_TRUE(std::filesystem::exists(kPeerDir + "/node_modules/ws"))
      << "run `npm ci` in tests/websocket";
  DevIdp idp = start_dev_idp();
  std::uint16_t ws_port = 0;
  auto ws_server = start_ws_server(ws_port);
  RefusingPort unused;
  Tollgate gateway = start_tollgate(
      gateway_config(idp, ws_port, unused.number(), "websocket_idle: 60s, shutdown_grace: 1s"));
  gateway.process->wait_for_count("introspection endpoint .* discovered", 1);
  const std::string token = fetch_token(idp.port, "demo-client", "demo-secret", "orders:read");

  auto client = start_client(gateway.port(), "/ws/drain", "wait", token);
  client->wait_for_line("^ws-peer client opened$");
  // While it runs, the connection is counted as a tunnel.
  EXPECT_TRUE(poll_until([&] {
    return http_get(gateway.admin_port, "/metrics")
               .body()
               .find(R"(tollgate_http_connections{state="websocket"} 1)") != std::string::npos;
  }));
  const auto signalled = std::chrono::steady_clock::now();
  gateway.process->signal(SIGTERM);
  client->wait_for_line(R"(^ws-peer client saw close 1006 after \d+ ms$)", 10s);
  const auto closed_after = std::chrono::steady_clock::now() - signalled;
  // shutdown_grace is 1 s: closed then, with room for a loaded machine, and well before the 60 s
  // idle timeout could have done it.
  EXPECT_GE(closed_after, 900ms);
  EXPECT_LT(closed_after, 5s);
  EXPECT_EQ(gateway.process->wait_exit(10s), 0) << gateway.process->output();
  ws_server->wait_for_line("^ws-peer server saw close 1006$");
}

// TLS on both sides: a wss client verifies the gateway's certificate, the gateway verifies the wss
// upstream's, and 1,000 messages echo through the two TLS streams.
TEST(WebSocketTlsTest, WssClientToWssUpstreamWithBothCertificatesVerified) {
  ASSERT_TRUE(std::filesystem::exists(kPeerDir + "/node_modules/ws"))
      << "run `npm ci` in tests/websocket";
  TempDir dir;
  TestPki pki(dir);
  DevIdp idp = start_dev_idp();
  std::uint16_t ws_port = 0;
  auto ws_server = start_ws_server(ws_port, &pki);
  Tollgate gateway = start_tollgate(
      "listen:\n"
      "  - address: 127.0.0.1:0\n"
      "    tls: { certificate: " +
      pki.cert + ", key: " + pki.key +
      " }\n"
      "admin: { address: 127.0.0.1:0 }\n"
      "workers: 2\n"
      "upstreams:\n"
      "  wss: { targets: [ https://localhost:" +
      std::to_string(ws_port) + " ], ca_file: " + pki.ca +
      " }\n"
      "  unverified: { targets: [ https://localhost:" +
      std::to_string(ws_port) +
      " ] }\n"
      "plugins:\n" +
      openid_connect_plugin("oidc", "issuer: " + idp.issuer()) +
      "routes:\n"
      "  - { name: ws, match: { paths: [ /ws ] }, upstream: wss, websocket: true, "
      "plugins: [ oidc ] }\n"
      "  - { name: unverified, match: { paths: [ /unverified ] }, upstream: unverified, "
      "websocket: true, plugins: [ oidc ] }\n");
  gateway.process->wait_for_count("introspection endpoint .* discovered", 1);
  const std::string token = fetch_token(idp.port, "demo-client", "demo-secret", "orders:read");

  auto echo = start_client(gateway.port(), "/ws/tls", "echo", token, 1000, pki.ca);
  echo->wait_for_line(kClientEnd, 30s);
  EXPECT_EQ(echo->wait_exit(), 0) << echo->output();
  EXPECT_NE(echo->output().find("ws-peer client echoed 1000"), std::string::npos) << echo->output();
  EXPECT_NE(echo->output().find("ws-peer client saw close 1000"), std::string::npos)
      << echo->output();

  // The same server without its CA configured: the handshake never reaches it, the client gets 502.
  auto refused = start_client(gateway.port(), "/unverified/x", "refused", token, 0, pki.ca);
  refused->wait_for_line(kClientEnd, 20s);
  EXPECT_EQ(refused->wait_exit(), 0) << refused->output();
  EXPECT_NE(refused->output().find("ws-peer client refused 502"), std::string::npos)
      << refused->output();
}

}  // namespace
}  // namespace tollgate::test
