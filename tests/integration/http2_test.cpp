// Downstream HTTP/2 end to end: curl, nghttp and h2load through tollgate to the echo upstream, the
// openid-connect plugin over h2, the request rules HTTP/1.1 has, and the attacks an HTTP/2 server
// must survive, made by tests/http2/h2_client.py (python3-h2 and frames by hand).
#include <gtest/gtest.h>

#include <csignal>

#include <chrono>
#include <regex>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "idp_client.hpp"
#include "pki.hpp"
#include "services.hpp"

namespace tollgate::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const std::string kClient = std::string(TOLLGATE_SOURCE_DIR) + "/tests/http2/h2_client.py";

// Runs a command to its end (each bounds its own time) and returns its output.
std::string run(std::vector<std::string> argv, int* status = nullptr) {
  Process p(std::move(argv));
  const int code = p.wait_exit(120s);
  if (status) *status = code;
  return p.output();
}

// One command of the adversarial client; its one JSON line.
json h2_client(std::vector<std::string> args) {
  std::vector<std::string> argv{"/usr/bin/python3", kClient};
  argv.insert(argv.end(), args.begin(), args.end());
  int status = 0;
  const std::string out = run(argv, &status);
  EXPECT_EQ(status, 0) << out;
  const auto brace = out.rfind("\n{");
  return json::parse(brace == std::string::npos ? out : out.substr(brace + 1));
}

// Every sample of the admin listener's text-format scrape.
std::map<std::string, double> scrape(std::uint16_t admin_port) {
  std::map<std::string, double> samples;
  std::istringstream in(http_get(admin_port, "/metrics").body());
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.rfind(' ');
    samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return samples;
}

double client_connections(std::uint16_t admin_port) {
  auto samples = scrape(admin_port);
  return samples[R"(tollgate_http_connections{state="active"})"] +
         samples[R"(tollgate_http_connections{state="idle"})"];
}

class Http2Test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    pki_ = new TestPki(*dir_);
    idp_ = new DevIdp(start_dev_idp());
    echo_ = new EchoServer(start_echo_server());
    const std::string tls =
        "    tls: { certificate: " + pki_->cert + ", key: " + pki_->key + " }\n";
    gateway_ = new Tollgate(start_tollgate(
        "listen:\n"
        "  - address: 127.0.0.1:0\n"
        "    http2: true\n"
        "  - address: 127.0.0.1:0\n" +
            tls +
            "    http2: true\n"
            "  - address: 127.0.0.1:0\n" +
            tls +
            "  - address: 127.0.0.1:0\n"
            "admin: { address: 127.0.0.1:0 }\n"
            "workers: 1\n"
            "log: { level: info, access_log: stdout }\n"
            "limits: { max_header_bytes: 8KiB, http2_max_resets: 50 }\n"
            "timeouts: { client_idle: 2s, client_send: 2s, client_body: 2s }\n"
            "upstreams:\n"
            "  echo: { targets: [ " +
            echo_->url() +
            " ] }\n"
            "plugins:\n" +
            openid_connect_plugin("okta", "issuer: " + idp_->issuer(),
                                  "      auth_methods: [ introspection ]\n"
                                  "      cache_ttl: 300s\n"
                                  "      upstream_headers_claims: [ sub ]\n"
                                  "      upstream_headers_names: [ X-Authenticated-User ]\n") +
            "routes:\n"
            "  - { name: orders, match: { paths: [ /orders, /p ] }, upstream: echo, "
            "plugins: [ okta ] }\n"
            "  - { name: public, match: { paths: [ /public ] }, upstream: echo }\n",
        4));
    gateway_->process->wait_for_count("introspection endpoint .* discovered", 1);
  }
  static void TearDownTestSuite() {
    delete gateway_;
    delete echo_;
    delete idp_;
    delete pki_;
    delete dir_;
  }

  static std::uint16_t h2c_port() { return gateway_->ports[0]; }
  static std::uint16_t h2_tls_port() { return gateway_->ports[1]; }
  static std::uint16_t h1_tls_port() { return gateway_->ports[2]; }
  static std::uint16_t h1_port() { return gateway_->ports[3]; }
  static std::string port_text(std::uint16_t port) { return std::to_string(port); }
  static std::string token() {
    return fetch_token(idp_->port, "demo-client", "demo-secret", "orders:read");
  }

  // curl's "http_version status" line, then the body.
  static std::string curl(std::vector<std::string> args) {
    std::vector<std::string> argv{
        "/usr/bin/curl", "-sS", "--max-time", "10", "-w", "\n%{http_version} %{http_code}"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
  }

  static inline TempDir* dir_ = nullptr;
  static inline TestPki* pki_ = nullptr;
  static inline DevIdp* idp_ = nullptr;
  static inline EchoServer* echo_ = nullptr;
  static inline Tollgate* gateway_ = nullptr;
};

