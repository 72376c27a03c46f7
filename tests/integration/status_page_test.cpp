// The admin listener's status page in a real browser: after known traffic through an
// openid-connect route, headless Chromium (tests/browser/check-status-page.mjs) loads the page and
// checks that every number it renders is the one /status.json reports; this test checks that the
// rendered numbers are the traffic it sent.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "idp_client.hpp"
#include "services.hpp"

namespace tollgate::test {
namespace {

namespace http = boost::beast::http;
using nlohmann::json;

const std::string kBrowserDir = std::string(TOLLGATE_SOURCE_DIR) + "/tests/browser";
const std::string kChromium = "/usr/bin/chromium";

// The JSON line the check script prints on stdout, among the browser's own output.
json rendered_fields(const std::string& output) {
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with(R"({"fields":)")) return json::parse(line).at("fields");
  }
  throw std::runtime_error("no rendered fields in the check's output:\n" + output);
}

class StatusPageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Installed by scripts/test.sh; a machine without them fails here rather than skipping.
    ASSERT_TRUE(std::filesystem::exists(kChromium)) << "install Debian's chromium";
    ASSERT_TRUE(std::filesystem::exists(kBrowserDir + "/node_modules/playwright-core"))
        << "run `npm ci` in tests/browser";
    idp_ = start_dev_idp();
    echo_ = start_echo_server();
    gateway_ = start_tollgate(basic_config(
        "upstreams:\n"
        "  echo: { targets: [ " +
        echo_.url() +
        " ] }\n"
        "plugins:\n" +
        openid_connect_plugin("okta", "issuer: " + idp_.issuer(), "      timeout: 2s\n") +
        "routes:\n"
        "  - { name: orders, match: { paths: [ /orders ] }, upstream: echo, plugins: [ okta ] }\n"
        "  - { name: public, match: { paths: [ /public ] }, upstream: echo }\n"));
    gateway_.process->wait_for_count("introspection endpoint .* discovered", 1);
  }

  // Runs the browser check against the admin listener; its exit status and everything it printed.
  std::pair<int, std::string> check_page() {
    Process check({"/usr/bin/env", "node", kBrowserDir + "/check-status-page.mjs",
                   "http://127.0.0.1:" + std::to_string(gateway_.admin_port) + "/"});
    const int status = check.wait_exit(std::chrono::seconds(90));
    return {status, check.output()};
  }

  DevIdp idp_;
  EchoServer echo_;
  Tollgate gateway_;
};

// The page as HTTP: uncached HTML under a policy that lets it do nothing but render itself, and a
// HEAD that announces it without sending it, so the connection stays usable.
TEST_F(StatusPageTest, ServedAsHtmlWithItsPolicyToGetAndHead) {
  HttpConnection admin(gateway_.admin_port);
  const Response page = admin.get("/");
  ASSERT_EQ(page.result_int(), 200);
  EXPECT_EQ(page[http::field::content_type], "text/html; charset=utf-8");
  EXPECT_EQ(page[http::field::cache_control], "no-cache");
  const std::string policy(page["Content-Security-Policy"]);
  EXPECT_TRUE(policy.starts_with("default-src 'none'; connect-src 'self'; script-src 'sha256-"))
      << policy;
  EXPECT_NE(page.body().find("<title>tollgate status</title>"), std::string::npos);

  const Response head = admin.send(Request{http::verb::head, "/", 11});
  ASSERT_EQ(head.result_int(), 200);
  EXPECT_EQ(head[http::field::content_length], std::to_string(page.body().size()));
  EXPECT_TRUE(head.body().empty());
  const Response next = admin.get("/healthz");
  EXPECT_EQ(next.result_int(), 200);
  EXPECT_EQ(next.body(), "{\"status\":\"ok\"}\n");
}

TEST_F(StatusPageTest, BrowserRendersTheNumbersOfStatusJson) {
  const std::string token = fetch_token(idp_.port, "demo-client", "demo-secret", "orders:read");
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(
        http_get(gateway_.port(), "/orders", {{"Authorization", "Bearer " + token}}).result_int(),
        200);
  }
  for (int i = 0; i < 3; ++i) ASSERT_EQ(http_get(gateway_.port(), "/orders").result_int(), 401);
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(http_get(gateway_.port(), "/orders", {{"Authorization", "Bearer not-a-token"}})
                  .result_int(),
              401);
  }
  for (int i = 0; i < 4; ++i) ASSERT_EQ(http_get(gateway_.port(), "/public").result_int(), 200);
  ASSERT_EQ(http_get(gateway_.port(), "/nowhere").result_int(), 404);

  // A request is counted as its answer goes out; wait until all 20 are, so that the page and the
  // check read the same settled counters.
  ASSERT_TRUE(poll_until([&] {
    const json status = json::parse(http_get(gateway_.admin_port, "/status.json").body());
    int counted = 0;
    for (const auto& route : status.at("routes")) counted += route.at("requests").get<int>();
    return counted == 20;
  })) << http_get(gateway_.admin_port, "/status.json").body();

  const auto [status, output] = check_page();
  ASSERT_EQ(status, 0) << output;
  const json fields = rendered_fields(output);

  EXPECT_EQ(fields.at("routes.orders.requests"), 15);
  EXPECT_EQ(fields.at("routes.orders.responses.2xx"), 10);
  EXPECT_EQ(fields.at("routes.orders.responses.4xx"), 5);
  EXPECT_EQ(fields.at("routes.orders.responses.5xx"), 0);
  EXPECT_EQ(fields.at("routes.orders.upstream"), "echo");
  EXPECT_EQ(fields.at("routes.public.requests"), 4);
  EXPECT_EQ(fields.at("routes.-.requests"), 1);
  EXPECT_EQ(fields.at("routes.-.responses.4xx"), 1);
  EXPECT_EQ(fields.at("upstreams.echo.targets." + echo_.url() + ".requests"), 14);
  EXPECT_EQ(fields.at("upstreams.echo.targets." + echo_.url() + ".up"), true);

  EXPECT_EQ(fields.at("plugins.okta.ready"), true);
  EXPECT_EQ(fields.at("plugins.okta.decisions.allowed"), 10);
  EXPECT_EQ(fields.at("plugins.okta.decisions.no_token"), 3);
  EXPECT_EQ(fields.at("plugins.okta.decisions.invalid_token"), 2);
  // Every request that carried a token looked it up once; each miss asked the IdP, which counts
  // its own calls.
  EXPECT_EQ(fields.at("plugins.okta.cache.hits").get<int>() +
                fields.at("plugins.okta.cache.misses").get<int>() +
                fields.at("plugins.okta.cache.coalesced").get<int>(),
            12);
  EXPECT_EQ(fields.at("plugins.okta.idp.requests"), introspect_calls(idp_.port));
  EXPECT_EQ(fields.at("plugins.okta.idp.failures"), 0);
  EXPECT_EQ(fields.at("config.generation"), 1);
  EXPECT_EQ(fields.at("process.workers"), 2);
  EXPECT_GT(fields.at("process.open_fds").get<int>(), 0);
  EXPECT_GT(fields.at("process.resident_memory_bytes").get<long>(), 0);
}

}  // namespace
}  // namespace tollgate::test
