// What a token's claims may put into the upstream request and the access log: printable ASCII
// only. The dev IdP's client ids become the tokens' `sub`; one of them holds U+2028 (LINE
// SEPARATOR) and U+0085 (NEXT LINE), which JavaScript, many log viewers and some header parsers
// read as line breaks.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "idp_client.hpp"
#include "services.hpp"
#include "suite_setup.hpp"

namespace tollgate::test {
namespace {

using nlohmann::json;

const std::string kLineBreakingSub = "sneaky\u2028user\u0085x";
const std::string kTextEscaped = R"(sneaky\xE2\x80\xA8user\xC2\x85x)";
const std::string kJsonEscaped = R"(sneaky\u2028user\u0085x)";

std::string config_for(const DevIdp& idp, const EchoServer& echo, const std::string& format) {
  std::string config = basic_config(
      "upstreams:\n"
      "  echo: { targets: [ " +
      echo.url() +
      " ] }\n"
      "plugins:\n" +
      openid_connect_plugin("oidc", "introspection_endpoint: " + idp.issuer() + "/v1/introspect",
                            "      upstream_headers_claims: [ sub, client_id ]\n"
                            "      upstream_headers_names: [ X-Authenticated-User, X-Client ]\n") +
      "routes:\n"
      "  - { name: api, match: { paths: [ /api ] }, upstream: echo, plugins: [ oidc ] }\n");
  const std::string text = "format: text";
  config.replace(config.find(text), text.size(), "format: " + format);
  return config;
}

struct Environment {
  DevIdp idp;
  EchoServer echo;
  Tollgate text_log;
  Tollgate json_log;
  std::string token;

  Environment() {
    idp = start_dev_idp(
        {"--client", "gateway:gateway-secret", "--client", kLineBreakingSub + ":pw:orders:read"});
    echo = start_echo_server();
    text_log = start_tollgate(config_for(idp, echo, "text"));
    json_log = start_tollgate(config_for(idp, echo, "json"));
    token = mint_token(idp.port, kLineBreakingSub, "orders:read", 600);
  }
};

class PrintableIdentityTest : public SharedEnvironmentTest<Environment> {
 protected:
  // The echo's view of a request through `gateway`, sent under a fresh request id.
  static json call(Tollgate& gateway, const std::string& request_id) {
    const Response r =
        http_get(gateway.port(), "/api",
                 {{"Authorization", "Bearer " + env_->token}, {"X-Request-Id", request_id}});
    EXPECT_EQ(r.result_int(), 200) << r.body();
    return json::parse(r.body());
  }

  // The access log line `gateway` wrote for the request with `request_id`, checked to be printable
  // ASCII throughout.
  static std::string logged_line(Tollgate& gateway, const std::string& request_id) {
    const std::string line =
        gateway.process->wait_for_line("^(.*[\" =]" + request_id + "([\" ]|$).*)$");
    for (const unsigned char c : line) {
      EXPECT_TRUE(c >= 0x20 && c < 0x7f) << "byte " << static_cast<int>(c) << " in " << line;
    }
    return line;
  }
};

TEST_F(PrintableIdentityTest, AClaimThatIsNotPrintableAsciiSetsNoUpstreamHeader) {
  const json echo = call(env_->text_log, "headers-1");
  EXPECT_FALSE(echo["headers"].contains("x-authenticated-user")) << echo["headers"].dump();
  EXPECT_FALSE(echo["headers"].contains("x-client")) << echo["headers"].dump();
}

TEST_F(PrintableIdentityTest, TheTextAccessLogEscapesThePrincipal) {
  call(env_->text_log, "text-1");
  const std::string line = logged_line(env_->text_log, "text-1");
  EXPECT_NE(line.find("principal=" + kTextEscaped + " "), std::string::npos) << line;
}

TEST_F(PrintableIdentityTest, TheJsonAccessLogEscapesThePrincipalAndStaysJson) {
  call(env_->json_log, "json-1");
  const std::string line = logged_line(env_->json_log, "json-1");
  EXPECT_NE(line.find("\"principal\":\"" + kJsonEscaped + "\""), std::string::npos) << line;
  EXPECT_EQ(json::parse(line).at("principal"), kLineBreakingSub);
}

}  // namespace
}  // namespace tollgate::test
