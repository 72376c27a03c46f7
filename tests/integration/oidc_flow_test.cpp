// The seed's story end to end, with real processes: a client gets a token from the (Okta-shaped)
// dev IdP, calls tollgate, tollgate introspects (or serves its cache), and the echo upstream shows
// what tollgate forwarded. IdP call counts come from the IdP itself.
#include <gtest/gtest.h>

#include <csignal>

#include <chrono>
#include <fstream>
#include <functional>
#include <iterator>
#include <latch>
#include <optional>
#include <thread>

#include <openssl/evp.h>

#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "idp_client.hpp"
#include "pki.hpp"
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
  return openid_connect_plugin(name, "issuer: " + idp.issuer(),
                               "      auth_methods: [ introspection ]\n"
                               "      timeout: 1s\n" +
                                   extra);
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

// The IdP's pooled connections belong to the workers' event loops: stopping with some held idle
// must close them before those loops go (under ASan, a use after free here fails the exit status).
TEST_F(OidcFlowTest, StopsCleanlyWithIdpConnectionsPooled) {
  const auto t = token();
  for (int i = 0; i < 4; ++i) ASSERT_EQ(call("/uncached", t).result_int(), 200);
  gateway_.process->signal(SIGTERM);
  EXPECT_EQ(gateway_.process->wait_exit(), 0) << gateway_.process->output();
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

// ---- IdP faults ---------------------------------------------------------------------------------
// Every way the IdP can fail gets 503, never 2xx; nothing of a failure is cached; the gateway, with
// one worker so that one event loop serves both, answers a public route beside the failing call
// (while it is still pending when the IdP holds it); and the protected route recovers by itself
// when the fault clears.

enum class FaultKind {
  injected,                      // dev-idp's fault switch (POST /admin/faults)
  idp_down,                      // the IdP process is gone: connection refused
  gateway_client_deactivated,    // the IdP refuses tollgate's own credentials: 401 invalid_client
  certificate_for_another_name,  // the IdP's certificate is trusted but names another host
  expired_certificate,           // the IdP's certificate is trusted but expired
};

struct IdpFault {
  const char* name;
  FaultKind kind;
  json injected = json::object();
  bool holds_the_call = false;  // the IdP keeps the call open until tollgate gives up on it
};
void PrintTo(const IdpFault& f, std::ostream* os) {
  *os << f.name;
}

bool is_tls_fault(FaultKind kind) {
  return kind == FaultKind::certificate_for_another_name || kind == FaultKind::expired_certificate;
}

// The IdP is replaced by a new process for these faults, and its tokens go with the old one.
bool restarts_the_idp(FaultKind kind) {
  return kind == FaultKind::idp_down || is_tls_fault(kind);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// What `openssl verify` says of a certificate, for tests that must know why a TLS peer is refused.
std::string openssl_verdict(const std::vector<std::string>& arguments) {
  std::vector<std::string> argv{"/usr/bin/openssl", "verify"};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  Process verify(argv);
  verify.wait_exit();
  return verify.output();
}

class IdpFaultTest : public ::testing::TestWithParam<IdpFault> {
 protected:
  static constexpr auto kIdpTimeout = std::chrono::seconds(2);

  void SetUp() override {
    if (is_tls_fault(kind())) make_certificates();
    start_idp(/*faulty_certificate=*/false, 0);
    echo_ = start_echo_server();
    std::string config = basic_config(
        "upstreams:\n"
        "  echo: { targets: [ " +
        echo_.url() +
        " ] }\n"
        "plugins:\n" +
        openid_connect_plugin(
            "okta", "introspection_endpoint: " + idp_.issuer() + "/v1/introspect",
            "      timeout: " + std::to_string(kIdpTimeout.count()) +
                "s\n"
                "      cache_ttl: 300s\n" +
                (ca_bundle_.empty() ? "" : "      ca_file: " + ca_bundle_ + "\n")) +
        "routes:\n"
        "  - { name: orders, match: { paths: [ /orders ] }, upstream: echo, plugins: [ okta ] }\n"
        "  - { name: public, match: { paths: [ /public ] }, upstream: echo }\n");
    // One worker: the public request is served by the very event loop that waits for the IdP.
    const std::string two_workers = "workers: 2\n";
    const auto at = config.find(two_workers);
    ASSERT_NE(at, std::string::npos);
    config.replace(at, two_workers.size(), "workers: 1\n");
    gateway_ = start_tollgate(config);
  }

  FaultKind kind() const { return GetParam().kind; }

  // A trusted CA with the IdP's good certificate, and a second trusted CA with the faulty one: the
  // faulty certificate then chains to a trusted root and fails for its own reason only.
  void make_certificates() {
    trusted_pki_.emplace(trusted_dir_);
    if (kind() == FaultKind::certificate_for_another_name) {
      faulty_pki_.emplace(faulty_dir_, "DNS:idp.example.org");
    } else {
      faulty_pki_.emplace(faulty_dir_, "IP:127.0.0.1,DNS:localhost", -1);
    }
    ca_bundle_ =
        trusted_dir_.write("bundle.pem", read_file(trusted_pki_->ca) + read_file(faulty_pki_->ca));
    const std::string good =
        openssl_verdict({"-CAfile", ca_bundle_, "-verify_ip", "127.0.0.1", trusted_pki_->cert});
    ASSERT_NE(good.find(": OK"), std::string::npos) << good;
    const std::string faulty =
        openssl_verdict({"-CAfile", ca_bundle_, "-verify_ip", "127.0.0.1", faulty_pki_->cert});
    const char* reason = kind() == FaultKind::certificate_for_another_name
                             ? "IP address mismatch"
                             : "certificate has expired";
    ASSERT_NE(faulty.find(reason), std::string::npos) << faulty;
  }

  void start_idp(bool faulty_certificate, std::uint16_t port) {
    std::vector<std::string> args{"--listen", "127.0.0.1:" + std::to_string(port)};
    if (trusted_pki_) {
      const TestPki& pki = faulty_certificate ? *faulty_pki_ : *trusted_pki_;
      args.insert(args.end(), {"--tls-cert", pki.cert, "--tls-key", pki.key});
    }
    idp_ = start_dev_idp(args);
  }

  // Replaces the IdP by a new process on the same port (the gateway's configuration names it).
  void restart_idp(bool faulty_certificate) {
    const std::uint16_t port = idp_.port;
    idp_.process.reset();
    start_idp(faulty_certificate, port);
  }

  void inject() {
    switch (kind()) {
      case FaultKind::injected:
        set_fault(idp_.port, GetParam().injected);
        break;
      case FaultKind::idp_down:
        idp_.process.reset();
        break;
      case FaultKind::gateway_client_deactivated:
        set_client_active(idp_.port, "gateway", false);
        break;
      case FaultKind::certificate_for_another_name:
      case FaultKind::expired_certificate:
        restart_idp(/*faulty_certificate=*/true);
        break;
    }
  }

  void clear() {
    switch (kind()) {
      case FaultKind::injected:
        clear_faults(idp_.port);
        break;
      case FaultKind::idp_down:
        start_idp(/*faulty_certificate=*/false, idp_.port);
        break;
      case FaultKind::gateway_client_deactivated:
        set_client_active(idp_.port, "gateway", true);
        break;
      case FaultKind::certificate_for_another_name:
      case FaultKind::expired_certificate:
        restart_idp(/*faulty_certificate=*/false);
        break;
    }
  }

  // Asks the IdP over TLS with curl (trusting the good CA only) or over plain HTTP directly.
  std::string curl_idp(const std::vector<std::string>& arguments) {
    std::vector<std::string> argv{"/usr/bin/curl", "-sS", "--cacert", trusted_pki_->ca};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    Process curl(argv);
    curl.wait_exit();
    return curl.output();
  }
  std::string token() {
    if (!trusted_pki_) return fetch_token(idp_.port, "demo-client", "demo-secret", "orders:read");
    return json::parse(
               curl_idp({"-u", "demo-client:demo-secret", "-d", "grant_type=client_credentials",
                         "-d", "scope=orders:read", idp_.issuer() + "/v1/token"}))
        .at("access_token")
        .get<std::string>();
  }
  int idp_calls() {
    if (!trusted_pki_) return introspect_calls(idp_.port);
    return json::parse(curl_idp({idp_.base_url() + "/admin/stats"}))
        .at("introspect_calls")
        .get<int>();
  }

  Response call(const std::string& token) {
    return http_get(gateway_.port(), "/orders", {{"Authorization", "Bearer " + token}});
  }

  TempDir trusted_dir_;
  TempDir faulty_dir_;
  std::optional<TestPki> trusted_pki_;
  std::optional<TestPki> faulty_pki_;
  std::string ca_bundle_;
  DevIdp idp_;
  EchoServer echo_;
  Tollgate gateway_;
};

TEST_P(IdpFaultTest, Is503NeverCachedLeavesThePublicRouteServedAndRecovers) {
  const IdpFault& fault = GetParam();
  const std::string t = token();
  const int calls_before_fault = fault.holds_the_call ? idp_calls() : 0;
  inject();

  // The protected request goes out first and, when the IdP holds its call, is still waiting for
  // the IdP while the public request beside it is served.
  HttpConnection protected_request(gateway_.port());
  protected_request.send_raw("GET /orders HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer " + t +
                             "\r\n\r\n");
  if (fault.holds_the_call) {
    ASSERT_TRUE(poll_until([&] { return idp_calls() > calls_before_fault; }));
  }
  EXPECT_EQ(http_get(gateway_.port(), "/public").result_int(), 200);
  if (fault.holds_the_call) {
    EXPECT_EQ(protected_request.socket().available(), 0u)
        << "the protected request was answered before the public one";
  }

  const Response failed = protected_request.read_response();
  EXPECT_EQ(failed.result_int(), 503) << failed.body();
  EXPECT_EQ(json::parse(failed.body())["message"], "The identity provider is unavailable");
  if (fault.injected.contains("retry_after")) {
    EXPECT_EQ(failed[boost::beast::http::field::retry_after],
              fault.injected["retry_after"].get<std::string>());
  }
  EXPECT_EQ(http_get(gateway_.port(), "/public").result_int(), 200);

  clear();
  // Nothing of the failure was kept: the IdP is asked again, and its answer decides. A new IdP
  // process does not know the old token (401); the same IdP lets it through.
  const int calls_before_recovery = idp_calls();
  const Response recovered = call(t);
  EXPECT_EQ(idp_calls(), calls_before_recovery + 1);
  if (restarts_the_idp(fault.kind)) {
    EXPECT_EQ(recovered.result_int(), 401) << recovered.body();
    EXPECT_EQ(call(token()).result_int(), 200);
  } else {
    EXPECT_EQ(recovered.result_int(), 200) << recovered.body();
  }
  EXPECT_EQ(gateway_.process->count_lines("unexpected error"), 0) << gateway_.process->output();
}

INSTANTIATE_TEST_SUITE_P(
    Faults, IdpFaultTest,
    ::testing::Values(
        IdpFault{"down", FaultKind::idp_down},
        IdpFault{"blackhole", FaultKind::injected, {{"blackhole", true}}, true},
        IdpFault{"slowerThanTimeout", FaultKind::injected, {{"latency_ms", 5000}}, true},
        IdpFault{"status500", FaultKind::injected, {{"status", 500}}},
        IdpFault{"status401InvalidClient", FaultKind::injected, {{"status", 401}}},
        IdpFault{"gatewayClientDeactivated", FaultKind::gateway_client_deactivated},
        IdpFault{
            "status429RetryAfter", FaultKind::injected, {{"status", 429}, {"retry_after", "7"}}},
        IdpFault{"htmlBody", FaultKind::injected, {{"body", "<html>oops</html>"}}},
        IdpFault{"noActiveMember", FaultKind::injected, {{"omit_active", true}}},
        IdpFault{"activeAsString", FaultKind::injected, {{"active_string", true}}},
        IdpFault{"truncatedBody", FaultKind::injected, {{"truncate", true}}},
        IdpFault{"closedWithoutAnswer", FaultKind::injected, {{"close", true}}},
        IdpFault{"certificateForAnotherName", FaultKind::certificate_for_another_name},
        IdpFault{"expiredCertificate", FaultKind::expired_certificate}),
    [](const auto& info) { return std::string(info.param.name); });

// An IdP whose answer ends in a trailer field over 64 KiB (the echo server stands in for it):
// Beast would throw from inside the read, ending the call without an answer for anyone waiting
// on it, this request and every later one for the same token.
TEST(BrokenIdp, TrailerOver64KiBIs503ForEveryRequest) {
  auto echo = start_echo_server();
  auto gateway = start_tollgate(basic_config(
      "upstreams:\n  echo: { targets: [ " + echo.url() +
      " ] }\n"
      "plugins:\n" +
      openid_connect_plugin("okta", "introspection_endpoint: " + echo.url() + "/big-trailer/70000",
                            "      timeout: 2s\n") +
      "routes:\n"
      "  - { name: orders, match: { paths: [ /orders ] }, upstream: echo, plugins: [ okta ] }\n"
      "  - { name: public, match: { paths: [ /public ] }, upstream: echo }\n"));
  for (int i = 0; i < 2; ++i) {
    auto r = http_get(gateway.port(), "/orders", {{"Authorization", "Bearer abc"}});
    EXPECT_EQ(r.result_int(), 503) << r.body();
  }
  EXPECT_EQ(http_get(gateway.port(), "/public").result_int(), 200);
  EXPECT_EQ(gateway.process->count_lines("unexpected error"), 0) << gateway.process->output();
}

TEST(OidcIdpDown, UnreachableIdpIs503) {
  auto echo = start_echo_server();
  const RefusingPort idp_port;  // the IdP is down: nothing listens there
  auto gateway = start_tollgate(basic_config(
      "upstreams:\n  echo: { targets: [ " + echo.url() +
      " ] }\n"
      "plugins:\n" +
      openid_connect_plugin(
          "okta", "introspection_endpoint: http://127.0.0.1:" + std::to_string(idp_port.number()) +
                      "/oauth2/default/v1/introspect") +
      "routes:\n"
      "  - { name: orders, match: { paths: [ /orders ] }, upstream: echo, plugins: [ okta ] }\n"));
  auto r = http_get(gateway.port(), "/orders", {{"Authorization", "Bearer abc"}});
  EXPECT_EQ(r.result_int(), 503);
}

}  // namespace
}  // namespace tollgate::test
