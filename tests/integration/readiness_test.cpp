// /readyz tells a load balancer whether the gateway can serve its routes: not while a plugin
// instance still waits for its IdP (issuer discovery), so traffic does not reach a gateway that
// answers every protected request with 503.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "idp_client.hpp"
#include "services.hpp"

namespace tollgate::test {
namespace {

using nlohmann::json;

TEST(AdminReadiness, NotReadyUntilDiscoveryIsDoneThenReady) {
  // An IdP started once for a free port, and stopped: down when the gateway starts.
  const std::uint16_t port = start_dev_idp().port;
  const std::string issuer = "http://127.0.0.1:" + std::to_string(port) + "/oauth2/default";
  auto echo = start_echo_server();
  auto gateway = start_tollgate(basic_config(
      "upstreams:\n"
      "  echo: { targets: [ " +
      echo.url() +
      " ] }\n"
      "plugins:\n" +
      openid_connect_plugin("okta", "issuer: " + issuer, "      timeout: 1s\n") +
      "routes:\n"
      "  - { name: orders, match: { paths: [ /orders ] }, upstream: echo, plugins: [ okta ] }\n"
      "  - { name: public, match: { paths: [ /public ] }, upstream: echo }\n"));
  gateway.process->wait_for_count("discovery found nothing usable yet", 1);

  const Response waiting = http_get(gateway.admin_port, "/readyz");
  EXPECT_EQ(waiting.result_int(), 503);
  const json body = json::parse(waiting.body(), nullptr, false);
  EXPECT_EQ(body.value("status", ""), "starting") << waiting.body();
  EXPECT_EQ(body.value("waiting_for", json()), json::array({"okta"})) << waiting.body();
  EXPECT_EQ(
      http_get(gateway.port(), "/orders", {{"Authorization", "Bearer some-token"}}).result_int(),
      503);
  EXPECT_EQ(http_get(gateway.admin_port, "/healthz").result_int(), 200);

  auto idp = start_dev_idp({"--listen", "127.0.0.1:" + std::to_string(port)});
  gateway.process->wait_for_count("introspection endpoint .* discovered", 1,
                                  std::chrono::seconds(30));
  const Response ready = http_get(gateway.admin_port, "/readyz");
  EXPECT_EQ(ready.result_int(), 200);
  EXPECT_EQ(json::parse(ready.body(), nullptr, false).value("status", ""), "ready") << ready.body();
  const std::string token = fetch_token(idp.port, "demo-client", "demo-secret", "orders:read");
  EXPECT_EQ(
      http_get(gateway.port(), "/orders", {{"Authorization", "Bearer " + token}}).result_int(),
      200);
}

}  // namespace
}  // namespace tollgate::test
