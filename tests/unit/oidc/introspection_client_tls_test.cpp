// The IntrospectionClient over HTTPS against a local TLS server with a throwaway certificate:
// verification is on by default, SNI is sent, and no failure of TLS ever becomes an answer.
#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "canned_http_server.hpp"
#include "test_certificate.hpp"
#include "tollgate/oidc/introspection_client.hpp"
#include "tollgate/upstream/http_client_pool.hpp"

namespace tollgate::oidc {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::CannedHttpServer;
using testing::CannedResponse;
using testing::TestCertificate;

std::shared_ptr<ssl::context> server_context(const TestCertificate& certificate) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  context->use_certificate_chain_file(certificate.cert_file());
  context->use_private_key_file(certificate.key_file(), ssl::context::pem);
  return context;
}

CannedResponse active() {
  CannedResponse response;
  response.body = R"({"active":true})";
  return response;
}

class IntrospectionClientTlsTest : public ::testing::Test {
 protected:
  TestCertificate localhost_certificate{"localhost"};
  ClientSettings settings;
  asio::io_context io;

  IntrospectionClientTlsTest() {
    settings.client_id = "gateway";
    settings.client_secret = "s3cret";
    settings.timeout = seconds(5);
  }

  IntrospectionResult introspect_once(const std::string& endpoint,
                                      std::shared_ptr<ssl::context> client_tls) {
    settings.endpoint = endpoint;
    auto client = HttpIntrospectionClient::create(settings, std::move(client_tls), "tls-test");
    client->start(filters::StartContext{{io.get_executor()}});
    std::optional<IntrospectionResult> out;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> { out.emplace(co_await client->introspect("tok", 0, {})); },
        asio::detached);
    // Until the answer, not until the loop runs dry: a pooled connection's idle watch keeps it
    // busy.
    while (!out && io.run_one() > 0) {
    }
    return std::move(*out);
  }
};

TEST_F(IntrospectionClientTlsTest, TrustedCertificateIsVerifiedAndSniIsSent) {
  CannedHttpServer server([](const auto&) { return active(); },
                          server_context(localhost_certificate));
  IntrospectionResult result =
      introspect_once("https://localhost:" + std::to_string(server.port()) + "/introspect",
                      upstream::make_client_tls_context(localhost_certificate.cert_file(), true));
  ASSERT_TRUE(result.has_value()) << result.error().describe();
  EXPECT_TRUE((*result)->active);
  EXPECT_EQ(server.server_names(), std::vector<std::string>{"localhost"});
}

TEST_F(IntrospectionClientTlsTest, UntrustedCertificateIsAConnectFailure) {
  CannedHttpServer server([](const auto&) { return active(); },
                          server_context(localhost_certificate));
  IntrospectionResult result =
      introspect_once("https://localhost:" + std::to_string(server.port()) + "/introspect",
                      upstream::make_client_tls_context("", true));
  ASSERT_TRUE(result.has_error());
  EXPECT_EQ(result.error().kind, IdpFailureKind::connect);
  EXPECT_EQ(server.request_count(), 0u);
}

TEST_F(IntrospectionClientTlsTest, CertificateForAnotherNameIsAConnectFailure) {
  TestCertificate other("idp.example");
  CannedHttpServer server([](const auto&) { return active(); }, server_context(other));
  IntrospectionResult result =
      introspect_once("https://localhost:" + std::to_string(server.port()) + "/introspect",
                      upstream::make_client_tls_context(other.cert_file(), true));
  ASSERT_TRUE(result.has_error());
  EXPECT_EQ(result.error().kind, IdpFailureKind::connect);
  EXPECT_EQ(server.request_count(), 0u);
}

TEST_F(IntrospectionClientTlsTest, VerificationOffAcceptsAnyCertificate) {
  CannedHttpServer server([](const auto&) { return active(); },
                          server_context(localhost_certificate));
  IntrospectionResult result =
      introspect_once("https://localhost:" + std::to_string(server.port()) + "/introspect",
                      upstream::make_client_tls_context("", false));
  ASSERT_TRUE(result.has_value()) << result.error().describe();
}

TEST_F(IntrospectionClientTlsTest, StalledHandshakeEndsWithinTheTimeout) {
  // Accepts connections and never says a word.
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  std::vector<tcp::socket> held;
  acceptor.async_accept([&](error_code ec, tcp::socket socket) {
    if (!ec) held.push_back(std::move(socket));
  });
  settings.timeout = milliseconds(300);
  const auto started = std::chrono::steady_clock::now();
  IntrospectionResult result = introspect_once(
      "https://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()) + "/introspect",
      upstream::make_client_tls_context("", true));
  const auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(result.has_error());
  EXPECT_EQ(result.error().kind, IdpFailureKind::timeout);
  EXPECT_GE(elapsed, milliseconds(250));
  EXPECT_LT(elapsed, seconds(2));
}

}  // namespace
}  // namespace tollgate::oidc
