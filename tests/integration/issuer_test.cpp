// The issuer an answer names, end to end: a plugin with `issuer:` accepts tokens only from that
// issuer, as Kong's issuers_allowed (which defaults to it) does. The dev IdP's tokens name its own
// issuer; a plugin that introspects at the dev IdP but is configured with another issuer sees
// them as foreign.
#include <gtest/gtest.h>

#include "http_client.hpp"
#include "idp_client.hpp"
#include "services.hpp"
#include "suite_setup.hpp"

namespace tollgate::test {
namespace {

constexpr const char* kForeignIssuer = "https://idp.example/oauth2/default";

struct Environment {
  DevIdp idp;
  EchoServer echo;
  Tollgate gateway;

  Environment() {
    idp = start_dev_idp();
    echo = start_echo_server();
    const std::string endpoint = "introspection_endpoint: " + idp.issuer() + "/v1/introspect\n";
    const std::string foreign = "issuer: " + std::string(kForeignIssuer) + "\n      " + endpoint;
    gateway = start_tollgate(basic_config(
        "upstreams:\n"
        "  echo: { targets: [ " +
        echo.url() +
        " ] }\n"
        "plugins:\n" +
        openid_connect_plugin("own", "issuer: " + idp.issuer()) +
        openid_connect_plugin("foreign", foreign) +
        openid_connect_plugin("listed", foreign,
                              "      issuers_allowed: [ " + std::string(kForeignIssuer) + ", " +
                                  idp.issuer() + " ]\n") +
        "routes:\n"
        "  - { name: own, match: { paths: [ /own ] }, upstream: echo, plugins: [ own ] }\n"
        "  - { name: foreign, match: { paths: [ /foreign ] }, upstream: echo, "
        "plugins: [ foreign ] }\n"
        "  - { name: listed, match: { paths: [ /listed ] }, upstream: echo, "
        "plugins: [ listed ] }\n"));
    gateway.process->wait_for_count("introspection endpoint .* discovered", 1);
  }
};

class IssuerTest : public SharedEnvironmentTest<Environment> {
 protected:
  static Response call(const std::string& path, const std::string& token) {
    return http_get(env_->gateway.port(), path, {{"Authorization", "Bearer " + token}});
  }
  static std::string token() {
    return fetch_token(env_->idp.port, "demo-client", "demo-secret", "orders:read");
  }
};

TEST_F(IssuerTest, ATokenOfTheConfiguredIssuerIsAccepted) {
  const Response r = call("/own", token());
  EXPECT_EQ(r.result_int(), 200) << r.body();
}

TEST_F(IssuerTest, ATokenNamingAnotherIssuerIs401InvalidToken) {
  const Response r = call("/foreign", token());
  EXPECT_EQ(r.result_int(), 401) << r.body();
  EXPECT_NE(
      std::string(r[boost::beast::http::field::www_authenticate]).find("error=\"invalid_token\""),
      std::string::npos)
      << r[boost::beast::http::field::www_authenticate];
}

TEST_F(IssuerTest, IssuersAllowedReplacesTheDefaultList) {
  const Response r = call("/listed", token());
  EXPECT_EQ(r.result_int(), 200) << r.body();
}

}  // namespace
}  // namespace tollgate::test