TEST_F(Http2Test, CurlWithPriorKnowledgeReachesTheUpstream) {
  const std::string out = curl(
      {"--http2-prior-knowledge", "http://127.0.0.1:" + port_text(h2c_port()) + "/public/a?x=1"});
  ASSERT_TRUE(out.ends_with("\n2 200")) << out;
  const json echo = json::parse(out.substr(0, out.rfind('\n')));
  EXPECT_EQ(echo["path"], "/public/a");
  EXPECT_EQ(echo["query"], "x=1");
  EXPECT_EQ(echo["headers"]["via"], "1.1 tollgate");
  EXPECT_EQ(echo["headers"]["x-forwarded-proto"], "http");
  // The same listener still speaks HTTP/1.1 to a client that starts with a request line.
  EXPECT_TRUE(curl({"--http1.1", "http://127.0.0.1:" + port_text(h2c_port()) + "/public"})
                  .ends_with("\n1.1 200"));
}

TEST_F(Http2Test, TlsOffersH2ByAlpnOnlyWhereConfigured) {
  const auto url = [](std::uint16_t port) {
    return "https://localhost:" + std::to_string(port) + "/public";
  };
  const std::string h2 = curl({"--http2", "--cacert", pki_->ca, url(h2_tls_port())});
  ASSERT_TRUE(h2.ends_with("\n2 200")) << h2;
  EXPECT_EQ(json::parse(h2.substr(0, h2.rfind('\n')))["headers"]["x-forwarded-proto"], "https");
  // A client that offers only http/1.1 gets it on the same listener.
  EXPECT_TRUE(curl({"--http1.1", "--cacert", pki_->ca, url(h2_tls_port())}).ends_with("\n1.1 200"));
  // Without http2: true, ALPN offers http/1.1 only.
  EXPECT_TRUE(curl({"--http2", "--cacert", pki_->ca, url(h1_tls_port())}).ends_with("\n1.1 200"));
}

TEST_F(Http2Test, PlainListenerWithoutHttp2RefusesThePreface) {
  const std::string out =
      curl({"--http2-prior-knowledge", "http://127.0.0.1:" + port_text(h1_port()) + "/public"});
  EXPECT_FALSE(out.ends_with(" 200")) << out;
}

TEST_F(Http2Test, OpenIdConnectOverH2) {
  const json none = h2_client({"request", port_text(h2c_port()), "/orders/1"});
  EXPECT_EQ(none["status"], 401);
  EXPECT_EQ(none["headers"]["www-authenticate"], "Bearer realm=\"tollgate\"");
  const json bad =
      h2_client({"request", port_text(h2c_port()), "/orders/1", "authorization=Bearer nope"});
  EXPECT_EQ(bad["status"], 401);

  const std::string t = token();
  const json h2 = h2_client({"request", port_text(h2c_port()), "/orders/1",
                             "authorization=Bearer " + t, "x-authenticated-user=mallory"});
  ASSERT_EQ(h2["status"], 200) << h2.dump();
  const Response h1 = http_get(h1_port(), "/orders/1",
                               {{"Authorization", "Bearer " + t},
                                {"X-Authenticated-User", "mallory"},
                                {"Host", "127.0.0.1:" + port_text(h2c_port())}});
  ASSERT_EQ(h1.result_int(), 200);
  // The upstream sees the same headers either way, but for the ones made per request.
  json seen_h2 = h2["body"]["headers"];
  json seen_h1 = json::parse(h1.body())["headers"];
  for (const char* varies : {"x-request-id", "traceparent", "user-agent"}) {
    seen_h2.erase(varies);
    seen_h1.erase(varies);
  }
  EXPECT_EQ(seen_h2, seen_h1);
  EXPECT_EQ(seen_h2["x-authenticated-user"], "demo-client");
}

TEST_F(Http2Test, NghttpAndH2loadGetOnly2xx) {
  const std::string base = "http://127.0.0.1:" + port_text(h2c_port());
  int status = -1;
  const std::string nghttp = run(
      {"/usr/bin/nghttp", "-n", "-s", base + "/public/a", base + "/public/b", base + "/public/c"},
      &status);
  EXPECT_EQ(status, 0) << nghttp;
  EXPECT_EQ(std::count(nghttp.begin(), nghttp.end(), '\n') >= 5, true) << nghttp;
  EXPECT_EQ(std::regex_search(nghttp, std::regex(R"(\s200\s)")), true) << nghttp;
  const std::string load =
      run({"/usr/bin/h2load", "-n", "2000", "-c", "4", "-m", "16", base + "/public/load"}, &status);
  EXPECT_EQ(status, 0) << load;
  EXPECT_NE(load.find("status codes: 2000 2xx, 0 3xx, 0 4xx, 0 5xx"), std::string::npos) << load;
}

