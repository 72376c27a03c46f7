// Introspection over TLS: the dev IdP serves a certificate from a CA made for the test; tollgate
// verifies it (name and chain) and fails closed with 503 when it cannot.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "pki.hpp"
#include "services.hpp"

namespace tollgate::test {
namespace {

// A token from the TLS dev IdP, fetched with curl (which verifies it with the same CA).
std::string fetch_token_tls(const DevIdp& idp, const std::string& ca) {
  Process curl({"/usr/bin/curl", "-sS", "--cacert", ca, "-u", "demo-client:demo-secret", "-d",
                "grant_type=client_credentials", "-d", "scope=orders:read",
                idp.base_url() + "/oauth2/default/v1/token"});
  curl.wait_exit();
  return nlohmann::json::parse(curl.output()).at("access_token").get<std::string>();
}

std::string gateway_config(const EchoServer& echo, const std::string& endpoint,
                           const std::string& ca_line) {
  return basic_config("upstreams:\n  echo: { targets: [ " + echo.url() +
                      " ] }\n"
                      "plugins:\n" +
                      openid_connect_plugin("okta", "introspection_endpoint: " + endpoint,
                                            "      timeout: 2s\n" + ca_line) +
                      "routes:\n"
                      "  - { name: orders, match: { paths: [ /orders ] }, upstream: echo, "
                      "plugins: [ okta ] }\n");
}

class OidcTlsTest : public ::testing::Test {
 protected:
  TempDir dir_;
};

TEST_F(OidcTlsTest, VerifiedIdpAnswersAndAnUntrustedOneIs503) {
  TestPki pki(dir_);
  auto idp = start_dev_idp({"--tls-cert", pki.cert, "--tls-key", pki.key});
  auto echo = start_echo_server();
  const std::string endpoint = idp.issuer() + "/v1/introspect";
  const std::string token = fetch_token_tls(idp, pki.ca);

  auto trusted = start_tollgate(gateway_config(echo, endpoint, "      ca_file: " + pki.ca + "\n"));
  EXPECT_EQ(
      http_get(trusted.port(), "/orders", {{"Authorization", "Bearer " + token}}).result_int(),
      200);

  // Without the test CA the IdP's certificate is not trusted: no answer, so no access.
  auto untrusted = start_tollgate(gateway_config(echo, endpoint, ""));
  EXPECT_EQ(
      http_get(untrusted.port(), "/orders", {{"Authorization", "Bearer " + token}}).result_int(),
      503);
}

TEST_F(OidcTlsTest, CertificateForAnotherNameIs503) {
  TestPki pki(dir_, "DNS:idp.example.org");
  auto idp = start_dev_idp({"--tls-cert", pki.cert, "--tls-key", pki.key});
  auto echo = start_echo_server();
  auto gateway = start_tollgate(
      gateway_config(echo, idp.issuer() + "/v1/introspect", "      ca_file: " + pki.ca + "\n"));
  EXPECT_EQ(http_get(gateway.port(), "/orders", {{"Authorization", "Bearer abc"}}).result_int(),
            503);
}

TEST_F(OidcTlsTest, ExpiredCertificateIs503) {
  TestPki pki(dir_, "IP:127.0.0.1,DNS:localhost", -1);
  auto idp = start_dev_idp({"--tls-cert", pki.cert, "--tls-key", pki.key});
  auto echo = start_echo_server();
  auto gateway = start_tollgate(
      gateway_config(echo, idp.issuer() + "/v1/introspect", "      ca_file: " + pki.ca + "\n"));
  EXPECT_EQ(http_get(gateway.port(), "/orders", {{"Authorization", "Bearer abc"}}).result_int(),
            503);
}

}  // namespace
}  // namespace tollgate::test