TEST_F(Http2Test, PathTricksMeetTheHttp11Rules) {
  for (const std::string path :
       {"/public/../orders", "/public/%2e%2e/orders", "/public%2forders", "/a/../../etc/passwd",
        "/public/./a//b", "/orders/..%2f..", "/public/%2E%2e/%6Frders"}) {
    const json h2 = h2_client({"request", port_text(h2c_port()), path});
    const Response h1 = http_get(h1_port(), path);
    EXPECT_EQ(h2["status"], h1.result_int()) << path;
    if (h1.result_int() == 200) {
      EXPECT_EQ(h2["body"]["path"], json::parse(h1.body())["path"]) << path;
    }
  }
}

TEST_F(Http2Test, AuthorityAndHostMustAgree) {
  const json differ = h2_client({"request", port_text(h2c_port()), "/public", "host=other.test"});
  EXPECT_EQ(differ["status"], 400);
  const json same = h2_client(
      {"request", port_text(h2c_port()), "/public", "host=127.0.0.1:" + port_text(h2c_port())});
  EXPECT_EQ(same["status"], 200);
  const json host_only =
      h2_client({"request", port_text(h2c_port()), "/public", ":authority=-", "host=127.0.0.1"});
  EXPECT_EQ(host_only["status"], 200);
}

TEST_F(Http2Test, MalformedRequestsAreRefused) {
  constexpr int kProtocolError = 1;
  for (const std::string field :
       {"connection=close", "keep-alive=5", "proxy-connection=x", "transfer-encoding=chunked",
        "upgrade=websocket", "te=gzip", ":scheme=-", ":path=-", ":method=-", "Upper=case"}) {
    const json r = h2_client({"request", port_text(h2c_port()), "/public", field});
    EXPECT_EQ(r["reset"], kProtocolError) << field << " " << r.dump();
    EXPECT_TRUE(r["status"].is_null()) << field;
  }
  EXPECT_EQ(h2_client({"request", port_text(h2c_port()), "/public", "te=trailers"})["status"], 200);
  // CONNECT carries no path; the gateway tunnels nothing.
  EXPECT_EQ(h2_client({"request", port_text(h2c_port()), "/public", ":method=CONNECT", ":path=-",
                       ":scheme=-"})["status"],
            400);
}

TEST_F(Http2Test, RapidResetEndsWithEnhanceYourCalm) {
  constexpr int kEnhanceYourCalm = 11;
  const json r = h2_client({"rapid-reset", port_text(h2c_port()), "/public", "500"});
  EXPECT_EQ(r["goaway"], kEnhanceYourCalm) << r.dump();
  EXPECT_EQ(r["closed"], true);
  gateway_->process->wait_for_line("too many streams reset");
  EXPECT_EQ(h2_client({"request", port_text(h2c_port()), "/public"})["status"], 200);
}

TEST_F(Http2Test, ContinuationFloodClosesTheConnection) {
  const json r = h2_client({"continuation-flood", port_text(h2c_port())});
  EXPECT_EQ(r["closed"], true) << r.dump();
  EXPECT_EQ(h2_client({"request", port_text(h2c_port()), "/public"})["status"], 200);
}

TEST_F(Http2Test, HpackBombIsBoundedByMaxHeaderBytes) {
  const json r = h2_client({"hpack-bomb", port_text(h2c_port()), "/public"});
  EXPECT_EQ(r["status"], 431) << r.dump();
}

TEST_F(Http2Test, SettingsAndPingFloodsAreBounded) {
  const json settings = h2_client({"settings-flood", port_text(h2c_port()), "20000"});
  EXPECT_EQ(settings["closed"], true) << settings.dump();
  // PING ACKs go out as fast as the pings come in; a client that stops reading them stalls the
  // connection's writes, which client_send (2 s here) ends.
  const json ping = h2_client({"ping-flood", port_text(h2c_port()), "400000"});
  EXPECT_EQ(ping["closed"], true) << ping.dump();
  EXPECT_EQ(h2_client({"request", port_text(h2c_port()), "/public"})["status"], 200);
}

TEST_F(Http2Test, TheLastStreamIdIsServedThenTheConnectionEnds) {
  const json r = h2_client({"stream-ids", port_text(h2c_port()), "/public"});
  EXPECT_EQ(r["first_status"], 200) << r.dump();
  EXPECT_EQ(r["closed"], true);
  EXPECT_EQ(r["goaway"], 0);
}

// The connections gauge: an HTTP/2 connection with no stream open is idle, as a keep-alive
// HTTP/1.1 connection between requests is.
TEST_F(Http2Test, AConnectionWithNoStreamOpenCountsAsIdle) {
  Process client({"/usr/bin/python3", kClient, "idle", port_text(h2c_port())});
  client.wait_for_line("^connected$");
  std::map<std::string, double> samples;
  EXPECT_TRUE(poll_until(
      [&] {
        samples = scrape(gateway_->admin_port);
        return samples[R"(tollgate_http_connections{state="idle"})"] == 1 &&
               samples[R"(tollgate_http_connections{state="active"})"] == 0;
      },
      5s))
      << samples[R"(tollgate_http_connections{state="idle"})"] << " idle, "
      << samples[R"(tollgate_http_connections{state="active"})"] << " active";
  EXPECT_EQ(client.wait_exit(30s), 0);  // client_idle (2 s) ends it
}

TEST_F(Http2Test, ZeroWindowIsBoundedByTheTimeouts) {
  // The answer's body never fits the window: client_send (2 s) cancels the stream, then
  // client_idle (2 s) closes the connection it leaves idle.
  const json r = h2_client({"zero-window", port_text(h2c_port()), "/public/slow"});
  EXPECT_EQ(r["closed"], true) << r.dump();
  EXPECT_EQ(r["reset"], 8);  // CANCEL
  EXPECT_LT(r["seconds"].get<double>(), 10.0);
}

// The property: over many seeded schedules of streams with and without valid tokens, interleaved
// at random, some reset, written in random pieces, every answered stream gets its own answer
// (the echo names the path it was asked for), nothing reaches the upstream without a valid token,
// and the worker holds no connection after.
TEST_F(Http2Test, SeededSchedulesKeepEveryAnswerOnItsStream) {
  const std::string t = token();
  ASSERT_EQ(
      h2_client({"request", port_text(h2c_port()), "/p", "authorization=Bearer " + t})["status"],
      200);
  const json r = h2_client({"schedules", port_text(h2c_port()), "20261206", "1000", t});
  EXPECT_EQ(r["problem_count"], 0) << r.dump(2);
  EXPECT_EQ(r["ran"], 1000) << r.dump();
  // (The admin listener's own connections are not client connections.)
  EXPECT_TRUE(poll_until([&] { return client_connections(gateway_->admin_port) == 0; }, 10s))
      << client_connections(gateway_->admin_port);
}

// client_ping: a client that answers PINGs keeps a stream open past it, one that answers none is
// closed after twice it, long before its upstream answers; and the connection window is the one
// configured.
TEST(Http2PingTest, AClientThatAnswersNoPingIsClosed) {
  EchoServer echo = start_echo_server();
  Tollgate gateway = start_tollgate(
      "listen:\n  - { address: 127.0.0.1:0, http2: true }\nadmin: off\nworkers: 1\n"
      "timeouts: { client_ping: 300ms }\n"
      "limits: { http2_connection_window_size: 4MiB }\n"
      "upstreams:\n  echo: { targets: [ " +
          echo.url() +
          " ] }\n"
          "routes:\n  - { name: all, upstream: echo }\n",
      1, false);
  const std::string port = std::to_string(gateway.port());
  const json live = h2_client({"request", port, "/delay/1500"});
  EXPECT_EQ(live["status"], 200) << live.dump();
  const json silent = h2_client({"silent", port, "/delay/15000"});
  EXPECT_EQ(silent["closed"], true) << silent.dump();
  EXPECT_GE(silent["pings"].get<int>(), 1) << silent.dump();
  EXPECT_LT(silent["seconds"].get<double>(), 5.0) << silent.dump();
  const json window = h2_client({"window", port});
  EXPECT_EQ(window["connection_window"], 4 * 1024 * 1024) << window.dump();
}

// SIGTERM: an HTTP/2 connection gets GOAWAY NO_ERROR and closes, and holds the drain no longer
// than its streams need (none here), far from shutdown_grace.
TEST(Http2DrainTest, SigtermSendsGoawayAndClosesIdleConnections) {
  EchoServer echo = start_echo_server();
  Tollgate gateway = start_tollgate(
      "listen:\n  - { address: 127.0.0.1:0, http2: true }\nadmin: off\nworkers: 1\n"
      "timeouts: { shutdown_grace: 60s }\n"
      "upstreams:\n  echo: { targets: [ " +
          echo.url() +
          " ] }\n"
          "routes:\n  - { name: all, upstream: echo }\n",
      1, false);
  Process client({"/usr/bin/python3", kClient, "idle", std::to_string(gateway.port())});
  client.wait_for_line("^connected$");
  const auto signalled = std::chrono::steady_clock::now();
  gateway.process->signal(SIGTERM);
  EXPECT_EQ(gateway.process->wait_exit(30s), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, 10s);
  EXPECT_EQ(client.wait_exit(30s), 0);
  const std::string out = client.output();
  const json r = json::parse(out.substr(out.rfind("\n{") + 1));
  EXPECT_EQ(r["closed"], true) << out;
  EXPECT_EQ(r["goaway"], 0) << out;
}

}  // namespace
}  // namespace tollgate::test
